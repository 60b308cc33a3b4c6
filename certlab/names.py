"""Names: the unique (API) name, subjects given as ``CN=..,O=..`` and identities given as plain strings.

An identity's type is detected, as trustme does: ``"api.example.com"`` is a DNS name, ``"10.0.0.5"``
an IP address, ``"ops@example.com"`` an e-mail address and ``"https://example.com/x"`` a URI.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from .errors import InvalidInputError

_UNIQUE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

MAX_LABEL = 200

# Subject attributes as users type them, with RFC 5280 upper bounds on their length.
SUBJECT_FIELDS: dict[str, tuple[x509.ObjectIdentifier, int]] = {
    "CN": (NameOID.COMMON_NAME, 64),
    "O": (NameOID.ORGANIZATION_NAME, 64),
    "OU": (NameOID.ORGANIZATIONAL_UNIT_NAME, 64),
    "L": (NameOID.LOCALITY_NAME, 128),
    "ST": (NameOID.STATE_OR_PROVINCE_NAME, 128),
    "C": (NameOID.COUNTRY_NAME, 2),
    "emailAddress": (NameOID.EMAIL_ADDRESS, 128),
}
_DER_ORDER = ("C", "ST", "L", "O", "OU", "CN", "emailAddress")
_FIELD_ALIASES = {k.lower(): k for k in SUBJECT_FIELDS} | {"e": "emailAddress", "email": "emailAddress"}


def check_unique_name(name: str) -> str:
    """A letter, then letters, digits or underscores; at most 80 characters."""
    if not isinstance(name, str) or not _UNIQUE_NAME.fullmatch(name):
        raise InvalidInputError(
            f"invalid unique name {name!r}: use a letter, then letters, digits or underscores (at most 80)"
        )
    return name


def check_label(label: str) -> str:
    if len(label) > MAX_LABEL:
        raise InvalidInputError(f"label is longer than {MAX_LABEL} characters")
    if _CONTROL.search(label):
        raise InvalidInputError("label contains control characters")
    return label


@dataclass(frozen=True)
class Subject:
    """Subject fields in the order users give them; values kept literally."""

    fields: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, text: str | Subject | None) -> Subject:
        if isinstance(text, Subject):
            return text
        if text is None or not text.strip():
            return cls(())
        out: list[tuple[str, str]] = []
        for part in _split_unescaped(text.strip().lstrip("/"), ","):
            if not part.strip():
                continue
            key, sep, value = part.partition("=")
            if not sep:
                raise InvalidInputError(f"subject part {part.strip()!r} is not of the form KEY=VALUE")
            canonical = _FIELD_ALIASES.get(key.strip().lower())
            if canonical is None:
                known = ", ".join(SUBJECT_FIELDS)
                raise InvalidInputError(f"unknown subject field {key.strip()!r}: use {known}")
            out.append((canonical, _check_value(canonical, value.strip().replace("\\,", ","))))
        return cls(tuple(out))

    @classmethod
    def of(cls, **fields: str | None) -> Subject:
        """Build from keyword arguments named like the form: CN, O, OU, L, ST, C, emailAddress."""
        out = []
        for key, value in fields.items():
            if value is None or value == "":
                continue
            canonical = _FIELD_ALIASES.get(key.lower())
            if canonical is None:
                raise InvalidInputError(f"unknown subject field {key!r}")
            out.append((canonical, _check_value(canonical, value)))
        return cls(tuple(out))

    def get(self, key: str) -> str | None:
        for k, v in self.fields:
            if k == key:
                return v
        return None

    def with_default_cn(self, cn: str) -> Subject:
        if self.get("CN") is not None:
            return self
        return Subject((("CN", cn[:64]),) + self.fields)

    def to_x509(self) -> x509.Name:
        """The X.509 name, its attributes in the order openssl and CAs encode them (C, ST, L, O, OU, CN,
        emailAddress), whatever order they were typed in; repeated fields keep their typed order.
        Shown as RFC 4514 text, most specific first: ``CN=..,OU=..,O=..,C=..``."""
        ordered = sorted(self.fields, key=lambda kv: _DER_ORDER.index(kv[0]))
        return x509.Name([x509.NameAttribute(SUBJECT_FIELDS[k][0], v) for k, v in ordered])

    def __str__(self) -> str:
        return ",".join(f"{k}={v.replace(',', chr(92) + ',')}" for k, v in self.fields)


_NAME_OVERRIDES = {NameOID.EMAIL_ADDRESS: "emailAddress"}


def name_text(name: x509.Name) -> str:
    """An X.509 name as users read and type it: RFC 4514, with ``emailAddress`` spelled out."""
    return name.rfc4514_string(_NAME_OVERRIDES)


def common_name(name: x509.Name) -> str | None:
    """The (last, most specific) common name of a name, if it has one."""
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attrs:
        return None
    value = attrs[-1].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, current, escaped = [], [], False
    for ch in text:
        if escaped:
            current.append("\\" + ch if ch == sep else ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _check_value(key: str, value: str) -> str:
    limit = SUBJECT_FIELDS[key][1]
    if not value:
        raise InvalidInputError(f"subject field {key} is empty")
    if _CONTROL.search(value):
        raise InvalidInputError(f"subject field {key} contains control characters")
    if key == "C" and not re.fullmatch(r"[A-Za-z]{2}", value):
        raise InvalidInputError(f"country code {value!r} must be two letters, such as DE or US")
    if len(value) > limit:
        raise InvalidInputError(f"subject field {key} is longer than {limit} characters")
    if key == "C":
        return value.upper()
    if key == "emailAddress":
        return _check_email(value)
    return value


def _check_email(value: str) -> str:
    """Check an e-mail address; return it with its domain as an A-label (punycode)."""
    local, at, domain = value.rpartition("@")
    if not at or not local or "@" in local or _CONTROL.search(value) or " " in value or not local.isascii():
        raise InvalidInputError(f"invalid e-mail address {value!r}")
    return f"{local}@{_check_dns(domain, allow_wildcard=False, what='e-mail domain')}"


def _check_dns(value: str, *, allow_wildcard: bool, what: str = "DNS name") -> str:
    try:
        ascii_name = value.encode("idna").decode("ascii") if not value.isascii() else value
    except UnicodeError:
        raise InvalidInputError(f"invalid {what} {value!r}") from None
    name = ascii_name.rstrip(".").lower()
    labels = name.split(".")
    if allow_wildcard and labels and labels[0] == "*" and len(labels) > 2:
        labels = labels[1:]
    if not name or len(name) > 253 or not all(_DNS_LABEL.fullmatch(lbl) for lbl in labels):
        raise InvalidInputError(f"invalid {what} {value!r}")
    return name


def parse_identity(value: str) -> x509.GeneralName:
    """Detect the type of a SAN given as a plain string."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidInputError(f"invalid SAN {value!r}: empty")
    if _CONTROL.search(text) or " " in text:
        raise InvalidInputError(f"invalid SAN {value!r}: contains spaces or control characters")
    try:
        return x509.IPAddress(ipaddress.ip_address(text))
    except ValueError:
        pass
    if "/" in text and "://" not in text:
        try:
            return x509.IPAddress(ipaddress.ip_network(text, strict=True))
        except ValueError:
            raise InvalidInputError(f"invalid SAN {value!r}") from None
    if "://" in text:
        scheme = text.split("://", 1)[0]
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme) or len(text) > 2048:
            raise InvalidInputError(f"invalid URI SAN {value!r}")
        if not text.isascii():
            raise InvalidInputError(
                f"invalid URI SAN {value!r}: non-ASCII characters must be percent-encoded (host as punycode)")
        return x509.UniformResourceIdentifier(text)
    if "@" in text:
        return x509.RFC822Name(_check_email(text))
    return x509.DNSName(_check_dns(text, allow_wildcard=True))


def parse_identities(values: Iterable[str]) -> tuple[x509.GeneralName, ...]:
    seen: list[x509.GeneralName] = []
    for v in values:
        gn = parse_identity(v)
        if gn not in seen:
            seen.append(gn)
    return tuple(seen)


def general_name_text(gn: x509.GeneralName) -> str:
    """The plain string of a SAN, as users type it."""
    if isinstance(gn, x509.OtherName):
        return f"othername:{gn.type_id.dotted_string}"
    if isinstance(gn, x509.DirectoryName):
        return name_text(gn.value)
    if isinstance(gn, x509.RegisteredID):
        return gn.value.dotted_string
    return str(gn.value)


def first_dns_or_ip(sans: Sequence[x509.GeneralName]) -> str | None:
    for gn in sans:
        if isinstance(gn, (x509.DNSName, x509.IPAddress, x509.RFC822Name)):
            return general_name_text(gn)
    return None
