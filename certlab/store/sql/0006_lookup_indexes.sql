-- Linting a certificate walks up to its issuers by key identifier (aki -> the CA's ski). Without an
-- index that walk scanned every row's ski (or is_ca) column: at a million certificates, most of get().
CREATE INDEX IF NOT EXISTS certificates_ski ON certificates(ski);
