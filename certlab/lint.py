"""Policy findings: what is wrong with a certificate, how badly, and which integration it puts at risk.

Pure: it takes certificates and what the inventory knows around them (the chain above, the named
credentials using them, other certificates with the same key) and returns findings.

Rules and severities:

==========================  ========  ================================================================
rule                        severity  when
==========================  ========  ================================================================
weak_rsa_key                error     an RSA key below 2048 bits
weak_signature_hash         error     signed with MD5 or SHA-1 (warning for a self-signed trust anchor,
                                      whose own signature nobody checks)
server_validity             error     a server certificate valid for more than 398 days
                            warning   more than 200 days (the CA/Browser Forum limit from 15 March 2026),
                                      more than 47 days (the limit from 15 March 2029)
server_without_san          error     a server certificate without a subjectAltName
chain_ca_expired            error     a CA above the certificate has expired
chain_ca_expiring           warning   a CA above it expires within the warning window or before the leaf
shared_key                  warning   the same key is in other certificates
low_serial_entropy          warning   a serial shorter than 64 bits (cannot hold 64 bits of entropy)
self_signed_external_mtls   warning   a self-signed certificate bound to an mTLS credential whose
                                      endpoint is outside the organisation
ca_as_leaf                  error     a CA certificate bound to a named credential or served as an
                                      endpoint's own certificate
==========================  ========  ================================================================
"""

from __future__ import annotations

import datetime as dt
import enum
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

MAX_SERVER_DAYS = 398
COMING_LIMITS = ((200, "15 March 2026"), (47, "15 March 2029"))
MIN_RSA_BITS = 2048
MIN_SERIAL_BITS = 64
WEAK_HASHES = ("md5", "sha1")


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]

    @classmethod
    def parse(cls, value: str | Severity) -> Severity:
        if isinstance(value, Severity):
            return value
        for m in cls:
            if m.value == str(value).strip().lower():
                return m
        from .errors import InvalidInputError

        raise InvalidInputError(f"unknown severity {value!r}: choose error, warning or info")


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    integrations: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity.value, "message": self.message,
                "integrations": list(self.integrations)}


@dataclass(frozen=True)
class Usage:
    """A named credential that uses the certificate."""

    name: str
    purpose: str
    endpoint: str
    external: bool = False

    def __str__(self) -> str:
        return f"{self.name} ({self.purpose} {self.endpoint})"


@dataclass(frozen=True)
class LintSubject:
    """One certificate and its surroundings."""

    name: str
    cert: x509.Certificate | None = None
    kind: str = "imported"
    purpose: str | None = None
    chain: tuple[x509.Certificate | Facts, ...] = ()
    usages: tuple[Usage, ...] = ()
    same_key_as: tuple[str, ...] = ()
    same_key_total: int = 0  # how many others hold the key, when more than same_key_as names
    same_key_more: bool = False  # same_key_total is a lower bound: more than it hold the key
    served_as_leaf_at: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    facts: Facts | None = None  # read from ``cert`` when not given

    def read(self) -> Facts:
        if self.facts is not None:
            return self.facts
        if self.cert is None:
            raise ValueError("a LintSubject needs cert or facts")
        return facts_of(self.cert)


@dataclass(frozen=True)
class Facts:
    """What lint reads from a certificate, read once (and cached by fingerprint: parsing is the cost)."""

    rsa_bits: int | None
    hash_name: str | None
    validity_days: float
    not_after: dt.datetime
    has_san: bool
    eku: tuple[x509.ObjectIdentifier, ...] | None
    is_ca: bool
    self_signed: bool
    serial_bits: int
    subject: str


_FACTS: OrderedDict[bytes, Facts] = OrderedDict()
_FACTS_LOCK = threading.Lock()
_FACTS_MAX = 200_000


def facts_of(cert: x509.Certificate, fingerprint_sha256: str | None = None) -> Facts:
    """The facts of ``cert``, from the cache when its fingerprint was seen before."""
    key = bytes.fromhex(fingerprint_sha256) if fingerprint_sha256 else cert.fingerprint(hashes.SHA256())
    return _cached_facts(key, lambda: cert)


def facts_for(fingerprint_sha256: str, load: Callable[[], x509.Certificate]) -> Facts:
    """The facts of the certificate with this fingerprint; ``load`` parses it only on a cache miss."""
    return _cached_facts(bytes.fromhex(fingerprint_sha256), load)


def _cached_facts(key: bytes, load: Callable[[], x509.Certificate]) -> Facts:
    with _FACTS_LOCK:
        found = _FACTS.get(key)
        if found is not None:
            _FACTS.move_to_end(key)
            return found
    facts = _read_facts(load())
    with _FACTS_LOCK:
        _FACTS[key] = facts
        if len(_FACTS) > _FACTS_MAX:
            _FACTS.popitem(last=False)
    return facts


def _read_facts(cert: x509.Certificate) -> Facts:
    pub = cert.public_key()
    try:
        hash_alg = cert.signature_hash_algorithm
    except Exception:  # noqa: BLE001 - an unsupported algorithm is not a weak one
        hash_alg = None
    start = cert.not_valid_before_utc.replace(tzinfo=None)
    end = cert.not_valid_after_utc.replace(tzinfo=None)
    exts = cert.extensions
    try:
        eku: tuple[x509.ObjectIdentifier, ...] | None = tuple(exts.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except (x509.ExtensionNotFound, ValueError):
        eku = None
    try:
        is_ca = bool(exts.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        is_ca = False
    try:
        has_san = len(exts.get_extension_for_class(x509.SubjectAlternativeName).value) > 0
    except (x509.ExtensionNotFound, ValueError):
        has_san = False
    return Facts(
        rsa_bits=pub.key_size if isinstance(pub, rsa.RSAPublicKey) else None,
        hash_name=hash_alg.name if hash_alg is not None else None,
        validity_days=(end - start).total_seconds() / 86400,
        not_after=end,
        has_san=has_san,
        eku=eku,
        is_ca=is_ca,
        self_signed=_self_signed(cert),
        serial_bits=abs(cert.serial_number).bit_length(),
        subject=cert.subject.rfc4514_string(),
    )


def is_server_certificate(s: LintSubject, f: Facts | None = None) -> bool:
    f = f or s.read()
    if f.is_ca:
        return False
    if f.eku is not None:
        return ExtendedKeyUsageOID.SERVER_AUTH in f.eku or (
            ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in f.eku and (s.purpose == "server" or s.kind == "discovered"))
    return s.purpose in ("server", "any") or s.kind == "discovered" or any(u.purpose == "server" for u in s.usages)


def _self_signed(cert: x509.Certificate) -> bool:
    """Subject equals issuer and the certificate's own key signed it (or, where the signature algorithm
    is too old to check, the key identifiers agree)."""
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
        return True
    except (UnsupportedAlgorithm, ValueError) as exc:
        if isinstance(exc, ValueError) and "unsupported" not in str(exc).lower():
            return False
        try:
            ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        except (x509.ExtensionNotFound, ValueError):
            return True
        return aki is None or aki == ski
    except (InvalidSignature, TypeError):
        return False


def lint(s: LintSubject, *, now: dt.datetime, warning_days: int = 30) -> list[Finding]:
    """The findings for one certificate, most severe first. ``now`` is naive UTC."""
    f = s.read()
    out: list[tuple[str, Severity, str]] = []
    if f.rsa_bits is not None and f.rsa_bits < MIN_RSA_BITS:
        out.append(("weak_rsa_key", Severity.ERROR, f"RSA key of {f.rsa_bits} bits (below {MIN_RSA_BITS})"))
    if f.hash_name in WEAK_HASHES:
        anchor = s.kind in ("trusted_ca", "internal_ca") and f.self_signed
        out.append(("weak_signature_hash", Severity.WARNING if anchor else Severity.ERROR,
                    f"signed with {'SHA-1' if f.hash_name == 'sha1' else 'MD5'}"
                    + (" (a trust anchor's own signature; replace it anyway)" if anchor else ": forgeable, peers refuse it")))
    if is_server_certificate(s, f):
        days = f.validity_days
        if days > MAX_SERVER_DAYS + 1:
            out.append(("server_validity", Severity.ERROR,
                        f"valid for {days:.0f} days: browsers and TLS clients refuse server certificates over {MAX_SERVER_DAYS} days"))
        else:
            for limit, since in COMING_LIMITS:
                if days > limit + 1:
                    message = (f"valid for {days:.0f} days: over the {limit}-day limit for public TLS "
                               f"certificates issued from {since}")
                    out.append(("server_validity", Severity.WARNING, message))
                    break
        if not f.has_san:
            out.append(("server_without_san", Severity.ERROR,
                        "a server certificate without subjectAltName: clients ignore the CN and refuse it"))
    for ca in s.chain:
        cf = ca if isinstance(ca, Facts) else facts_of(ca)
        ca_end, who = cf.not_after, cf.subject
        if ca_end < now:
            out.append(("chain_ca_expired", Severity.ERROR, f"the CA {who} in its chain expired on {ca_end:%Y-%m-%d}"))
        elif ca_end < now + dt.timedelta(days=warning_days):
            out.append(("chain_ca_expiring", Severity.WARNING,
                        f"the CA {who} in its chain expires on {ca_end:%Y-%m-%d} (within {warning_days} days)"))
        elif ca_end < f.not_after:
            out.append(("chain_ca_expiring", Severity.WARNING,
                        f"the CA {who} in its chain expires on {ca_end:%Y-%m-%d}, before the certificate itself"))
    if s.same_key_as:
        total = max(s.same_key_total, len(s.same_key_as))
        rest = f" (+{total - 5} or more)" if s.same_key_more else f" (+{total - 5} more)"
        others = ", ".join(s.same_key_as[:5]) + (rest if total > 5 or s.same_key_more else "")
        out.append(("shared_key", Severity.WARNING, f"the same key is in {others}"))
    if f.serial_bits < MIN_SERIAL_BITS:
        out.append(("low_serial_entropy", Severity.WARNING,
                    f"serial of {f.serial_bits} bits: fewer than the {MIN_SERIAL_BITS} bits of entropy required"))
    external = [u for u in s.usages if u.purpose == "mtls" and u.external]
    if external and f.self_signed:
        out.append(("self_signed_external_mtls", Severity.WARNING,
                    "self-signed but used for mutual TLS with an external endpoint ("
                    + ", ".join(u.endpoint for u in external) + "): the partner must pin it by hand"))
    if f.is_ca and (s.usages or s.served_as_leaf_at):
        where = [str(u) for u in s.usages] + [f"served at {e}" for e in s.served_as_leaf_at]
        out.append(("ca_as_leaf", Severity.ERROR, "a CA certificate used as an end-entity certificate: " + ", ".join(where)))
    at_risk = tuple(u.name for u in s.usages)
    findings = [Finding(rule, sev, msg + (f" (puts {', '.join(at_risk)} at risk)" if at_risk else ""), at_risk)
                for rule, sev, msg in out]
    return sorted(findings, key=lambda x: x.severity.rank)


def lint_many(subjects: Sequence[LintSubject], *, now: dt.datetime, warning_days: int = 30) -> dict[str, list[Finding]]:
    return {s.name: lint(s, now=now, warning_days=warning_days) for s in subjects}
