"""certlab and openssl read each other's certificates, requests, keystores and keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import certlab

from .conftest import run_cli
from .interop import run

pytestmark = pytest.mark.interop
PW = "a long keystore password"


@pytest.fixture
def pw(tmp_path: Path) -> Path:
    p = tmp_path / "pw.txt"
    p.write_text(PW + "\n")
    return p


@pytest.fixture
def openssl_ca(tmp_path: Path) -> tuple[Path, Path]:
    """A CA made by openssl itself: (certificate, key)."""
    key, cert = tmp_path / "ca.key", tmp_path / "ca.pem"
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", cert, "-days", "3650", "-subj", "/C=DE/O=OpenSSL Test/CN=OpenSSL Test Root",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


def cli(db: Path, *args: str) -> str:
    return run_cli(*args, db=db, check=True).stdout


@pytest.mark.parametrize(("key", "sig"), [("rsa-2048", "sha256WithRSAEncryption"), ("ec-p384", "ecdsa-with-SHA256"),
                                          ("ed25519", "ED25519")])
def test_openssl_reads_and_verifies_issued_certificates(cli_db: Path, tmp_path: Path, key: str, sig: str) -> None:
    cli(cli_db, "create", "self-signed", "pay", "--key", key, "--san", "pay.example.com", "--san", "10.0.0.5",
        "--san", "ops@example.com", "--subject", "CN=pay.example.com,O=Acme,OU=Pay,L=Berlin,ST=BE,C=DE,emailAddress=pki@example.com",
        "--purpose", "client", "--days", "30")
    pem = tmp_path / "pay.pem"
    cli(cli_db, "export", "pay", "--format", "pem", "--out", str(pem))
    text = run("openssl", "x509", "-in", pem, "-noout", "-text").stdout
    assert f"Signature Algorithm: {sig}" in text
    assert re.search(r"Subject: C ?= ?DE, ST ?= ?BE, L ?= ?Berlin, O ?= ?Acme, OU ?= ?Pay, CN ?= ?pay.example.com, "
                     r"emailAddress ?= ?pki@example.com", text), text
    assert re.search(r"X509v3 Basic Constraints: critical\s+CA:FALSE", text)
    assert re.search(r"X509v3 Key Usage: critical\s+Digital Signature", text)
    assert re.search(r"X509v3 Extended Key Usage:\s+TLS Web Client Authentication", text)
    assert re.search(r"X509v3 Subject Alternative Name:\s+DNS:pay.example.com, IP Address:10.0.0.5, email:ops@example.com", text)
    assert "X509v3 Subject Key Identifier" in text and "X509v3 Authority Key Identifier" in text
    serial_hex = re.search(r"Serial Number:\s*\n?\s*([0-9a-f:]+)", text)
    assert serial_hex and len(serial_hex.group(1).replace(":", "")) >= 16  # >= 64 bits
    res = run("openssl", "verify", "-CAfile", pem, "-purpose", "sslclient", pem)
    assert res.stdout.strip() == f"{pem}: OK"
    der = tmp_path / "pay.der"
    cli(cli_db, "export", "pay", "--format", "der", "--out", str(der))
    fp = run("openssl", "x509", "-in", der, "-inform", "DER", "-noout", "-fingerprint", "-sha256").stdout
    assert fp.strip().split("=", 1)[1].replace(":", "").lower() == json.loads(cli(cli_db, "show", "pay"))["fingerprint_sha256"]


def test_openssl_verifies_csrs(cli_db: Path, tmp_path: Path) -> None:
    for key in ("rsa-2048", "ec-p256", "ed25519"):
        name = "req_" + key.replace("-", "_")
        cli(cli_db, "create", "csr", name, "--key", key, "--subject", "CN=erp.example.com,O=Acme,C=DE,emailAddress=it@example.com",
            "--san", "erp.example.com")
        csr = tmp_path / f"{name}.csr"
        cli(cli_db, "export", name, "--format", "csr", "--out", str(csr))
        res = run("openssl", "req", "-in", csr, "-noout", "-verify", "-text")
        assert "verify OK" in res.stderr + res.stdout
        assert "DNS:erp.example.com" in res.stdout and "TLS Web Server Authentication" in res.stdout
        assert re.search(r"Subject: C ?= ?DE, O ?= ?Acme, CN ?= ?erp.example.com, emailAddress ?= ?it@example.com", res.stdout)


@pytest.mark.parametrize("fmt", ["pem", "der", "p7b"])
def test_csr_signed_by_openssl_is_uploaded_back(cli_db: Path, tmp_path: Path, openssl_ca: tuple[Path, Path], fmt: str) -> None:
    ca_cert, ca_key = openssl_ca
    cli(cli_db, "create", "csr", "erp_client", "--key", "ec-p256", "--subject", "CN=erp.example.com,O=Acme,C=DE",
        "--san", "erp.example.com", "--san", "10.1.2.3", "--purpose", "client")
    csr = tmp_path / "erp.csr"
    cli(cli_db, "export", "erp_client", "--format", "csr", "--out", str(csr))
    signed = tmp_path / "signed.pem"
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial", "-days", "200",
        "-sha256", "-copy_extensions", "copyall", "-out", signed)
    upload = {"pem": tmp_path / "signed-chain.pem", "der": tmp_path / "signed.der", "p7b": tmp_path / "signed.p7b"}[fmt]
    if fmt == "pem":
        upload.write_text(ca_cert.read_text() + signed.read_text())  # any order: certlab orders the chain
    elif fmt == "der":
        run("openssl", "x509", "-in", signed, "-outform", "DER", "-out", upload)
    elif fmt == "p7b":
        run("openssl", "crl2pkcs7", "-nocrl", "-certfile", signed, "-certfile", ca_cert, "-out", upload)
    doc = json.loads(cli(cli_db, "upload-signed", "erp_client", str(upload), "--json"))
    assert doc["status"] == "active" and doc["kind"] == "ca_signed"
    assert doc["issuer"] == "CN=OpenSSL Test Root,O=OpenSSL Test,C=DE"
    assert doc["sans"] == ["erp.example.com", "10.1.2.3"] and doc["days_to_expiry"] == 200
    chain = tmp_path / "chain.pem"
    cli(cli_db, "export", "erp_client", "--format", "chain", "--out", str(chain))
    leaf = tmp_path / "leaf.pem"
    cli(cli_db, "export", "erp_client", "--format", "pem", "--out", str(leaf))
    assert run("openssl", "verify", "-CAfile", ca_cert, "-purpose", "sslclient", leaf).stdout.strip().endswith(": OK")
    assert chain.read_text().count("BEGIN CERTIFICATE") == (1 if fmt == "der" else 2)


def test_a_signed_certificate_for_another_key_is_refused(cli_db: Path, tmp_path: Path, openssl_ca: tuple[Path, Path]) -> None:
    ca_cert, ca_key = openssl_ca
    cli(cli_db, "create", "csr", "erp_client", "--key", "ec-p256", "--san", "erp.example.com")
    other_csr = tmp_path / "other.csr"
    run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", tmp_path / "other.key", "-subj", "/CN=erp.example.com", "-out", other_csr)
    signed = tmp_path / "signed.pem"
    run("openssl", "x509", "-req", "-in", other_csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial", "-days", "30",
        "-out", signed)
    proc = run_cli("upload-signed", "erp_client", str(signed), db=cli_db)
    assert proc.returncode == 1 and "no certificate in it matches the pending key of erp_client" in proc.stderr
    assert json.loads(run_cli("show", "erp_client", db=cli_db).stdout)["status"] == "pending"


def test_openssl_reads_the_pkcs12_export(cli_db: Path, tmp_path: Path, pw: Path) -> None:
    cli(cli_db, "create", "self-signed", "pay", "--key", "rsa-2048", "--san", "pay.example.com", "--exportable")
    p12 = tmp_path / "pay.p12"
    cli(cli_db, "export", "pay", "--format", "pkcs12", "--out", str(p12), "--password-file", str(pw))
    info = run("openssl", "pkcs12", "-info", "-in", p12, "-passin", f"file:{pw}", "-noout")
    text = info.stdout + info.stderr
    assert re.search(r"MAC: sha256", text), text
    assert re.search(r"Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC", text), text
    assert re.search(r"PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC", text), text
    assert "3DES" not in text and "RC2" not in text
    out = run("openssl", "pkcs12", "-in", p12, "-passin", f"file:{pw}", "-nodes").stdout
    assert "BEGIN CERTIFICATE" in out and "BEGIN PRIVATE KEY" in out and "friendlyName: pay" in out
    bad = run("openssl", "pkcs12", "-info", "-in", p12, "-passin", "pass:wrong password", "-noout", ok=False)
    assert bad.returncode != 0
    # the key export is PKCS#8 that openssl decrypts
    key = tmp_path / "pay.key"
    cli(cli_db, "export", "pay", "--format", "key", "--out", str(key), "--password-file", str(pw))
    assert key.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    mod_key = run("openssl", "pkey", "-in", key, "-passin", f"file:{pw}", "-pubout").stdout
    pem = tmp_path / "pay.pem"
    cli(cli_db, "export", "pay", "--format", "pem", "--out", str(pem))
    assert run("openssl", "x509", "-in", pem, "-noout", "-pubkey").stdout == mod_key


def test_openssl_made_keys_and_keystores_are_imported(cli_db: Path, tmp_path: Path, pw: Path, openssl_ca: tuple[Path, Path]) -> None:
    ca_cert, ca_key = openssl_ca
    # an encrypted PKCS#8 key and its certificate, in one file
    key = tmp_path / "svc.key"
    run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes-256-cbc",
        "-pass", f"file:{pw}", "-out", key)
    assert key.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    cert = tmp_path / "svc.pem"
    run("openssl", "req", "-x509", "-key", key, "-passin", f"file:{pw}", "-subj", "/CN=svc.example.com", "-days", "30",
        "-addext", "subjectAltName=DNS:svc.example.com", "-out", cert)
    bundle = tmp_path / "svc-bundle.pem"
    bundle.write_text(key.read_text() + cert.read_text())
    # a traditional encrypted RSA key (Proc-Type: 4,ENCRYPTED) with its certificate
    rsa_key = tmp_path / "legacy.key"
    run("openssl", "genrsa", "-traditional", "-aes256", "-passout", f"file:{pw}", "-out", rsa_key, "2048")
    assert "Proc-Type: 4,ENCRYPTED" in rsa_key.read_text()
    rsa_cert = tmp_path / "legacy.pem"
    run("openssl", "req", "-x509", "-key", rsa_key, "-passin", f"file:{pw}", "-subj", "/CN=legacy.example.com",
        "-days", "30", "-out", rsa_cert)
    legacy = tmp_path / "legacy-bundle.pem"
    legacy.write_text(rsa_key.read_text() + rsa_cert.read_text())
    # a PKCS#12 made by openssl, with the CA in it
    leaf_key, leaf_csr, leaf = tmp_path / "l.key", tmp_path / "l.csr", tmp_path / "l.pem"
    run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", leaf_key,
        "-subj", "/CN=p12.example.com", "-out", leaf_csr)
    run("openssl", "x509", "-req", "-in", leaf_csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial", "-days", "30",
        "-out", leaf)
    p12 = tmp_path / "l.p12"
    run("openssl", "pkcs12", "-export", "-inkey", leaf_key, "-in", leaf, "-certfile", ca_cert, "-name", "p12",
        "-passout", f"file:{pw}", "-out", p12)
    docs = json.loads(cli(cli_db, "import", str(bundle), str(legacy), str(p12), "--password-file", str(pw), "--json"))
    assert [(d["result"], d["name"]) for d in docs] == [("imported", "svc_example_com"), ("imported", "legacy_example_com"),
                                                        ("imported", "p12_example_com")]
    listed = {d["name"]: d for d in json.loads(cli(cli_db, "list", "--json"))}
    assert listed["svc_example_com"]["key_type"] == "ec-p256" and listed["legacy_example_com"]["key_type"] == "rsa-2048"
    inv = certlab.open(cli_db)
    assert all(r.has_private_key for r in inv.list())
    assert len(inv.chain("p12_example_com")) == 2
    # and the wrong password is a clean rejection
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the password\n")
    proc = run_cli("import", str(bundle), "--password-file", str(wrong), "--json", db=cli_db)
    assert proc.returncode == 1 and "wrong password for the private key" in json.loads(proc.stdout)[0]["reason"]
