"""The values the Inventory takes and returns: roles, actors, audit actions and frozen records."""

from __future__ import annotations

import datetime as dt
import enum
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import InvalidInputError


class Role(enum.Enum):
    ADMIN = "admin"
    AUDITOR = "auditor"
    ANALYST = "analyst"

    @classmethod
    def parse(cls, value: str | Role) -> Role:
        if isinstance(value, Role):
            return value
        for m in cls:
            if m.value == str(value).strip().lower():
                return m
        raise InvalidInputError(f"unknown role {value!r}: choose admin, auditor or analyst")


@dataclass(frozen=True)
class Actor:
    """Who acts: a name and a role. Every Inventory call runs as one."""

    name: str
    role: Role = Role.ADMIN

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Role.parse(self.role))
        if not self.name or len(self.name) > 128 or any(ord(c) < 32 for c in self.name):
            raise InvalidInputError(f"invalid actor name {self.name!r}")

    @classmethod
    def from_env(cls) -> Actor:
        """``$CERTLAB_ACTOR`` (optionally ``name:role``) or the OS user, with the admin role."""
        raw = os.environ.get("CERTLAB_ACTOR", "")
        name, _, role = raw.partition(":")
        if not name:
            try:
                import getpass

                name = getpass.getuser()
            except (KeyError, OSError):
                name = "unknown"
        return cls(name, Role.parse(role or os.environ.get("CERTLAB_ROLE", "admin")))


class Action(enum.Enum):
    """What an audit event records."""

    INITIALISED = "initialised"
    CREATED = "created"
    CSR_CREATED = "csr_created"
    SIGNED_UPLOADED = "signed_uploaded"
    IMPORTED = "imported"
    EXPORTED = "exported"
    DOWNLOADED = "downloaded"
    KEY_VIEWED = "key_viewed"
    KEY_USED = "key_used"
    DELETED = "deleted"
    UPDATED = "updated"
    ROTATED = "rotated"
    CUT_OVER = "cut_over"
    REVOKED = "revoked"
    CA_CREATED = "ca_created"
    ISSUED = "issued"
    CSR_SIGNED = "csr_signed"
    CRL_ISSUED = "crl_issued"
    CREDENTIAL_ADDED = "credential_added"
    CREDENTIAL_UPDATED = "credential_updated"
    CREDENTIAL_DELETED = "credential_deleted"
    CONNECTION_TESTED = "connection_tested"
    CALLOUT = "callout"
    SIGNED = "signed"
    SCANNED = "scanned"
    REMINDER_SENT = "reminder_sent"
    REMINDER_FAILED = "reminder_failed"
    SETTINGS_CHANGED = "settings_changed"
    MASTER_KEY_ROTATED = "master_key_rotated"
    USER_ADDED = "user_added"
    USER_UPDATED = "user_updated"
    SIGNED_IN = "signed_in"
    SIGN_IN_FAILED = "sign_in_failed"
    AUDIT_VERIFIED = "audit_verified"
    EVIDENCE_EXPORTED = "evidence_exported"
    BACKUP = "backup"
    RESTORED = "restored"
    OPTIMIZED = "optimized"
    QUERIED = "queried"
    SYNTHETIC_GENERATED = "synthetic_generated"


class Outcome(enum.Enum):
    OK = "ok"
    DENIED = "denied"
    FAILED = "failed"


class Kind(enum.Enum):
    SELF_SIGNED = "self_signed"
    CA_SIGNED = "ca_signed"
    IMPORTED = "imported"
    TRUSTED_CA = "trusted_ca"
    INTERNAL_CA = "internal_ca"
    DISCOVERED = "discovered"


class Status(enum.Enum):
    """Stored statuses; ``expiring`` and ``expired`` are computed from the time, never stored."""

    PENDING = "pending"
    ACTIVE = "active"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    REVOKED = "revoked"
    RETIRED = "retired"

    @classmethod
    def parse(cls, value: str | Status) -> Status:
        if isinstance(value, Status):
            return value
        for m in cls:
            if m.value == str(value).strip().lower():
                return m
        raise InvalidInputError(f"unknown status {value!r}: choose one of {', '.join(m.value for m in cls)}")


def parse_kind(value: str | Kind) -> Kind:
    if isinstance(value, Kind):
        return value
    for m in Kind:
        if m.value == str(value).strip().lower():
            return m
    raise InvalidInputError(f"unknown kind {value!r}: choose one of {', '.join(m.value for m in Kind)}")


def iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.replace(tzinfo=None).isoformat() + "Z"


#: The keys of ``list --json`` and ``show --json`` that scripts are written against: always present, first,
#: in this order, never renamed. Keys after them (lineage, findings, ...) may be added, never removed.
CONTRACT_KEYS = (
    "name", "label", "kind", "status", "subject", "issuer", "serial", "not_before", "not_after", "days_to_expiry",
    "key_type", "signature_algorithm", "fingerprint_sha256", "sans", "exportable", "credentials",
)


@dataclass(frozen=True)
class CertificateRecord:
    """One inventory entry as users see it. Carries no key material."""

    id: int
    name: str
    label: str
    kind: str
    status: str
    stored_status: str
    purpose: str | None
    subject: str
    issuer: str | None
    serial: str | None
    not_before: dt.datetime | None
    not_after: dt.datetime | None
    days_to_expiry: int | None
    key_type: str | None
    signature_algorithm: str | None
    fingerprint_sha256: str | None
    sans: tuple[str, ...]
    exportable: bool
    has_private_key: bool
    is_ca: bool
    credentials: tuple[str, ...]
    owner: str = ""
    predecessor: str | None = None
    successor: str | None = None
    issuer_certificate: str | None = None
    created_at: dt.datetime | None = None
    findings: tuple[dict[str, Any], ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """The contract's keys first, then everything else a record knows (dashboards, reports)."""
        return {
            "name": self.name,
            "label": self.label,
            "kind": self.kind,
            "status": self.status,
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "not_before": iso(self.not_before),
            "not_after": iso(self.not_after),
            "days_to_expiry": self.days_to_expiry,
            "key_type": self.key_type,
            "signature_algorithm": self.signature_algorithm,
            "fingerprint_sha256": self.fingerprint_sha256,
            "sans": list(self.sans),
            "exportable": self.exportable,
            "credentials": list(self.credentials),
            "purpose": self.purpose,
            "is_ca": self.is_ca,
            "has_private_key": self.has_private_key,
            "owner": self.owner,
            "predecessor": self.predecessor,
            "successor": self.successor,
            "issuer_certificate": self.issuer_certificate,
            "findings_count": len(self.findings),
            "findings": list(self.findings),
        }


@dataclass(frozen=True)
class Credential:
    name: str
    certificate: str
    endpoint: str
    purpose: str
    owner: str = ""
    created_at: dt.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"] = iso(self.created_at)
        return d


@dataclass(frozen=True)
class ImportResult:
    file: str
    result: str  # imported | duplicate | rejected
    name: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "result": self.result, "name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    at: dt.datetime
    actor: str
    role: str
    action: str
    object: str
    details: dict[str, Any]
    outcome: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": iso(self.at), "actor": self.actor, "role": self.role,
                "action": self.action, "object": self.object, "details": self.details,
                "outcome": self.outcome, "hash": self.hash}


@dataclass(frozen=True)
class CertFilter:
    """Filters of ``list``: all optional; ``search`` matches name, label, subject, issuer, SANs, serial."""

    status: Status | None = None
    kind: Kind | None = None
    key_type: str | None = None
    issuer: str | None = None
    expiring_within: int | None = None
    search: str | None = None
    credential: str | None = None
    limit: int | None = None
    offset: int = 0

    def __post_init__(self) -> None:
        if self.status is not None:
            object.__setattr__(self, "status", Status.parse(self.status))
        if self.kind is not None:
            object.__setattr__(self, "kind", parse_kind(self.kind))
        if self.expiring_within is not None and (not isinstance(self.expiring_within, int) or self.expiring_within < 0):
            raise InvalidInputError(f"--expiring-within must be a whole number of days >= 0, not {self.expiring_within!r}")
        if self.search is not None and len(self.search) > 500:
            raise InvalidInputError("search text is longer than 500 characters")
        if self.limit is not None and self.limit < 0 or self.offset < 0:
            raise InvalidInputError("limit and offset must not be negative")


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    object: str | None = None
    outcome: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int | None = None
    offset: int = 0
    newest_first: bool = False
