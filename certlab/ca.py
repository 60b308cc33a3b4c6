"""An internal certificate authority, in memory: roots, intermediates, leaves, signed CSRs and CRLs.

Like trustme, it works without a database::

    ca = certlab.CA()                                   # a root
    issuing = ca.create_child_ca(permitted=("example.com",))
    leaf = issuing.issue_cert("api.example.com")        # an Issued with the chain above it
    crl = issuing.crl([certlab.Revocation(leaf.certificate.serial_number, "keyCompromise", now)], number=1)

Constraints are checked when something is issued, not left for a relying party to find: a CA below a
parent whose path length is used up is refused, and so is a leaf whose names the chain's name
constraints exclude.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .blob import Blob
from .certs import CLOCK_SKEW, MAX_DAYS, CertInfo, CertSpec, Issued, Purpose, build_certificate, utcnow
from .errors import ChainError, InvalidInputError
from .keys import KeyType, PrivateKey, generate_key, signature_hash_for, supported_private_key
from .names import Subject, general_name_text, parse_identities

DEFAULT_CA_KEY = KeyType.EC_P384
DEFAULT_CA_DAYS = 3650
DEFAULT_CRL_DAYS = 7

#: RFC 5280 reason names (section 5.3.1) as users type them.
REVOCATION_REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "cACompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "certificateHold": x509.ReasonFlags.certificate_hold,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
}


def parse_reason(value: str) -> str:
    """The canonical RFC 5280 name of a revocation reason (case-insensitive input)."""
    text = str(value).strip()
    for name in REVOCATION_REASONS:
        if name.lower() == text.lower():
            return name
    raise InvalidInputError(f"unknown revocation reason {value!r}: choose {', '.join(REVOCATION_REASONS)}")


@dataclass(frozen=True)
class NameRules:
    """Name constraints of a CA: permitted and excluded subtrees, given as plain strings.

    DNS subtrees are domains (``example.com`` covers it and every name below), IP subtrees are
    networks (``10.0.0.0/8``), e-mail subtrees are a domain (``example.com``), a host (``@host``
    is not needed: ``mail.example.com``) or one address (``ops@example.com``).
    """

    permitted_dns: tuple[str, ...] = ()
    excluded_dns: tuple[str, ...] = ()
    permitted_ip: tuple[str, ...] = ()
    excluded_ip: tuple[str, ...] = ()
    permitted_email: tuple[str, ...] = ()
    excluded_email: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for attr in ("permitted_dns", "excluded_dns", "permitted_ip", "excluded_ip", "permitted_email", "excluded_email"):
            value = getattr(self, attr)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, attr, tuple(str(v).strip().lower().rstrip(".") for v in value))
        self.to_x509()  # validates every subtree

    @property
    def empty(self) -> bool:
        return not any((self.permitted_dns, self.excluded_dns, self.permitted_ip, self.excluded_ip,
                        self.permitted_email, self.excluded_email))

    def to_x509(self) -> x509.NameConstraints | None:
        if self.empty:
            return None
        permitted = _subtrees(self.permitted_dns, self.permitted_ip, self.permitted_email)
        excluded = _subtrees(self.excluded_dns, self.excluded_ip, self.excluded_email)
        return x509.NameConstraints(permitted_subtrees=permitted or None, excluded_subtrees=excluded or None)

    def to_json(self) -> dict[str, list[str]]:
        return {k: list(getattr(self, k)) for k in ("permitted_dns", "excluded_dns", "permitted_ip",
                                                    "excluded_ip", "permitted_email", "excluded_email")}

    @classmethod
    def of(cls, nc: x509.NameConstraints | None) -> NameRules:
        if nc is None:
            return cls()
        parts: dict[str, list[str]] = {k: [] for k in cls().to_json()}
        for prefix, trees in (("permitted", nc.permitted_subtrees or []), ("excluded", nc.excluded_subtrees or [])):
            for gn in trees:
                if isinstance(gn, x509.DNSName):
                    parts[f"{prefix}_dns"].append(gn.value)
                elif isinstance(gn, x509.IPAddress):
                    parts[f"{prefix}_ip"].append(str(gn.value))
                elif isinstance(gn, x509.RFC822Name):
                    parts[f"{prefix}_email"].append(gn.value)
        return cls(**{k: tuple(v) for k, v in parts.items()})


def _subtrees(dns: Sequence[str], ips: Sequence[str], emails: Sequence[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for d in dns:
        name = d.lstrip(".")
        try:
            parse_identities([name])
        except InvalidInputError:
            raise InvalidInputError(f"invalid DNS name constraint {d!r}: give a domain such as example.com") from None
        out.append(x509.DNSName(name))
    for ip in ips:
        try:
            out.append(x509.IPAddress(ipaddress.ip_network(ip, strict=True)))
        except ValueError:
            raise InvalidInputError(f"invalid IP name constraint {ip!r}: give a network such as 10.0.0.0/8") from None
    for e in emails:
        if not e or " " in e or e.count("@") > 1:
            raise InvalidInputError(f"invalid e-mail name constraint {e!r}: give a domain or an address")
        out.append(x509.RFC822Name(e))
    return out


def _dns_within(name: str, tree: str) -> bool:
    name, tree = name.lower().rstrip("."), tree.lower().lstrip(".").rstrip(".")
    name = name.removeprefix("*.")
    return name == tree or name.endswith("." + tree)


def _email_within(addr: str, tree: str) -> bool:
    addr, tree = addr.lower(), tree.lower()
    if "@" in tree:
        return addr == tree
    domain = addr.rpartition("@")[2]
    if tree.startswith("."):
        return domain.endswith(tree)
    return domain == tree


def _matches(gn: x509.GeneralName, tree: x509.GeneralName) -> bool | None:
    """Whether a name lies in a subtree of its own type; None when the types differ."""
    if isinstance(gn, x509.DNSName) and isinstance(tree, x509.DNSName):
        return _dns_within(gn.value, tree.value)
    if isinstance(gn, x509.IPAddress) and isinstance(tree, x509.IPAddress):
        net = tree.value
        value = gn.value
        if not isinstance(net, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            return False
        if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            return value.version == net.version and value.subnet_of(net)  # type: ignore[arg-type]
        return value.version == net.version and value in net
    if isinstance(gn, x509.RFC822Name) and isinstance(tree, x509.RFC822Name):
        return _email_within(gn.value, tree.value)
    return None


def check_name_constraints(names: Iterable[x509.GeneralName], issuers: Sequence[x509.Certificate]) -> None:
    """Refuse names that a CA in ``issuers`` excludes or does not permit (RFC 5280 section 4.2.1.10)."""
    names = list(names)
    for ca_cert in issuers:
        try:
            nc = ca_cert.extensions.get_extension_for_class(x509.NameConstraints).value
        except x509.ExtensionNotFound:
            continue
        ca_name = _cn(ca_cert)
        for gn in names:
            text = general_name_text(gn)
            for tree in nc.excluded_subtrees or []:
                if _matches(gn, tree):
                    raise ChainError(f"{text} is excluded by the name constraints of {ca_name} ({general_name_text(tree)})")
            same_type = [t for t in (nc.permitted_subtrees or []) if _matches(gn, t) is not None]
            if same_type and not any(_matches(gn, t) for t in same_type):
                allowed = ", ".join(general_name_text(t) for t in same_type)
                raise ChainError(f"{text} is outside the names {ca_name} may issue for (permitted: {allowed})")


def _cn(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else cert.subject.rfc4514_string()


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None


def _ski(cert: x509.Certificate) -> x509.SubjectKeyIdentifier:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key())


@dataclass(frozen=True)
class Revocation:
    """One entry of a CRL: the serial, the RFC 5280 reason name and when it was revoked."""

    serial: int
    reason: str
    revoked_at: dt.datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", parse_reason(self.reason))


@dataclass(frozen=True, eq=False)
class CA:
    """A certificate authority: its certificate, its key and the chain above it (empty for a root).

    ``CA()`` makes a new root; ``CA.load(cert, key, chain)`` wraps an existing one.
    ``copy_csr_sans`` is the policy for signing outside CSRs: copy the SANs they ask for, or not.
    """

    certificate: x509.Certificate
    private_key: PrivateKey = field(repr=False)
    chain: tuple[x509.Certificate, ...] = ()
    copy_csr_sans: bool = True

    # --- making CAs ---------------------------------------------------------------------------------

    def __init__(
        self,
        subject: str | Subject | None = None,
        *,
        key_type: KeyType | str = DEFAULT_CA_KEY,
        days: int = DEFAULT_CA_DAYS,
        path_length: int | None = None,
        name_rules: NameRules | None = None,
        key: PrivateKey | None = None,
        copy_csr_sans: bool = True,
        now: dt.datetime | None = None,
        _parts: tuple[x509.Certificate, PrivateKey, tuple[x509.Certificate, ...]] | None = None,
    ) -> None:
        if _parts is not None:
            cert, private_key, chain = _parts
        else:
            _check_days(days)
            _check_path_length(path_length)
            private_key = key or generate_key(KeyType.parse(key_type))
            name = Subject.parse(subject).with_default_cn("certlab Root CA").to_x509()
            cert = build_certificate(
                subject=name, public_key=private_key.public_key(), issuer=name, issuer_key=private_key, days=days,
                is_ca=True, path_length=path_length,
                name_constraints=(name_rules or NameRules()).to_x509(), not_before=now,
            )
            chain = ()
        object.__setattr__(self, "certificate", cert)
        object.__setattr__(self, "private_key", private_key)
        object.__setattr__(self, "chain", tuple(chain))
        object.__setattr__(self, "copy_csr_sans", copy_csr_sans)

    @classmethod
    def load(cls, certificate: x509.Certificate, private_key: PrivateKey,
             chain: Sequence[x509.Certificate] = (), *, copy_csr_sans: bool = True) -> CA:
        """Wrap an existing CA certificate and its key (the inventory's stored CAs)."""
        bc = _basic_constraints(certificate)
        if bc is None or not bc.ca:
            raise ChainError(f"{_cn(certificate)} is not a CA certificate")
        supported_private_key(private_key, _cn(certificate))
        from .keys import same_public_key

        if not same_public_key(certificate.public_key(), private_key.public_key()):
            raise ChainError(f"the private key does not belong to {_cn(certificate)}")
        return cls(copy_csr_sans=copy_csr_sans, _parts=(certificate, private_key, tuple(chain)))

    def create_child_ca(
        self,
        subject: str | Subject | None = None,
        *,
        key_type: KeyType | str = DEFAULT_CA_KEY,
        days: int | None = None,
        path_length: int | None = 0,
        name_rules: NameRules | None = None,
        key: PrivateKey | None = None,
        copy_csr_sans: bool = True,
        now: dt.datetime | None = None,
    ) -> CA:
        """An intermediate CA signed by this one. Its path length defaults to 0 (it issues leaves only)."""
        _check_path_length(path_length)
        self.check_may_sign_ca(path_length)
        private_key = key or generate_key(KeyType.parse(key_type))
        name = Subject.parse(subject).with_default_cn("certlab Intermediate CA").to_x509()
        start, end = self._validity(days, now, "the intermediate CA")
        cert = build_certificate(
            subject=name, public_key=private_key.public_key(), issuer=self.certificate.subject,
            issuer_key=self.private_key, days=0, is_ca=True, path_length=path_length,
            issuer_ski=_ski(self.certificate), name_constraints=(name_rules or NameRules()).to_x509(),
            not_before=start, not_after=end,
        )
        return CA(copy_csr_sans=copy_csr_sans, _parts=(cert, private_key, (self.certificate, *self.chain)))

    def check_may_sign_ca(self, child_path_length: int | None) -> None:
        """Refuse a CA below this one when a path length in the chain would be exceeded."""
        for depth, ca_cert in enumerate((self.certificate, *self.chain)):
            bc = _basic_constraints(ca_cert)
            if bc is None or bc.path_length is None:
                continue
            # ``depth`` CA certificates already sit between ca_cert and this CA; the new one adds one.
            if depth + 1 > bc.path_length:
                raise ChainError(
                    f"{_cn(ca_cert)} has path length {bc.path_length}: it allows no further CA "
                    f"{'below it' if depth == 0 else 'at this depth'}"
                )
            if child_path_length is None or child_path_length > bc.path_length - depth - 1:
                limit = bc.path_length - depth - 1
                raise ChainError(
                    f"path length {'unlimited' if child_path_length is None else child_path_length} would exceed "
                    f"what {_cn(ca_cert)} allows below it (at most {limit})"
                )

    # --- issuing ------------------------------------------------------------------------------------

    def issue(self, spec: CertSpec, key: PrivateKey | None = None, *, now: dt.datetime | None = None) -> Issued:
        """A leaf certificate for ``spec`` (a new key unless given), with the chain above it."""
        check_name_constraints(self._names_of(spec.general_names, spec.x509_subject()), self.issuers)
        private_key = key or generate_key(spec.key_type)
        cert = self.certify(spec.x509_subject(), private_key.public_key(), sans=spec.general_names,
                            purpose=spec.purpose, days=spec.days, now=now, what=spec.name)
        return Issued(cert, private_key, self.issuers)

    def certify(self, subject: x509.Name, public_key: object, *, sans: Sequence[x509.GeneralName] = (),
                purpose: Purpose | str = Purpose.SERVER, days: int = 365, now: dt.datetime | None = None,
                what: str = "certificate") -> x509.Certificate:
        """Sign a leaf for a subject and public key as given (a renewal keeps its predecessor's names)."""
        check_name_constraints(self._names_of(sans, subject), self.issuers)
        start, end = self._validity(days, now, what)
        return build_certificate(
            subject=subject, public_key=public_key, issuer=self.certificate.subject, issuer_key=self.private_key,
            days=days, sans=sans, purpose=Purpose.parse(purpose), issuer_ski=_ski(self.certificate),
            not_before=start, not_after=end,
        )

    def issue_cert(self, *identities: str, name: str = "leaf", key_type: KeyType | str = KeyType.EC_P256,
                   days: int = 365, subject: str | Subject | None = None,
                   purpose: Purpose | str = Purpose.SERVER) -> Issued:
        """trustme's verb: a leaf for the given identities (DNS names, IPs, e-mail addresses)."""
        return self.issue(CertSpec(name=name, key_type=KeyType.parse(key_type), days=days,
                                   subject=Subject.parse(subject), sans=tuple(identities),
                                   purpose=Purpose.parse(purpose)))

    def sign_csr(self, csr: x509.CertificateSigningRequest, *, days: int = 365,
                 purpose: Purpose | str = Purpose.SERVER, now: dt.datetime | None = None,
                 source: str = "CSR") -> x509.Certificate:
        """Sign an outside request. Its SANs are copied only when this CA's policy allows it."""
        if not csr.is_signature_valid:
            raise ChainError(f"{source}: the request's signature does not verify")
        _check_days(days)
        sans: tuple[x509.GeneralName, ...] = ()
        try:
            requested = tuple(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        except x509.ExtensionNotFound:
            requested = ()
        if requested and self.copy_csr_sans:
            sans = tuple(g for g in requested if isinstance(g, (x509.DNSName, x509.IPAddress, x509.RFC822Name,
                                                               x509.UniformResourceIdentifier)))
        subject = csr.subject
        if not subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME) and not sans:
            raise InvalidInputError(f"{source}: the request has neither a common name nor names this CA copies")
        return self.certify(subject, csr.public_key(), sans=sans, purpose=purpose, days=days, now=now, what=source)

    # --- revocation ---------------------------------------------------------------------------------

    def crl(self, revoked: Iterable[Revocation], *, number: int, this_update: dt.datetime | None = None,
            next_update: dt.datetime | None = None, days: int = DEFAULT_CRL_DAYS) -> x509.CertificateRevocationList:
        """A signed CRL listing ``revoked``, numbered ``number`` (callers keep numbers increasing)."""
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise InvalidInputError(f"CRL number must be a positive whole number, not {number!r}")
        if not 1 <= days <= 366:
            raise InvalidInputError(f"CRL validity of {days} days is out of range 1..366")
        start = this_update or utcnow()
        end = next_update or start + dt.timedelta(days=days)
        if end <= start:
            raise InvalidInputError("the CRL's nextUpdate must come after its thisUpdate")
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(start)
            .next_update(end)
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(_ski(self.certificate)),
                           critical=False)
        )
        for r in revoked:
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(r.serial)
                .revocation_date(r.revoked_at)
                .add_extension(x509.CRLReason(REVOCATION_REASONS[r.reason]), critical=False)
                .build()
            )
            builder = builder.add_revoked_certificate(entry)
        return builder.sign(self.private_key, signature_hash_for(self.private_key))  # type: ignore[arg-type]

    # --- views --------------------------------------------------------------------------------------

    @property
    def issuers(self) -> tuple[x509.Certificate, ...]:
        """This CA's certificate and the chain above it: what a leaf it issues carries."""
        return (self.certificate, *self.chain)

    @property
    def info(self) -> CertInfo:
        return CertInfo.of(self.certificate)

    @property
    def path_length(self) -> int | None:
        bc = _basic_constraints(self.certificate)
        return None if bc is None else bc.path_length

    @property
    def name_rules(self) -> NameRules:
        try:
            return NameRules.of(self.certificate.extensions.get_extension_for_class(x509.NameConstraints).value)
        except x509.ExtensionNotFound:
            return NameRules()

    @property
    def cert_pem(self) -> Blob:
        return Blob(self.certificate.public_bytes(serialization.Encoding.PEM), "ca.pem", "application/x-pem-file")

    @property
    def private_key_pem(self) -> Blob:
        data = self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
        return Blob(data, "ca.key.pem", "application/x-pem-file", secret=True)

    def __repr__(self) -> str:
        return f"CA({self.certificate.subject.rfc4514_string()!r}, depth={len(self.chain)})"

    # --- internals ----------------------------------------------------------------------------------

    def _validity(self, days: int | None, now: dt.datetime | None, what: str) -> tuple[dt.datetime, dt.datetime]:
        start = now or utcnow()
        ca_end = self.certificate.not_valid_after_utc.replace(tzinfo=None)
        if days is None:
            return start, ca_end
        _check_days(days)
        end = start + dt.timedelta(days=days)
        if end > ca_end:
            raise InvalidInputError(
                f"{what}: {days} days would outlive its CA {_cn(self.certificate)} (valid until "
                f"{ca_end.date().isoformat()}); ask for fewer days"
            )
        if start + CLOCK_SKEW < self.certificate.not_valid_before_utc.replace(tzinfo=None):
            raise InvalidInputError(f"{what}: the CA {_cn(self.certificate)} is not valid yet")
        if start > ca_end:
            raise InvalidInputError(f"{what}: the CA {_cn(self.certificate)} has expired")
        return start, end

    @staticmethod
    def _names_of(sans: Sequence[x509.GeneralName], subject: x509.Name) -> list[x509.GeneralName]:
        """The names constraints apply to: the SANs, and a host-like CN when there are no DNS SANs."""
        names = list(sans)
        if not any(isinstance(g, x509.DNSName) for g in names):
            for attr in subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME):
                try:
                    gn = parse_identities([str(attr.value)])[0]
                except InvalidInputError:
                    continue
                if isinstance(gn, x509.DNSName) and "." in gn.value:
                    names.append(gn)
        for attr in subject.get_attributes_for_oid(x509.NameOID.EMAIL_ADDRESS):
            names.append(x509.RFC822Name(str(attr.value)))
        return names


def _check_days(days: int) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidInputError(f"validity of {days!r} days is out of range 1..{MAX_DAYS}")


def _check_path_length(path_length: int | None) -> None:
    if path_length is not None and (isinstance(path_length, bool) or not isinstance(path_length, int)
                                    or not 0 <= path_length <= 16):
        raise InvalidInputError(f"path length {path_length!r} is out of range 0..16")


__all__ = ["CA", "REVOCATION_REASONS", "NameRules", "Revocation", "check_name_constraints", "parse_reason"]
