"""Lifecycle actions: internal CAs, issuing, signing outside CSRs, revocation and CRLs.

Kinds: a CA made here is ``internal_ca``; what it issues or signs is ``ca_signed`` with its
``issuer_cert_id`` pointing at the CA's row. That pointer is what "certlab issued this" means: only
such certificates can be revoked, and they rotate without a CSR round trip.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .. import formats
from ..blob import Blob
from ..certs import CertInfo, CertSpec, Purpose
from ..errors import ConflictError, InvalidInputError, NotFoundError
from ..keys import KeyType, generate_key
from ..models import Action, CertificateRecord, Kind, Status
from ..names import Subject, check_label, check_unique_name
from ..store import Tx
from .base import InventoryBase

if TYPE_CHECKING:  # certlab.ca and certlab.csr load when a CA acts, not for every action of the Inventory
    from ..ca import CA, NameRules


if TYPE_CHECKING:
    from .results import CAStatus

# The result types live in results.py and load on first use (PEP 562): an action that returns
# none of them (reading one certificate, say) does not build them.
_RESULTS = ("CAStatus",)


def __getattr__(name: str) -> Any:
    if name in _RESULTS:
        from . import results

        return getattr(results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_ROOT = object()


class LifecycleActions(InventoryBase):
    """Internal CAs, revocation and CRLs."""

    # --- CAs -----------------------------------------------------------------------------------------

    def create_ca(
        self,
        name: str,
        *,
        parent: str | None = None,
        subject: str | Subject = "",
        key_type: KeyType | str = KeyType.EC_P384,  # ca.DEFAULT_CA_KEY
        days: int | None = None,
        path_length: int | None | object = _ROOT,
        name_rules: NameRules | None = None,
        copy_csr_sans: bool = True,
        exportable: bool = False,
        label: str = "",
        crl_days: int = 7,
    ) -> CertificateRecord:
        """A root CA, or an intermediate below ``parent``. Its key is not exportable unless asked now.

        Path length defaults to unlimited for a root and to 0 (leaves only) for an intermediate.
        """
        from ..ca import CA, NameRules

        self._authorize(Action.CA_CREATED, name)
        check_unique_name(name)
        label = check_label(label or name)
        kt = KeyType.parse(key_type)
        subj = Subject.parse(subject).with_default_cn(name.replace("_", " "))
        rules = name_rules or NameRules()
        if not 1 <= crl_days <= 366:
            raise InvalidInputError(f"CRL validity of {crl_days} days is out of range 1..366")
        if path_length is _ROOT:
            path_length = None if parent is None else 0
        assert path_length is None or isinstance(path_length, int)
        key = generate_key(kt)  # the slow part, outside the lock
        with self.db.write() as tx:
            self._check_free(tx, name)
            parent_id = None
            if parent is None:
                ca = CA(subj, key=key, days=days or 3650, path_length=path_length, name_rules=rules,
                        copy_csr_sans=copy_csr_sans, now=self.now())
            else:
                prow, pca = self._load_ca(tx, parent)
                parent_id = prow["id"]
                ca = pca.create_child_ca(subj, key=key, days=days, path_length=path_length, name_rules=rules,
                                         copy_csr_sans=copy_csr_sans, now=self.now())
            info = CertInfo.of(ca.certificate)
            key_id = self._store_private_key(tx, key)
            cert_id = self._insert_certificate(tx, {
                "name": name, "label": label, "kind": Kind.INTERNAL_CA.value, "status": Status.ACTIVE.value,
                "purpose": None, "key_id": key_id, "exportable": exportable, "issuer_cert_id": parent_id,
                "chain_pem": formats.dump_pem(list(ca.chain)).decode() if ca.chain else "",
                **self._info_columns(info),
            })
            tx.execute(
                "INSERT INTO ca_settings (certificate_id, path_length, name_rules, copy_csr_sans, crl_number, crl_days, "
                "created_at) VALUES (?, ?, ?, ?, 0, ?, ?)",
                [cert_id, path_length, json.dumps(rules.to_json()), copy_csr_sans, crl_days, self.now()],
            )
            self._audit(tx, Action.CA_CREATED, name, {
                "parent": parent, "key_type": kt.value, "subject": info.subject, "path_length": path_length,
                "name_constraints": {k: v for k, v in rules.to_json().items() if v}, "copy_csr_sans": copy_csr_sans,
                "fingerprint_sha256": info.fingerprint_sha256, "not_after": info.not_after.isoformat(),
                "exportable": exportable,
            })
            return self._get_record(tx, name, new=True)

    def issue(self, ca: str, spec: CertSpec) -> CertificateRecord:
        """A server or client certificate from an internal CA, stored with its key and full chain."""
        self._authorize(Action.ISSUED, spec.name)
        key = generate_key(spec.key_type)
        with self.db.write() as tx:
            self._check_free(tx, spec.name)
            ca_row, authority = self._load_ca(tx, ca)
            issued = authority.issue(spec, key, now=self.now())
            info = CertInfo.of(issued.certificate)
            key_id = self._store_private_key(tx, key)
            self._insert_certificate(tx, {
                "name": spec.name, "label": spec.label, "kind": Kind.CA_SIGNED.value, "status": Status.ACTIVE.value,
                "purpose": spec.purpose.value, "key_id": key_id, "exportable": spec.exportable,
                "issuer_cert_id": ca_row["id"], "chain_pem": formats.dump_pem(list(issued.chain)).decode(),
                **self._info_columns(info),
            })
            self._audit(tx, Action.ISSUED, spec.name, {
                "ca": ca, "key_type": spec.key_type.value, "serial": info.serial, "sans": list(info.sans),
                "purpose": spec.purpose.value, "fingerprint_sha256": info.fingerprint_sha256,
                "not_after": info.not_after.isoformat(), "exportable": spec.exportable,
            })
            return self._get_record(tx, spec.name, new=True)

    def sign_csr(self, ca: str, data: bytes, *, name: str | None = None, days: int = 365,
                 purpose: Purpose | str = Purpose.SERVER, source: str = "CSR") -> CertificateRecord:
        """Sign an outside CSR (its key stays outside); the certificate is kept in the inventory."""
        from ..csr import load_csr

        self._authorize(Action.CSR_SIGNED, name or source)
        if name is not None:
            check_unique_name(name)
        purpose = Purpose.parse(purpose)
        csr = load_csr(formats_check(data, source), source)
        with self.db.write() as tx:
            ca_row, authority = self._load_ca(tx, ca)
            cert = authority.sign_csr(csr, days=days, purpose=purpose, now=self.now(), source=source)
            info = CertInfo.of(cert)
            if name is None:
                name = _free_name(tx, info)
            self._check_free(tx, name)
            cert_id = self._insert_certificate(tx, {
                "name": name, "label": name, "kind": Kind.CA_SIGNED.value, "status": Status.ACTIVE.value,
                "purpose": purpose.value, "key_id": None, "exportable": False, "issuer_cert_id": ca_row["id"],
                "chain_pem": formats.dump_pem(list(authority.issuers)).decode(), **self._info_columns(info),
            })
            tx.execute("INSERT INTO csrs (id, certificate_id, pem, created_at) VALUES (?, ?, ?, ?)",
                       [tx.next_id("csrs"), cert_id, csr.public_bytes(serialization.Encoding.PEM).decode(), self.now()])
            self._audit(tx, Action.CSR_SIGNED, name, {
                "ca": ca, "source": source, "subject": info.subject, "sans": list(info.sans),
                "sans_copied": authority.copy_csr_sans, "serial": info.serial,
                "fingerprint_sha256": info.fingerprint_sha256, "not_after": info.not_after.isoformat(),
            })
            return self._get_record(tx, name)

    def ca_status(self, name: str) -> CAStatus:
        with self.db.read() as tx:
            return self._ca_status(tx, name)

    def cas(self) -> list[CAStatus]:
        """Every internal CA, roots first."""
        with self.db.read() as tx:
            names = [r[0] for r in tx.rows(
                "SELECT c.name FROM certificates c JOIN ca_settings s ON s.certificate_id = c.id "
                "ORDER BY c.issuer_cert_id NULLS FIRST, c.name")]
            return [self._ca_status(tx, n) for n in names]

    # --- revocation ----------------------------------------------------------------------------------

    def revoke(self, name: str, reason: str) -> CertificateRecord:
        """Revoke a certificate one of this inventory's CAs issued (RFC 5280 reason name)."""
        from ..ca import parse_reason

        self._authorize(Action.REVOKED, name)
        reason = parse_reason(reason)
        with self.db.write() as tx:
            row = self._get_row(tx, name)
            issuer = self._internal_issuer(tx, row)
            if issuer is None:
                raise ConflictError(
                    f"{name} was not issued by a CA of this inventory: certlab can revoke only what its own CAs "
                    "issued (ask the issuing CA)"
                )
            if row["status"] == Status.REVOKED.value:
                raise ConflictError(f"{name} is revoked already")
            if row["serial"] is None:
                raise ConflictError(f"{name} is {row['status']}: it has no certificate to revoke")
            now = self.now()
            tx.execute("UPDATE certificates SET status = ?, updated_at = ? WHERE id = ?",
                       [Status.REVOKED.value, now, row["id"]])
            tx.execute("INSERT INTO revocations (certificate_id, issuer_cert_id, serial, reason, revoked_at) "
                       "VALUES (?, ?, ?, ?, ?)", [row["id"], issuer, row["serial"], reason, now])
            self._audit(tx, Action.REVOKED, name, {
                "reason": reason, "serial": row["serial"], "ca": tx.scalar("SELECT name FROM certificates WHERE id = ?", [issuer]),
                "fingerprint_sha256": row["fingerprint_sha256"], "credentials": row["creds"].split(",") if row["creds"] else [],
            })
            return self._get_record(tx, name)

    def crl(self, ca: str, *, days: int | None = None, fmt: str = "pem") -> Blob:
        """A signed CRL of everything ``ca`` has revoked; each one gets the next CRL number."""
        from ..ca import Revocation

        self._authorize(Action.CRL_ISSUED, ca)
        if fmt not in ("pem", "der"):
            raise InvalidInputError(f"unknown CRL format {fmt!r}: choose pem or der")
        with self.db.write() as tx:
            row, authority = self._load_ca(tx, ca, for_crl=True)
            number, crl_days = tx.one("SELECT crl_number + 1, crl_days FROM ca_settings WHERE certificate_id = ?",
                                      [row["id"]]) or (1, 7)
            entries = [Revocation(int(serial, 16), reason, at) for serial, reason, at in tx.rows(
                "SELECT serial, reason, revoked_at FROM revocations WHERE issuer_cert_id = ? ORDER BY revoked_at, serial",
                [row["id"]])]
            now = self.now()
            crl = authority.crl(entries, number=int(number), this_update=now, days=days or int(crl_days))
            tx.execute("UPDATE ca_settings SET crl_number = ? WHERE certificate_id = ?", [number, row["id"]])
            self._audit(tx, Action.CRL_ISSUED, ca, {
                "crl_number": int(number), "revoked": len(entries), "this_update": now.isoformat(),
                "next_update": crl.next_update_utc.replace(tzinfo=None).isoformat() if crl.next_update_utc else None,
            })
        if fmt == "der":
            return Blob(crl.public_bytes(serialization.Encoding.DER), f"{ca}.crl", "application/pkix-crl")
        return Blob(crl.public_bytes(serialization.Encoding.PEM), f"{ca}.crl.pem", "application/x-pem-file")

    def revocations(self, ca: str | None = None) -> list[dict[str, Any]]:
        """What has been revoked (optionally by one CA): certificate, CA, serial, reason, time."""
        with self.db.read() as tx:
            sql = ("SELECT c.name, i.name, r.serial, r.reason, r.revoked_at FROM revocations r "
                   "JOIN certificates c ON c.id = r.certificate_id JOIN certificates i ON i.id = r.issuer_cert_id")
            params: list[Any] = []
            if ca is not None:
                sql += " WHERE i.name = ?"
                params.append(ca)
            rows = tx.rows(sql + " ORDER BY r.revoked_at, c.name", params)
        return [{"certificate": r[0], "ca": r[1], "serial": r[2], "reason": r[3], "revoked_at": r[4]} for r in rows]

    # --- delete --------------------------------------------------------------------------------------

    def _delete_related(self, tx: Tx, row: dict[str, Any]) -> None:
        """Keep revoked certificates (their CA's CRL lists them); remove the lifecycle settings of what goes."""
        super()._delete_related(tx, row)
        cert_id = row["id"]
        revoked_by = tx.scalar("SELECT i.name FROM revocations r JOIN certificates i ON i.id = r.issuer_cert_id "
                               "WHERE r.certificate_id = ?", [cert_id])
        if revoked_by:
            raise ConflictError(f"{row['name']} is revoked and listed on the CRL of {revoked_by}: certlab keeps it")
        for table in ("ca_settings", "rotation_policies", "certificate_recipients", "reminder_deliveries"):
            tx.execute(f"DELETE FROM {table} WHERE certificate_id = ?", [cert_id])
        tx.execute("DELETE FROM reminder_schedules WHERE scope = 'certificate' AND target = ?", [str(cert_id)])
        tx.execute("DELETE FROM revocations WHERE issuer_cert_id = ?", [cert_id])

    # --- helpers -------------------------------------------------------------------------------------

    def _check_free(self, tx: Tx, name: str) -> None:
        if tx.scalar("SELECT 1 FROM certificates WHERE name = ?", [name]):
            raise ConflictError(f"a certificate named {name!r} exists already")

    def _internal_issuer(self, tx: Tx, row: dict[str, Any]) -> int | None:
        """The id of the internal CA that issued ``row``, else None."""
        issuer_id = tx.scalar("SELECT issuer_cert_id FROM certificates WHERE id = ?", [row["id"]])
        if issuer_id is None:
            return None
        ok = tx.scalar("SELECT 1 FROM ca_settings WHERE certificate_id = ?", [issuer_id])
        return int(issuer_id) if ok else None

    def _load_ca(self, tx: Tx, name: str, *, for_crl: bool = False) -> tuple[dict[str, Any], CA]:
        """An internal CA that may sign now (for a CRL: also one that is no longer active)."""
        from ..ca import CA

        try:
            row = self._get_row(tx, name)
        except NotFoundError:
            raise NotFoundError(f"no CA named {name!r} (create one with: certlab ca create {name})") from None
        settings = tx.one("SELECT copy_csr_sans FROM ca_settings WHERE certificate_id = ?", [row["id"]])
        if row["kind"] != Kind.INTERNAL_CA.value or settings is None or row["key_id"] is None:
            raise ConflictError(f"{name} is not an internal CA of this inventory (kind {row['kind']})")
        if not for_crl:
            if row["status"] != Status.ACTIVE.value:
                raise ConflictError(f"CA {name} is {row['status']}: it can no longer issue")
            if row["not_after"] is not None and row["not_after"] < self.now():
                raise ConflictError(f"CA {name} expired on {row['not_after'].date().isoformat()}: it can no longer issue")
        _, cert, chain = self._certificate(tx, name)
        assert cert is not None
        key = self._load_private_key(tx, row["key_id"])
        return row, CA.load(cert, key, chain, copy_csr_sans=bool(settings[0]))

    def _ca_status(self, tx: Tx, name: str) -> CAStatus:
        from .results import CAStatus

        row = self._get_row(tx, name)
        s = tx.one("SELECT path_length, name_rules, copy_csr_sans, crl_number, crl_days FROM ca_settings "
                   "WHERE certificate_id = ?", [row["id"]])
        if s is None:
            raise NotFoundError(f"no CA named {name!r}")
        issued = tx.scalar("SELECT count(*) FROM certificates WHERE issuer_cert_id = ?", [row["id"]])
        revoked = tx.scalar("SELECT count(*) FROM revocations WHERE issuer_cert_id = ?", [row["id"]])
        rules = {k: v for k, v in json.loads(s[1]).items() if v}
        return CAStatus(name=name, parent=row["issuer_certificate"], subject=row["subject"], not_after=row["not_after"],
                        status=self._to_record(row, self.now()).status, path_length=s[0], name_rules=rules,
                        copy_csr_sans=bool(s[2]), crl_number=int(s[3]), crl_days=int(s[4]), issued=int(issued),
                        revoked=int(revoked), exportable=bool(row["exportable"]))


def formats_check(data: bytes, source: str) -> bytes:
    formats.check_size(data, source)
    return data


def _free_name(tx: Tx, info: CertInfo) -> str:
    base = info.subject.split(",")[0].split("=", 1)[-1] if info.subject else ""
    if not base and info.sans:
        base = info.sans[0]
    base = re.sub(r"[^A-Za-z0-9_]+", "_", base).strip("_") or "signed"
    if not base[0].isalpha():
        base = "c_" + base
    base = base[:72]
    name, n = base, 2
    while tx.scalar("SELECT 1 FROM certificates WHERE name = ?", [name]):
        name = f"{base}_{n}"
        n += 1
    return name


def crl_entries(crl: x509.CertificateRevocationList) -> list[tuple[int, str]]:
    """(serial, reason name) of each entry of a CRL: for tests and ``ca crl --show``."""
    from ..ca import REVOCATION_REASONS

    names = {v: k for k, v in REVOCATION_REASONS.items()}
    out = []
    for entry in crl:
        try:
            reason = names[entry.extensions.get_extension_for_class(x509.CRLReason).value.reason]
        except x509.ExtensionNotFound:
            reason = "unspecified"
        out.append((entry.serial_number, reason))
    return out
