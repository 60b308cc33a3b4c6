"""Internal CAs in the inventory: create, issue, sign CSRs, revoke, CRLs; the CLI; openssl interop."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

import certlab
from certlab import CertSpec, ChainError, ConflictError, NameRules, PermissionDeniedError
from certlab.csr import build_csr
from certlab.inventory.lifecycle import crl_entries

from .conftest import make_cert, run_cli

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not installed")


def _state(inv: certlab.Inventory) -> tuple[object, ...]:
    return (tuple((r.name, r.status) for r in inv.list()), len(inv.audit_events()), tuple(inv.revocations()))


@pytest.fixture
def pki(inv: certlab.Inventory) -> certlab.Inventory:
    inv.create_ca("root", subject="CN=Acme Root CA,O=Acme", key_type="ec-p256", path_length=1)
    inv.create_ca("issuing", parent="root", key_type="ec-p256",
                  name_rules=NameRules(permitted_dns=("example.com",), excluded_dns=("secret.example.com",)))
    return inv


def _pem(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(certlab.dump_pem([cert]))
    return path


def test_create_ca_root_and_intermediate(pki: certlab.Inventory) -> None:
    root, issuing = pki.get("root"), pki.get("issuing")
    assert (root.kind, root.is_ca, root.exportable, root.has_private_key) == ("internal_ca", True, False, True)
    assert issuing.issuer_certificate == "root" and issuing.issuer == root.subject
    status = pki.ca_status("issuing")
    assert status.path_length == 0 and status.name_rules == {"permitted_dns": ["example.com"],
                                                             "excluded_dns": ["secret.example.com"]}
    assert [c.name for c in pki.cas()] == ["root", "issuing"]
    assert pki.chain("issuing")[1].subject.rfc4514_string() == root.subject
    created = [e for e in pki.audit_events() if e.action == "ca_created"]
    assert [e.object for e in created] == ["root", "issuing"] and created[1].details["parent"] == "root"


def test_ca_key_not_exportable_unless_asked(pki: certlab.Inventory) -> None:
    with pytest.raises(PermissionDeniedError, match="not exportable"):
        pki.export("root", "key", password="a long enough password")
    pki.create_ca("portable", key_type="ec-p256", exportable=True)
    assert pki.export("portable", "key", password="a long enough password").secret


def test_issue_carries_full_chain_and_kind(pki: certlab.Inventory) -> None:
    rec = pki.issue("issuing", CertSpec(name="api", key_type="ec-p256", sans=("api.example.com",), exportable=True))
    assert (rec.kind, rec.status, rec.issuer_certificate) == ("ca_signed", "active", "issuing")
    chain = pki.chain("api")
    assert len(chain) == 3
    chain[0].verify_directly_issued_by(chain[1])
    chain[1].verify_directly_issued_by(chain[2])
    assert pki.ca_status("issuing").issued == 1
    event = pki.audit_events()[-1]
    assert (event.action, event.object, event.details["ca"]) == ("issued", "api", "issuing")


def test_bad_input_changes_nothing(pki: certlab.Inventory) -> None:
    make_cert(pki, "selfie")
    before = _state(pki)
    with pytest.raises(ChainError, match="excluded"):
        pki.issue("issuing", CertSpec(name="x", key_type="ec-p256", sans=("db.secret.example.com",)))
    with pytest.raises(ChainError, match="outside"):
        pki.issue("issuing", CertSpec(name="x", key_type="ec-p256", sans=("example.org",)))
    with pytest.raises(ChainError, match="path length 0"):
        pki.create_ca("deeper", parent="issuing", key_type="ec-p256")
    with pytest.raises(ConflictError, match="not an internal CA"):
        pki.issue("selfie", CertSpec(name="x", key_type="ec-p256"))
    with pytest.raises(ConflictError, match="not issued by a CA of this inventory"):
        pki.revoke("selfie", "keyCompromise")
    with pytest.raises(ConflictError, match="not issued by a CA of this inventory"):
        pki.revoke("root", "cACompromise")
    with pytest.raises(certlab.InvalidInputError, match="unknown revocation reason"):
        pki.revoke("issuing", "oops")
    with pytest.raises(certlab.NotFoundError):
        pki.issue("nope", CertSpec(name="x", key_type="ec-p256"))
    with pytest.raises(ConflictError, match="exists already"):
        pki.issue("issuing", CertSpec(name="selfie", key_type="ec-p256", sans=("a.example.com",)))
    assert _state(pki) == before


def test_revoke_blocks_export_and_binding(pki: certlab.Inventory) -> None:
    pki.issue("issuing", CertSpec(name="api", key_type="ec-p256", sans=("api.example.com",), exportable=True))
    pki.add_credential("gateway", certificate="api", endpoint="https://api.example.com", purpose="mtls")
    rec = pki.revoke("api", "keycompromise")
    assert rec.status == "revoked"
    with pytest.raises(PermissionDeniedError, match="revoked"):
        pki.export("api", "pkcs12", password="a long enough password")
    with pytest.raises(ConflictError, match="revoked"):
        pki.add_credential("other", certificate="api", endpoint="https://x.example.com", purpose="mtls")
    with pytest.raises(ConflictError, match="revoked already"):
        pki.revoke("api", "superseded")
    event = [e for e in pki.audit_events() if e.action == "revoked"][-1]
    assert event.details["reason"] == "keyCompromise" and event.details["credentials"] == ["gateway"]
    assert pki.revocations("issuing")[0]["reason"] == "keyCompromise"


def test_crl_numbers_increase_and_list_reasons(pki: certlab.Inventory) -> None:
    pki.issue("issuing", CertSpec(name="a", key_type="ec-p256", sans=("a.example.com",)))
    pki.issue("issuing", CertSpec(name="b", key_type="ec-p256", sans=("b.example.com",)))
    first = x509.load_pem_x509_crl(pki.crl("issuing").bytes())
    pki.revoke("a", "superseded")
    second = x509.load_der_x509_crl(pki.crl("issuing", fmt="der").bytes())
    num = lambda c: c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert (num(first), num(second)) == (1, 2)
    assert crl_entries(first) == []
    assert crl_entries(second) == [(pki.certificate("a").serial_number, "superseded")]
    assert second.is_signature_valid(pki.certificate("issuing").public_key())  # type: ignore[arg-type]
    assert pki.ca_status("issuing").crl_number == 2


def test_sign_outside_csr(pki: certlab.Inventory) -> None:
    csr, _ = build_csr(CertSpec(name="p", key_type="ec-p256", sans=("partner.example.com",)))
    from cryptography.hazmat.primitives import serialization

    data = csr.public_bytes(serialization.Encoding.PEM)
    rec = pki.sign_csr("issuing", data, name="partner", days=30, source="partner.csr")
    assert rec.sans == ("partner.example.com",) and not rec.has_private_key and rec.issuer_certificate == "issuing"
    auto = pki.sign_csr("issuing", data)
    assert auto.name == "partner_example_com"
    with pytest.raises(certlab.FormatError):
        pki.sign_csr("issuing", b"not a csr", source="junk.csr")


def test_cli_ca_walkthrough(cli_db: Path, tmp_path: Path) -> None:
    ok = lambda *a: run_cli(*a, db=cli_db, check=True)
    ok("ca", "create", "root", "--key", "ec-p256", "--path-length", "1")
    ok("ca", "create", "issuing", "--parent", "root", "--key", "ec-p256", "--permit-dns", "example.com")
    ok("ca", "issue", "issuing", "api", "--san", "api.example.com", "--key", "ec-p256")
    bad = run_cli("ca", "issue", "issuing", "evil", "--san", "evil.org", "--key", "ec-p256", db=cli_db)
    assert bad.returncode == 1 and "outside the names" in bad.stderr and "Traceback" not in bad.stderr
    deep = run_cli("ca", "create", "deeper", "--parent", "issuing", "--key", "ec-p256", db=cli_db)
    assert deep.returncode == 1 and "path length" in deep.stderr
    csr, _ = build_csr(CertSpec(name="p", key_type="ec-p256", sans=("p.example.com",)))
    from cryptography.hazmat.primitives import serialization

    (tmp_path / "p.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    ok("ca", "sign", "issuing", str(tmp_path / "p.csr"), "--name", "partner", "--out", str(tmp_path / "p.pem"))
    assert len(x509.load_pem_x509_certificates((tmp_path / "p.pem").read_bytes())) == 3
    ok("revoke", "api", "--reason", "keyCompromise")
    ok("ca", "crl", "issuing", "--out", str(tmp_path / "i.crl"))
    crl = x509.load_pem_x509_crl((tmp_path / "i.crl").read_bytes())
    assert len(list(crl)) == 1
    import json

    cas = json.loads(ok("ca", "list", "--json").stdout)
    assert [(c["name"], c["revoked"]) for c in cas] == [("root", 0), ("issuing", 1)]
    reason = run_cli("revoke", "partner", "--reason", "lost", db=cli_db)
    assert reason.returncode == 2  # usage: not one of the RFC 5280 names
    assert "example" in run_cli("ca", "issue", "--help").stdout.split("Example:")[1]


# --- interop with the openssl CLI -----------------------------------------------------------------------

def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *args], capture_output=True, text=True, timeout=60)


@needs_openssl
def test_interop_openssl_verifies_chain_crl_and_revocation(pki: certlab.Inventory, tmp_path: Path) -> None:
    pki.issue("issuing", CertSpec(name="good", key_type="ec-p256", sans=("good.example.com",)))
    pki.issue("issuing", CertSpec(name="bad", key_type="rsa-2048", sans=("bad.example.com",), purpose="client"))
    root = _pem(pki.certificate("root"), tmp_path / "root.pem")
    inter = _pem(pki.certificate("issuing"), tmp_path / "issuing.pem")
    good = _pem(pki.certificate("good"), tmp_path / "good.pem")
    bad = _pem(pki.certificate("bad"), tmp_path / "bad.pem")
    for leaf in (good, bad):
        r = _openssl("verify", "-CAfile", str(root), "-untrusted", str(inter), str(leaf))
        assert r.returncode == 0 and f"{leaf}: OK" in r.stdout, r.stderr
    pki.revoke("bad", "keyCompromise")
    crl = tmp_path / "issuing.crl.pem"
    pki.crl("issuing").write_to_path(crl)
    r = _openssl("crl", "-in", str(crl), "-CAfile", str(inter), "-noout", "-verify")
    assert r.returncode == 0 and "verify OK" in (r.stdout + r.stderr)
    text = _openssl("crl", "-in", str(crl), "-noout", "-text").stdout
    assert "Key Compromise" in text and "X509v3 CRL Number" in text and "Next Update" in text
    base = ["verify", "-crl_check", "-CAfile", str(root), "-untrusted", str(inter), "-CRLfile", str(crl)]
    r = _openssl(*base, str(bad))
    assert r.returncode != 0 and "certificate revoked" in (r.stdout + r.stderr)
    r = _openssl(*base, str(good))
    assert r.returncode == 0 and "OK" in r.stdout, r.stderr
    # a CRL signed by another CA is refused by openssl
    other = certlab.CA(key_type="ec-p256")
    r = _openssl("crl", "-in", str(crl), "-CAfile", str(_pem(other.certificate, tmp_path / "o.pem")), "-noout", "-verify")
    assert "verify OK" not in (r.stdout + r.stderr)


@needs_openssl
def test_interop_name_constraints_are_in_the_certificate(pki: certlab.Inventory, tmp_path: Path) -> None:
    """certlab refuses at issue time what openssl would refuse at verify time."""
    from certlab.certs import build_certificate

    root = _pem(pki.certificate("root"), tmp_path / "root.pem")
    inter = _pem(pki.certificate("issuing"), tmp_path / "issuing.pem")
    with pytest.raises(ChainError):
        pki.issue("issuing", CertSpec(name="x", key_type="ec-p256", sans=("db.secret.example.com",)))
    # Sign the same leaf by hand, skipping certlab's check: openssl refuses it on the constraint.
    with pki.db.read() as tx:
        _, authority = pki._load_ca(tx, "issuing")
    key = certlab.generate_key("ec-p256")
    forged = build_certificate(
        subject=x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "db.secret.example.com")]),
        public_key=key.public_key(), issuer=authority.certificate.subject, issuer_key=authority.private_key, days=30,
        sans=[x509.DNSName("db.secret.example.com")],
        issuer_ski=x509.SubjectKeyIdentifier.from_public_key(authority.private_key.public_key()),
    )
    r = _openssl("verify", "-CAfile", str(root), "-untrusted", str(inter), str(_pem(forged, tmp_path / "f.pem")))
    assert r.returncode != 0 and "subtree violation" in (r.stdout + r.stderr)


@needs_openssl
def test_interop_sign_openssl_csr(pki: certlab.Inventory, tmp_path: Path) -> None:
    key, csr = tmp_path / "k.pem", tmp_path / "r.csr"
    r = _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
                 "-out", str(csr), "-subj", "/CN=partner.example.com", "-addext",
                 "subjectAltName=DNS:partner.example.com,DNS:www.partner.example.com")
    assert r.returncode == 0, r.stderr
    rec = pki.sign_csr("issuing", csr.read_bytes(), name="partner", source=str(csr))
    assert rec.sans == ("partner.example.com", "www.partner.example.com")
    chain = tmp_path / "chain.pem"
    pki.export("partner", "chain").write_to_path(chain)
    root = _pem(pki.certificate("root"), tmp_path / "root.pem")
    leaf = _pem(pki.certificate("partner"), tmp_path / "leaf.pem")
    r = _openssl("verify", "-CAfile", str(root), "-untrusted", str(chain), str(leaf))
    assert r.returncode == 0, r.stderr
    r = _openssl("x509", "-in", str(leaf), "-noout", "-pubkey")
    k = _openssl("pkey", "-in", str(key), "-pubout")
    assert r.stdout == k.stdout


def test_records_returned_by_creation_equal_a_later_read(inv: certlab.Inventory) -> None:
    """Creating actions build their record without the credential, endpoint and shared-key lookups (their
    key is new): the record, findings included, is the one a later get() reads."""
    now = certlab.certs.utcnow()
    at = certlab.Inventory(inv.path, actor=inv.actor, clock=lambda: now)
    made = [
        at.create_ca("root", subject="CN=Record Root", key_type="ec-p256", days=20),  # expires soon: a finding
        at.create_ca("sub", parent="root", key_type="ec-p256", days=10),
        at.issue("sub", CertSpec(name="leaf", key_type="ec-p256", sans=("leaf.example.com",), days=5)),
        at.create_self_signed(CertSpec(name="selfie", key_type="rsa-2048", days=3)),
        at.create_csr(CertSpec(name="waiting", key_type="ec-p256")),
    ]
    assert any(r.findings for r in made)
    assert made == [at.get(r.name) for r in made]
