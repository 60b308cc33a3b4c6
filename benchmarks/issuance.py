"""1. Issuance: one certificate through the Inventory vs raw cryptography vs the openssl CLI; batches."""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .harness import Result, Size, Stat, log, measure, measure_pair, run_process

FINDINGS = [
    ("Issuance, one certificate: a cProfile of Inventory.create_self_signed (EC P-256, 20 actions) put about half "
    "of the time in duckdb.connect; the open is now an ATTACH to a DuckDB instance kept per process (~1 ms instead "
    "of ~25 ms of CPU). What remains is COMMIT and DETACH (DuckDB writes and syncs its WAL, then checkpoints the "
    "file so that none is left between actions), the SQL statements (name check, key and certificate rows, audit "
    "append, reading the record back) and a little cryptography. RSA-2048 key generation varies from 40 to 300+ "
    "ms run to run, so its ratio is noisy; the EC P-256 line shows the fixed cost of one write action."),
    ("Issuance, what bounds one write action (a per-statement timing of create_self_signed, EC P-256, about "
    "50 ms here): ATTACH ~4 ms, ten SQL statements of 1-4 ms each (~20 ms), COMMIT ~3 ms, DETACH ~15 ms. The "
    "DETACH is DuckDB's checkpoint, measured apart: ~4 ms for any change, plus the tables and columns written "
    "(one audit row ~6 ms, one certificate row ~10-14 ms, the three tables of an issuance ~15-18 ms; ~35 ms at a "
    "million rows); the fsyncs are ~0.1 ms of it. Leaving a WAL between actions instead (no checkpoint on "
    "DETACH: 15 ms -> 1 ms) was measured and rejected: every read then replays it, and at a million rows one "
    "action's WAL (~3.5 KB) put ~28 ms on each read (summary 47 -> 75 ms), 150 KB ~160 ms. Fixed: creating "
    "actions no longer look up named credentials, endpoints and other holders of a key they have just made "
    "(59 -> 51 ms); a delete now removes what referred to its id in the same transaction, so a reused id "
    "inherits nothing. 1.15x raw for RSA-2048 would leave ~10 ms for everything but the key."),
    ("Batch issuance (certlab demo --certs N) signs about 100 µs a certificate on an idle core: "
    "create_x509_certificate (Rust: encoding and signing) is about half, the Python builder chain and the field "
    "extraction the rest; EC P-256 and Ed25519 leaves get fresh keys (~45 µs each), P-384 and RSA leaves take "
    "theirs from a pool, and the RSA-2048 and P-384 CAs sign small shares, because an RSA signature costs ~15× a "
    "P-256 one. Rows go in as batches (a dict of NumPy arrays DuckDB scans) in one transaction."),
]


def raw_certificate(key: Any, issuer_key: Any = None, issuer_name: x509.Name | None = None, n: int = 0) -> bytes:
    """What a user of raw cryptography writes: the same extensions certlab puts in, signed, DER-encoded."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"raw-{n}.example.com")])
    pub = key.public_key()
    signer = issuer_key or key
    ski = x509.SubjectKeyIdentifier.from_public_key(pub)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name or name).public_key(pub)
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, isinstance(key, rsa.RSAPrivateKey), False, False, False, False,
                                     False, False), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(f"raw-{n}.example.com")]), critical=False)
        .sign(signer, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def raw_rsa() -> bytes:
    return raw_certificate(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def raw_ec() -> bytes:
    return raw_certificate(ec.generate_private_key(ec.SECP256R1()))


def openssl_once(work: Path, key: str) -> None:
    newkey = ["-newkey", "rsa:2048"] if key == "rsa" else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    run_process(["openssl", "req", "-x509", *newkey, "-nodes", "-keyout", str(work / "k.pem"), "-out",
                 str(work / "c.pem"), "-subj", "/CN=openssl.example.com", "-days", "365",
                 "-addext", "subjectAltName=DNS:openssl.example.com"])


def run(size: Size, work: Path) -> list[Result]:
    import certlab
    from certlab import Actor, CertSpec

    inv = certlab.init(work / "issuance" / "certlab.duckdb", actor=Actor("bench", "admin"))
    counter = itertools.count()

    def certlab_one(key_type: str) -> None:
        i = next(counter)
        inv.create_self_signed(CertSpec(name=f"bench_{i}", key_type=key_type, sans=(f"bench-{i}.example.com",)))

    results = []
    log("issuance: RSA-2048, one certificate (certlab and raw cryptography, interleaved)")
    c_rsa, r_rsa = measure_pair(lambda: certlab_one("rsa-2048"), raw_rsa, size.rsa_runs)
    log("issuance: EC P-256, one certificate")
    c_ec, r_ec = measure_pair(lambda: certlab_one("ec-p256"), raw_ec, size.rsa_runs)
    openssl: dict[str, Stat] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key in ("rsa", "ec"):
            log(f"issuance: openssl CLI, {key}")
            openssl[key] = measure(lambda key=key: openssl_once(Path(tmp), key), size.rsa_runs if key == "rsa" else size.runs)
    results.append(Result(
        "issuance", "one RSA-2048 self-signed certificate (key, certificate, encrypted key, rows, audit event)",
        c_rsa.median, {"raw cryptography": r_rsa.median, "openssl CLI": openssl["rsa"].median},
        ratio_to="raw cryptography", target="≤ 1.15× raw", limit=1.15, runs=size.rsa_runs,
        notes=f"RSA key generation varies run to run (raw: {r_rsa.low * 1e3:.0f}–{r_rsa.high * 1e3:.0f} ms); "
              f"runs interleaved. certlab vs openssl CLI: {c_rsa.median / openssl['rsa'].median:.2f}×.",
    ))
    results.append(Result(
        "issuance", "one EC P-256 self-signed certificate", c_ec.median,
        {"raw cryptography": r_ec.median, "openssl CLI": openssl["ec"].median}, ratio_to="openssl CLI",
        target="report (expect faster than openssl CLI)", runs=size.rsa_runs,
        notes=f"certlab vs raw cryptography: {c_ec.median / r_ec.median:.1f}× (the per-action open, lock, "
              "transaction and audit event dominate a 0.1 ms certificate).",
    ))
    results.append(_batch(size, work))
    return results


def _batch(size: Size, work: Path) -> Result:
    """A batch issued in one action (``certlab demo --certs N``) vs the same number in a raw loop."""
    import certlab
    from certlab import Actor

    n = size.ec_batch
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Raw CA")])

    def raw_batch() -> None:
        for i in range(n):
            raw_certificate(ec.generate_private_key(ec.SECP256R1()), ca_key, ca_name, i)

    inv = certlab.init(work / "batch" / "certlab.duckdb", actor=Actor("bench", "admin"))
    log(f"issuance: batch of {n} (certlab demo --certs and a raw loop)")
    c, r = measure_pair(lambda: inv.generate_synthetic(n), raw_batch, max(2, size.runs // 2))
    return Result(
        "issuance", f"batch of {n:,} certificates in one action (rate)", n / c.median,
        {"raw cryptography": n / r.median}, ratio_to="raw cryptography", target="≥ ¼ of the raw rate",
        at_least=0.25, unit="/s", runs=max(2, size.runs // 2),
        notes="certlab: Inventory.generate_synthetic (certlab demo --certs N), mostly EC P-256 and Ed25519 CAs "
              "with a share of P-384 and RSA-2048 signatures, fresh EC/Ed25519 leaf keys (P-384 and RSA from a pool), "
              "rows written as batches with one audit event. Raw: a fresh EC P-256 key per certificate, signed by an EC P-256 CA.",
    )
