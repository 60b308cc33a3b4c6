-- certlab lifecycle: internal CAs, revocations, rotation policies, reminder schedules, recipients and
-- reminder deliveries (each claimed before it is sent, so that no reminder goes out twice).

CREATE TABLE ca_settings (
    certificate_id  BIGINT PRIMARY KEY,      -- the internal_ca row
    path_length     INTEGER,                 -- NULL: unlimited
    name_rules      VARCHAR NOT NULL DEFAULT '{}',   -- JSON: permitted/excluded DNS, IP, e-mail subtrees
    copy_csr_sans   BOOLEAN NOT NULL DEFAULT TRUE,
    crl_number      BIGINT NOT NULL DEFAULT 0,       -- the last CRL number issued
    crl_days        INTEGER NOT NULL DEFAULT 7,
    created_at      TIMESTAMP NOT NULL
);

CREATE TABLE revocations (
    certificate_id  BIGINT PRIMARY KEY,
    issuer_cert_id  BIGINT NOT NULL,
    serial          VARCHAR NOT NULL,        -- hex, as certificates.serial
    reason          VARCHAR NOT NULL,        -- RFC 5280 reason name
    revoked_at      TIMESTAMP NOT NULL
);
CREATE INDEX revocations_issuer ON revocations (issuer_cert_id);

CREATE TABLE rotation_policies (
    certificate_id  BIGINT PRIMARY KEY,
    days_before     INTEGER,                 -- rotate this many days before not_after
    lifetime_share  DOUBLE,                  -- or once this share of the lifetime has passed (0..1)
    allow_key_reuse BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at      TIMESTAMP NOT NULL
);

CREATE TABLE reminder_schedules (
    scope       VARCHAR NOT NULL,            -- certificate | owner
    target      VARCHAR NOT NULL,            -- certificate id (as text) or the owner's name
    thresholds  VARCHAR NOT NULL,            -- JSON array of whole days before not_after
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, target)
);

CREATE TABLE certificate_recipients (
    certificate_id  BIGINT NOT NULL,
    recipient       VARCHAR NOT NULL,        -- an e-mail address or a team name
    PRIMARY KEY (certificate_id, recipient)
);

CREATE TABLE reminder_deliveries (
    id              BIGINT PRIMARY KEY,
    certificate_id  BIGINT NOT NULL,
    fingerprint     VARCHAR NOT NULL,        -- the certificate as it was (a renewal gets its own reminders)
    threshold       INTEGER NOT NULL,        -- days before not_after; -1 for "renewal CSR waiting"
    channel         VARCHAR NOT NULL,        -- email | webhook
    recipient       VARCHAR NOT NULL,
    status          VARCHAR NOT NULL,        -- claimed | sent | failed
    claim_token     VARCHAR,
    claimed_at      TIMESTAMP,
    sent_at         TIMESTAMP,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      VARCHAR NOT NULL DEFAULT '',
    UNIQUE (fingerprint, threshold, channel, recipient)
);

CREATE OR REPLACE VIEW revocations_v AS
SELECT c.name AS certificate, i.name AS issuer_ca, r.serial, r.reason, r.revoked_at
FROM revocations r JOIN certificates c ON c.id = r.certificate_id LEFT JOIN certificates i ON i.id = r.issuer_cert_id;

CREATE OR REPLACE VIEW reminder_deliveries_v AS
SELECT c.name AS certificate, d.fingerprint, d.threshold, d.channel, d.recipient, d.status, d.attempts,
       d.claimed_at, d.sent_at, d.last_error
FROM reminder_deliveries d LEFT JOIN certificates c ON c.id = d.certificate_id;
