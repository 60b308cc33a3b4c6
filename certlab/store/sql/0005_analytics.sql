-- Analyst views, widened: columns are only ever appended, so queries written against the first
-- version keep working. Every view whose name ends in _v is an analyst view (inv.sql(), inv.to_parquet()).

CREATE OR REPLACE VIEW certificates_v AS
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
       (SELECT list(n.name ORDER BY n.name) FROM named_credentials n WHERE n.certificate_id = c.id) AS credentials,
       -- appended by 0005
       c.key_id IS NOT NULL AS has_private_key,
       (SELECT count(*) FROM named_credentials n WHERE n.certificate_id = c.id) AS credential_count,
       (SELECT p.name FROM certificates p WHERE p.id = c.predecessor_id) AS predecessor,
       (SELECT s.name FROM certificates s WHERE s.id = c.successor_id) AS successor,
       (SELECT i.name FROM certificates i WHERE i.id = c.issuer_cert_id) AS issuer_certificate,
       c.spki_sha256, c.ski, c.aki
FROM certificates c, now_utc;

CREATE OR REPLACE VIEW credentials_v AS
WITH now_utc AS (SELECT CAST(timezone('UTC', now()) AS TIMESTAMP) AS t)
SELECT n.name, n.endpoint, n.purpose, n.owner, c.name AS certificate, c.not_after AS certificate_not_after,
       n.created_at, n.updated_at,
       -- appended by 0005
       CASE WHEN c.status <> 'active' THEN c.status
            WHEN c.not_after < now_utc.t THEN 'expired'
            WHEN c.not_after < now_utc.t + INTERVAL 90 DAY THEN 'expiring'
            ELSE 'active' END AS certificate_status,
       date_diff('day', now_utc.t, c.not_after) AS certificate_days_to_expiry,
       c.issuer AS certificate_issuer, c.key_type AS certificate_key_type,
       c.fingerprint_sha256 AS certificate_fingerprint_sha256
FROM named_credentials n LEFT JOIN certificates c ON c.id = n.certificate_id, now_utc;

CREATE OR REPLACE VIEW audit_v AS
SELECT seq, occurred_at AS at, actor, role, action, object, CAST(details AS JSON) AS details, outcome,
       -- appended by 0005 (occurred_at: the same as "at", which DuckDB's grammar makes awkward unquoted)
       prev_hash, hash, occurred_at
FROM audit_events;
