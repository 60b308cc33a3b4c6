"""certlab's PKCS#12 keystores open in Java's keytool, and keytool's open in certlab."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import certlab
from certlab.keys import same_public_key

from .conftest import run_cli
from .interop import run

pytestmark = [pytest.mark.interop, pytest.mark.slow]
PW = "a long keystore password"


@pytest.fixture
def pw(tmp_path: Path) -> Path:
    p = tmp_path / "pw.txt"
    p.write_text(PW + "\n")
    return p


@pytest.mark.parametrize("key", ["rsa-2048", "ec-p256"])
def test_keytool_lists_the_pkcs12_export(cli_db: Path, tmp_path: Path, pw: Path, key: str) -> None:
    run_cli("create", "self-signed", "payments_mtls", "--key", key, "--san", "pay.example.com", "--exportable",
            db=cli_db, check=True)
    p12 = tmp_path / "pay.p12"
    run_cli("export", "payments_mtls", "--format", "pkcs12", "--out", str(p12), "--password-file", str(pw),
            db=cli_db, check=True)
    listing = run("keytool", "-list", "-v", "-storetype", "PKCS12", "-keystore", p12, "-storepass:file", pw).stdout
    assert "Your keystore contains 1 entry" in listing
    assert "Alias name: payments_mtls" in listing and "Entry type: PrivateKeyEntry" in listing
    fp = json.loads(run_cli("show", "payments_mtls", db=cli_db).stdout)["fingerprint_sha256"]
    assert fp.upper() in listing.replace(":", "")
    bad = tmp_path / "bad.txt"
    bad.write_text("wrong password!!\n")
    assert run("keytool", "-list", "-storetype", "PKCS12", "-keystore", p12, "-storepass:file", bad, ok=False).returncode != 0


@pytest.mark.parametrize(("alg", "extra", "key_type"), [("EC", ["-groupname", "secp256r1"], "ec-p256"),
                                                        ("RSA", ["-keysize", "2048"], "rsa-2048")])
def test_a_keytool_made_keystore_is_imported_with_its_key(cli_db: Path, tmp_path: Path, pw: Path, alg: str,
                                                          extra: list[str], key_type: str) -> None:
    ks = tmp_path / "svc.p12"
    run("keytool", "-genkeypair", "-storetype", "PKCS12", "-keystore", ks, "-storepass:file", pw, "-alias", "svc",
        "-keyalg", alg, *extra, "-dname", "CN=svc.example.com, O=Acme, C=DE", "-ext", "san=dns:svc.example.com",
        "-validity", "200")
    cert_pem = tmp_path / "svc.pem"
    run("keytool", "-exportcert", "-rfc", "-storetype", "PKCS12", "-keystore", ks, "-storepass:file", pw,
        "-alias", "svc", "-file", cert_pem)
    docs = json.loads(run_cli("import", str(ks), "--password-file", str(pw), "--exportable", "--json",
                              db=cli_db, check=True).stdout)
    assert docs == [{"file": str(ks), "result": "imported", "name": "svc_example_com", "reason": None}]
    doc = json.loads(run_cli("show", "svc_example_com", db=cli_db).stdout)
    assert doc["key_type"] == key_type and doc["subject"] == "CN=svc.example.com,O=Acme,C=DE"
    assert doc["sans"] == ["svc.example.com"] and doc["exportable"] is True
    inv = certlab.open(cli_db)
    assert inv.get("svc_example_com").has_private_key
    # the key that came in is the keystore's: export it and compare with keytool's certificate
    key_out = tmp_path / "svc.key"
    run_cli("export", "svc_example_com", "--format", "key", "--out", str(key_out), "--password-file", str(pw),
            db=cli_db, check=True)
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(key_out.read_bytes(), PW.encode())
    assert same_public_key(key.public_key(), x509.load_pem_x509_certificate(cert_pem.read_bytes()).public_key())
    # imported twice: a duplicate
    again = json.loads(run_cli("import", str(ks), "--password-file", str(pw), "--json", db=cli_db).stdout)
    assert again[0]["result"] == "duplicate"
    # a wrong password: rejected, nothing stored
    bad = tmp_path / "bad.txt"
    bad.write_text("wrong password!!\n")
    proc = run_cli("import", str(ks), "--password-file", str(bad), "--json", db=cli_db)
    assert proc.returncode == 1 and "wrong password for the PKCS#12 keystore" in json.loads(proc.stdout)[0]["reason"]
