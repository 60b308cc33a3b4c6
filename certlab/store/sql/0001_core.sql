-- certlab core schema: certificates, their keys, CSRs, named credentials, users, settings and the
-- hash-chained audit trail. Plain types only, so the same tables fit a server database later.

CREATE TABLE private_keys (
    id                BIGINT PRIMARY KEY,
    algorithm         VARCHAR NOT NULL,
    key_type          VARCHAR NOT NULL,
    public_key        BLOB NOT NULL,          -- SubjectPublicKeyInfo, DER
    spki_sha256       VARCHAR NOT NULL,
    encrypted_key     BLOB NOT NULL,          -- nonce || AES-256-GCM(data key, PKCS#8 DER)
    wrapped_data_key  BLOB NOT NULL,          -- nonce || AES-256-GCM(master key, data key)
    master_key_id     VARCHAR NOT NULL,
    created_at        TIMESTAMP NOT NULL
);

CREATE TABLE certificates (
    id                  BIGINT PRIMARY KEY,
    name                VARCHAR NOT NULL UNIQUE,
    label               VARCHAR NOT NULL,
    kind                VARCHAR NOT NULL,     -- self_signed, ca_signed, imported, trusted_ca, internal_ca, discovered
    status              VARCHAR NOT NULL,     -- pending, active, revoked, retired
    purpose             VARCHAR,
    subject             VARCHAR NOT NULL,
    issuer              VARCHAR,
    serial              VARCHAR,
    not_before          TIMESTAMP,
    not_after           TIMESTAMP,
    key_algorithm       VARCHAR,
    key_size            INTEGER,
    key_type            VARCHAR,
    signature_algorithm VARCHAR,
    signature_hash      VARCHAR,
    fingerprint_sha256  VARCHAR UNIQUE,       -- NULL while pending
    spki_sha256         VARCHAR,
    ski                 VARCHAR,
    aki                 VARCHAR,
    sans                VARCHAR NOT NULL DEFAULT '[]',   -- JSON array of strings
    is_ca               BOOLEAN NOT NULL DEFAULT FALSE,
    der                 BLOB,
    chain_pem           VARCHAR NOT NULL DEFAULT '',     -- issuers above the leaf, PEM
    key_id              BIGINT,
    exportable          BOOLEAN NOT NULL DEFAULT FALSE,
    predecessor_id      BIGINT,
    successor_id        BIGINT,
    issuer_cert_id      BIGINT,
    owner               VARCHAR NOT NULL DEFAULT '',
    tags                VARCHAR NOT NULL DEFAULT '[]',
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
CREATE INDEX certificates_not_after ON certificates (not_after);
CREATE INDEX certificates_spki ON certificates (spki_sha256);

CREATE TABLE csrs (
    id              BIGINT PRIMARY KEY,
    certificate_id  BIGINT NOT NULL,
    pem             VARCHAR NOT NULL,
    created_at      TIMESTAMP NOT NULL
);

CREATE TABLE named_credentials (
    id              BIGINT PRIMARY KEY,
    name            VARCHAR NOT NULL UNIQUE,
    certificate_id  BIGINT NOT NULL,
    endpoint        VARCHAR NOT NULL,
    purpose         VARCHAR NOT NULL,
    owner           VARCHAR NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX named_credentials_cert ON named_credentials (certificate_id);

CREATE TABLE users (
    name            VARCHAR PRIMARY KEY,
    role            VARCHAR NOT NULL,
    password_hash   VARCHAR NOT NULL DEFAULT '',
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);

CREATE TABLE settings (
    key    VARCHAR PRIMARY KEY,
    value  VARCHAR NOT NULL                   -- JSON
);

CREATE TABLE audit_events (
    seq        BIGINT PRIMARY KEY,
    occurred_at TIMESTAMP NOT NULL,
    actor      VARCHAR NOT NULL,
    role       VARCHAR NOT NULL,
    action     VARCHAR NOT NULL,
    object     VARCHAR NOT NULL,
    details    VARCHAR NOT NULL,              -- JSON, never key material
    outcome    VARCHAR NOT NULL,              -- ok, denied, failed
    body       VARCHAR NOT NULL,              -- canonical JSON of the fields above, as hashed
    prev_hash  VARCHAR NOT NULL,
    hash       VARCHAR NOT NULL
);

-- Stable read-only views for analysts.
CREATE VIEW credentials_v AS
SELECT n.name, n.endpoint, n.purpose, n.owner, c.name AS certificate, c.not_after AS certificate_not_after,
       n.created_at, n.updated_at
FROM named_credentials n LEFT JOIN certificates c ON c.id = n.certificate_id;

CREATE VIEW certificates_v AS
WITH now_utc AS (SELECT CAST(timezone('UTC', now()) AS TIMESTAMP) AS t)
SELECT c.name, c.label, c.kind,
       CASE WHEN c.status <> 'active' THEN c.status
            WHEN c.not_after < now_utc.t THEN 'expired'
            WHEN c.not_after < now_utc.t + INTERVAL 90 DAY THEN 'expiring'
            ELSE 'active' END AS status,
       c.status AS stored_status, c.purpose, c.subject, c.issuer, c.serial, c.not_before, c.not_after,
       date_diff('day', now_utc.t, c.not_after) AS days_to_expiry,
       c.key_algorithm, c.key_size, c.key_type, c.signature_algorithm, c.signature_hash,
       c.fingerprint_sha256, CAST(c.sans AS JSON) AS sans, c.is_ca, c.exportable, c.owner,
       CAST(c.tags AS JSON) AS tags, c.created_at, c.updated_at,
       (SELECT list(n.name ORDER BY n.name) FROM named_credentials n WHERE n.certificate_id = c.id) AS credentials
FROM certificates c, now_utc;

CREATE VIEW audit_v AS
SELECT seq, occurred_at AS at, actor, role, action, object, CAST(details AS JSON) AS details, outcome
FROM audit_events;
