"""The Inventory's core actions (issue items 1-13) and every bad input: refused with a one-line
CertlabError naming the file or object, and the database exactly as it was."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

import certlab
from certlab import (
    Actor,
    CertFilter,
    CertificateRecord,
    CertlabError,
    CertSpec,
    ChainError,
    ConflictError,
    FormatError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    Role,
)
from certlab.formats import dump_encrypted_private_key, dump_pkcs12
from certlab.keys import same_public_key

from . import pki
from .conftest import make_cert

PW = b"correct horse battery"


def snapshot(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: 'the database is exactly as before' means this is equal."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' ORDER BY 1").fetchall()]
        return {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}
    finally:
        con.close()


def refused(inv: certlab.Inventory, error: type[CertlabError], match: str, action: Any, *args: Any, **kw: Any) -> str:
    """Run an action that must be refused; check the message and that nothing changed."""
    before = snapshot(inv.path)
    with pytest.raises(error, match=match) as err:
        action(*args, **kw)
    message = str(err.value)
    assert "\n" not in message and message.strip() == message and "Traceback" not in message
    assert "PRIVATE KEY" not in message
    assert snapshot(inv.path) == before, "a refused action changed the database"
    return message


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


@pytest.fixture(scope="module")
def ca() -> tuple[pki.Node, pki.Node]:
    """An openssl-free CA: root and intermediate, for signing CSRs in tests."""
    r = pki.root("Acme Root CA")
    return r, pki.issue(r, "Acme Issuing CA", is_ca=True)


def sign_csr(csr_pem: bytes, issuer: pki.Node, days: int = 200) -> x509.Certificate:
    csr = x509.load_pem_x509_csr(csr_pem)
    ski = issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return certlab.build_certificate(subject=csr.subject, public_key=csr.public_key(), issuer=issuer.cert.subject,
                                     issuer_key=issuer.key, days=days, sans=list(san), issuer_ski=ski)


# --- 2. an inventory in one file ------------------------------------------------------------------------

def test_init_creates_the_file_its_key_file_and_an_event(tmp_path: Path, admin: Actor) -> None:
    path = tmp_path / "deep" / "er" / "inv.duckdb"
    inv = certlab.init(path, actor=admin)
    assert path.exists() and inv.key_file.exists()
    assert [e.action for e in inv.audit_events()] == ["initialised"]
    again = certlab.init(path, actor=admin)  # safe to repeat; changes nothing
    assert [e.action for e in again.audit_events()] == ["initialised"]


def test_open_and_repr(inv: certlab.Inventory, db_path: Path) -> None:
    opened = certlab.open(db_path, actor=Actor("zoe", Role.AUDITOR))
    assert isinstance(opened, certlab.Inventory) and opened.path == db_path.absolute()
    assert "zoe" in repr(opened) and "auditor" in repr(opened)


# --- 3/4. keys and self-signed certificates ---------------------------------------------------------------

@pytest.mark.parametrize("key_type", ["rsa-2048", "ec-p256", "ec-p384", "ed25519"])
def test_create_self_signed_records_everything(inv: certlab.Inventory, key_type: str) -> None:
    rec = inv.create_self_signed(CertSpec(
        name="payments_mtls", label="Payments mTLS", key_type=key_type, days=30,  # type: ignore[arg-type]
        subject="CN=pay.example.com,O=Acme,OU=Payments,L=Berlin,ST=Berlin,C=DE,emailAddress=pay@example.com",  # type: ignore[arg-type]
        sans=("pay.example.com", "10.0.0.5", "ops@example.com", "https://pay.example.com/"), purpose="client"))  # type: ignore[arg-type]
    assert isinstance(rec, CertificateRecord)
    assert (rec.name, rec.label, rec.kind, rec.status, rec.key_type, rec.purpose) == \
        ("payments_mtls", "Payments mTLS", "self_signed", "expiring", key_type, "client")
    assert rec.subject == rec.issuer == "emailAddress=pay@example.com,CN=pay.example.com,OU=Payments,O=Acme,L=Berlin,ST=Berlin,C=DE"
    assert rec.sans == ("pay.example.com", "10.0.0.5", "ops@example.com", "https://pay.example.com/")
    assert rec.exportable is False and rec.has_private_key and rec.credentials == ()
    assert rec.days_to_expiry == 30
    cert = inv.certificate("payments_mtls")
    assert rec.fingerprint_sha256 == cert.fingerprint(hashes.SHA256()).hex()
    assert rec.serial == format(cert.serial_number, "x")
    assert rec.not_after == cert.not_valid_after_utc.replace(tzinfo=None)
    assert rec.signature_algorithm in ("sha256WithRSAEncryption", "ecdsa-with-SHA256", "ed25519")
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.name = "other"  # type: ignore[misc]
    assert inv.get("payments_mtls") == rec


def test_default_validity_is_a_year_and_rsa_2048(inv: certlab.Inventory) -> None:
    rec = inv.create_self_signed(CertSpec(name="defaults"))
    assert rec.key_type == "rsa-2048" and rec.days_to_expiry == 365 and rec.status == "active"
    assert rec.subject == "CN=defaults"


def test_duplicate_and_invalid_names_are_refused(inv: certlab.Inventory) -> None:
    make_cert(inv, "taken")
    refused(inv, ConflictError, "^a certificate named 'taken' exists already$", make_cert, inv, "taken")
    refused(inv, ConflictError, "'taken' exists already", inv.create_csr, CertSpec(name="taken", key_type="ec-p256"))  # type: ignore[arg-type]
    for bad in ("9lives", "has-dash", "x" * 81, ""):
        refused(inv, InvalidInputError, "invalid unique name", make_cert, inv, bad)


def test_invalid_san_subject_days_and_key_type_are_refused(inv: certlab.Inventory) -> None:
    refused(inv, InvalidInputError, r"invalid SAN 'not a host'", make_cert, inv, "x", sans=("not a host",))
    refused(inv, InvalidInputError, "invalid DNS name 'bad_.example.com'", make_cert, inv, "x", sans=("bad_.example.com",))
    refused(inv, InvalidInputError, "invalid e-mail", make_cert, inv, "x", sans=("a@b@c",))
    refused(inv, InvalidInputError, "country code", make_cert, inv, "x", subject="C=Germany")
    refused(inv, InvalidInputError, "out of range", make_cert, inv, "x", days=-1)
    refused(inv, InvalidInputError, "unsupported key type 'rsa-1024'", make_cert, inv, "x", key_type="rsa-1024")
    refused(inv, InvalidInputError, "unsupported key type 'dsa'", make_cert, inv, "x", key_type="dsa")


# --- 5. the CSR round trip --------------------------------------------------------------------------------

def test_csr_round_trip_pem_der_and_pkcs7(inv: certlab.Inventory, ca: tuple[pki.Node, pki.Node], tmp_path: Path) -> None:
    root, issuing = ca
    for n, fmt in enumerate(("pem", "der", "p7b", "p7c")):
        name = f"erp_{fmt}"
        rec = inv.create_csr(CertSpec(name=name, key_type="ec-p256", sans=(f"erp{n}.example.com",),  # type: ignore[arg-type]
                                      subject=f"CN=erp{n}.example.com,O=Acme,OU=IT,L=Berlin,ST=BE,C=DE,emailAddress=it@example.com"))  # type: ignore[arg-type]
        assert (rec.status, rec.kind, rec.fingerprint_sha256, rec.not_after, rec.days_to_expiry) == \
            ("pending", "ca_signed", None, None, None)
        assert rec.subject == f"emailAddress=it@example.com,CN=erp{n}.example.com,OU=IT,O=Acme,L=Berlin,ST=BE,C=DE"
        csr_pem = inv.export(name, "csr").bytes()
        csr = certlab.load_csr(csr_pem)
        assert csr.is_signature_valid
        leaf = sign_csr(csr_pem, issuing)
        certs = [leaf, issuing.cert, root.cert]
        data = {"pem": b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [root.cert, leaf, issuing.cert]),
                "der": leaf.public_bytes(serialization.Encoding.DER),
                "p7b": pkcs7.serialize_certificates(certs, serialization.Encoding.PEM),
                "p7c": pkcs7.serialize_certificates(certs, serialization.Encoding.DER)}[fmt]
        done = inv.upload_signed(name, data, f"signed.{fmt}")
        assert done.status == "active" and done.kind == "ca_signed"
        assert done.issuer == "CN=Acme Issuing CA,O=Test PKI" and done.days_to_expiry == 200
        assert done.fingerprint_sha256 == leaf.fingerprint(hashes.SHA256()).hex()
        chain = inv.chain(name)
        assert chain[0] == leaf and (chain[1:] == [issuing.cert, root.cert] or fmt == "der")
    events = [e.action for e in inv.audit_events()]
    assert events.count("csr_created") == 4 and events.count("signed_uploaded") == 4


def test_upload_of_a_certificate_for_another_key_is_refused(inv: certlab.Inventory, ca: tuple[pki.Node, pki.Node]) -> None:
    inv.create_csr(CertSpec(name="erp", key_type="ec-p256", sans=("erp.example.com",)))  # type: ignore[arg-type]
    stranger = pki.issue(ca[1], "erp.example.com", sans=("erp.example.com",))
    msg = refused(inv, ChainError, "^signed.pem: no certificate in it matches the pending key of erp$",
                  inv.upload_signed, "erp", stranger.pem, "signed.pem")
    assert msg
    assert inv.get("erp").status == "pending"


def test_upload_of_a_chain_that_does_not_link_is_refused(inv: certlab.Inventory, ca: tuple[pki.Node, pki.Node]) -> None:
    inv.create_csr(CertSpec(name="erp", key_type="ec-p256", sans=("erp.example.com",)))  # type: ignore[arg-type]
    leaf = sign_csr(inv.export("erp", "csr").bytes(), ca[1])
    impostor = pki.root("Acme Issuing CA")  # same name as the issuer, another key
    data = leaf.public_bytes(serialization.Encoding.PEM) + impostor.pem
    refused(inv, ChainError, r"^chain.pem: certificate 1 \(.*erp.example.com.*\) is not signed by certificate 2",
            inv.upload_signed, "erp", data, "chain.pem")
    unrelated = pki.root("Someone Else CA")
    refused(inv, ChainError, "is not signed by", inv.upload_signed, "erp",
            leaf.public_bytes(serialization.Encoding.PEM) + unrelated.pem, "chain2.pem")


def test_upload_refusals(inv: certlab.Inventory, ca: tuple[pki.Node, pki.Node]) -> None:
    make_cert(inv, "active_one")
    refused(inv, NotFoundError, "^no certificate named 'ghost'$", inv.upload_signed, "ghost", ca[0].pem, "x.pem")
    refused(inv, ConflictError, r"active_one is not waiting for a signed certificate \(status active\)",
            inv.upload_signed, "active_one", ca[0].pem, "x.pem")
    inv.create_csr(CertSpec(name="erp", key_type="ec-p256", sans=("erp.example.com",)))  # type: ignore[arg-type]
    refused(inv, FormatError, "^junk.pem: ", inv.upload_signed, "erp", b"-----BEGIN CERTIFICATE-----\nxx\n", "junk.pem")
    refused(inv, FormatError, "^empty.pem: file is empty$", inv.upload_signed, "erp", b"", "empty.pem")
    leaf = sign_csr(inv.export("erp", "csr").bytes(), ca[1])
    key_too = ca[1].key_pem + leaf.public_bytes(serialization.Encoding.PEM)
    refused(inv, FormatError, "holds a private key", inv.upload_signed, "erp", key_too, "withkey.pem")
    inv.upload_signed("erp", leaf.public_bytes(serialization.Encoding.PEM), "ok.pem")
    refused(inv, ConflictError, "not waiting", inv.upload_signed, "erp", leaf.public_bytes(serialization.Encoding.PEM), "ok.pem")


def test_pending_entries_cannot_be_downloaded_or_bound(inv: certlab.Inventory) -> None:
    inv.create_csr(CertSpec(name="erp", key_type="ec-p256", exportable=True))  # type: ignore[arg-type]
    refused(inv, ConflictError, "erp is pending", inv.export, "erp", "pem")
    refused(inv, ConflictError, "erp is pending: a keystore needs", inv.export, "erp", "pkcs12", password=PW)
    refused(inv, ConflictError, "erp is pending: it cannot be bound", inv.add_credential, "cred",
            certificate="erp", endpoint="https://x.example.com", purpose="mtls")
    make_cert(inv, "selfie")
    refused(inv, NotFoundError, "selfie has no certificate signing request", inv.export, "selfie", "csr")


# --- 6. import ---------------------------------------------------------------------------------------------

def test_import_every_format_and_a_directory(inv: certlab.Inventory, tmp_path: Path) -> None:
    r, i, leaf = pki.chain3()
    other = pki.issue(i, "other.example.com", sans=("other.example.com",))
    keyed = certlab.self_signed("keyed.example.com", key_type="ec-p256")
    p12_node = pki.issue(i, "p12.example.com", sans=("p12.example.com",))
    d = tmp_path / "incoming"
    write(d, "chain.pem", leaf.pem + i.pem)
    write(d, "other.cer", other.der)
    write(d, "sub/bundle.p7b", pkcs7.serialize_certificates([r.cert], serialization.Encoding.PEM))
    write(d, "keyed.pem", keyed.private_key_pem.bytes() + keyed.cert_pem.bytes())
    write(d, "store.p12", dump_pkcs12("p12", p12_node.key, p12_node.cert, [i.cert, r.cert], PW))
    write(d, ".hidden.pem", b"ignored")
    results = inv.import_files([d], password=PW)
    by_file = {Path(x.file).name: x for x in results}
    assert set(by_file) == {"chain.pem", "other.cer", "bundle.p7b", "keyed.pem", "store.p12"}
    assert [Path(x.file).relative_to(d).as_posix() for x in results] == [  # in path order, hidden files left out
        "chain.pem", "keyed.pem", "other.cer", "store.p12", "sub/bundle.p7b"]
    assert all(x.result == "imported" and x.reason is None for x in results), results
    assert by_file["keyed.pem"].name == "keyed_example_com" and by_file["store.p12"].name == "p12_example_com"
    recs = {x.name: x for x in inv.list()}
    assert set(recs) == {"leaf_example_com", "Test_Intermediate_CA", "other_example_com", "Test_Root_CA",
                         "keyed_example_com", "p12_example_com"}
    assert recs["keyed_example_com"].has_private_key and not recs["keyed_example_com"].exportable
    assert recs["p12_example_com"].has_private_key and not recs["leaf_example_com"].has_private_key
    assert all(x.kind == "imported" for x in recs.values())
    assert inv.chain("p12_example_com") == [p12_node.cert, i.cert, r.cert]
    assert recs["Test_Root_CA"].is_ca


def test_import_reports_duplicates_by_fingerprint(inv: certlab.Inventory, tmp_path: Path) -> None:
    r, i, leaf = pki.chain3()
    a = write(tmp_path, "a.pem", leaf.pem)
    b = write(tmp_path, "b.der", leaf.der)  # same certificate, other encoding
    first = inv.import_files([a, b])
    assert [x.result for x in first] == ["imported", "duplicate"]
    assert first[1].name == "leaf_example_com" and "already in the inventory as leaf_example_com" in (first[1].reason or "")
    before = snapshot(inv.path)
    again = inv.import_files([a])
    assert [(x.result, x.name) for x in again] == [("duplicate", "leaf_example_com")]
    assert [x.name for x in inv.list()] == ["leaf_example_com"]
    after = snapshot(inv.path)
    assert after["certificates"] == before["certificates"]
    keyed = certlab.self_signed("k.example.com", key_type="ec-p256")
    k = write(tmp_path, "k.pem", keyed.private_key_pem.bytes() + keyed.cert_pem.bytes())
    assert [x.result for x in inv.import_files([k, k])] == ["imported", "duplicate"]
    with duckdb.connect(str(inv.path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM private_keys").fetchone() == (1,)


def test_import_of_a_partly_known_bundle_adds_only_the_new(inv: certlab.Inventory, tmp_path: Path) -> None:
    r, i, leaf = pki.chain3()
    inv.import_files([write(tmp_path, "root.pem", r.pem)])
    res = inv.import_files([write(tmp_path, "all.pem", leaf.pem + i.pem + r.pem)])
    assert res[0].result == "imported" and "Test_Root_CA" not in (res[0].name or "")
    assert sorted(x.name for x in inv.list()) == ["Test_Intermediate_CA", "Test_Root_CA", "leaf_example_com"]


def test_import_trusted_cas(inv: certlab.Inventory, tmp_path: Path) -> None:
    r, i, leaf = pki.chain3()
    res = inv.import_files([write(tmp_path, "cas.pem", r.pem + i.pem)], trusted=True)
    assert res[0].result == "imported"
    assert {x.kind for x in inv.list()} == {"trusted_ca"}
    assert [x.name for x in inv.list(CertFilter(kind="trusted_ca"))] != []
    before = snapshot(inv.path)
    res = inv.import_files([write(tmp_path, "leaf.pem", leaf.pem)], trusted=True)
    assert res[0].result == "rejected" and "is not a CA certificate; import it without --trusted" in (res[0].reason or "")
    assert snapshot(inv.path) == before


def test_import_with_a_name_and_exportable_key(inv: certlab.Inventory, tmp_path: Path) -> None:
    keyed = certlab.self_signed("k.example.com", key_type="ec-p256")
    f = write(tmp_path, "k.pem", dump_encrypted_private_key(keyed.private_key, PW) + keyed.cert_pem.bytes())
    res = inv.import_files([f], password=PW, name="partner_sso", exportable=True)
    assert [(x.result, x.name) for x in res] == [("imported", "partner_sso")]
    rec = inv.get("partner_sso")
    assert rec.exportable and rec.has_private_key
    back = serialization.load_pem_private_key(inv.export("partner_sso", "key", password=PW).bytes(), PW)
    assert same_public_key(back.public_key(), keyed.private_key.public_key())


def test_import_carries_on_past_bad_files_and_leaves_them_out(inv: certlab.Inventory, tmp_path: Path) -> None:
    r, i, leaf = pki.chain3()
    keyed = certlab.self_signed("k.example.com", key_type="ec-p256")
    other_key = certlab.generate_key("ec-p256")
    dsa_key = dsa.generate_private_key(1024)
    dsa_cert = (x509.CertificateBuilder().subject_name(pki.name("dsa")).issuer_name(pki.name("dsa"))
                .public_key(dsa_key.public_key()).serial_number(1).not_valid_before(dt.datetime(2024, 1, 1))
                .not_valid_after(dt.datetime(2034, 1, 1)).sign(dsa_key, hashes.SHA256()))
    p12 = dump_pkcs12("x", keyed.private_key, keyed.certificate, [], b"another password")
    bad = {
        "good1.pem": (leaf.pem, None),
        "empty.pem": (b"", "file is empty"),
        "truncated.pem": (i.pem[:200], "no complete PEM block"),
        "cut.der": (i.der[:-30], "not a certificate, PKCS#7 or PKCS#12 file"),
        "notes.txt": (b"just some notes\n", "not a certificate file"),
        "picture.png": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "not a certificate file"),
        "request.csr": (certlab.build_csr(CertSpec(name="q", key_type="ec-p256"))[0].public_bytes(serialization.Encoding.PEM),  # type: ignore[arg-type]
                        "certificate signing request"),
        "wrongpw.p12": (p12, "wrong password for the PKCS#12 keystore"),
        "enc-nopw.pem": (dump_encrypted_private_key(keyed.private_key, b"another password") + keyed.cert_pem.bytes(),
                         "wrong password for the private key"),
        "mismatch.pem": (serialization.load_pem_private_key(pki.Node(leaf.cert, other_key).key_pem, None).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()) + leaf.pem,
            "the private key matches none of its certificates"),
        "keyonly.pem": (keyed.private_key_pem.bytes(), "holds a private key only"),
        "brokenchain.pem": (keyed.private_key_pem.bytes() + keyed.cert_pem.bytes() + r.pem, "is not signed by"),
        "dsa.pem": (dsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()) + dsa_cert.public_bytes(serialization.Encoding.PEM),
                    "unsupported private key type"),
        "dupext.cer": (pki.with_duplicate_extension(), "cannot be read"),
        "badalg.cer": (pki.with_unknown_signature_algorithm(), "cannot be read"),
        "badkey.pem": (pki.pem_of(pki.with_unknown_key_algorithm()), "cannot be read"),
        "good2.cer": (r.der, None),
    }
    paths = [write(tmp_path / "in", name, data) for name, (data, _) in bad.items()]
    paths.insert(1, tmp_path / "in" / "missing.pem")
    results = inv.import_files(paths, password=PW)
    by_file = {Path(x.file).name: x for x in results}
    assert len(results) == len(bad) + 1
    assert by_file["missing.pem"].result == "rejected" and by_file["missing.pem"].reason.endswith("missing.pem: no such file")  # type: ignore[union-attr]
    for name, (_, reason) in bad.items():
        res = by_file[name]
        if reason is None:
            assert res.result == "imported", res
        else:
            assert res.result == "rejected" and res.name is None, res
            assert reason in (res.reason or ""), (name, res.reason)
            assert name in (res.reason or "") and "\n" not in (res.reason or ""), res.reason
    assert sorted(x.name for x in inv.list()) == ["Test_Root_CA", "leaf_example_com"]
    with duckdb.connect(str(inv.path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM private_keys").fetchone() == (0,)
    assert [e.details["file"] for e in inv.audit_events(certlab.AuditFilter(action="imported"))] == \
        [str(tmp_path / "in" / "good1.pem"), str(tmp_path / "in" / "good2.cer")]


def test_encrypted_key_without_a_password(inv: certlab.Inventory, tmp_path: Path) -> None:
    keyed = certlab.self_signed("k.example.com", key_type="ec-p256")
    f = write(tmp_path, "enc.pem", dump_encrypted_private_key(keyed.private_key, PW) + keyed.cert_pem.bytes())
    before = snapshot(inv.path)
    res = inv.import_files([f])
    assert res[0].result == "rejected"
    assert res[0].reason == f"{f}: private key is encrypted and no password was given"
    p12 = write(tmp_path, "x.p12", dump_pkcs12("x", keyed.private_key, keyed.certificate, [], PW))
    res = inv.import_files([p12])
    assert res[0].reason == f"{p12}: PKCS#12 keystore needs a password (--password-file)"
    assert snapshot(inv.path)["certificates"] == before["certificates"]
    assert snapshot(inv.path)["private_keys"] == before["private_keys"]


def test_a_rejected_file_with_a_key_leaves_no_key_behind(inv: certlab.Inventory, tmp_path: Path) -> None:
    make_cert(inv, "taken")
    keyed = certlab.self_signed("k.example.com", key_type="ec-p256")
    f = write(tmp_path, "k.pem", keyed.private_key_pem.bytes() + keyed.cert_pem.bytes())
    before = snapshot(inv.path)
    res = inv.import_files([f], name="taken")
    assert res[0].result == "rejected" and "'taken' exists already" in (res[0].reason or "")
    after = snapshot(inv.path)
    assert after["private_keys"] == before["private_keys"] and after["certificates"] == before["certificates"]


def test_a_certificate_and_its_key_in_separate_files(inv: certlab.Inventory, tmp_path: Path) -> None:
    r, i, leaf = pki.chain3()
    other = certlab.self_signed("other.example.com", key_type="ec-p256")
    key = write(tmp_path, "server.key", leaf.key_pem)
    crt = write(tmp_path, "server.crt", leaf.pem + i.pem + r.pem)
    lonely = write(tmp_path, "lonely.key", other.private_key_pem.bytes())
    res = inv.import_files([key, lonely, crt])
    assert [(Path(x.file).name, x.result, x.name) for x in res] == [
        ("server.key", "imported", "leaf_example_com"), ("lonely.key", "rejected", None),
        ("server.crt", "imported", "leaf_example_com")]
    assert res[0].reason == f"private key of {crt}"
    assert "no certificate of this import matches it" in (res[1].reason or "")
    rec = inv.get("leaf_example_com")
    assert rec.has_private_key and inv.chain("leaf_example_com") == [leaf.cert, i.cert, r.cert]
    assert [x.name for x in inv.list()] == ["leaf_example_com"]
    event = inv.audit_events(certlab.AuditFilter(action="imported"))[-1]
    assert event.details["key_file"] == str(key) and event.details["with_private_key"] is True
    # the key's certificate already there: both reported as duplicates, nothing stored
    before = snapshot(inv.path)
    again = inv.import_files([crt, key])
    assert [x.result for x in again] == ["duplicate", "duplicate"]
    assert snapshot(inv.path) == before


def test_import_refusals_of_the_whole_call(inv: certlab.Inventory, tmp_path: Path) -> None:
    r, i, leaf = pki.chain3()
    f = write(tmp_path, "two.pem", leaf.pem + i.pem)
    refused(inv, InvalidInputError, "invalid unique name", inv.import_files, [f], name="1bad")
    res = inv.import_files([f], name="single")
    assert res[0].result == "rejected" and "--name applies to one certificate, this file has 2" in (res[0].reason or "")


# --- 7. export -----------------------------------------------------------------------------------------------

def test_export_every_format(inv: certlab.Inventory) -> None:
    make_cert(inv, "pay", exportable=True)
    cert = inv.certificate("pay")
    pem = inv.export("pay", "pem")
    assert x509.load_pem_x509_certificate(pem.bytes()) == cert and not pem.secret and pem.filename == "pay.pem"
    assert x509.load_der_x509_certificate(inv.export("pay", "der").bytes()) == cert
    assert x509.load_pem_x509_certificates(inv.export("pay", "chain").bytes()) == [cert]
    p12 = inv.export("pay", "pkcs12", password=PW)
    assert p12.secret and "<secret>" in repr(p12)
    loaded = pkcs12.load_pkcs12(p12.bytes(), PW)
    assert loaded.cert is not None and loaded.cert.certificate == cert and loaded.cert.friendly_name == b"pay"
    key = inv.export("pay", "key", password=PW)
    assert key.bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") and key.secret
    assert same_public_key(serialization.load_pem_private_key(key.bytes(), PW).public_key(), cert.public_key())
    assert [e.details for e in inv.audit_events(certlab.AuditFilter(action="exported"))] == \
        [{"format": "pkcs12", "encryption": "pbes2-aes256-sha256"}, {"format": "key"}]
    assert [e.details["format"] for e in inv.audit_events(certlab.AuditFilter(action="downloaded"))] == ["pem", "der", "chain"]


def test_chain_export_of_an_imported_chain(inv: certlab.Inventory, tmp_path: Path) -> None:
    r, i, leaf = pki.chain3()
    inv.import_files([write(tmp_path, "k.pem", leaf.key_pem + r.pem + leaf.pem + i.pem)])
    assert x509.load_pem_x509_certificates(inv.export("leaf_example_com", "chain").bytes()) == [leaf.cert, i.cert, r.cert]


def test_a_non_exportable_key_never_leaves(inv: certlab.Inventory) -> None:
    make_cert(inv, "locked")
    for fmt in ("pkcs12", "key"):
        with pytest.raises(PermissionDeniedError, match="^the private key of locked is not exportable$"):
            inv.export("locked", fmt, password=PW)
    auditor = inv.as_actor(Actor("audrey", Role.AUDITOR))
    with pytest.raises(PermissionDeniedError, match="audrey"):
        auditor.export("locked", "key", password=PW)  # type: ignore[attr-defined]
    denied = inv.audit_events(certlab.AuditFilter(outcome="denied"))
    assert [(e.actor, e.object) for e in denied] == [("alice", "locked")] * 2 + [("audrey", "locked")]


def test_export_refusals(inv: certlab.Inventory) -> None:
    make_cert(inv, "pay", exportable=True)
    refused(inv, InvalidInputError, "at least 12 characters", inv.export, "pay", "pkcs12", password=b"short")
    refused(inv, InvalidInputError, "a password is required", inv.export, "pay", "key")
    refused(inv, InvalidInputError, "unknown export format 'jks'", inv.export, "pay", "jks")
    refused(inv, NotFoundError, "no certificate named 'nope'", inv.export, "nope", "pem")
    r, i, leaf = pki.chain3()
    inv.import_files([write(Path(inv.path).parent, "l.pem", leaf.pem)])
    refused(inv, NotFoundError, "has no private key", inv.export, "leaf_example_com", "key", password=PW)


# --- 8. list, show and statuses ---------------------------------------------------------------------------

def test_statuses_and_days_to_expiry(inv: certlab.Inventory, tmp_path: Path) -> None:
    r = pki.root()
    now = certlab.certs.utcnow()
    expired = pki.issue(r, "expired.example.com", not_after=now - dt.timedelta(days=3, hours=1))
    soon = pki.issue(r, "soon.example.com", not_after=now + dt.timedelta(days=10, hours=1))
    inv.import_files([write(tmp_path, "e.pem", expired.pem), write(tmp_path, "s.pem", soon.pem)])
    make_cert(inv, "fresh", days=400)
    inv.create_csr(CertSpec(name="waiting", key_type="ec-p256"))  # type: ignore[arg-type]
    make_cert(inv, "gone")
    make_cert(inv, "old")
    with duckdb.connect(str(inv.path)) as con:  # revoked/retired are set by lifecycle actions
        con.execute("UPDATE certificates SET status = 'revoked' WHERE name = 'gone'")
        con.execute("UPDATE certificates SET status = 'retired' WHERE name = 'old'")
    recs = {x.name: x for x in inv.list()}
    assert recs["expired_example_com"].status == "expired" and recs["expired_example_com"].days_to_expiry == -3
    assert recs["soon_example_com"].status == "expiring" and recs["soon_example_com"].days_to_expiry == 11
    assert recs["fresh"].status == "active" and recs["fresh"].days_to_expiry == 400
    assert recs["waiting"].status == "pending" and recs["waiting"].days_to_expiry is None
    assert recs["gone"].status == "revoked" and recs["gone"].stored_status == "revoked"
    assert recs["old"].status == "retired"
    # the warning window is the inventory's setting
    wide = certlab.open(inv.path, actor=inv.actor, warning_days=500)
    assert wide.get("fresh").status == "expiring"
    # a later point in time
    assert inv.get("fresh", at=now + dt.timedelta(days=401)).status == "expired"


def test_list_filters(inv: certlab.Inventory, tmp_path: Path) -> None:
    r = pki.root()
    now = certlab.certs.utcnow()
    inv.import_files([write(tmp_path, "s.pem", pki.issue(r, "soon.example.com", not_after=now + dt.timedelta(days=20)).pem),
                      write(tmp_path, "e.pem", pki.issue(r, "expired.example.com", not_after=now - dt.timedelta(days=1)).pem)])
    make_cert(inv, "web_front", days=60, sans=("www.acme.example",), label="Public web front")
    make_cert(inv, "api_back", days=200, subject="CN=api,O=Globex")
    inv.create_csr(CertSpec(name="pending_one", key_type="ec-p256"))  # type: ignore[arg-type]

    def names(**kw: Any) -> list[str]:
        return [x.name for x in inv.list(CertFilter(**kw))]

    assert names(expiring_within=30) == ["soon_example_com"]
    assert names(expiring_within=90) == ["soon_example_com", "web_front"]
    assert names(expiring_within=0) == []
    assert names(status="expiring") == ["soon_example_com", "web_front"]
    assert names(status="expired") == ["expired_example_com"]
    assert names(status="active") == ["api_back"]
    assert names(status="pending") == ["pending_one"]
    assert names(kind="self_signed") == ["web_front", "api_back"]
    assert names(kind="imported") == ["expired_example_com", "soon_example_com"]
    assert names(kind="ca_signed") == ["pending_one"]
    assert names(search="acme.example") == ["web_front"]         # SAN
    assert names(search="PUBLIC WEB") == ["web_front"]           # label, any case
    assert names(search="globex") == ["api_back"]                # subject
    assert names(search="Test Root") == ["expired_example_com", "soon_example_com"]  # issuer
    serial = inv.get("api_back").serial or ""
    assert names(search=serial) == ["api_back"]
    shown = ":".join(serial[i:i + 2] for i in range(len(serial) % 2, len(serial), 2)).upper()  # as openssl shows it
    assert names(search=shown[3:20]) == ["api_back"]
    assert names(search=serial[2:14].upper()) == ["api_back"]
    fp = inv.get("web_front").fingerprint_sha256 or ""
    colons = ":".join(fp[i:i + 2] for i in range(0, len(fp), 2)).upper()
    assert names(search=colons) == ["web_front"]
    assert names(search="no such thing") == []
    assert names(status="expiring", kind="self_signed", search="web") == ["web_front"]
    assert inv.count(CertFilter(status="expiring")) == 2
    with pytest.raises(InvalidInputError, match="unknown status 'bogus'"):
        CertFilter(status="bogus")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="unknown kind"):
        CertFilter(kind="bogus")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="--expiring-within"):
        CertFilter(expiring_within=-1)


def test_record_json_has_the_contract_keys(inv: certlab.Inventory) -> None:
    make_cert(inv, "pay", exportable=True)
    doc = inv.get("pay").to_json()
    contract = ["name", "label", "kind", "status", "subject", "issuer", "serial", "not_before", "not_after",
                "days_to_expiry", "key_type", "signature_algorithm", "fingerprint_sha256", "sans", "exportable",
                "credentials"]
    assert list(doc)[:16] == contract and list(certlab.models.CONTRACT_KEYS) == contract
    assert doc["not_after"].endswith("Z") and dt.datetime.fromisoformat(doc["not_after"].replace("Z", "+00:00"))
    assert len(doc["fingerprint_sha256"]) == 64 and ":" not in doc["fingerprint_sha256"]
    assert doc["fingerprint_sha256"] == doc["fingerprint_sha256"].lower()
    assert json.loads(json.dumps(doc)) == doc


def test_show_unknown_name(inv: certlab.Inventory) -> None:
    with pytest.raises(NotFoundError, match="^no certificate named 'ghost'$") as err:
        inv.get("ghost")
    assert str(err.value) == "no certificate named 'ghost'"  # not quoted as a KeyError would be
    assert isinstance(err.value, KeyError)


# --- 9. named credentials -----------------------------------------------------------------------------------

def test_credentials_bind_and_block_deletion(inv: certlab.Inventory) -> None:
    make_cert(inv, "pay")
    make_cert(inv, "pay_next")
    c1 = inv.add_credential("payment_gateway", certificate="pay", endpoint="https://pay.example.com/api", purpose="mtls")
    c2 = inv.add_credential("idp", certificate="pay", endpoint="idp.example.com:443", purpose="saml", owner="sso team")
    assert (c1.name, c1.certificate, c1.purpose) == ("payment_gateway", "pay", "mtls") and c2.owner == "sso team"
    assert inv.get("pay").credentials == ("idp", "payment_gateway")
    assert [c.name for c in inv.credentials()] == ["idp", "payment_gateway"]
    assert [x.name for x in inv.list(CertFilter(credential="idp"))] == ["pay"]
    msg = refused(inv, ConflictError, "^pay is in use by named credentials: idp, payment_gateway$", inv.delete, "pay")
    assert msg
    inv.rebind_credential("idp", "pay_next")
    inv.delete_credential("payment_gateway")
    inv.delete("pay")
    assert [x.name for x in inv.list()] == ["pay_next"]
    assert inv.credential("idp").certificate == "pay_next"


def test_credential_refusals(inv: certlab.Inventory) -> None:
    make_cert(inv, "pay")
    inv.add_credential("gw", certificate="pay", endpoint="https://pay.example.com", purpose="mtls")
    refused(inv, ConflictError, "a named credential called 'gw' exists already", inv.add_credential, "gw",
            certificate="pay", endpoint="https://pay.example.com", purpose="mtls")
    refused(inv, NotFoundError, "no certificate named 'ghost'", inv.add_credential, "gw2", certificate="ghost",
            endpoint="https://pay.example.com", purpose="mtls")
    refused(inv, InvalidInputError, "unknown credential purpose 'email'", inv.add_credential, "gw2",
            certificate="pay", endpoint="https://pay.example.com", purpose="email")
    for endpoint in ("not a url", "https://", "pay.example.com", "https://pay.example.com\nx", "host:99999999"):
        refused(inv, InvalidInputError, "invalid endpoint", inv.add_credential, "gw2", certificate="pay",
                endpoint=endpoint, purpose="mtls")
    refused(inv, InvalidInputError, "invalid unique name", inv.add_credential, "2gw", certificate="pay",
            endpoint="https://pay.example.com", purpose="mtls")
    refused(inv, NotFoundError, "no named credential called 'nope'", inv.delete_credential, "nope")


def test_delete_removes_the_key_too(inv: certlab.Inventory) -> None:
    make_cert(inv, "tmp")
    inv.delete("tmp")
    with duckdb.connect(str(inv.path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM private_keys").fetchone() == (0,)
    refused(inv, NotFoundError, "no certificate named 'tmp'", inv.delete, "tmp")


# --- 11. roles -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", [Role.AUDITOR, Role.ANALYST])
def test_readers_read_everything_but_keys(inv: certlab.Inventory, role: Role, tmp_path: Path) -> None:
    make_cert(inv, "pay", exportable=True)
    inv.create_csr(CertSpec(name="erp", key_type="ec-p256"))  # type: ignore[arg-type]
    reader = inv.as_actor(Actor("rita", role))
    assert [x.name for x in reader.list()] == ["pay", "erp"]  # type: ignore[attr-defined]
    assert reader.get("pay").name == "pay"  # type: ignore[attr-defined]
    assert reader.export("pay", "pem").bytes().startswith(b"-----BEGIN CERTIFICATE")  # type: ignore[attr-defined]
    assert reader.export("erp", "csr").bytes().startswith(b"-----BEGIN CERTIFICATE REQUEST")  # type: ignore[attr-defined]
    assert reader.audit_events() and reader.verify_audit().ok  # type: ignore[attr-defined]
    f = write(tmp_path, "x.pem", certlab.self_signed("x.example.com", key_type="ec-p256").cert_pem.bytes())
    attempts = [
        lambda: reader.create_self_signed(CertSpec(name="x", key_type="ec-p256")),  # type: ignore[attr-defined, arg-type]
        lambda: reader.create_csr(CertSpec(name="x", key_type="ec-p256")),  # type: ignore[attr-defined, arg-type]
        lambda: reader.import_files([f]),  # type: ignore[attr-defined]
        lambda: reader.export("pay", "pkcs12", password=PW),  # type: ignore[attr-defined]
        lambda: reader.export("pay", "key", password=PW),  # type: ignore[attr-defined]
        lambda: reader.delete("pay"),  # type: ignore[attr-defined]
        lambda: reader.rotate_master_key(),  # type: ignore[attr-defined]
        lambda: reader.add_credential("c", certificate="pay", endpoint="https://x.example.com", purpose="mtls"),  # type: ignore[attr-defined]
        lambda: reader.upload_signed("erp", b"x", "x.pem"),  # type: ignore[attr-defined]
    ]
    for attempt in attempts:
        before = snapshot(inv.path)
        with pytest.raises(PermissionDeniedError, match=rf"rita \({role.value}\) may not .*: admins only"):
            attempt()
        after = snapshot(inv.path)
        assert {k: v for k, v in after.items() if k != "audit_events"} == \
            {k: v for k, v in before.items() if k != "audit_events"}
        assert len(after["audit_events"]) == len(before["audit_events"]) + 1
        last = inv.audit_events()[-1]
        assert (last.actor, last.role, last.outcome) == ("rita", role.value, "denied")
    assert inv.verify_audit().ok


def test_actor_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTLAB_ACTOR", "erin:auditor")
    assert Actor.from_env() == Actor("erin", Role.AUDITOR)
    monkeypatch.setenv("CERTLAB_ACTOR", "frank")
    assert Actor.from_env() == Actor("frank", Role.ADMIN)
    monkeypatch.delenv("CERTLAB_ACTOR")
    assert Actor.from_env().role is Role.ADMIN and Actor.from_env().name
    with pytest.raises(InvalidInputError, match="unknown role 'boss'"):
        Actor("x", "boss")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="invalid actor name"):
        Actor("bad\nname")


# --- 13. the Python API ----------------------------------------------------------------------------------------

def test_public_api_surface() -> None:
    for name in certlab.__all__:
        assert hasattr(certlab, name), name
    issued = certlab.self_signed("api.example.com", key_type="ec-p256")
    assert "PRIVATE" not in repr(issued) and "key" not in repr(issued).split("certificate=")[0]
    for cls in (CertificateRecord, certlab.Credential, certlab.ImportResult, certlab.AuditEvent, certlab.CertInfo,
                certlab.Issued, certlab.Loaded, certlab.CertSpec):
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls  # type: ignore[attr-defined]


def test_imported_names_step_past_those_in_use_in_batches_and_one_by_one(inv: certlab.Inventory) -> None:
    """Certificates named after the same host get base, base_2, ...: past stored names (looked up a few
    at a time, not by reading every name), past names taken earlier in the same import, and past a
    stored name in the middle of the run; a certificate already stored is a duplicate, not a new name."""
    from certlab import ImportSource

    from .peers import issue, make_ca, pem

    ca = make_ca("Naming CA")
    leaves = [issue(ca, "api.example.com", sans=("api.example.com",)).certificate for _ in range(14)]
    make_cert(inv, "api_example_com_5")  # a stored name in the run
    first = inv.import_sources([ImportSource(f"a{i}.pem", pem(c)) for i, c in enumerate(leaves[:10])])
    assert [r.name for r in first] == ["api_example_com", *(f"api_example_com_{n}" for n in (2, 3, 4, 6, 7, 8, 9, 10, 11))]
    for i, c in enumerate(leaves[10:]):  # one file per import: each looks up the stored names again
        assert inv.import_sources([ImportSource(f"b{i}.pem", pem(c))])[0].name == f"api_example_com_{12 + i}"
    again = inv.import_sources([ImportSource("again.pem", pem(leaves[3]))])[0]
    assert (again.result, again.name) == ("duplicate", "api_example_com_4")
    named = inv.import_sources([ImportSource("x.pem", pem(issue(ca, "x.example.com").certificate))], name="api_example_com_9")[0]
    assert named.result == "rejected" and "exists already" in (named.reason or "")
