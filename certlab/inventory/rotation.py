"""Rotation with cut-over: a successor with a new key, then every named credential moved in one step.

- ``rotate(NAME)`` makes the successor: same subject, SANs and purpose, new validity, a new key
  (the old one only with ``reuse_key`` and a policy that allows it). Self-signed certificates and
  those an internal CA issued are renewed at once; one signed by an outside CA (or imported with
  its key) gets a pending CSR. The predecessor stays active until cut-over.
- ``cutover(NAME)`` moves the named credentials to the successor and retires the predecessor.
- A rotation policy per certificate (N days before expiry, or a share of the lifetime), with a
  project-wide default, drives ``rotate_due``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .. import formats
from ..certs import MAX_DAYS, CertInfo, Purpose, build_certificate
from ..errors import CertlabError, ConflictError, InvalidInputError
from ..keys import KeyType, PrivateKey, generate_key, signature_hash_for
from ..models import Action, CertificateRecord, Kind, Status
from ..names import check_unique_name
from ..store import Tx
from .lifecycle import LifecycleActions

DEFAULT_POLICY_KEY = "rotation.default_policy"
DEFAULT_DAYS_BEFORE = 30
_ROTATABLE = (Kind.SELF_SIGNED.value, Kind.CA_SIGNED.value, Kind.IMPORTED.value)


if TYPE_CHECKING:
    from .results import RotationDue, RotationOutcome, RotationPolicy

# The result types live in results.py and load on first use (PEP 562): an action that returns
# none of them (reading one certificate, say) does not build them.
_RESULTS = ("RotationPolicy", "RotationDue", "RotationOutcome")


def __getattr__(name: str) -> Any:
    if name in _RESULTS:
        from . import results

        return getattr(results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class RotationActions(LifecycleActions):
    """Rotate, cut over, rotation policies and due rotations."""

    # --- rotate --------------------------------------------------------------------------------------

    def rotate(self, name: str, *, key_type: KeyType | str | None = None, days: int | None = None,
               reuse_key: bool = False, new_name: str | None = None) -> CertificateRecord:
        """Make the successor of ``name``; the predecessor stays active until ``cutover``."""
        self._authorize(Action.ROTATED, name)
        if new_name is not None:
            check_unique_name(new_name)
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS):
            raise InvalidInputError(f"validity of {days!r} days is out of range 1..{MAX_DAYS}")
        kt = None if key_type is None else KeyType.parse(key_type)
        with self.db.read() as tx:
            row, cert, _ = self._certificate(tx, name)
            self._check_rotatable(tx, row, cert)
            policy = self._policy(tx, row["id"])
        assert cert is not None
        if reuse_key:
            if kt is not None:
                raise InvalidInputError("--reuse-key keeps the key: give no --key with it")
            if not policy.allow_key_reuse:
                raise ConflictError(f"the rotation policy of {name} does not allow key reuse "
                                    f"(allow it with: certlab rotation-policy {name} --allow-key-reuse)")
            if row["key_id"] is None:
                raise ConflictError(f"{name} has no private key in the inventory to reuse")
            key: PrivateKey | None = None
        else:
            key = generate_key(kt or _key_type_of(row))  # the slow part, outside the lock
        with self.db.write() as tx:
            row, cert, _ = self._certificate(tx, name)  # again, under the lock: it may have changed
            self._check_rotatable(tx, row, cert)
            assert cert is not None
            return self._make_successor(tx, row, cert, key, days, new_name, reuse_key)

    def _check_rotatable(self, tx: Tx, row: dict[str, Any], cert: x509.Certificate | None) -> None:
        name = row["name"]
        if row["status"] in (Status.PENDING.value, Status.REVOKED.value, Status.RETIRED.value):
            raise ConflictError(f"{name} is {row['status']}: only an active certificate can be rotated")
        if row["successor"]:
            raise ConflictError(f"{name} was rotated already to {row['successor']}: cut over with "
                                f"'certlab rotate {name} --cutover' (or delete {row['successor']})")
        if row["kind"] not in _ROTATABLE or row["is_ca"]:
            raise ConflictError(f"{name} is {'a CA' if row['is_ca'] else row['kind']}: certlab rotates self-signed "
                                "and CA-signed leaf certificates (make a new CA with 'certlab ca create')")
        if row["kind"] == Kind.IMPORTED.value and row["key_id"] is None:
            raise ConflictError(f"{name} was imported without its key: renew it where it was issued")
        if cert is None:
            raise ConflictError(f"{name} has no certificate to rotate")

    def _make_successor(self, tx: Tx, row: dict[str, Any], cert: x509.Certificate, key: PrivateKey | None,
                        days: int | None, new_name: str | None, reuse_key: bool) -> CertificateRecord:
        name = row["name"]
        now = self.now()
        succ_name = new_name or _next_name(tx, name)
        if tx.scalar("SELECT 1 FROM certificates WHERE name = ?", [succ_name]):
            raise ConflictError(f"a certificate named {succ_name!r} exists already")
        if key is None:
            key = self._load_private_key(tx, row["key_id"])
            key_id = row["key_id"]
        else:
            key_id = self._store_private_key(tx, key)
        lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
        days = days or max(1, min(MAX_DAYS, round(lifetime.total_seconds() / 86400)))
        sans = _sans(cert)
        purpose = Purpose.parse(row["purpose"]) if row["purpose"] else _purpose_of(cert)
        internal = self._issuing_ca(tx, row["id"])
        values: dict[str, Any] = {
            "name": succ_name, "label": row["label"], "purpose": purpose.value, "key_id": key_id,
            "exportable": bool(row["exportable"]), "owner": row["owner"], "predecessor_id": row["id"],
            "tags": tx.scalar("SELECT tags FROM certificates WHERE id = ?", [row["id"]]),
        }
        if row["kind"] == Kind.SELF_SIGNED.value or (row["kind"] == Kind.IMPORTED.value and cert.issuer == cert.subject):
            new = build_certificate(subject=cert.subject, public_key=key.public_key(), issuer=cert.subject,
                                    issuer_key=key, days=days, sans=sans, purpose=purpose, not_before=now)
            mode = "renewed"
            values |= {"kind": Kind.SELF_SIGNED.value, "status": Status.ACTIVE.value,
                       **self._info_columns(CertInfo.of(new))}
        elif internal is not None:
            ca_name = tx.scalar("SELECT name FROM certificates WHERE id = ?", [internal])
            _, authority = self._load_ca(tx, ca_name)
            new = authority.certify(cert.subject, key.public_key(), sans=sans, purpose=purpose, days=days, now=now,
                                    what=succ_name)
            mode = "renewed"
            values |= {"kind": Kind.CA_SIGNED.value, "status": Status.ACTIVE.value, "issuer_cert_id": internal,
                       "chain_pem": formats.dump_pem(list(authority.issuers)).decode(),
                       **self._info_columns(CertInfo.of(new))}
        else:
            csr = _build_csr(cert.subject, sans, purpose, key)
            mode = "csr"
            from ..keys import describe_public_key

            algorithm, size, label = describe_public_key(key.public_key())
            values |= {"kind": Kind.CA_SIGNED.value, "status": Status.PENDING.value, "subject": cert.subject.rfc4514_string(),
                       "sans": json.dumps([_gn_text(g) for g in sans]), "key_algorithm": algorithm, "key_size": size,
                       "key_type": label,
                       "spki_sha256": tx.scalar("SELECT spki_sha256 FROM private_keys WHERE id = ?", [key_id])}
        succ_id = self._insert_certificate(tx, values)
        if mode == "csr":
            tx.execute("INSERT INTO csrs (id, certificate_id, pem, created_at) VALUES (?, ?, ?, ?)",
                       [tx.next_id("csrs"), succ_id, csr.public_bytes(serialization.Encoding.PEM).decode(), now])
        tx.execute("UPDATE certificates SET successor_id = ?, updated_at = ? WHERE id = ?", [succ_id, now, row["id"]])
        self._copy_settings(tx, row["id"], succ_id)
        self._audit(tx, Action.ROTATED, name, {
            "successor": succ_name, "mode": mode, "key_reused": reuse_key, "days": days,
            "key_type": values.get("key_type"), "fingerprint_sha256": values.get("fingerprint_sha256"),
            "credentials_waiting": row["creds"].split(",") if row["creds"] else [],
        })
        return self._get_record(tx, succ_name)

    def _copy_settings(self, tx: Tx, old_id: int, new_id: int) -> None:
        """The successor inherits its predecessor's rotation policy, reminder schedule and recipients."""
        tx.execute("INSERT INTO rotation_policies (certificate_id, days_before, lifetime_share, allow_key_reuse, updated_at) "
                   "SELECT ?, days_before, lifetime_share, allow_key_reuse, updated_at FROM rotation_policies "
                   "WHERE certificate_id = ?", [new_id, old_id])
        tx.execute("INSERT INTO reminder_schedules (scope, target, thresholds, updated_at) "
                   "SELECT scope, ?, thresholds, updated_at FROM reminder_schedules WHERE scope = 'certificate' "
                   "AND target = ?", [str(new_id), str(old_id)])
        tx.execute("INSERT INTO certificate_recipients (certificate_id, recipient) "
                   "SELECT ?, recipient FROM certificate_recipients WHERE certificate_id = ?", [new_id, old_id])

    def _issuing_ca(self, tx: Tx, cert_id: int) -> int | None:
        issuer = tx.scalar("SELECT issuer_cert_id FROM certificates WHERE id = ?", [cert_id])
        if issuer is None or not tx.scalar("SELECT 1 FROM ca_settings WHERE certificate_id = ?", [issuer]):
            return None
        return int(issuer)

    # --- cut over ------------------------------------------------------------------------------------

    def cutover(self, name: str) -> CertificateRecord:
        """Move every named credential from ``name`` to its successor in one transaction; retire ``name``."""
        self._authorize(Action.CUT_OVER, name)
        with self.db.write() as tx:
            row = self._get_row(tx, name)
            if not row["successor"]:
                hint = ""
                if row["predecessor"]:
                    hint = f" (it is the successor of {row['predecessor']}: cut over with 'certlab rotate {row['predecessor']} --cutover')"
                raise ConflictError(f"{name} has no successor: rotate it first with 'certlab rotate {name}'{hint}")
            if row["status"] == Status.RETIRED.value:
                raise ConflictError(f"{name} is retired already: it was cut over to {row['successor']}")
            succ = self._get_record(tx, row["successor"])
            if succ.stored_status == Status.PENDING.value:
                raise ConflictError(f"the successor {succ.name} is pending: upload its signed certificate first "
                                    f"('certlab upload-signed {succ.name} FILE')")
            if succ.stored_status != Status.ACTIVE.value:
                raise ConflictError(f"the successor {succ.name} is {succ.stored_status}: it cannot take over")
            if succ.status == Status.EXPIRED.value:
                raise ConflictError(f"the successor {succ.name} has expired: rotate {succ.name} instead")
            moved = [r[0] for r in tx.rows("SELECT name FROM named_credentials WHERE certificate_id = ? ORDER BY name",
                                           [row["id"]])]
            now = self.now()
            tx.execute("UPDATE named_credentials SET certificate_id = ?, updated_at = ? WHERE certificate_id = ?",
                       [succ.id, now, row["id"]])
            if row["status"] == Status.ACTIVE.value:  # a revoked predecessor stays revoked
                tx.execute("UPDATE certificates SET status = ?, updated_at = ? WHERE id = ?",
                           [Status.RETIRED.value, now, row["id"]])
            self._audit(tx, Action.CUT_OVER, name, {"successor": succ.name, "credentials_moved": moved,
                                                    "predecessor_status": "retired" if row["status"] == "active"
                                                    else row["status"]})
            return self._get_record(tx, succ.name)

    # --- policies ------------------------------------------------------------------------------------

    def set_rotation_policy(self, name: str | None, policy: RotationPolicy | None) -> RotationPolicy:
        """Set (or with None clear) the policy of one certificate, or with ``name=None`` the default."""
        obj = name or "rotation-default"
        action = Action.UPDATED if name else Action.SETTINGS_CHANGED
        self._authorize(action, obj)
        with self.db.write() as tx:
            doc = None if policy is None else {"days_before": policy.days_before, "lifetime_share": policy.lifetime_share,
                                               "allow_key_reuse": policy.allow_key_reuse}
            if name is None:
                if doc is None:
                    tx.execute("DELETE FROM settings WHERE key = ?", [DEFAULT_POLICY_KEY])
                else:
                    tx.set_setting(DEFAULT_POLICY_KEY, doc)
                self._audit(tx, action, obj, {"rotation_policy": doc})
                return self._default_policy(tx)
            row = self._get_row(tx, name)
            tx.execute("DELETE FROM rotation_policies WHERE certificate_id = ?", [row["id"]])
            if policy is not None:
                tx.execute("INSERT INTO rotation_policies (certificate_id, days_before, lifetime_share, allow_key_reuse, "
                           "updated_at) VALUES (?, ?, ?, ?, ?)",
                           [row["id"], policy.days_before, policy.lifetime_share, policy.allow_key_reuse, self.now()])
            self._audit(tx, action, name, {"rotation_policy": doc})
            return self._policy(tx, row["id"])

    def rotation_policy(self, name: str | None = None) -> RotationPolicy:
        """The policy in force for ``name`` (its own, else the default), or the default."""
        with self.db.read() as tx:
            if name is None:
                return self._default_policy(tx)
            return self._policy(tx, self._get_row(tx, name)["id"])

    def _default_policy(self, tx: Tx) -> RotationPolicy:
        from .results import RotationPolicy

        doc = tx.setting(DEFAULT_POLICY_KEY)
        if not doc:
            return RotationPolicy()
        return RotationPolicy(doc.get("days_before"), doc.get("lifetime_share"), bool(doc.get("allow_key_reuse")))

    def _policy(self, tx: Tx, cert_id: int) -> RotationPolicy:
        from .results import RotationPolicy

        r = tx.one("SELECT days_before, lifetime_share, allow_key_reuse FROM rotation_policies WHERE certificate_id = ?",
                   [cert_id])
        if r is None:
            return self._default_policy(tx)
        return RotationPolicy(r[0], r[1], bool(r[2]), source="certificate")

    # --- due rotations -------------------------------------------------------------------------------

    def rotations_due(self, at: dt.datetime | None = None, *, within_days: int = 0,
                      limit: int | None = None) -> list[RotationDue]:
        """What the policies say is due at ``at`` (or within ``within_days`` after it), in the order it
        falls due; the first ``limit`` only when given (``count_rotations_due`` gives the total)."""
        from .results import RotationDue, RotationPolicy

        when = at or self.now()
        horizon = when + dt.timedelta(days=within_days)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise InvalidInputError(f"limit must be a whole number of rows, not {limit!r}")
        with self.db.read() as tx:
            # One query: each certificate's due time computed by DuckDB from its own policy or the
            # default (read once), so only the rows asked for come back to Python.
            sql, params, default = self._due_rotations_sql(tx, horizon)
            rows = tx.rows(
                "SELECT name, kind, not_after, due_at, has_own, days_before, lifetime_share, allow_key_reuse, renew "
                f"FROM ({sql}) ORDER BY due_at, name" + ("" if limit is None else f" LIMIT {int(limit)}"), params)
        out: list[RotationDue] = []
        for name, kind, na, due, has_own, days_before, share, reuse, renew in rows:
            policy = RotationPolicy(days_before, share, bool(reuse), source="certificate") if has_own else default
            out.append(RotationDue(name, kind, na, due, policy.describe(), "renew" if renew else "csr"))
        return out

    def count_rotations_due(self, at: dt.datetime | None = None, *, within_days: int = 0) -> int:
        """How many certificates ``rotations_due`` lists (without building them)."""
        horizon = (at or self.now()) + dt.timedelta(days=within_days)
        with self.db.read() as tx:
            sql, params, _ = self._due_rotations_sql(tx, horizon)
            return int(tx.scalar(f"SELECT count(*) FROM ({sql})", params) or 0)

    def _due_rotations_sql(self, tx: Tx, horizon: dt.datetime) -> tuple[str, dict[str, Any], RotationPolicy]:
        """Rotatable certificates due by ``horizon`` (and the default policy, read once): due_at is
        RotationPolicy.due_at in DuckDB (a share of the lifetime in whole microseconds, as Python's
        timedelta arithmetic has it)."""
        default = self._default_policy(tx)

        def due(days: str, share: str) -> str:
            return (f"CASE WHEN {share} IS NOT NULL THEN make_timestamp(epoch_us(c.not_before) + "
                    f"CAST((epoch_us(c.not_after) - epoch_us(c.not_before)) * {share} AS BIGINT)) "
                    f"ELSE c.not_after - to_days(CAST(coalesce({days}, $fallback_days) AS INTEGER)) END")

        sql = (
            "SELECT c.name, c.kind, c.not_after, p.certificate_id IS NOT NULL AS has_own, p.days_before, "
            "p.lifetime_share, p.allow_key_reuse, "
            f"CASE WHEN p.certificate_id IS NOT NULL THEN {due('p.days_before', 'p.lifetime_share')} "
            f"ELSE {due('$default_days', '$default_share')} END AS due_at, "
            "(c.kind = 'self_signed' OR (c.kind = 'imported' AND c.subject = c.issuer) OR "
            "coalesce(c.issuer_cert_id IN (SELECT certificate_id FROM ca_settings), false)) AS renew "
            "FROM certificates c LEFT JOIN rotation_policies p ON p.certificate_id = c.id "
            "WHERE c.status = 'active' AND c.successor_id IS NULL AND NOT c.is_ca AND c.not_after IS NOT NULL "
            "AND c.kind IN ('self_signed', 'ca_signed', 'imported') AND NOT (c.kind = 'imported' AND c.key_id IS NULL)")
        params = {"default_days": default.days_before, "default_share": default.lifetime_share,
                  "fallback_days": DEFAULT_DAYS_BEFORE}
        return f"SELECT * FROM ({sql}) WHERE due_at <= $horizon", {**params, "horizon": horizon}, default

    def rotate_due(self, at: dt.datetime | None = None) -> list[RotationOutcome]:
        """Rotate what is due at ``at``: renewed at once, or a pending CSR for an outside CA. One
        transaction per certificate; a failure is reported and the rest carry on."""
        from .results import RotationOutcome

        self._authorize(Action.ROTATED, "due")
        outcomes: list[RotationOutcome] = []
        for due in self.rotations_due(at):
            try:
                succ = self.rotate(due.name)
            except CertlabError as exc:
                outcomes.append(RotationOutcome(due.name, "failed", None, str(exc)))
                continue
            if succ.stored_status == Status.PENDING.value:
                outcomes.append(RotationOutcome(due.name, "csr_created", succ.name,
                                                f"send the CSR to the CA: certlab export {succ.name} --format csr "
                                                f"--out {succ.name}.csr"))
            else:
                outcomes.append(RotationOutcome(due.name, "rotated", succ.name,
                                                f"cut over with: certlab rotate {due.name} --cutover"))
        return outcomes


def _next_name(tx: Tx, name: str) -> str:
    base = re.sub(r"_r\d+$", "", name)
    n = 2
    m = re.search(r"_r(\d+)$", name)
    if m:
        n = int(m.group(1)) + 1
    while True:
        candidate = f"{base[:80 - len(str(n)) - 2]}_r{n}"
        if not tx.scalar("SELECT 1 FROM certificates WHERE name = ?", [candidate]):
            return candidate
        n += 1


def _key_type_of(row: dict[str, Any]) -> KeyType:
    try:
        return KeyType.parse(row["key_type"] or "")
    except InvalidInputError:
        return KeyType.RSA_2048


def _sans(cert: x509.Certificate) -> tuple[x509.GeneralName, ...]:
    try:
        return tuple(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return ()


def _gn_text(gn: x509.GeneralName) -> str:
    from ..names import general_name_text

    return general_name_text(gn)


def _purpose_of(cert: x509.Certificate) -> Purpose:
    from cryptography.x509.oid import ExtendedKeyUsageOID

    try:
        eku = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return Purpose.SERVER
    server, client = ExtendedKeyUsageOID.SERVER_AUTH in eku, ExtendedKeyUsageOID.CLIENT_AUTH in eku
    if server and client:
        return Purpose.ANY
    return Purpose.CLIENT if client else Purpose.SERVER


def _build_csr(subject: x509.Name, sans: tuple[x509.GeneralName, ...], purpose: Purpose,
               key: PrivateKey) -> x509.CertificateSigningRequest:
    from ..certs import key_usage

    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    builder = builder.add_extension(key_usage(purpose, key.public_key()), critical=True)
    return builder.sign(key, signature_hash_for(key))  # type: ignore[arg-type]


__all__ = ["RotationActions", "RotationDue", "RotationOutcome", "RotationPolicy"]
