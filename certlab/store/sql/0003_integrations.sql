-- Integrations: endpoints found by `certlab scan` (with the chain each one serves) and the findings of
-- the last full `certlab lint`. Plain types only.

CREATE TABLE endpoints (
    id                  BIGINT PRIMARY KEY,
    endpoint            VARCHAR NOT NULL UNIQUE,   -- host:port as scanned
    host                VARCHAR NOT NULL,
    port                INTEGER NOT NULL,
    chain_fingerprints  VARCHAR NOT NULL DEFAULT '[]',  -- JSON: SHA-256 fingerprints, leaf first, as last served
    tls_version         VARCHAR,
    first_seen          TIMESTAMP,                 -- first scan that fetched a chain
    last_seen           TIMESTAMP,                 -- last scan that fetched a chain
    last_scanned        TIMESTAMP NOT NULL,
    last_error          VARCHAR,                   -- NULL when the last scan succeeded
    changed_at          TIMESTAMP                  -- when the served chain last changed
);

CREATE TABLE endpoint_certificates (
    endpoint_id     BIGINT NOT NULL,
    certificate_id  BIGINT NOT NULL,
    position        INTEGER NOT NULL,              -- 0: the leaf
    current         BOOLEAN NOT NULL,              -- served at the last successful scan
    first_seen      TIMESTAMP NOT NULL,
    last_seen       TIMESTAMP NOT NULL
);
CREATE INDEX endpoint_certificates_cert ON endpoint_certificates (certificate_id);

CREATE TABLE lint_findings (
    certificate_id  BIGINT NOT NULL,
    certificate     VARCHAR NOT NULL,
    rule            VARCHAR NOT NULL,
    severity        VARCHAR NOT NULL,              -- error, warning, info
    message         VARCHAR NOT NULL,
    integrations    VARCHAR NOT NULL DEFAULT '[]', -- JSON: named credentials at risk
    linted_at       TIMESTAMP NOT NULL
);

CREATE OR REPLACE VIEW endpoints_v AS
WITH now_utc AS (SELECT CAST(timezone('UTC', now()) AS TIMESTAMP) AS t)
SELECT e.endpoint, e.host, e.port, e.tls_version, e.first_seen, e.last_seen, e.last_scanned, e.last_error,
       e.changed_at, c.name AS certificate, c.subject AS certificate_subject, c.issuer AS certificate_issuer,
       c.not_after AS certificate_not_after, date_diff('day', now_utc.t, c.not_after) AS certificate_days_to_expiry,
       c.kind AS certificate_kind, CAST(e.chain_fingerprints AS JSON) AS chain_fingerprints
FROM endpoints e
LEFT JOIN endpoint_certificates ec ON ec.endpoint_id = e.id AND ec.position = 0 AND ec.current
LEFT JOIN certificates c ON c.id = ec.certificate_id, now_utc;

CREATE OR REPLACE VIEW findings_v AS
SELECT f.certificate, f.rule, f.severity, f.message, CAST(f.integrations AS JSON) AS integrations, f.linted_at
FROM lint_findings f;
