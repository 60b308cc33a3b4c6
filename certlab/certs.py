"""Certificates: what to issue (CertSpec), how to build one, and what a certificate says (CertInfo)."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from .blob import Blob
from .errors import CertlabError, FormatError, InvalidInputError
from .keys import KeyType, PrivateKey, describe_public_key, generate_key, signature_hash_for
from .names import (
    Subject,
    check_label,
    check_unique_name,
    common_name,
    first_dns_or_ip,
    general_name_text,
    name_text,
    parse_identities,
)

#: notBefore is set this far in the past so that peers with a slow clock accept a new certificate.
CLOCK_SKEW = dt.timedelta(minutes=5)
MAX_DAYS = 10950  # thirty years: a root CA's lifetime; leaf policy is lint's business
DEFAULT_DAYS = 365


class Purpose(enum.Enum):
    """What a certificate is for; sets keyUsage and extendedKeyUsage."""

    SERVER = "server"
    CLIENT = "client"
    SIGNING = "signing"
    ANY = "any"

    @classmethod
    def parse(cls, value: str | Purpose) -> Purpose:
        if isinstance(value, Purpose):
            return value
        for m in cls:
            if m.value == str(value).strip().lower():
                return m
        raise InvalidInputError(f"unknown purpose {value!r}: choose server, client, signing or any")


def utcnow() -> dt.datetime:
    """Now, as a naive UTC datetime (the store's convention)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def as_naive_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


@dataclass(frozen=True)
class CertSpec:
    """Everything a user says about a certificate to make. Validated on construction."""

    name: str
    label: str = ""
    key_type: KeyType = KeyType.RSA_2048
    days: int = DEFAULT_DAYS
    subject: Subject = field(default_factory=lambda: Subject(()))
    sans: tuple[str, ...] = ()
    purpose: Purpose = Purpose.SERVER
    exportable: bool = False

    def __post_init__(self) -> None:
        check_unique_name(self.name)
        object.__setattr__(self, "label", check_label(self.label or self.name))
        object.__setattr__(self, "key_type", KeyType.parse(self.key_type))
        object.__setattr__(self, "subject", Subject.parse(self.subject))
        object.__setattr__(self, "purpose", Purpose.parse(self.purpose))
        if isinstance(self.sans, str):
            object.__setattr__(self, "sans", (self.sans,))
        parse_identities(self.sans)  # validates every SAN
        object.__setattr__(self, "sans", tuple(s.strip() for s in self.sans))
        if isinstance(self.days, bool) or not isinstance(self.days, int):
            raise InvalidInputError(f"validity days must be a whole number, not {self.days!r}")
        if not 1 <= self.days <= MAX_DAYS:
            raise InvalidInputError(f"validity of {self.days} days is out of range 1..{MAX_DAYS}")

    @property
    def general_names(self) -> tuple[x509.GeneralName, ...]:
        return parse_identities(self.sans)

    def x509_subject(self) -> x509.Name:
        """The subject, with CN defaulting to the first SAN, else the unique name."""
        return self.subject.with_default_cn(first_dns_or_ip(self.general_names) or self.name).to_x509()


def random_serial() -> int:
    """A positive serial with 159 random bits (RFC 5280 allows 20 octets)."""
    return x509.random_serial_number()


def key_usage(purpose: Purpose, public_key: object, *, is_ca: bool = False) -> x509.KeyUsage:
    rsa_key = isinstance(public_key, rsa.RSAPublicKey)
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=purpose is Purpose.SIGNING,
        key_encipherment=rsa_key and purpose in (Purpose.SERVER, Purpose.ANY),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=is_ca,
        crl_sign=is_ca,
        encipher_only=False,
        decipher_only=False,
    )


_EKU = {
    Purpose.SERVER: [ExtendedKeyUsageOID.SERVER_AUTH],
    Purpose.CLIENT: [ExtendedKeyUsageOID.CLIENT_AUTH],
    Purpose.ANY: [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
    Purpose.SIGNING: [],
}


def build_certificate(
    *,
    subject: x509.Name,
    public_key: object,
    issuer: x509.Name,
    issuer_key: PrivateKey,
    days: int,
    sans: Sequence[x509.GeneralName] = (),
    purpose: Purpose = Purpose.SERVER,
    is_ca: bool = False,
    path_length: int | None = None,
    issuer_ski: x509.SubjectKeyIdentifier | None = None,
    name_constraints: x509.NameConstraints | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    serial: int | None = None,
    extra_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    """Build and sign one certificate. ``issuer_key`` signs; for a self-signed one it is the key itself."""
    start = (not_before or utcnow()) - CLOCK_SKEW
    end = not_after or (start + CLOCK_SKEW + dt.timedelta(days=days))
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)  # type: ignore[arg-type]
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(serial or random_serial())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=path_length if is_ca else None), critical=True)
        .add_extension(key_usage(purpose, public_key, is_ca=is_ca), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski or ski), critical=False
        )
    )
    if not is_ca and _EKU[purpose]:
        builder = builder.add_extension(x509.ExtendedKeyUsage(_EKU[purpose]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    if name_constraints is not None:
        builder = builder.add_extension(name_constraints, critical=True)
    for ext, critical in extra_extensions:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(issuer_key, signature_hash_for(issuer_key))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key (and chain), made in memory."""

    certificate: x509.Certificate
    private_key: PrivateKey = field(repr=False)
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def cert_pem(self) -> Blob:
        return Blob(self.certificate.public_bytes(serialization.Encoding.PEM), "cert.pem", "application/x-pem-file")

    @property
    def private_key_pem(self) -> Blob:
        data = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return Blob(data, "key.pem", "application/x-pem-file", secret=True)

    @property
    def info(self) -> CertInfo:
        return CertInfo.of(self.certificate)


def self_signed(
    *identities: str,
    name: str = "self_signed",
    key_type: KeyType | str = KeyType.RSA_2048,
    days: int = DEFAULT_DAYS,
    subject: str | Subject | None = None,
    purpose: Purpose | str = Purpose.SERVER,
    key: PrivateKey | None = None,
) -> Issued:
    """Make a self-signed certificate for the given identities, without any database.

    >>> issued = self_signed("api.example.com", "10.0.0.5", key_type="ec-p256")
    """
    spec = CertSpec(name=name, key_type=KeyType.parse(key_type), days=days, subject=Subject.parse(subject),
                    sans=tuple(identities), purpose=Purpose.parse(purpose))
    return issue_self_signed(spec, key)


def issue_self_signed(spec: CertSpec, key: PrivateKey | None = None, *, now: dt.datetime | None = None) -> Issued:
    """A key (unless given) and a self-signed certificate valid for ``spec.days`` from ``now`` (default: the time)."""
    private_key = key or generate_key(spec.key_type)
    name = spec.x509_subject()
    cert = build_certificate(
        subject=name, public_key=private_key.public_key(), issuer=name, issuer_key=private_key,
        days=spec.days, sans=spec.general_names, purpose=spec.purpose, not_before=now,
    )
    return Issued(cert, private_key)


# Errors cryptography may raise lazily when a field of an odd certificate is first read.
_LAZY_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, TypeError, NotImplementedError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType,
    x509.InvalidVersion, AttributeError, OverflowError,
)
try:  # pragma: no cover - depends on the installed cryptography
    from cryptography.exceptions import UnsupportedAlgorithm

    _LAZY_ERRORS += (UnsupportedAlgorithm,)
except ImportError:  # pragma: no cover
    pass


@dataclass(frozen=True)
class CertInfo:
    """What a certificate says, read once, in the shapes the inventory stores."""

    subject: str
    issuer: str
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    key_algorithm: str
    key_size: int
    key_type: str
    signature_algorithm: str
    signature_hash: str
    fingerprint_sha256: str
    sans: tuple[str, ...]
    is_ca: bool
    path_length: int | None
    self_issued: bool
    ski: str
    aki: str
    spki_sha256: str
    der: bytes = field(repr=False)
    common_name: str | None = None

    @classmethod
    def of(cls, cert: x509.Certificate, source: str = "certificate") -> CertInfo:
        try:
            return cls._read(cert)
        except _LAZY_ERRORS as exc:
            raise FormatError(f"{source}: certificate cannot be read ({_short(exc)})") from None

    @classmethod
    def _read(cls, cert: x509.Certificate) -> CertInfo:
        der = cert.public_bytes(serialization.Encoding.DER)
        pub = cert.public_key()
        algorithm, size, label = describe_public_key(pub)
        exts = cert.extensions
        sans: tuple[str, ...] = ()
        try:
            sans = tuple(general_name_text(g) for g in exts.get_extension_for_class(x509.SubjectAlternativeName).value)
        except x509.ExtensionNotFound:
            pass
        is_ca, path_length = False, None
        try:
            bc = exts.get_extension_for_class(x509.BasicConstraints).value
            is_ca, path_length = bc.ca, bc.path_length
        except x509.ExtensionNotFound:
            pass
        ski = aki = ""
        try:
            ski = exts.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex()
        except x509.ExtensionNotFound:
            pass
        try:
            kid = exts.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
            aki = kid.hex() if kid else ""
        except x509.ExtensionNotFound:
            pass
        hash_alg = cert.signature_hash_algorithm
        spki = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return cls(
            subject=name_text(cert.subject),
            issuer=name_text(cert.issuer),
            serial=format(cert.serial_number, "x") if cert.serial_number >= 0 else "-" + format(-cert.serial_number, "x"),
            not_before=cert.not_valid_before_utc.replace(tzinfo=None),
            not_after=cert.not_valid_after_utc.replace(tzinfo=None),
            key_algorithm=algorithm,
            key_size=size,
            key_type=label,
            signature_algorithm=_sig_name(cert),
            signature_hash=hash_alg.name if hash_alg is not None else "",
            fingerprint_sha256=hashlib.sha256(der).hexdigest(),
            sans=sans,
            is_ca=is_ca,
            path_length=path_length,
            self_issued=cert.subject == cert.issuer,
            ski=ski,
            aki=aki,
            spki_sha256=hashlib.sha256(spki).hexdigest(),
            der=der,
            common_name=common_name(cert.subject),
        )


#: Below this many certificates a batch is read in this process: starting a worker (a new Python that
#: imports cryptography, about 0.2 s) costs more than it saves.
PARALLEL_MIN = 2000
ENV_WORKERS = "CERTLAB_IMPORT_WORKERS"
#: How the last parallel read went: shares of the batch, and how many workers read theirs.
LAST_PARALLEL_READ: dict[str, int] = {"shares": 0, "by_workers": 0}


def read_infos(certs: Sequence[x509.Certificate], source: str = "certificate") -> list[CertInfo]:
    """``CertInfo.of`` of each certificate, in order, raising the error of the first bad one (see
    ``read_each``)."""
    out: list[CertInfo] = []
    for item in read_each([(c, source) for c in certs]):
        if isinstance(item, CertlabError):
            raise item
        out.append(item)
    return out


def read_each(items: Sequence[tuple[x509.Certificate, str]]) -> list[CertInfo | CertlabError]:
    """``CertInfo.of(certificate, source)`` of each item, or the error it raised, in order.

    Reading a certificate's fields in Python (names above all) is most of a bulk import, so a large
    batch is shared with worker processes, one per core (``$CERTLAB_IMPORT_WORKERS`` caps them; 1
    turns them off). Only certificates (DER) and their fields cross to workers, never key material.
    Where workers cannot start, this process reads everything itself."""
    workers = _workers(len(items))
    if workers <= 1:
        return [_info_or_error(c, s) for c, s in items]
    return _read_in_parallel(items, workers)


def _info_or_error(cert: x509.Certificate, source: str) -> CertInfo | CertlabError:
    try:
        return CertInfo.of(cert, source)
    except CertlabError as exc:
        return exc


def _workers(n: int) -> int:
    import os

    if n < PARALLEL_MIN:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    text = os.environ.get(ENV_WORKERS, "").strip()
    cap = int(text) if text.isdigit() else 8
    return max(1, min(cores, cap, n // (PARALLEL_MIN // 2)))


def _read_in_parallel(items: Sequence[tuple[x509.Certificate, str]], workers: int) -> list[CertInfo | CertlabError]:
    """Workers are plain ``python -m certlab.infos_worker`` processes fed through pipes, not
    multiprocessing: that would import the caller's main module again in each worker, and an
    unguarded script (or a command line) would run a second time there."""
    import os
    import pickle
    import subprocess
    import sys
    import threading

    size = -(-len(items) // workers)
    chunks = [list(items[i:i + size]) for i in range(0, len(items), size)]
    LAST_PARALLEL_READ.update(shares=len(chunks), by_workers=0)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    started: list[tuple[subprocess.Popen[bytes], threading.Thread] | None] = []
    for chunk in chunks[1:]:
        payload = pickle.dumps([(c.public_bytes(serialization.Encoding.DER), src) for c, src in chunk],
                               protocol=pickle.HIGHEST_PROTOCOL)
        try:
            proc = subprocess.Popen([sys.executable, "-m", "certlab.infos_worker"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        except OSError:
            started.append(None)
            continue
        feeder = threading.Thread(target=_feed, args=(proc, payload), daemon=True)
        feeder.start()
        started.append((proc, feeder))
    try:
        out = [_info_or_error(c, src) for c, src in chunks[0]]  # this process reads the first share meanwhile
        for chunk, worker in zip(chunks[1:], started):
            got = _collect(worker)
            if got is not None and len(got) == len(chunk):
                LAST_PARALLEL_READ["by_workers"] += 1
                out.extend(got)
            else:
                out.extend(_info_or_error(c, src) for c, src in chunk)
        return out
    finally:
        for worker in started:
            if worker is not None and worker[0].poll() is None:
                worker[0].kill()
                worker[0].wait()


def _feed(proc: Any, payload: bytes) -> None:
    try:
        proc.stdin.write(payload)
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass  # the worker died: _collect sees it and this process reads that share itself


def _collect(worker: Any) -> list[CertInfo | CertlabError] | None:
    """A worker's results, or None when it failed (this process then reads its share)."""
    import pickle

    if worker is None:
        return None
    proc, feeder = worker
    data = proc.stdout.read()
    proc.stdout.close()
    feeder.join()
    if proc.wait() != 0:
        return None
    try:
        value = pickle.loads(data)
    except Exception:  # noqa: BLE001 - anything unreadable from a worker: read the share here instead
        return None
    return value if isinstance(value, list) else None


def _infos_from_der(items: list[tuple[bytes, str]]) -> list[CertInfo | CertlabError]:
    """A worker's share of ``read_each``."""
    return [_info_or_error(x509.load_der_x509_certificate(d), source) for d, source in items]


def _sig_name(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    name = getattr(oid, "_name", None)
    return str(name) if name and name != "Unknown OID" else oid.dotted_string


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False
