"""Self-signed certificates: what the spec says, what the certificate carries, what CertInfo reads."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import certlab
from certlab import CertInfo, CertSpec, FormatError, InvalidInputError, KeyType, Purpose, Subject
from certlab.certs import CLOCK_SKEW, MAX_DAYS, issue_self_signed, utcnow

from . import pki


def _ext(cert: x509.Certificate, cls: type) -> x509.Extension:  # type: ignore[type-arg]
    return cert.extensions.get_extension_for_class(cls)


def test_spec_defaults() -> None:
    spec = CertSpec(name="payments")
    assert spec.label == "payments" and spec.key_type is KeyType.RSA_2048 and spec.days == 365
    assert spec.purpose is Purpose.SERVER and spec.exportable is False and spec.sans == ()


def test_spec_coerces_strings() -> None:
    spec = CertSpec(name="x", key_type="ed25519", subject="CN=x,O=Acme", sans="x.example.com", purpose="client")  # type: ignore[arg-type]
    assert spec.key_type is KeyType.ED25519 and spec.purpose is Purpose.CLIENT
    assert spec.subject == Subject((("CN", "x"), ("O", "Acme"))) and spec.sans == ("x.example.com",)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"name": "1bad"}, "invalid unique name"), ({"name": "x", "days": 0}, "out of range"),
     ({"name": "x", "days": MAX_DAYS + 1}, "out of range"), ({"name": "x", "days": True}, "whole number"),
     ({"name": "x", "days": "30"}, "whole number"), ({"name": "x", "key_type": "rsa-1024"}, "unsupported key type"),
     ({"name": "x", "sans": ("bad host",)}, "invalid SAN"), ({"name": "x", "purpose": "email"}, "unknown purpose"),
     ({"name": "x", "subject": "Q=1"}, "unknown subject field"), ({"name": "x", "label": "a\nb"}, "control")],
)
def test_spec_refuses_bad_input(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        CertSpec(**kwargs)  # type: ignore[arg-type]


def test_self_signed_certificate_details(rsa_key: rsa.RSAPrivateKey) -> None:
    before = utcnow()
    issued = certlab.self_signed("api.example.com", "10.0.0.5", "ops@example.com", "https://api.example.com/cb",
                                 subject="O=Acme,OU=Ops,L=Berlin,ST=Berlin,C=DE,emailAddress=pki@example.com",
                                 key=rsa_key, days=30)
    cert = issued.certificate
    # Signed by its own key with SHA-256.
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    rsa_key.public_key().verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256())
    assert cert.issuer == cert.subject
    # CN defaults to the first SAN; the other form fields are all there.
    subj = cert.subject
    assert subj.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "api.example.com"
    for oid, value in [(NameOID.ORGANIZATION_NAME, "Acme"), (NameOID.ORGANIZATIONAL_UNIT_NAME, "Ops"),
                       (NameOID.LOCALITY_NAME, "Berlin"), (NameOID.STATE_OR_PROVINCE_NAME, "Berlin"),
                       (NameOID.COUNTRY_NAME, "DE"), (NameOID.EMAIL_ADDRESS, "pki@example.com")]:
        assert subj.get_attributes_for_oid(oid)[0].value == value
    # SANs, each of its detected type.
    san = _ext(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["api.example.com"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.5")]
    assert san.get_values_for_type(x509.RFC822Name) == ["ops@example.com"]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["https://api.example.com/cb"]
    # basicConstraints critical, not a CA; SKI from the key; AKI = SKI for a self-signed certificate.
    bc = _ext(cert, x509.BasicConstraints)
    assert bc.critical and bc.value.ca is False and bc.value.path_length is None
    ski = _ext(cert, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(rsa_key.public_key())
    assert _ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == ski.digest
    # Validity: backdated for clock skew, 30 days long.
    nb, na = cert.not_valid_before_utc.replace(tzinfo=None), cert.not_valid_after_utc.replace(tzinfo=None)
    assert nb <= before - CLOCK_SKEW + dt.timedelta(seconds=1)
    assert na - nb == dt.timedelta(days=30) + CLOCK_SKEW
    assert cert.version is x509.Version.v3


def test_serials_are_positive_and_carry_at_least_64_random_bits() -> None:
    key = certlab.generate_key("ec-p256")
    serials = [certlab.self_signed("s.example.com", key=key).certificate.serial_number for _ in range(40)]
    assert len(set(serials)) == 40
    assert all(0 < s < 2**159 for s in serials)
    # 40 draws of >= 64 random bits: every one is far above 2**63 with overwhelming probability... and
    # the top bits vary (a counter or a timestamp would not).
    assert sum(s.bit_length() > 64 for s in serials) == 40
    assert len({s >> 100 for s in serials}) > 30


@pytest.mark.parametrize(
    ("purpose", "eku", "digital_signature", "key_encipherment", "content_commitment"),
    [("server", [ExtendedKeyUsageOID.SERVER_AUTH], True, True, False),
     ("client", [ExtendedKeyUsageOID.CLIENT_AUTH], True, False, False),
     ("any", [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], True, True, False),
     ("signing", None, True, False, True)],
)
def test_key_usage_by_purpose(rsa_key: rsa.RSAPrivateKey, purpose: str, eku: list[x509.ObjectIdentifier] | None,
                              digital_signature: bool, key_encipherment: bool, content_commitment: bool) -> None:
    cert = certlab.self_signed("p.example.com", purpose=purpose, key=rsa_key).certificate
    ku = _ext(cert, x509.KeyUsage)
    assert ku.critical
    assert ku.value.digital_signature is digital_signature
    assert ku.value.key_encipherment is key_encipherment
    assert ku.value.content_commitment is content_commitment
    assert ku.value.key_cert_sign is False and ku.value.crl_sign is False
    if eku is None:
        with pytest.raises(x509.ExtensionNotFound):
            _ext(cert, x509.ExtendedKeyUsage)
    else:
        assert list(_ext(cert, x509.ExtendedKeyUsage).value) == eku


def test_ec_server_keys_have_no_key_encipherment() -> None:
    ku = _ext(certlab.self_signed("e.example.com", key_type="ec-p256").certificate, x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_encipherment


@pytest.mark.parametrize(("key_type", "label", "hash_name"),
                         [("ec-p256", "ec-p256", "sha256"), ("ec-p384", "ec-p384", "sha256"), ("ed25519", "ed25519", "")])
def test_other_key_types(key_type: str, label: str, hash_name: str) -> None:
    issued = certlab.self_signed("k.example.com", key_type=key_type)
    info = issued.info
    assert info.key_type == label and info.signature_hash == hash_name
    if key_type == "ed25519":
        assert isinstance(issued.private_key, ed25519.Ed25519PrivateKey) and info.signature_algorithm == "ed25519"
    else:
        assert isinstance(issued.private_key, ec.EllipticCurvePrivateKey) and info.signature_algorithm == "ecdsa-with-SHA256"
    issued.certificate.verify_directly_issued_by(issued.certificate)


def test_cn_defaults_to_the_name_without_sans() -> None:
    issued = issue_self_signed(CertSpec(name="sso_signing", key_type=KeyType.ED25519, subject=Subject.parse("O=Acme")))
    assert issued.info.common_name == "sso_signing"
    with pytest.raises(x509.ExtensionNotFound):
        _ext(issued.certificate, x509.SubjectAlternativeName)


def test_cert_info_reads_what_the_inventory_stores() -> None:
    issued = certlab.self_signed("i.example.com", "10.1.2.3", subject="CN=info,O=Acme,C=DE,emailAddress=a@example.com",
                                 key_type="ec-p256")
    info = issued.info
    assert info.subject == "emailAddress=a@example.com,CN=info,O=Acme,C=DE" == info.issuer
    assert info.common_name == "info"
    assert info.serial == format(issued.certificate.serial_number, "x")
    assert info.sans == ("i.example.com", "10.1.2.3")
    assert len(info.fingerprint_sha256) == 64 and info.fingerprint_sha256 == info.fingerprint_sha256.lower()
    assert info.fingerprint_sha256 == issued.certificate.fingerprint(hashes.SHA256()).hex()
    assert info.is_ca is False and info.self_issued is True and info.ski == info.aki != ""
    assert info.key_algorithm == "ec" and info.key_size == 256
    assert "der" not in repr(info) and "private_key" not in repr(issued)


def test_issued_blobs() -> None:
    issued = certlab.self_signed("b.example.com", key_type="ec-p256")
    assert issued.cert_pem.bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    key_blob = issued.private_key_pem
    assert key_blob.secret and b"PRIVATE KEY" in key_blob.bytes()
    assert "PRIVATE" not in repr(key_blob) and "<secret>" in repr(key_blob)


def test_secret_blob_is_written_owner_only(tmp_path: pytest.TempPathFactory) -> None:
    import os
    import stat

    path = certlab.self_signed("w.example.com", key_type="ec-p256").private_key_pem.write_to_path(tmp_path / "k.pem")  # type: ignore[operator]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize("make", [pki.with_duplicate_extension, pki.with_unknown_signature_algorithm,
                                  pki.with_unknown_key_algorithm])
def test_cert_info_turns_lazy_parse_errors_into_format_errors(make: object) -> None:
    cert = x509.load_der_x509_certificate(make())  # type: ignore[operator]
    with pytest.raises(FormatError, match=r"^odd\.cer: certificate cannot be read \(") as err:
        CertInfo.of(cert, "odd.cer")
    assert "\n" not in str(err.value)


def test_ca_certificate_from_build_certificate() -> None:
    r, i, leaf = pki.chain3()
    assert CertInfo.of(r.cert).is_ca and CertInfo.of(r.cert).path_length == 1
    ku = _ext(i.cert, x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign
    assert CertInfo.of(leaf.cert).aki == CertInfo.of(i.cert).ski != CertInfo.of(leaf.cert).ski
    leaf.cert.verify_directly_issued_by(i.cert)
