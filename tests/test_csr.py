"""Certificate signing requests."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import certlab
from certlab import CertSpec, FormatError
from certlab.csr import describe_csr


def test_csr_carries_subject_sans_and_usage() -> None:
    spec = CertSpec(name="erp_client", key_type="ec-p256", purpose="client", sans=("erp.example.com", "10.0.0.9"),  # type: ignore[arg-type]
                    subject="CN=erp.example.com,O=Acme,OU=IT,L=Berlin,ST=Berlin,C=DE,emailAddress=it@example.com")  # type: ignore[arg-type]
    csr, key = certlab.build_csr(spec)
    assert csr.is_signature_valid
    assert isinstance(csr.signature_hash_algorithm, hashes.SHA256)
    assert csr.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == \
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    for oid, value in [(NameOID.COMMON_NAME, "erp.example.com"), (NameOID.ORGANIZATION_NAME, "Acme"),
                       (NameOID.ORGANIZATIONAL_UNIT_NAME, "IT"), (NameOID.LOCALITY_NAME, "Berlin"),
                       (NameOID.STATE_OR_PROVINCE_NAME, "Berlin"), (NameOID.COUNTRY_NAME, "DE"),
                       (NameOID.EMAIL_ADDRESS, "it@example.com")]:
        assert csr.subject.get_attributes_for_oid(oid)[0].value == value
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["erp.example.com"]
    ku = csr.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature
    eku = csr.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_csr_with_a_given_key_and_ed25519() -> None:
    key = certlab.generate_key("ed25519")
    csr, same = certlab.build_csr(CertSpec(name="jwt_signer", key_type="ed25519", purpose="signing"), key)  # type: ignore[arg-type]
    assert same is key and csr.is_signature_valid and csr.signature_hash_algorithm is None
    with pytest.raises(x509.ExtensionNotFound):
        csr.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    info = describe_csr(csr)
    assert info.key_type == "ed25519" and info.subject == "CN=jwt_signer" and info.signature_valid
    assert info.sans == ()


def test_load_csr_pem_and_der() -> None:
    csr, _ = certlab.build_csr(CertSpec(name="x", key_type="ec-p256", sans=("x.example.com",)))  # type: ignore[arg-type]
    pem = csr.public_bytes(serialization.Encoding.PEM)
    der = csr.public_bytes(serialization.Encoding.DER)
    assert certlab.load_csr(pem) == csr == certlab.load_csr(der)
    assert describe_csr(certlab.load_csr(der)).sans == ("x.example.com",)


@pytest.mark.parametrize("data", [b"", b"garbage", b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
                                  b"\x30\x03\x02\x01\x01"])
def test_load_csr_refuses_garbage(data: bytes) -> None:
    with pytest.raises(FormatError, match=r"^req\.csr: not a valid certificate signing request"):
        certlab.load_csr(data, "req.csr")


def test_truncated_csr_is_refused() -> None:
    csr, _ = certlab.build_csr(CertSpec(name="x", key_type="ec-p256"))  # type: ignore[arg-type]
    der = csr.public_bytes(serialization.Encoding.DER)
    with pytest.raises(FormatError, match="req.der"):
        certlab.load_csr(der[: len(der) // 2], "req.der")
