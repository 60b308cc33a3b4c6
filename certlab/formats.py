"""Reading and writing certificates and keys: PEM, DER, PKCS#7, PKCS#12 and PKCS#8.

Loaders are named ``load_<format>``; every failure is a FormatError (or WrongPasswordError) whose
one-line message names the source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from .certs import _LAZY_ERRORS, CertInfo, _short, read_infos
from .errors import ChainError, FormatError, InvalidInputError, PasswordRequiredError, WrongPasswordError
from .keys import PrivateKey, supported_private_key
from .names import name_text

MAX_INPUT_BYTES = 512 * 1024 * 1024
MAX_PEM_BLOCKS = 2_000_000
MIN_EXPORT_PASSWORD = 12

_PEM_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 #]+)-----\r?\n")
_KEY_LABELS = {b"PRIVATE KEY", b"RSA PRIVATE KEY", b"EC PRIVATE KEY", b"ENCRYPTED PRIVATE KEY"}
_PKCS7_DATA_OID = bytes.fromhex("06092a864886f70d010701")


# Errors a loader or a signature check may raise, as typed tuples (mypy cannot type a tuple spliced
# into an except clause).
_KEY_ERRORS: tuple[type[BaseException], ...] = (TypeError, ValueError, *_LAZY_ERRORS)
_SIGNATURE_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, InvalidSignature, *_LAZY_ERRORS)


@dataclass(frozen=True)
class Loaded:
    """What one file held: certificates (in file order) and at most one private key."""

    certificates: tuple[x509.Certificate, ...]
    private_key: PrivateKey | None = field(default=None, repr=False)
    kind: str = "pem"
    #: What each certificate says, when the loader read it already (same order); else empty.
    infos: tuple[CertInfo, ...] = field(default=(), repr=False, compare=False)


def check_size(data: bytes, source: str) -> None:
    if len(data) == 0:
        raise FormatError(f"{source}: file is empty")
    if len(data) > MAX_INPUT_BYTES:
        raise FormatError(f"{source}: file is larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB")


def load_bundle(data: bytes, source: str, password: bytes | None = None, *, read: bool = True) -> Loaded:
    """Load any supported file: PEM (many blocks), DER, PKCS#7 (PEM or DER) or PKCS#12.

    ``read=False`` leaves reading the fields of a PEM file's certificates (Loaded.infos, and the
    errors only that reading finds) to the caller, who reads many files' at once (certs.read_each)."""
    check_size(data, source)
    if b"-----BEGIN" in data[:65536]:
        return load_pem(data, source, password, read=read)
    return load_der(data, source, password)


def load_pem(data: bytes, source: str, password: bytes | None = None, *, read: bool = True) -> Loaded:
    if data.count(b"-----BEGIN") > MAX_PEM_BLOCKS:
        raise FormatError(f"{source}: more than {MAX_PEM_BLOCKS} PEM blocks")
    blocks = _pem_blocks(data, source)
    certs: list[x509.Certificate] = []
    key: PrivateKey | None = None
    cert_blobs = [raw for label, raw in blocks if label in (b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE")]
    read_certs = _load_pem_certificates(cert_blobs, source, read)
    certs.extend(cert for cert, _ in read_certs)
    for label, raw in blocks:
        if label in _KEY_LABELS:
            if key is not None:
                raise FormatError(f"{source}: holds more than one private key")
            key = load_pem_private_key(raw, source, password)
        elif label == b"PKCS7":
            certs.extend(_pkcs7(lambda raw=raw: _pkcs7_module().load_pem_pkcs7_certificates(raw), source))
        elif label not in (b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE"):
            if label in (b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST"):
                raise FormatError(f"{source}: is a certificate signing request, not a certificate")
            if label in (b"X509 CRL",):
                raise FormatError(f"{source}: is a CRL, not a certificate")
            if label.endswith(b"PUBLIC KEY"):
                raise FormatError(f"{source}: is a public key, not a certificate")
            raise FormatError(f"{source}: unsupported PEM block {label.decode('ascii', 'replace')!r}")
    if not certs and key is None:
        raise FormatError(f"{source}: no certificate found")
    infos = tuple(info for _, info in read_certs if info is not None)
    return Loaded(tuple(certs), key, "pem", infos if len(infos) == len(certs) else ())


def _pem_blocks(data: bytes, source: str) -> list[tuple[bytes, bytes]]:
    """(label, whole block) of every PEM block, in one pass over the data.

    A regular expression that looks for each block's END line would scan to the end of the file for
    every unterminated BEGIN line: quadratic, minutes for a hostile file of a few megabytes.
    """
    blocks: list[tuple[bytes, bytes]] = []
    pos = 0
    while True:
        begin = _PEM_BEGIN.search(data, pos)
        if begin is None:
            break
        label = begin.group(1)
        end = data.find(b"-----END ", begin.end())
        following = data.find(b"-----BEGIN", begin.end())
        end_line = b"-----END " + label + b"-----"
        if end < 0 or 0 <= following < end or not data.startswith(end_line, end):
            if not blocks:
                raise FormatError(f"{source}: no complete PEM block found (truncated or not PEM)")
            raise FormatError(f"{source}: a PEM block is truncated or malformed")
        pos = end + len(end_line)
        blocks.append((label, data[begin.start():pos]))
    if not blocks:
        raise FormatError(f"{source}: no complete PEM block found (truncated or not PEM)")
    if data.count(b"-----BEGIN") != len(blocks):
        raise FormatError(f"{source}: a PEM block is truncated or malformed")
    return blocks


def _load_pem_certificates(blobs: list[bytes], source: str,
                           read: bool = True) -> list[tuple[x509.Certificate, CertInfo | None]]:
    if not blobs:
        return []
    try:
        certs = x509.load_pem_x509_certificates(b"\n".join(blobs))
        if not read:
            return [(c, None) for c in certs]
        return list(zip(certs, read_infos(certs, source)))  # lazy fields fail here, not later
    except FormatError:
        raise
    except _LAZY_ERRORS:
        pass
    for i, raw in enumerate(blobs, 1):  # find the bad block, for a precise message
        try:
            CertInfo.of(x509.load_pem_x509_certificate(raw), f"{source} (block {i})")
        except _LAZY_ERRORS as exc:
            raise FormatError(f"{source}: certificate block {i} is not valid ({_short(exc)})") from None
    raise FormatError(f"{source}: PEM certificates cannot be read")  # pragma: no cover


def load_pem_private_key(raw: bytes, source: str, password: bytes | None) -> PrivateKey:
    encrypted = b"ENCRYPTED" in raw.split(b"\n", 2)[0] or b"Proc-Type: 4,ENCRYPTED" in raw
    if encrypted and not password:
        raise PasswordRequiredError(f"{source}: private key is encrypted and no password was given")
    try:
        key = serialization.load_pem_private_key(raw, password if encrypted else None)
    except (ValueError, TypeError) as exc:
        if encrypted:
            raise WrongPasswordError(f"{source}: wrong password for the private key") from None
        raise FormatError(f"{source}: private key cannot be read ({_short(exc)})") from None
    except _LAZY_ERRORS as exc:
        raise FormatError(f"{source}: private key cannot be read ({_short(exc)})") from None
    return supported_private_key(key, source)


def _pkcs7_module() -> ModuleType:
    """cryptography's PKCS#7 module, loaded when a PKCS#7 file is read: it imports the ``email``
    package (S/MIME), which commands that read no file should not pay for."""
    from cryptography.hazmat.primitives.serialization import pkcs7

    return pkcs7


def _pkcs7(load: object, source: str) -> list[x509.Certificate]:
    try:
        certs = load()  # type: ignore[operator]
    except _LAZY_ERRORS as exc:
        raise FormatError(f"{source}: PKCS#7 cannot be read ({_short(exc)})") from None
    for c in certs:
        CertInfo.of(c, source)
    return list(certs)


def load_der(data: bytes, source: str, password: bytes | None = None) -> Loaded:
    if data[:1] != b"\x30":
        raise FormatError(f"{source}: not a certificate file (neither PEM nor DER)")
    try:
        cert = x509.load_der_x509_certificate(data)
    except _LAZY_ERRORS:
        cert = None
    if cert is not None:
        CertInfo.of(cert, source)
        return Loaded((cert,), None, "der")
    try:
        return Loaded(tuple(_pkcs7(lambda: _pkcs7_module().load_der_pkcs7_certificates(data), source)), None, "pkcs7")
    except FormatError:
        pass
    if _looks_like_pkcs12(data):
        return load_pkcs12(data, source, password)
    try:
        key = serialization.load_der_private_key(data, password)
        return Loaded((), supported_private_key(key, source), "der")
    except _KEY_ERRORS:
        pass
    raise FormatError(f"{source}: not a certificate, PKCS#7 or PKCS#12 file (or it is damaged)")


def _looks_like_pkcs12(data: bytes) -> bool:
    # PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo (pkcs7-data), macData }
    head = data[:64]
    return b"\x02\x01\x03" in head[:12] and _PKCS7_DATA_OID in head


def load_pkcs12(data: bytes, source: str, password: bytes | None) -> Loaded:
    attempts = [password] if password else [None, b""]
    for pw in attempts:
        try:
            p12 = pkcs12.load_pkcs12(data, pw)
            break
        except (ValueError, TypeError):
            continue
        except _LAZY_ERRORS as exc:
            raise FormatError(f"{source}: PKCS#12 cannot be read ({_short(exc)})") from None
    else:
        if password:
            raise WrongPasswordError(f"{source}: wrong password for the PKCS#12 keystore (or it is damaged)")
        raise PasswordRequiredError(f"{source}: PKCS#12 keystore needs a password (--password-file)")
    certs: list[x509.Certificate] = []
    if p12.cert is not None:
        certs.append(p12.cert.certificate)
    certs.extend(c.certificate for c in p12.additional_certs)
    for c in certs:
        CertInfo.of(c, source)
    key = supported_private_key(p12.key, source) if p12.key is not None else None
    if not certs:
        raise FormatError(f"{source}: PKCS#12 keystore holds no certificate")
    return Loaded(tuple(certs), key, "pkcs12")


def order_chain(certs: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """Order certificates leaf first, each followed by its issuer; unlinked ones keep their order."""
    remaining = list(certs)
    if len(remaining) <= 1:
        return remaining
    issuers = {c.issuer for c in remaining}
    leaves = [c for c in remaining if c.subject not in issuers or c.subject == c.issuer and len(remaining) == 1]
    start = leaves[0] if leaves else remaining[0]
    ordered = [start]
    remaining.remove(start)
    while remaining:
        nxt = next((c for c in remaining if c.subject == ordered[-1].issuer and c != ordered[-1]), None)
        if nxt is None:
            break
        ordered.append(nxt)
        remaining.remove(nxt)
    return ordered + remaining


def check_chain(chain: Sequence[x509.Certificate], source: str) -> None:
    """Each certificate must be signed by the next one."""
    for i in range(len(chain) - 1):
        child, parent = chain[i], chain[i + 1]
        try:
            child.verify_directly_issued_by(parent)
        except _SIGNATURE_ERRORS:
            raise ChainError(
                f"{source}: certificate {i + 1} ({name_text(child.subject)}) is not signed by "
                f"certificate {i + 2} ({name_text(parent.subject)})"
            ) from None


# --- writing ----------------------------------------------------------------------------------------

def dump_pem(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def dump_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def check_export_password(password: bytes | str | None, what: str, minimum: int = MIN_EXPORT_PASSWORD) -> bytes:
    if password is None:
        raise InvalidInputError(f"{what}: a password is required")
    pw = password.encode("utf-8") if isinstance(password, str) else password
    if len(pw) < minimum:
        raise InvalidInputError(f"{what}: password must be at least {minimum} characters")
    return pw


def dump_pkcs12(
    friendly_name: str,
    key: PrivateKey,
    cert: x509.Certificate,
    cas: Sequence[x509.Certificate],
    password: bytes,
    *,
    legacy: bool = False,
) -> bytes:
    """A PKCS#12 keystore: PBES2/AES-256-CBC with a SHA-256 MAC, or 3DES/SHA-1 when ``legacy``."""
    if legacy:
        algorithm = serialization.pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC
        mac = None
    else:
        algorithm = serialization.pkcs12.PBES.PBESv2SHA256AndAES256CBC
        mac = True
    builder = serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(600_000 if not legacy else 2048)
    builder = builder.key_cert_algorithm(algorithm)
    if mac:
        from cryptography.hazmat.primitives import hashes

        builder = builder.hmac_hash(hashes.SHA256())
    else:
        from cryptography.hazmat.primitives import hashes

        builder = builder.hmac_hash(hashes.SHA1())
    return pkcs12.serialize_key_and_certificates(
        friendly_name.encode("utf-8"), key, cert, list(cas) or None, builder.build(password)
    )


def dump_encrypted_private_key(key: PrivateKey, password: bytes) -> bytes:
    """PKCS#8, encrypted with the best available scheme (PBES2, AES-256-CBC)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
