"""Certificate signing requests (PKCS#10)."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .certs import _EKU, _LAZY_ERRORS, CertSpec, _short, key_usage
from .errors import FormatError
from .keys import PrivateKey, generate_key, signature_hash_for
from .names import general_name_text, name_text


@dataclass(frozen=True)
class CsrInfo:
    subject: str
    sans: tuple[str, ...]
    key_type: str
    signature_valid: bool
    pem: bytes = field(repr=False)


def build_csr(spec: CertSpec, key: PrivateKey | None = None) -> tuple[x509.CertificateSigningRequest, PrivateKey]:
    """A new key (unless given) and a signed PKCS#10 request carrying the subject, SANs, key usage and
    extended key usage (a CA that copies extensions then issues what the purpose asks for)."""
    private_key = key or generate_key(spec.key_type)
    builder = x509.CertificateSigningRequestBuilder().subject_name(spec.x509_subject())
    if spec.sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(spec.general_names)), critical=False)
    builder = builder.add_extension(key_usage(spec.purpose, private_key.public_key()), critical=True)
    if _EKU[spec.purpose]:
        builder = builder.add_extension(x509.ExtendedKeyUsage(_EKU[spec.purpose]), critical=False)
    csr = builder.sign(private_key, signature_hash_for(private_key))  # type: ignore[arg-type]
    return csr, private_key


def load_csr(data: bytes, source: str = "CSR") -> x509.CertificateSigningRequest:
    """Load a PEM or DER CSR; any failure is a FormatError naming the source."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            csr = x509.load_pem_x509_csr(data)
        else:
            csr = x509.load_der_x509_csr(data)
        csr.subject  # noqa: B018 - force the lazy parse now
        csr.public_key()
    except _LAZY_ERRORS as exc:
        raise FormatError(f"{source}: not a valid certificate signing request ({_short(exc)})") from None
    return csr


def describe_csr(csr: x509.CertificateSigningRequest, source: str = "CSR") -> CsrInfo:
    from .keys import describe_public_key

    try:
        sans: tuple[str, ...] = ()
        try:
            ext = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            sans = tuple(general_name_text(g) for g in ext.value)
        except x509.ExtensionNotFound:
            pass
        return CsrInfo(
            subject=name_text(csr.subject),
            sans=sans,
            key_type=describe_public_key(csr.public_key())[2],
            signature_valid=csr.is_signature_valid,
            pem=csr.public_bytes(serialization.Encoding.PEM),
        )
    except _LAZY_ERRORS as exc:
        raise FormatError(f"{source}: request cannot be read ({_short(exc)})") from None
