"""The Inventory's result and input types: what its actions return (and ImportSource, which ``import_files``
takes), as frozen dataclasses.

Each is re-exported by the module of the actions that use it (``certlab.inventory.reports.Summary`` is this
``Summary``) and by ``certlab.inventory``; this module loads on first use of any of them. Building a frozen
dataclass costs about a millisecond, and an action such as reading one certificate needs none of these:
``certlab show`` should not build them all first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..certs import MAX_DAYS
from ..errors import InvalidInputError
from ..models import Actor, CertificateRecord, Credential, Role, iso
from .rotation import DEFAULT_DAYS_BEFORE

if TYPE_CHECKING:
    from cryptography import x509

    from ..keys import PrivateKey


# --- Importing (the core actions) -------------------------------------------------------------------
@dataclass(frozen=True)
class ImportSource:
    """One file to import: where it came from (for messages) and its bytes."""

    source: str
    data: bytes



# --- Analytics (the analytics actions) --------------------------------------------------------------
@dataclass(frozen=True)
class ParquetExport:
    """What ``to_parquet`` wrote: one file per view, with its row count."""

    folder: Path
    files: tuple[tuple[str, Path, int], ...]

    def to_json(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "files": [{"view": v, "path": str(p), "rows": n} for v, p, n in self.files]}



# --- Synthetic inventories (the bulk actions) -------------------------------------------------------
@dataclass(frozen=True)
class SyntheticResult:
    """What ``generate_synthetic`` added."""

    certificates: int
    cas: tuple[str, ...]
    audit_events: int
    token: str

    def to_json(self) -> dict[str, Any]:
        return {"certificates": self.certificates, "cas": list(self.cas), "audit_events": self.audit_events,
                "token": self.token}



# --- Integrations: signers, scans, lint (the integrations actions) ----------------------------------
@dataclass(frozen=True)
class _Use:
    """A resolved signer: the credential (None when named by certificate), its certificate and chain."""

    credential: Credential | None
    certificate: str
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    key: PrivateKey = field(repr=False)
    expired: bool = False

    @property
    def subject(self) -> str:
        return self.credential.name if self.credential else self.certificate

    def details(self) -> dict[str, Any]:
        d: dict[str, Any] = {"certificate": self.certificate}
        if self.credential:
            d["credential"] = self.credential.name
        return d


@dataclass(frozen=True)
class ScannedCertificate:
    name: str
    subject: str
    fingerprint_sha256: str
    not_after: dt.datetime
    new: bool

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "subject": self.subject, "fingerprint_sha256": self.fingerprint_sha256,
                "not_after": self.not_after.isoformat() + "Z", "new": self.new}


@dataclass(frozen=True)
class ScanResult:
    """What one endpoint served at a scan (or why nothing could be fetched)."""

    endpoint: str
    ok: bool
    chain: tuple[ScannedCertificate, ...] = ()
    tls_version: str | None = None
    changed: bool = False
    previous_leaf: str | None = None
    problem: str | None = None
    reason: str | None = None

    @property
    def new_certificates(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.chain if c.new)

    def to_json(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "ok": self.ok, "tls_version": self.tls_version,
                "chain": [c.to_json() for c in self.chain], "new_certificates": list(self.new_certificates),
                "changed": self.changed, "previous_leaf": self.previous_leaf, "problem": self.problem,
                "reason": self.reason}


@dataclass(frozen=True)
class LintReport:
    """The findings for one certificate."""

    certificate: str
    kind: str
    status: str
    findings: tuple[Any, ...]

    def to_json(self) -> dict[str, Any]:
        return {"certificate": self.certificate, "kind": self.kind, "status": self.status,
                "findings_count": len(self.findings), "findings": [f.to_json() for f in self.findings]}



# --- Internal CAs (the lifecycle actions) -----------------------------------------------------------
@dataclass(frozen=True)
class CAStatus:
    """What an internal CA is allowed to do, and what it has done."""

    name: str
    parent: str | None
    subject: str
    not_after: dt.datetime | None
    status: str
    path_length: int | None
    name_rules: dict[str, list[str]]
    copy_csr_sans: bool
    crl_number: int
    crl_days: int
    issued: int
    revoked: int
    exportable: bool

    def to_json(self) -> dict[str, Any]:
        from ..models import iso

        return {"name": self.name, "parent": self.parent, "subject": self.subject, "not_after": iso(self.not_after),
                "status": self.status, "path_length": self.path_length, "name_constraints": self.name_rules,
                "copy_csr_sans": self.copy_csr_sans, "crl_number": self.crl_number, "crl_days": self.crl_days,
                "issued": self.issued, "revoked": self.revoked, "key_exportable": self.exportable}



# --- Backup, restore, master key (the maintenance actions) ------------------------------------------
@dataclass(frozen=True)
class BackupResult:
    path: Path
    keys_path: Path | None
    certificates: int
    private_keys: int
    audit_head: str
    audit_events: int
    size: int
    stale_removed: tuple[Path, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "keys_path": str(self.keys_path) if self.keys_path else None,
                "certificates": self.certificates, "private_keys": self.private_keys,
                "audit_head": self.audit_head, "audit_events": self.audit_events, "bytes": self.size,
                "stale_removed": [str(p) for p in self.stale_removed]}


@dataclass(frozen=True)
class OptimizeResult:
    """What ``Inventory.optimize()`` rewrote: rows per table, the file's size before and after."""

    path: Path
    rows: dict[str, int]
    bytes_before: int
    bytes_after: int
    seconds: float
    stale_removed: tuple[Path, ...] = ()

    @property
    def certificates(self) -> int:
        return self.rows.get("certificates", 0)

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "certificates": self.certificates, "rows": dict(self.rows),
                "bytes_before": self.bytes_before, "bytes_after": self.bytes_after,
                "seconds": round(self.seconds, 3), "stale_removed": [str(p) for p in self.stale_removed]}


@dataclass(frozen=True)
class RestoreResult:
    source: Path
    path: Path
    replaced: Path | None
    certificates: int
    private_keys: int
    audit_head: str
    checked_only: bool = False
    stale_removed: tuple[Path, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"source": str(self.source), "path": str(self.path),
                "replaced": str(self.replaced) if self.replaced else None, "certificates": self.certificates,
                "private_keys": self.private_keys, "audit_head": self.audit_head, "checked_only": self.checked_only,
                "stale_removed": [str(p) for p in self.stale_removed]}


@dataclass(frozen=True)
class MasterKeyRotation:
    """What a master-key rotation did: the inventory's data keys, and the pre-restore copies beside it."""

    keys_rewrapped: int
    new_key_id: str
    pre_restore_rewrapped: tuple[Path, ...] = ()
    pre_restore_failed: tuple[tuple[Path, str], ...] = ()  # (copy, why): its key file still holds old keys

    def to_json(self) -> dict[str, Any]:
        return {"keys_rewrapped": self.keys_rewrapped, "new_key_id": self.new_key_id,
                "pre_restore_rewrapped": [str(p) for p in self.pre_restore_rewrapped],
                "pre_restore_failed": {str(p): why for p, why in self.pre_restore_failed}}



# --- Rotation (the rotation actions) ----------------------------------------------------------------
@dataclass(frozen=True)
class RotationPolicy:
    """When to rotate: ``days_before`` not_after, or once ``lifetime_share`` (0..1) of the lifetime passed."""

    days_before: int | None = DEFAULT_DAYS_BEFORE
    lifetime_share: float | None = None
    allow_key_reuse: bool = False
    source: str = "default"  # certificate | default

    def __post_init__(self) -> None:
        if self.days_before is not None and self.lifetime_share is not None:
            raise InvalidInputError("a rotation policy is days before expiry or a share of the lifetime, not both")
        if self.days_before is None and self.lifetime_share is None:
            object.__setattr__(self, "days_before", DEFAULT_DAYS_BEFORE)
        if self.days_before is not None and (isinstance(self.days_before, bool) or not isinstance(self.days_before, int)
                                             or not 0 <= self.days_before <= MAX_DAYS):
            raise InvalidInputError(f"rotation days before expiry must be a whole number 0..{MAX_DAYS}, "
                                    f"not {self.days_before!r}")
        if self.lifetime_share is not None and not (isinstance(self.lifetime_share, (int, float))
                                                    and 0 < float(self.lifetime_share) < 1):
            raise InvalidInputError(f"rotation share of lifetime must be between 0 and 1 (e.g. 0.67), "
                                    f"not {self.lifetime_share!r}")

    def due_at(self, not_before: dt.datetime, not_after: dt.datetime) -> dt.datetime:
        if self.lifetime_share is not None:
            return not_before + (not_after - not_before) * float(self.lifetime_share)
        return not_after - dt.timedelta(days=self.days_before or 0)

    def describe(self) -> str:
        text = (f"{round(float(self.lifetime_share) * 100)}% of lifetime" if self.lifetime_share is not None
                else f"{self.days_before} days before expiry")
        return text + (", key reuse allowed" if self.allow_key_reuse else "")

    def to_json(self) -> dict[str, Any]:
        return {"days_before": self.days_before, "lifetime_share": self.lifetime_share,
                "allow_key_reuse": self.allow_key_reuse, "source": self.source, "describe": self.describe()}


@dataclass(frozen=True)
class RotationDue:
    """A certificate whose policy says it is due (or will be) for rotation."""

    name: str
    kind: str
    not_after: dt.datetime
    due_at: dt.datetime
    policy: str
    mode: str  # renew (new certificate now) | csr (pending CSR for its outside CA)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "not_after": iso(self.not_after), "due_at": iso(self.due_at),
                "policy": self.policy, "mode": self.mode}


@dataclass(frozen=True)
class RotationOutcome:
    """What ``rotate_due`` did with one certificate."""

    name: str
    result: str  # rotated | csr_created | failed
    successor: str | None = None
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "result": self.result, "successor": self.successor, "message": self.message}



# --- Reminders (the reminders actions) --------------------------------------------------------------
@dataclass(frozen=True)
class DeliveryResult:
    certificate: str
    threshold: int
    channel: str
    recipient: str
    ok: bool
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"certificate": self.certificate, "threshold": self.threshold, "channel": self.channel,
                "recipient": self.recipient, "ok": self.ok, "error": self.error}


@dataclass(frozen=True)
class _Schedules:
    """Reminder thresholds as configured: per certificate, per owner (merged over a certificate's owner
    and its credentials' owners), else the default."""

    own: dict[str, tuple[int, ...]]
    by_owner: dict[str, set[int]]
    credential_owners: dict[int, list[str]]
    default: tuple[int, ...]

    def thresholds(self, row: dict[str, Any]) -> tuple[tuple[int, ...], str]:
        own = self.own.get(str(row["id"]))
        if own:
            return own, "certificate"
        owners = [row["owner"]] if row.get("owner") else []
        owners += self.credential_owners.get(int(row["id"]), [])
        merged: set[int] = set()
        sources = []
        for o in dict.fromkeys(owners):
            value = self.by_owner.get(o)
            if value:
                merged |= value
                sources.append(o)
        if merged:
            return tuple(sorted(merged, reverse=True)), "owner " + ", ".join(sources)
        return self.default, "default"



# --- Reports (the reports actions) ------------------------------------------------------------------
@dataclass(frozen=True)
class Summary:
    """The Overview's numbers, at one moment."""

    at: dt.datetime
    total: int
    active: int
    expiring_30: int
    expiring_60: int
    expiring_90: int
    expired: int
    pending: int
    revoked: int
    retired: int
    credentials: int
    credentials_at_risk: int  # bound to a certificate expired or expiring within 30 days
    by_kind: Mapping[str, int] = field(default_factory=dict)
    by_key_type: Mapping[str, int] = field(default_factory=dict)
    findings: int = 0             # lint findings (errors and warnings) as of the last lint run
    findings_errors: int = 0
    linted_at: dt.datetime | None = None


@dataclass(frozen=True)
class ExpiryBin:
    start: dt.date
    expired: int
    expiring: int
    later: int

    @property
    def total(self) -> int:
        return self.expired + self.expiring + self.later


@dataclass(frozen=True)
class CertificatePage:
    records: tuple[CertificateRecord, ...]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True)
class ExpiryRange:
    """Certificates whose not_after lies in [start, end); either end open."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.start and self.end and self.end <= self.start:
            raise InvalidInputError("the expiry range ends before it starts")


@dataclass(frozen=True)
class CredentialState:
    """A named credential with the state of the certificate it uses (one query for all of them)."""

    name: str
    purpose: str
    endpoint: str
    owner: str
    certificate: str
    status: str  # as on the Certificates page: active, expiring, expired, revoked, retired, pending
    not_after: dt.datetime | None
    days_to_expiry: int | None


@dataclass(frozen=True)
class FilterOptions:
    kinds: tuple[str, ...]
    key_types: tuple[str, ...]
    issuers: tuple[str, ...]
    credentials: tuple[str, ...]



# --- Dashboard users (the users actions) ------------------------------------------------------------
@dataclass(frozen=True)
class User:
    """A dashboard user as admins see it. Carries no password hash."""

    name: str
    role: Role
    disabled: bool
    must_change_password: bool
    failed_sign_ins: int
    locked_until: dt.datetime | None
    last_sign_in: dt.datetime | None
    created_at: dt.datetime

    @property
    def actor(self) -> Actor:
        return Actor(self.name, self.role)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role.value, "disabled": self.disabled,
                "must_change_password": self.must_change_password, "failed_sign_ins": self.failed_sign_ins,
                "locked_until": iso(self.locked_until), "last_sign_in": iso(self.last_sign_in),
                "created_at": iso(self.created_at)}
