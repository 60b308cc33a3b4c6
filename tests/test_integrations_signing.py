"""SAML assertion signing (verified by xmlsec1) and JWT bearer assertions (verified by PyJWT)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

import certlab
from certlab import ConflictError, FormatError, ImportSource, InvalidInputError, NotFoundError
from certlab.certs import Purpose

from .conftest import make_cert, run_cli
from .peers import bundle, issue, make_ca, past

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
ASSERTION = b"""<?xml version="1.0" encoding="UTF-8"?>
<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a75adf55-01d7-40cc-929f" Version="2.0"
    IssueInstant="2026-11-26T12:00:00Z">
  <saml:Issuer>https://idp.st-mary.example</saml:Issuer>
  <saml:Subject>
    <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">dr.grey@st-mary.example</saml:NameID>
  </saml:Subject>
  <saml:Conditions NotBefore="2026-11-26T12:00:00Z" NotOnOrAfter="2026-11-26T12:05:00Z">
    <saml:AudienceRestriction><saml:Audience>https://records.north-network.example</saml:Audience></saml:AudienceRestriction>
  </saml:Conditions>
  <saml:AttributeStatement>
    <saml:Attribute Name="role"><saml:AttributeValue>physician</saml:AttributeValue></saml:Attribute>
  </saml:AttributeStatement>
</saml:Assertion>
"""
RESPONSE = (b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_resp1" Version="2.0" '
            b'IssueInstant="2026-11-26T12:00:00Z">' + ASSERTION.split(b"?>", 1)[1] + b"</samlp:Response>")
needs_xmlsec = pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="xmlsec1 is installed by scripts/setup")


def xmlsec_verify(signed: Path, cert_pem: Path, key_data: str = "rsa") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["xmlsec1", "--verify", "--enabled-key-data", key_data, "--pubkey-cert-pem", str(cert_pem),
         "--id-attr:ID", f"{SAML}:Assertion", str(signed)],
        capture_output=True, text=True, timeout=60, check=False)


def _cert_pem(inv: certlab.Inventory, name: str, path: Path) -> Path:
    path.write_bytes(inv.certificate(name).public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture
def signer(inv: certlab.Inventory, rsa_key: certlab.keys.PrivateKey) -> certlab.Inventory:
    ca = make_ca("St Mary IdP CA")
    signing = issue(ca, "idp.st-mary.example", purpose=Purpose.SIGNING, key=rsa_key, days=365)
    res = inv.import_sources([ImportSource("idp.pem", bundle(signing))], name="idp_signing")
    assert res[0].result == "imported"
    inv.add_credential("north_network_sso", certificate="idp_signing",
                       endpoint="https://records.north-network.example/saml/acs", purpose="saml")
    return inv


@pytest.mark.interop
@needs_xmlsec
def test_interop_xmlsec1_accepts_the_signed_assertion_and_refuses_tampering(signer: certlab.Inventory,
                                                                            tmp_path: Path) -> None:
    signed = signer.sign_saml("north_network_sso", ASSERTION)
    out = tmp_path / "signed.xml"
    out.write_bytes(signed)
    cert = _cert_pem(signer, "idp_signing", tmp_path / "idp.pem")
    ok = xmlsec_verify(out, cert)
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stderr

    root = etree.fromstring(signed)
    children = [etree.QName(c).localname for c in root]
    assert children[:2] == ["Issuer", "Signature"]  # placed right after the Issuer
    sig = root.find(f"{{{DS}}}Signature")
    assert sig.find(f".//{{{DS}}}SignatureMethod").get("Algorithm").endswith("rsa-sha256")
    assert sig.find(f".//{{{DS}}}CanonicalizationMethod").get("Algorithm") == "http://www.w3.org/2001/10/xml-exc-c14n#"
    assert sig.find(f".//{{{DS}}}Reference").get("URI") == "#_a75adf55-01d7-40cc-929f"
    embedded = sig.find(f".//{{{DS}}}X509Certificate").text
    assert base64.b64decode(embedded) == signer.certificate("idp_signing").public_bytes(serialization.Encoding.DER)

    tampered = tmp_path / "tampered.xml"
    tampered.write_bytes(signed.replace(b"dr.grey@st-mary.example", b"mallory@st-mary.example"))
    bad = xmlsec_verify(tampered, cert)
    assert bad.returncode != 0

    other = make_ca("Other IdP")
    wrong = tmp_path / "wrong.pem"
    wrong.write_bytes(issue(other, "idp.other.example", purpose=Purpose.SIGNING,
                            key_type="rsa-2048").certificate.public_bytes(serialization.Encoding.PEM))
    assert xmlsec_verify(out, wrong).returncode != 0

    event = signer.audit_events()[-1]
    assert (event.action, event.object, event.details["format"]) == ("signed", "north_network_sso", "saml")
    assert event.details["assertion_id"] == "_a75adf55-01d7-40cc-929f"
    assert event.details["signed_sha256"] == hashlib.sha256(signed).hexdigest()
    assert "dr.grey" not in json.dumps(event.details)


@pytest.mark.interop
@needs_xmlsec
def test_interop_ec_key_and_assertion_inside_a_response(inv: certlab.Inventory, tmp_path: Path) -> None:
    make_cert(inv, "ec_idp", purpose="signing")  # a certificate's unique name works too
    signed = inv.sign_saml("ec_idp", RESPONSE)
    root = etree.fromstring(signed)
    assert etree.QName(root).localname == "Response" and root.find(f"{{{DS}}}Signature") is None
    assertion = root.find(f"{{{SAML}}}Assertion")
    assert [etree.QName(c).localname for c in assertion][:2] == ["Issuer", "Signature"]
    assert assertion.find(f".//{{{DS}}}SignatureMethod").get("Algorithm").endswith("ecdsa-sha256")
    out = tmp_path / "signed.xml"
    out.write_bytes(signed)
    ok = xmlsec_verify(out, _cert_pem(inv, "ec_idp", tmp_path / "c.pem"), key_data="ecdsa")
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize("data,words", [
    (b"<saml:Assertion xmlns:saml='urn:oasis:names:tc:SAML:2.0:assertion' ID='x'><saml:Issuer>", "malformed XML"),
    (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><a>&lol2;</a>',
     "DOCTYPE"),
    (b'<!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><a>&xxe;</a>', "DOCTYPE"),
    (b"<a><b/></a>", "no saml:Assertion"),
    (ASSERTION.replace(b' ID="_a75adf55-01d7-40cc-929f"', b""), "no ID attribute"),
    (ASSERTION.replace(b"<saml:Issuer>https://idp.st-mary.example</saml:Issuer>", b""), "no saml:Issuer"),
])
def test_bad_xml_is_refused_before_the_key_is_used(signer: certlab.Inventory, data: bytes, words: str) -> None:
    before = len(signer.audit_events())
    with pytest.raises(FormatError, match=words):
        signer.sign_saml("north_network_sso", data, source="in.xml")
    assert len(signer.audit_events()) == before


def test_saml_refusals(signer: certlab.Inventory) -> None:
    make_cert(signer, "ed_key", key_type="ed25519", purpose="signing")
    with pytest.raises(InvalidInputError, match="cannot sign SAML"):
        signer.sign_saml("ed_key", ASSERTION)
    with pytest.raises(NotFoundError, match="no named credential and no certificate called 'nope'"):
        signer.sign_saml("nope", ASSERTION)
    signer.create_csr(certlab.CertSpec(name="waiting", key_type="ec-p256", sans=("idp.example.com",)))
    with pytest.raises(ConflictError, match="pending"):
        signer.sign_saml("waiting", ASSERTION)
    signed = signer.sign_saml("north_network_sso", ASSERTION)
    with pytest.raises(InvalidInputError, match="signed already"):
        signer.sign_saml("north_network_sso", signed)


@pytest.mark.interop
@needs_xmlsec
def test_interop_cli_sign_saml(cli_db: Path, tmp_path: Path) -> None:
    run_cli("create", "self-signed", "hospital_sso", "--key", "rsa-2048", "--purpose", "signing",
            "--subject", "CN=idp.hospital.example", db=cli_db, check=True)
    (tmp_path / "in.xml").write_bytes(ASSERTION)
    done = run_cli("sign", "saml", "hospital_sso", str(tmp_path / "in.xml"), "--out", str(tmp_path / "out.xml"), db=cli_db)
    assert done.returncode == 0, done.stderr
    run_cli("export", "hospital_sso", "--format", "pem", "--out", str(tmp_path / "cert.pem"), db=cli_db, check=True)
    assert xmlsec_verify(tmp_path / "out.xml", tmp_path / "cert.pem").returncode == 0
    (tmp_path / "bad.xml").write_bytes(b"<not-closed>")
    bad = run_cli("sign", "saml", "hospital_sso", str(tmp_path / "bad.xml"), "--out", str(tmp_path / "o2.xml"), db=cli_db)
    assert bad.returncode == 1 and "malformed XML" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "o2.xml").exists()


# --- JWT --------------------------------------------------------------------------------------------

def _thumbprint(inv: certlab.Inventory, name: str) -> str:
    der = inv.certificate(name).public_bytes(serialization.Encoding.DER)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


@pytest.fixture
def jwt_inv(inv: certlab.Inventory, rsa_key: certlab.keys.PrivateKey) -> certlab.Inventory:
    ca = make_ca("ERP Integration CA")
    res = inv.import_sources([ImportSource("erp.pem", bundle(issue(ca, "erp-client", purpose=Purpose.SIGNING,
                                                                    key=rsa_key, days=365)))], name="erp_signing")
    assert res[0].result == "imported"
    inv.add_credential("erp_jwt", certificate="erp_signing", endpoint="https://login.erp.example/oauth2/token",
                       purpose="jwt")
    return inv


def test_jwt_bearer_verifies_with_the_certificate_public_key(jwt_inv: certlab.Inventory) -> None:
    token = jwt_inv.jwt_bearer("erp_jwt", issuer="3MVG9.client", subject="integration@acme.example",
                               audience="https://login.erp.example", lifetime=180)
    header = pyjwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["x5t#S256"] == _thumbprint(jwt_inv, "erp_signing")
    claims = pyjwt.decode(token, jwt_inv.certificate("erp_signing").public_key(), algorithms=["RS256"],
                          audience="https://login.erp.example", issuer="3MVG9.client")
    assert claims["sub"] == "integration@acme.example" and claims["exp"] - claims["iat"] == 180 and claims["jti"]
    with pytest.raises(pyjwt.InvalidAudienceError):
        pyjwt.decode(token, jwt_inv.certificate("erp_signing").public_key(), algorithms=["RS256"],
                     audience="https://someone-else.example")
    other = make_ca("x")
    with pytest.raises(pyjwt.InvalidSignatureError):
        pyjwt.decode(token, issue(other, "y", key_type="rsa-2048").certificate.public_key(), algorithms=["RS256"],
                     audience="https://login.erp.example")
    event = jwt_inv.audit_events()[-1]
    assert (event.action, event.object, event.details["format"], event.details["aud"]) == (
        "signed", "erp_jwt", "jwt", "https://login.erp.example")
    assert token not in json.dumps(event.details) and token.split(".")[2] not in json.dumps(event.details)


def test_expired_jwt_fails_verification(inv: certlab.Inventory, db_path: Path, admin: certlab.Actor) -> None:
    ca = make_ca("Old CA")
    old = issue(ca, "old-signer", purpose=Purpose.SIGNING, not_before=past(10), days=365)
    inv.import_sources([ImportSource("o.pem", bundle(old))], name="old_signer")
    earlier = certlab.open(db_path, actor=admin, clock=lambda: past(1))  # signed a day ago
    token = earlier.jwt_bearer("old_signer", issuer="i", subject="s", audience="a", lifetime=300)
    with pytest.raises(pyjwt.ExpiredSignatureError):
        pyjwt.decode(token, inv.certificate("old_signer").public_key(), algorithms=["ES256"], audience="a")


@pytest.mark.parametrize("key_type,alg", [("ec-p256", "ES256"), ("ec-p384", "ES384")])
def test_jwt_ec_algorithms(inv: certlab.Inventory, key_type: str, alg: str) -> None:
    make_cert(inv, "ec_signer", key_type=key_type, purpose="signing")
    token = inv.jwt_bearer("ec_signer", issuer="i", subject="s", audience="a")
    assert pyjwt.get_unverified_header(token)["alg"] == alg
    assert pyjwt.decode(token, inv.certificate("ec_signer").public_key(), algorithms=[alg], audience="a")["iss"] == "i"


def test_jwt_refusals(jwt_inv: certlab.Inventory) -> None:
    make_cert(jwt_inv, "ed_signer", key_type="ed25519", purpose="signing")
    before = len(jwt_inv.audit_events())
    with pytest.raises(InvalidInputError, match="cannot sign JWT"):
        jwt_inv.jwt_bearer("ed_signer", issuer="i", subject="s", audience="a")
    with pytest.raises(InvalidInputError, match="lifetime"):
        jwt_inv.jwt_bearer("erp_jwt", issuer="i", subject="s", audience="a", lifetime=0)
    with pytest.raises(InvalidInputError, match="--aud"):
        jwt_inv.jwt_bearer("erp_jwt", issuer="i", subject="s", audience=" ")
    jwt_inv.add_credential("sso", certificate="erp_signing", endpoint="https://x.example/acs", purpose="saml")
    with pytest.raises(InvalidInputError, match="saml credential, not jwt"):
        jwt_inv.jwt_bearer("sso", issuer="i", subject="s", audience="a")
    assert len(jwt_inv.audit_events()) == before + 1  # only the credential added


def test_cli_sign_jwt_prints_only_the_token(cli_db: Path) -> None:
    run_cli("create", "self-signed", "customs_jwt", "--key", "ec-p256", "--purpose", "signing", db=cli_db, check=True)
    done = run_cli("sign", "jwt", "customs_jwt", "--iss", "acme-broker", "--sub", "declarations", "--aud",
                   "https://customs.example/token", "--lifetime", "120", db=cli_db)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token.count(".") == 2 and "\n" not in token
    pem = run_cli("export", "customs_jwt", "--format", "pem", "--out", "/dev/stdout", db=cli_db, check=True).stdout
    from cryptography import x509

    key = x509.load_pem_x509_certificate(pem.encode()).public_key()
    claims = pyjwt.decode(token, key, algorithms=["ES256"], audience="https://customs.example/token")
    assert claims["exp"] - claims["iat"] == 120
    bad = run_cli("sign", "jwt", "customs_jwt", "--iss", "a", "--sub", "b", "--aud", "c", "--lifetime", "999999",
                  db=cli_db)
    assert bad.returncode == 1 and "lifetime" in bad.stderr
