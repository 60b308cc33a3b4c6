"""The baseline for bulk import: a bare Python process that parses PEM files and extracts the fields
certlab stores, with duckdb and cryptography imported, and nothing of certlab.

    python benchmarks/raw_import.py FILE_OR_DIR
"""

import hashlib
import sys
from pathlib import Path

import duckdb  # noqa: F401  (imported, as the comparison says)
from cryptography import x509
from cryptography.hazmat.primitives import serialization


def fields(cert: x509.Certificate) -> tuple:
    der = cert.public_bytes(serialization.Encoding.DER)
    pub = cert.public_key()
    spki = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    exts = cert.extensions
    try:
        sans = [str(g.value) for g in exts.get_extension_for_class(x509.SubjectAlternativeName).value]
    except x509.ExtensionNotFound:
        sans = []
    try:
        ca = exts.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        ca = False
    try:
        ski = exts.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex()
    except x509.ExtensionNotFound:
        ski = ""
    try:
        aki = (exts.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier or b"").hex()
    except x509.ExtensionNotFound:
        aki = ""
    return (cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(), format(cert.serial_number, "x"),
            cert.not_valid_before_utc, cert.not_valid_after_utc, type(pub).__name__, cert.signature_algorithm_oid,
            hashlib.sha256(der).hexdigest(), hashlib.sha256(spki).hexdigest(), sans, ca, ski, aki)


def main(target: str) -> int:
    path = Path(target)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    count = 0
    for f in files:
        for cert in x509.load_pem_x509_certificates(f.read_bytes()):
            fields(cert)
            count += 1
    print(count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
