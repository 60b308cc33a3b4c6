"""What every Inventory action shares: the actor, the database, the key ring, audit and key storage."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..certs import CertInfo, utcnow
from ..errors import NotFoundError, PermissionDeniedError
from ..keys import PrivateKey, describe_public_key
from ..models import Action, Actor, CertificateRecord, Outcome, Role
from ..store import Database, Tx, in_list, vault
from ..store import audit as audit_chain

DEFAULT_WARNING_DAYS = 90

_VERBS = {
    Action.INITIALISED: "initialise inventories",
    Action.CREATED: "create certificates",
    Action.CSR_CREATED: "create CSRs",
    Action.SIGNED_UPLOADED: "upload signed certificates",
    Action.IMPORTED: "import certificates",
    Action.EXPORTED: "export keys or keystores",
    Action.DOWNLOADED: "download certificates",
    Action.KEY_VIEWED: "view private keys",
    Action.KEY_USED: "use private keys",
    Action.DELETED: "delete",
    Action.UPDATED: "change",
    Action.ROTATED: "rotate certificates",
    Action.CUT_OVER: "cut over to successors",
    Action.REVOKED: "revoke certificates",
    Action.CA_CREATED: "create certificate authorities",
    Action.ISSUED: "issue certificates",
    Action.CSR_SIGNED: "sign CSRs",
    Action.CRL_ISSUED: "issue CRLs",
    Action.CREDENTIAL_ADDED: "add named credentials",
    Action.CREDENTIAL_UPDATED: "change named credentials",
    Action.CREDENTIAL_DELETED: "delete named credentials",
    Action.CONNECTION_TESTED: "test connections of",
    Action.CALLOUT: "make callouts with",
    Action.SIGNED: "sign with",
    Action.SCANNED: "scan endpoints",
    Action.REMINDER_SENT: "send reminders",
    Action.REMINDER_FAILED: "send reminders",
    Action.SETTINGS_CHANGED: "change settings",
    Action.MASTER_KEY_ROTATED: "rotate the master key",
    Action.USER_ADDED: "add users",
    Action.USER_UPDATED: "change users",
    Action.AUDIT_VERIFIED: "verify the audit trail",
    Action.EVIDENCE_EXPORTED: "export evidence",
    Action.BACKUP: "back up the inventory",
    Action.RESTORED: "restore the inventory",
    Action.OPTIMIZED: "optimize the inventory",
    Action.QUERIED: "query the inventory",
    Action.SYNTHETIC_GENERATED: "generate synthetic certificates",
}

# Columns read for a CertificateRecord (never the DER or any key material).
RECORD_COLUMNS = """
    c.id, c.name, c.label, c.kind, c.status, c.purpose, c.subject, c.issuer, c.serial, c.not_before,
    c.not_after, c.key_type, c.signature_algorithm, c.fingerprint_sha256, c.sans, c.exportable,
    c.key_id IS NOT NULL AS has_key, c.key_id, c.is_ca, c.owner, c.created_at,
    c.predecessor_id, c.successor_id, c.issuer_cert_id
"""


#: What lint reads of each certificate besides its record (see ``_with_findings``), in this order.
LINT_FIELDS = ("id", "der", "chain_pem", "spki_sha256", "aki", "purpose")

#: The fewest columns record_rows can fill in names for (callers that need only a few fields).
BRIEF_COLUMNS = "c.id, c.name, c.subject, c.owner, c.not_after, c.predecessor_id, c.successor_id, c.issuer_cert_id"


class StoredNames:
    """Which names the inventory holds, asked one name at a time through the name index and
    remembered, for code that picks a free name (reading every name would cost seconds at a million)."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.seen: dict[str, bool] = {}

    def __contains__(self, name: object) -> bool:
        key = str(name)
        if key not in self.seen:
            self.seen[key] = self.tx.one("SELECT 1 FROM certificates WHERE name = ?", [key]) is not None
        return self.seen[key]

    def add(self, name: str) -> None:
        self.seen[name] = True


def record_rows(tx: Tx, tail: str, params: Any = None, columns: str = RECORD_COLUMNS,
                credentials: bool = True) -> list[dict[str, Any]]:
    """The rows behind CertificateRecords: ``SELECT RECORD_COLUMNS FROM certificates c <tail>``, then the
    names of their related certificates and credentials, looked up for just those rows
    (``credentials=False``: rows this transaction inserted, which no named credential uses yet).

    One small lookup (two indexed parts, UNION ALL) rather than correlated sub-selects: those make DuckDB
    join the whole table (three times) to answer a page of fifty, which on a per-action open reads every
    name from disk. One statement, not two: each costs 1-3 ms on a freshly attached file.
    """
    rows = tx.dicts(f"SELECT {columns} FROM certificates c {tail}", params)
    if not rows:
        return rows
    related = {x for r in rows for x in (r["predecessor_id"], r["successor_id"], r["issuer_cert_id"]) if x is not None}
    parts: list[str] = []
    values: list[Any] = []
    if related:
        where, found = in_list("id", sorted(related))
        parts.append(f"SELECT false, id, name FROM certificates WHERE {where}")
        values += found
    if credentials:
        parts.append("SELECT true, certificate_id, string_agg(name, ',' ORDER BY name) FROM named_credentials "
                     "WHERE certificate_id IN (SELECT unnest(?::BIGINT[])) GROUP BY certificate_id")
        values.append([r["id"] for r in rows])
    names: dict[int, str] = {}
    creds: dict[int, str] = {}
    if parts:
        for is_credential, key, name in tx.rows(" UNION ALL ".join(parts), values):
            (creds if is_credential else names)[key] = name
    for r in rows:
        r["creds"] = creds.get(r["id"])
        r["predecessor"] = names.get(r["predecessor_id"]) if r["predecessor_id"] is not None else None
        r["successor"] = names.get(r["successor_id"]) if r["successor_id"] is not None else None
        r["issuer_certificate"] = names.get(r["issuer_cert_id"]) if r["issuer_cert_id"] is not None else None
    return rows


def _whole_days(delta: dt.timedelta) -> int:
    """Days to expiry, rounded up: a certificate valid for 29.5 more days has 30 days left (it is within
    the 30-day window), one that expired 2.5 days ago is -2 (expired 2 days ago); 0 on its last day."""
    return math.ceil(delta.total_seconds() / 86400)


class InventoryBase:
    """State and helpers shared by every group of actions. Not used directly: see ``Inventory``."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        actor: Actor | None = None,
        warning_days: int = DEFAULT_WARNING_DAYS,
        lock_timeout: float | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.db = Database(path, lock_timeout)
        self.actor = actor or Actor.from_env()
        self.warning_days = warning_days
        self._clock = clock or utcnow

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.db.path)!r}, actor={self.actor.name!r}, role={self.actor.role.value!r})"

    @property
    def path(self) -> Path:
        return self.db.path

    def as_actor(self, actor: Actor) -> Self:
        """The same inventory, acting as someone else (the dashboard: one per signed-in user)."""
        other = copy.copy(self)
        other.actor = actor
        return other

    def now(self) -> dt.datetime:
        return self._clock()

    # --- keys -------------------------------------------------------------------------------------

    @property
    def key_file(self) -> Path:
        return vault.key_file_for(self.db.path)

    def _keyring(self) -> vault.Keyring:
        return vault.load_keyring(self.key_file)

    def _store_private_key(self, tx: Tx, key: PrivateKey, ring: vault.Keyring | None = None) -> int:
        ring = ring or self._keyring()
        key_id = tx.next_id("private_keys")
        pub = key.public_key()
        spki = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        import hashlib

        spki_sha = hashlib.sha256(spki).hexdigest()
        sealed = vault.seal(ring, key_id, spki_sha, key)
        algorithm, _, label = describe_public_key(pub)
        tx.execute(
            "INSERT INTO private_keys (id, algorithm, key_type, public_key, spki_sha256, encrypted_key, "
            "wrapped_data_key, master_key_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [key_id, algorithm, label, spki, spki_sha, sealed.encrypted_key, sealed.wrapped_data_key,
             sealed.master_key_id, self.now()],
        )
        return key_id

    def _load_private_key(self, tx: Tx, key_id: int) -> PrivateKey:
        """Decrypt a stored private key, in memory only."""
        row = tx.one(
            "SELECT spki_sha256, encrypted_key, wrapped_data_key, master_key_id FROM private_keys WHERE id = ?",
            [key_id],
        )
        if row is None:
            raise NotFoundError(f"private key {key_id} is missing from the inventory")
        return vault.unseal(self._keyring(), key_id, row[0], vault.SealedKey(bytes(row[1]), bytes(row[2]), row[3]))

    # --- authorisation and audit --------------------------------------------------------------------

    def _audit(self, tx: Tx, action: Action, obj: str, details: dict[str, Any] | None = None,
               outcome: Outcome = Outcome.OK) -> int:
        seq, _ = audit_chain.append(
            tx, self._keyring().audit_key, at=self.now(), actor=self.actor.name, role=self.actor.role.value,
            action=action.value, obj=obj, details=details or {}, outcome=outcome.value,
        )
        return seq

    def _record_outcome(self, action: Action, obj: str, details: dict[str, Any], outcome: Outcome) -> None:
        """Audit a refused or failed attempt in a transaction of its own."""
        with self.db.write() as tx:
            self._audit(tx, action, obj, details, outcome)

    def _authorize(self, action: Action, obj: str, roles: Sequence[Role] = (Role.ADMIN,)) -> None:
        """Refuse (and audit the refusal) unless the actor's role is one of ``roles``."""
        if self.actor.role in roles:
            return
        self._record_outcome(action, obj, {"reason": f"role {self.actor.role.value} may not do this"}, Outcome.DENIED)
        verb = _VERBS.get(action, f"perform {action.value!r}")
        allowed = " or ".join(r.value + "s" for r in roles)
        raise PermissionDeniedError(f"{self.actor.name} ({self.actor.role.value}) may not {verb} ({obj}): {allowed} only")

    def _deny(self, action: Action, obj: str, message: str) -> PermissionDeniedError:
        """Audit a refusal for a reason other than role (a non-exportable key, say) and return the error."""
        self._record_outcome(action, obj, {"reason": message}, Outcome.DENIED)
        return PermissionDeniedError(message)

    # --- reading records ------------------------------------------------------------------------------

    def _status_sql(self) -> str:
        return (
            "CASE WHEN c.status <> 'active' THEN c.status WHEN c.not_after < $now THEN 'expired' "
            "WHEN c.not_after < $warn THEN 'expiring' ELSE 'active' END"
        )

    def _time_params(self, at: dt.datetime | None = None) -> dict[str, Any]:
        now = at or self.now()
        return {"now": now, "warn": now + dt.timedelta(days=self.warning_days)}

    def _to_record(self, row: dict[str, Any], at: dt.datetime) -> CertificateRecord:
        not_after = row["not_after"]
        stored = row["status"]
        status = stored
        days = None
        if not_after is not None:
            days = _whole_days(not_after - at)
            if stored == "active":
                if not_after < at:
                    status = "expired"
                elif not_after < at + dt.timedelta(days=self.warning_days):
                    status = "expiring"
        return CertificateRecord(
            id=row["id"], name=row["name"], label=row["label"], kind=row["kind"], status=status,
            stored_status=stored, purpose=row["purpose"], subject=row["subject"], issuer=row["issuer"],
            serial=row["serial"], not_before=row["not_before"], not_after=not_after, days_to_expiry=days,
            key_type=row["key_type"], signature_algorithm=row["signature_algorithm"],
            fingerprint_sha256=row["fingerprint_sha256"], sans=tuple(json.loads(row["sans"] or "[]")),
            exportable=bool(row["exportable"]), has_private_key=bool(row["has_key"]), is_ca=bool(row["is_ca"]),
            credentials=tuple(row["creds"].split(",")) if row["creds"] else (), owner=row["owner"] or "",
            predecessor=row["predecessor"], successor=row["successor"],
            issuer_certificate=row["issuer_certificate"], created_at=row["created_at"],
        )

    def _get_row(self, tx: Tx, name: str, *, credentials: bool = True, lint: bool = False) -> dict[str, Any]:
        """The record row of ``name``; ``lint``: with the columns lint reads (LINT_FIELDS) in the same
        statement (each costs a few ms on a freshly attached file)."""
        columns = RECORD_COLUMNS + (", c.der, c.chain_pem, c.spki_sha256, c.aki" if lint else "")
        rows = record_rows(tx, "WHERE c.name = ?", [name], columns=columns, credentials=credentials)
        if not rows:
            raise NotFoundError(f"no certificate named {name!r}")
        return rows[0]

    def _get_record(self, tx: Tx, name: str, at: dt.datetime | None = None, *, new: bool = False) -> CertificateRecord:
        """The record with its lint findings. ``new``: this transaction inserted the certificate, with a key
        generated for it, so no named credential, endpoint or other certificate refers to it or holds its
        key yet (a delete removes what referred to a reused id): those lookups are skipped."""
        when = at or self.now()
        row = self._get_row(tx, name, credentials=not new, lint=True)
        lint_rows = [tuple(row[f] for f in LINT_FIELDS)] if row["der"] is not None else []
        return self._with_findings(tx, [self._to_record(row, when)], when, new=new, lint_rows=lint_rows)[0]

    def _delete_related(self, tx: Tx, row: dict[str, Any]) -> None:
        """Hook, inside the transaction that deletes a certificate: refuse (raise) or remove the rows other
        tables keep about it. Each action group extends it and calls ``super()``, so one transaction deletes
        everything: ids are reused (``max(id) + 1``), and a later certificate must inherit nothing."""

    def _with_findings(self, tx: Tx, records: list[CertificateRecord], at: dt.datetime, *,
                       new: bool = False, lint_rows: list[tuple[Any, ...]] | None = None) -> list[CertificateRecord]:
        """Hook: the records with ``findings`` filled in (the integrations mixin lints them). ``lint_rows``:
        the records' LINT_FIELDS, when the caller read them already (else lint reads them)."""
        return records

    def _certificate(self, tx: Tx, name: str) -> tuple[dict[str, Any], x509.Certificate | None, list[x509.Certificate]]:
        """The row, the parsed certificate (None while pending) and its chain above it."""
        row = self._get_row(tx, name)
        extra = tx.one("SELECT der, chain_pem FROM certificates WHERE id = ?", [row["id"]])
        assert extra is not None
        cert = x509.load_der_x509_certificate(bytes(extra[0])) if extra[0] is not None else None
        chain = x509.load_pem_x509_certificates(extra[1].encode()) if extra[1] else []
        return row, cert, chain

    @staticmethod
    def _info_columns(info: CertInfo) -> dict[str, Any]:
        return {
            "subject": info.subject, "issuer": info.issuer, "serial": info.serial,
            "not_before": info.not_before, "not_after": info.not_after, "key_algorithm": info.key_algorithm,
            "key_size": info.key_size, "key_type": info.key_type, "signature_algorithm": info.signature_algorithm,
            "signature_hash": info.signature_hash, "fingerprint_sha256": info.fingerprint_sha256,
            "spki_sha256": info.spki_sha256, "ski": info.ski, "aki": info.aki, "sans": json.dumps(list(info.sans)),
            "is_ca": info.is_ca, "der": info.der,
        }

    def _insert_certificate(self, tx: Tx, values: dict[str, Any]) -> int:
        cert_id = tx.next_id("certificates")
        now = self.now()
        row = {"id": cert_id, "created_at": now, "updated_at": now, **values}
        cols = list(row)
        tx.execute(
            f"INSERT INTO certificates ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
            [row[c] for c in cols],
        )
        return cert_id
