"""The core actions: create, CSR round trip, import, export, list, delete, credentials, audit, master key."""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .. import formats
from ..blob import Blob
from ..certs import CertInfo, CertSpec, issue_self_signed, read_each
from ..errors import (
    CertlabError,
    ChainError,
    ConflictError,
    FormatError,
    InvalidInputError,
    NotFoundError,
    PasswordRequiredError,
)
from ..keys import PrivateKey, same_public_key
from ..models import (
    Action,
    AuditEvent,
    AuditFilter,
    CertFilter,
    CertificateRecord,
    Credential,
    ImportResult,
    Kind,
    Outcome,
    Role,
    Status,
)
from ..names import check_unique_name, name_text
from ..store import Tx, vault
from ..store import audit as audit_chain
from .base import InventoryBase, record_rows

if TYPE_CHECKING:
    from .results import MasterKeyRotation

READERS = (Role.ADMIN, Role.AUDITOR, Role.ANALYST)
EXPORT_FORMATS = ("pem", "der", "chain", "csr", "pkcs12", "key")
CREDENTIAL_PURPOSES = ("mtls", "saml", "jwt", "server")
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
_SERIAL_PART = re.compile(r"-?[0-9a-f]+")  # what can be part of a stored serial: lower-case hex
_ENDPOINT = re.compile(r"^([a-z][a-z0-9+.-]*://[^\s/]+(/\S*)?|[A-Za-z0-9.-]+:\d{1,5}|\[[0-9a-fA-F:]+\]:\d{1,5})$")


def _compact(text: str) -> str:
    """A fingerprint or serial as pasted ("7E:E7:0C", "7e e7 0c") in the stored form: lower case, no colons
    or spaces."""
    return re.sub(r"[\s:]", "", text.lower())


def scans_text(f: CertFilter | None) -> bool:
    """True when the filter searches every certificate's text columns (not a whole fingerprint, which
    the index answers): the one filter whose scan costs more than reading its matches."""
    return bool(f and f.search and not _FINGERPRINT.fullmatch(_compact(f.search)))


if TYPE_CHECKING:
    from .results import ImportSource

# The result types live in results.py and load on first use (PEP 562): an action that returns
# none of them (reading one certificate, say) does not build them.
_RESULTS = ("ImportSource",)


def __getattr__(name: str) -> Any:
    if name in _RESULTS:
        from . import results

        return getattr(results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _base_name(info: CertInfo) -> str:
    """The name an imported certificate gets if it is free (else ``_2``, ``_3``, ... is added)."""
    base = info.common_name or ""
    if not base and info.sans:
        base = info.sans[0]
    base = re.sub(r"[^A-Za-z0-9_]+", "_", base).strip("_") or "cert"
    if not base[0].isalpha():
        base = "c_" + base
    return base[:72]


class CoreActions(InventoryBase):
    """What the platform's Certificate and Key Management page does."""

    # --- creation ----------------------------------------------------------------------------------

    def create_self_signed(self, spec: CertSpec) -> CertificateRecord:
        """Make a key and a self-signed certificate, store both (the key encrypted), audit it."""
        self._authorize(Action.CREATED, spec.name)
        issued = issue_self_signed(spec, now=self.now())  # the slow part, outside the lock
        info = CertInfo.of(issued.certificate)
        with self.db.write() as tx:
            self._check_free_name(tx, spec.name)
            key_id = self._store_private_key(tx, issued.private_key)
            self._insert_certificate(tx, {
                "name": spec.name, "label": spec.label, "kind": Kind.SELF_SIGNED.value,
                "status": Status.ACTIVE.value, "purpose": spec.purpose.value, "key_id": key_id,
                "exportable": spec.exportable, **self._info_columns(info),
            })
            self._audit(tx, Action.CREATED, spec.name, {
                "kind": "self_signed", "key_type": spec.key_type.value, "fingerprint_sha256": info.fingerprint_sha256,
                "not_after": info.not_after.isoformat(), "exportable": spec.exportable,
            })
            return self._get_record(tx, spec.name, new=True)

    def create_csr(self, spec: CertSpec) -> CertificateRecord:
        """Make a key and a PKCS#10 request; the entry stays pending until the signed chain is uploaded."""
        from ..csr import build_csr

        self._authorize(Action.CSR_CREATED, spec.name)
        csr, key = build_csr(spec)
        pem = csr.public_bytes(serialization.Encoding.PEM).decode()
        with self.db.write() as tx:
            self._check_free_name(tx, spec.name)
            key_id = self._store_private_key(tx, key)
            from ..keys import describe_public_key

            algorithm, size, label = describe_public_key(key.public_key())
            cert_id = self._insert_certificate(tx, {
                "name": spec.name, "label": spec.label, "kind": Kind.CA_SIGNED.value,
                "status": Status.PENDING.value, "purpose": spec.purpose.value, "key_id": key_id,
                "exportable": spec.exportable, "subject": name_text(csr.subject),
                "sans": json.dumps(list(spec.sans)), "key_algorithm": algorithm, "key_size": size, "key_type": label,
                "spki_sha256": tx.scalar("SELECT spki_sha256 FROM private_keys WHERE id = ?", [key_id]),
            })
            tx.execute("INSERT INTO csrs (id, certificate_id, pem, created_at) VALUES (?, ?, ?, ?)",
                       [tx.next_id("csrs"), cert_id, pem, self.now()])
            self._audit(tx, Action.CSR_CREATED, spec.name, {"key_type": label, "subject": name_text(csr.subject)})
            return self._get_record(tx, spec.name, new=True)

    def upload_signed(self, name: str, data: bytes, source: str = "signed certificate") -> CertificateRecord:
        """Accept the CA-signed certificate (or chain) for a pending CSR and activate the entry."""
        self._authorize(Action.SIGNED_UPLOADED, name)
        loaded = formats.load_bundle(data, source)
        if loaded.private_key is not None:
            raise FormatError(f"{source}: holds a private key; upload only the signed certificate and chain")
        with self.db.write() as tx:
            row = self._get_row(tx, name)
            if row["status"] != Status.PENDING.value:
                raise ConflictError(f"{name} is not waiting for a signed certificate (status {row['status']})")
            pub = tx.scalar("SELECT public_key FROM private_keys WHERE id = ?", [row["key_id"]])
            pending_key = serialization.load_der_public_key(bytes(pub))
            leaf = next((c for c in loaded.certificates if same_public_key(c.public_key(), pending_key)), None)
            if leaf is None:
                raise ChainError(f"{source}: no certificate in it matches the pending key of {name}")
            rest = formats.order_chain([c for c in loaded.certificates if c is not leaf])
            chain = formats.order_chain([leaf, *rest])
            if chain[0] is not leaf:
                chain = [leaf, *[c for c in chain if c is not leaf]]
            formats.check_chain(chain, source)
            info = CertInfo.of(leaf, source)
            self._check_free_fingerprint(tx, info.fingerprint_sha256, source)
            cols = self._info_columns(info)
            cols["chain_pem"] = formats.dump_pem(chain[1:]).decode()
            cols["status"] = Status.ACTIVE.value
            cols["updated_at"] = self.now()
            assignments = ", ".join(f"{c} = ?" for c in cols)
            tx.execute(f"UPDATE certificates SET {assignments} WHERE id = ?", [*cols.values(), row["id"]])
            self._audit(tx, Action.SIGNED_UPLOADED, name, {
                "fingerprint_sha256": info.fingerprint_sha256, "issuer": info.issuer, "chain_length": len(chain),
            })
            return self._get_record(tx, name)

    # --- import ------------------------------------------------------------------------------------

    def import_files(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        password: bytes | Callable[[], bytes] | None = None,
        trusted: bool = False,
        name: str | None = None,
        exportable: bool = False,
        progress: Any = None,
    ) -> list[ImportResult]:
        """Import files and directories; one result per file, carrying on past bad ones."""
        from .results import ImportSource

        sources: list[ImportSource] = []
        results: list[ImportResult] = []
        for p in _expand(paths):
            try:
                size = p.stat().st_size
                if size > formats.MAX_INPUT_BYTES:
                    raise FormatError(f"{p}: file is larger than {formats.MAX_INPUT_BYTES // 2**20} MiB")
                sources.append(ImportSource(str(p), p.read_bytes()))
            except FileNotFoundError:
                results.append(ImportResult(str(p), "rejected", None, f"{p}: no such file"))
            except (OSError, FormatError) as exc:
                reason = str(exc) if isinstance(exc, FormatError) else f"{p}: cannot be read ({exc.strerror})"
                results.append(ImportResult(str(p), "rejected", None, reason))
        return results + self.import_sources(sources, password=password, trusted=trusted, name=name,
                                             exportable=exportable, progress=progress)

    def import_sources(
        self,
        sources: Sequence[ImportSource],
        *,
        password: bytes | Callable[[], bytes] | None = None,
        trusted: bool = False,
        name: str | None = None,
        exportable: bool = False,
        progress: Any = None,
    ) -> list[ImportResult]:
        """Import files given as bytes (the dashboard's uploads): one transaction for all of them.

        ``password`` may be a callable that returns the password: it is called once, when the first file
        that needs one is met (the CLI asks on the terminal then).
        """
        self._authorize(Action.IMPORTED, name or (sources[0].source if len(sources) == 1 else f"{len(sources)} files"))
        if name is not None:
            check_unique_name(name)
        ask = password if callable(password) else None
        pw: bytes | None = None if callable(password) else password
        parsed: list[tuple[ImportSource, formats.Loaded | CertlabError]] = []
        # The certificates' fields are read afterwards, every file's at once (_read_fields), so that a
        # directory of small files is shared with worker processes as a large bundle is.
        for i, src in enumerate(sources):
            try:
                try:
                    parsed.append((src, formats.load_bundle(src.data, src.source, pw, read=False)))
                except PasswordRequiredError:
                    if ask is None:
                        raise
                    pw = ask()
                    parsed.append((src, formats.load_bundle(src.data, src.source, pw, read=False)))
            except CertlabError as exc:
                parsed.append((src, exc))
            if progress is not None:
                progress(i + 1, len(sources))
        parsed = _read_fields(parsed)  # before the lock: the slow part of an import
        with self.db.write() as tx:
            return _Importer(self, tx, trusted=trusted, name=name, exportable=exportable).run(parsed)

    # --- export ------------------------------------------------------------------------------------

    def export(self, name: str, fmt: str, *, password: bytes | str | None = None, legacy: bool = False) -> Blob:
        """Download a certificate (pem, der, chain, csr) or export its key (pkcs12, key).

        Keys leave only when marked exportable, only for admins, and only under a password.
        """
        fmt = fmt.lower()
        if fmt not in EXPORT_FORMATS:
            raise InvalidInputError(f"unknown export format {fmt!r}: choose {', '.join(EXPORT_FORMATS)}")
        if fmt in ("pkcs12", "key"):
            return self._export_key(name, fmt, password, legacy)
        self._authorize(Action.DOWNLOADED, name, READERS)
        with self.db.write() as tx:
            row, cert, chain = self._certificate(tx, name)
            if fmt == "csr":
                pem = tx.scalar("SELECT pem FROM csrs WHERE certificate_id = ? ORDER BY id DESC LIMIT 1", [row["id"]])
                if pem is None:
                    raise NotFoundError(f"{name} has no certificate signing request")
                blob = Blob(pem.encode(), f"{name}.csr", "application/pkcs10")
            elif cert is None:
                raise ConflictError(f"{name} is pending: it has no certificate yet (export --format csr instead)")
            elif fmt == "pem":
                blob = Blob(formats.dump_pem([cert]), f"{name}.pem", "application/x-pem-file")
            elif fmt == "der":
                blob = Blob(formats.dump_der(cert), f"{name}.cer", "application/pkix-cert")
            else:
                blob = Blob(formats.dump_pem([cert, *chain]), f"{name}-chain.pem", "application/x-pem-file")
            self._audit(tx, Action.DOWNLOADED, name, {"format": fmt})
            return blob

    def _export_key(self, name: str, fmt: str, password: bytes | str | None, legacy: bool) -> Blob:
        self._authorize(Action.EXPORTED, name)
        pw = formats.check_export_password(password, f"export of {name}")
        with self.db.read() as tx:
            row, cert, chain = self._certificate(tx, name)
        if row["key_id"] is None:
            raise NotFoundError(f"{name} has no private key in the inventory")
        if not row["exportable"]:
            raise self._deny(Action.EXPORTED, name, f"the private key of {name} is not exportable")
        if row["status"] == Status.REVOKED.value:
            raise self._deny(Action.EXPORTED, name, f"{name} is revoked: its key can no longer be exported")
        if fmt == "pkcs12" and cert is None:
            raise ConflictError(f"{name} is pending: a keystore needs the signed certificate")
        with self.db.write() as tx:
            key_id = tx.scalar("SELECT key_id FROM certificates WHERE id = ?", [row["id"]])
            key = self._load_private_key(tx, key_id)
            if fmt == "pkcs12":
                assert cert is not None
                data = formats.dump_pkcs12(name, key, cert, chain, pw, legacy=legacy)
                blob = Blob(data, f"{name}.p12", "application/x-pkcs12", secret=True)
            else:
                blob = Blob(formats.dump_encrypted_private_key(key, pw), f"{name}.key.pem", "application/x-pem-file", secret=True)
            details: dict[str, Any] = {"format": fmt}
            if fmt == "pkcs12":
                details["encryption"] = "legacy-3des-sha1" if legacy else "pbes2-aes256-sha256"
            self._audit(tx, Action.EXPORTED, name, details)
            return blob

    # --- reading -----------------------------------------------------------------------------------

    def get(self, name: str, *, at: dt.datetime | None = None) -> CertificateRecord:
        with self.db.read() as tx:
            return self._get_record(tx, name, at)

    def certificate(self, name: str) -> x509.Certificate:
        """The parsed certificate (public), for callers that need more than the record."""
        with self.db.read() as tx:
            _, cert, _ = self._certificate(tx, name)
        if cert is None:
            raise ConflictError(f"{name} is pending: it has no certificate yet")
        return cert

    def chain(self, name: str) -> list[x509.Certificate]:
        """The certificate followed by its stored chain."""
        with self.db.read() as tx:
            _, cert, chain = self._certificate(tx, name)
        if cert is None:
            raise ConflictError(f"{name} is pending: it has no certificate yet")
        return [cert, *chain]

    def list(self, filters: CertFilter | None = None, *, at: dt.datetime | None = None,
             findings: bool = False) -> list[CertificateRecord]:
        """The inventory, filtered; expiry state computed for ``at`` (default now).

        ``findings=True`` lints every returned certificate (its chain, bindings, shared keys) and fills in
        ``findings``, as ``get`` always does; off by default, because linting costs a parse per certificate
        and a listing of a large inventory should not pay it unasked (``lint()`` lints them all at once).
        """
        f = filters or CertFilter()
        when = at or self.now()
        where, params = self._filter_sql(f, when)
        tail = f"WHERE {where} ORDER BY c.not_after NULLS LAST, c.name"
        if f.limit is not None:
            tail += " LIMIT $limit OFFSET $offset"
            params |= {"limit": f.limit, "offset": f.offset}
        with self.db.read() as tx:
            records = [self._to_record(r, when) for r in record_rows(tx, tail, params)]
            return self._with_findings(tx, records, when) if findings else records

    def count(self, filters: CertFilter | None = None, *, at: dt.datetime | None = None) -> int:
        where, params = self._filter_sql(filters or CertFilter(), at or self.now())
        with self.db.read() as tx:
            return int(tx.scalar(f"SELECT count(*) FROM certificates c WHERE {where}", params))

    def _filter_sql(self, f: CertFilter, when: dt.datetime) -> tuple[str, dict[str, Any]]:
        clauses = ["TRUE"]
        params: dict[str, Any] = {}
        status_sql = (
            "CASE WHEN c.status <> 'active' THEN c.status WHEN c.not_after < $now THEN 'expired' "
            "WHEN c.not_after < $warn THEN 'expiring' ELSE 'active' END"
        )
        if f.status is not None:
            clauses.append(f"{status_sql} = $status")
            params |= self._time_params(when) | {"status": f.status.value}
        if f.kind is not None:
            clauses.append("c.kind = $kind")
            params["kind"] = f.kind.value
        if f.key_type:
            clauses.append("c.key_type = $key_type")
            params["key_type"] = f.key_type
        if f.issuer:
            clauses.append("contains(lower(c.issuer), lower($issuer))")
            params["issuer"] = f.issuer
        if f.expiring_within is not None:
            clauses.append("c.status = 'active' AND c.not_after >= $now_e AND c.not_after < $until")
            params |= {"now_e": when, "until": when + dt.timedelta(days=f.expiring_within)}
        if f.search and _FINGERPRINT.fullmatch(_compact(f.search)):
            # A whole SHA-256 fingerprint: the unique index answers it, no scan of every text column. As a
            # sub-select: a top-N (ORDER BY ... LIMIT) around a plain equality makes DuckDB scan the table.
            clauses.append("c.id IN (SELECT id FROM certificates WHERE fingerprint_sha256 = $q_exact)")
            params["q_exact"] = _compact(f.search)
        elif f.search:
            # Literal, case-insensitive containment. contains(lower(...)) rather than ILIKE with an ESCAPE
            # clause, which DuckDB evaluates about twice as slowly (measured at a million rows), and every
            # column scanned costs a read of it at every row (~60 ms a million): the serial (stored as
            # lower-case hex) only when the text could be part of one, as shown with colons or as stored.
            ors = [f"contains(lower(c.{col}), lower($q))" for col in ("name", "label", "subject", "issuer", "sans")]
            params["q"] = f.search
            if _SERIAL_PART.fullmatch(_compact(f.search)):
                ors.append("contains(c.serial, $q_serial)")
                params["q_serial"] = _compact(f.search)
            clauses.append("(" + " OR ".join(ors) + ")")
        if f.credential:
            clauses.append("EXISTS (SELECT 1 FROM named_credentials n WHERE n.certificate_id = c.id AND n.name = $cred)")
            params["cred"] = f.credential
        return " AND ".join(clauses), params

    # --- delete ------------------------------------------------------------------------------------

    def delete(self, name: str) -> None:
        """Remove a certificate (and its key). Refused while a named credential uses it."""
        self._authorize(Action.DELETED, name)
        with self.db.write() as tx:
            row = self._get_row(tx, name)
            if row["creds"]:
                raise ConflictError(f"{name} is in use by named credentials: {row['creds'].replace(',', ', ')}")
            issued = tx.rows("SELECT name FROM certificates WHERE issuer_cert_id = ? ORDER BY name LIMIT 5", [row["id"]])
            if issued:
                raise ConflictError(f"{name} is the issuer of certificates in the inventory: {', '.join(r[0] for r in issued)}")
            self._delete_related(tx, row)
            key_id = tx.scalar("SELECT key_id FROM certificates WHERE id = ?", [row["id"]])
            tx.execute("UPDATE certificates SET predecessor_id = NULL WHERE predecessor_id = ?", [row["id"]])
            tx.execute("UPDATE certificates SET successor_id = NULL WHERE successor_id = ?", [row["id"]])
            tx.execute("DELETE FROM certificates WHERE id = ?", [row["id"]])
            if key_id is not None and not tx.scalar("SELECT count(*) FROM certificates WHERE key_id = ?", [key_id]):
                tx.execute("DELETE FROM private_keys WHERE id = ?", [key_id])
            self._audit(tx, Action.DELETED, name, {"fingerprint_sha256": row["fingerprint_sha256"], "kind": row["kind"]})

    def _delete_related(self, tx: Tx, row: dict[str, Any]) -> None:
        super()._delete_related(tx, row)
        tx.execute("DELETE FROM csrs WHERE certificate_id = ?", [row["id"]])

    # --- named credentials -----------------------------------------------------------------------------

    def add_credential(self, name: str, *, certificate: str, endpoint: str, purpose: str, owner: str = "") -> Credential:
        """Record that an integration (a named credential) uses a certificate."""
        self._authorize(Action.CREDENTIAL_ADDED, name)
        check_unique_name(name)
        purpose = _check_purpose(purpose)
        endpoint = _check_endpoint(endpoint)
        with self.db.write() as tx:
            if tx.scalar("SELECT 1 FROM named_credentials WHERE name = ?", [name]):
                raise ConflictError(f"a named credential called {name!r} exists already")
            cert_id = self._bindable(tx, certificate)
            now = self.now()
            tx.execute(
                "INSERT INTO named_credentials (id, name, certificate_id, endpoint, purpose, owner, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [tx.next_id("named_credentials"), name, cert_id, endpoint, purpose, owner, now, now],
            )
            self._audit(tx, Action.CREDENTIAL_ADDED, name, {"certificate": certificate, "endpoint": endpoint, "purpose": purpose})
            return self._credential(tx, name)

    def rebind_credential(self, name: str, certificate: str) -> Credential:
        """Point a named credential at another certificate."""
        self._authorize(Action.CREDENTIAL_UPDATED, name)
        with self.db.write() as tx:
            old = self._credential(tx, name)
            cert_id = self._bindable(tx, certificate)
            tx.execute("UPDATE named_credentials SET certificate_id = ?, updated_at = ? WHERE name = ?", [cert_id, self.now(), name])
            self._audit(tx, Action.CREDENTIAL_UPDATED, name, {"from": old.certificate, "to": certificate})
            return self._credential(tx, name)

    def delete_credential(self, name: str) -> None:
        self._authorize(Action.CREDENTIAL_DELETED, name)
        with self.db.write() as tx:
            old = self._credential(tx, name)
            tx.execute("DELETE FROM named_credentials WHERE name = ?", [name])
            self._audit(tx, Action.CREDENTIAL_DELETED, name, {"certificate": old.certificate})

    def credentials(self) -> builtins.list[Credential]:
        with self.db.read() as tx:
            return [self._to_credential(r) for r in tx.rows(_CREDENTIAL_SQL + " ORDER BY n.name")]

    def credential(self, name: str) -> Credential:
        with self.db.read() as tx:
            return self._credential(tx, name)

    def _credential(self, tx: Tx, name: str) -> Credential:
        row = tx.one(_CREDENTIAL_SQL + " WHERE n.name = ?", [name])
        if row is None:
            raise NotFoundError(f"no named credential called {name!r}")
        return self._to_credential(row)

    @staticmethod
    def _to_credential(row: tuple[Any, ...]) -> Credential:
        return Credential(name=row[0], certificate=row[1], endpoint=row[2], purpose=row[3], owner=row[4], created_at=row[5])

    def _bindable(self, tx: Tx, certificate: str) -> int:
        row = self._get_row(tx, certificate)
        if row["status"] in (Status.PENDING.value, Status.REVOKED.value, Status.RETIRED.value):
            raise ConflictError(f"{certificate} is {row['status']}: it cannot be bound to a named credential")
        return int(row["id"])

    # --- audit ---------------------------------------------------------------------------------------

    def audit_events(self, filters: AuditFilter | None = None) -> builtins.list[AuditEvent]:
        f = filters or AuditFilter()
        where, params = audit_where(f)
        sql = ("SELECT seq, occurred_at, actor, role, action, object, details, outcome, hash FROM audit_events WHERE "
               + where + (" ORDER BY seq DESC" if f.newest_first else " ORDER BY seq"))
        if f.limit is not None:
            sql += " LIMIT $limit OFFSET $offset"
            params |= {"limit": f.limit, "offset": f.offset}
        with self.db.read() as tx:
            return [AuditEvent(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], r[8]) for r in tx.rows(sql, params)]

    def verify_audit(self, expect_head: str | None = None) -> audit_chain.Verification:
        """Walk the audit chain; with ``expect_head`` (SEQ:HASH kept elsewhere) also catch removed newest events."""
        with self.db.read() as tx:
            return audit_chain.verify(tx, self._keyring().audit_key, expect_head)

    # --- master key -------------------------------------------------------------------------------------

    def rotate_master_key(self) -> MasterKeyRotation:
        """Rewrap every data key under a new master key; touches no certificate.

        Crash safe: the key file is replaced atomically, always holds every master key a row refers to,
        and the whole rotation holds the exclusive lock (no other action seals a key meanwhile). A
        rotation cut short is finished by the next ``certlab.open`` or rotation.

        The copies a restore kept beside the inventory (``NAME.pre-restore-TIME`` and its key file) are
        rewrapped too, so that they can still be restored and the old master key is nowhere on disk; a
        copy that cannot be is reported (result, audit event), with its key file as it was.
        """
        from .maintenance import rewrap_pre_restore_copies
        from .results import MasterKeyRotation

        self._authorize(Action.MASTER_KEY_ROTATED, "master-key")
        new_key = os.urandom(32)
        new_id = vault.key_id_of(new_key)
        with self.db.exclusive():
            ring = self._keyring()
            if ring.from_env:
                raise InvalidInputError("the master key comes from $CERTLAB_MASTER_KEY: rotate it where it is kept, "
                                        "then unset it and rotate here")
            # step 1: both keys on disk, the new one current (a crash here leaves rows under the old one)
            grown = vault.Keyring({**ring.master_keys, new_id: new_key}, new_id, ring.audit_key)
            vault.write_key_file(self.key_file, grown)
            # the pre-restore copies, each on its own (a crash leaves each one restorable with its key file)
            copies_done, copies_failed = rewrap_pre_restore_copies(self.db.path, new_id, new_key)
            # step 2: every data key rewrapped, with the audit event, in one transaction
            with self.db.write() as tx:
                rows = tx.rows("SELECT id, spki_sha256, encrypted_key, wrapped_data_key, master_key_id FROM private_keys")
                for key_id, _spki, enc, wrapped, mk in rows:
                    sealed = vault.SealedKey(bytes(enc), bytes(wrapped), mk)
                    tx.execute("UPDATE private_keys SET wrapped_data_key = ?, master_key_id = ? WHERE id = ?",
                               [vault.rewrap(grown, new_id, key_id, sealed), new_id, key_id])
                details: dict[str, Any] = {"keys_rewrapped": len(rows), "new_key_id": new_id}
                if copies_done:
                    details["pre_restore_rewrapped"] = [str(p) for p in copies_done]
                if copies_failed:
                    details["pre_restore_failed"] = {str(p): why for p, why in copies_failed}
                self._audit(tx, Action.MASTER_KEY_ROTATED, "master-key", details)
            # step 3: only the new key remains.
            vault.write_key_file(self.key_file, vault.Keyring({new_id: new_key}, new_id, ring.audit_key))
        return MasterKeyRotation(len(rows), new_id, tuple(copies_done), tuple(copies_failed))

    def _finish_master_key_rotation(self) -> None:
        """Drop master keys no row uses any more (what a rotation cut short by a crash left behind)."""
        tmp = vault.key_file_tmp(self.key_file)
        ring = self._keyring()
        if ring.from_env or (len(ring.master_keys) == 1 and not tmp.exists()):
            return
        with self.db.exclusive():
            ring = self._keyring()
            with self.db.read() as tx:
                used = {str(r[0]) for r in tx.rows("SELECT DISTINCT master_key_id FROM private_keys")}
            if used <= {ring.current}:
                vault.write_key_file(self.key_file, vault.Keyring({ring.current: ring.master_key}, ring.current,
                                                                  ring.audit_key))
            tmp.unlink(missing_ok=True)

    # --- helpers ---------------------------------------------------------------------------------------

    def _check_free_name(self, tx: Tx, name: str) -> None:
        if tx.scalar("SELECT 1 FROM certificates WHERE name = ?", [name]):
            raise ConflictError(f"a certificate named {name!r} exists already")

    def _check_free_fingerprint(self, tx: Tx, fingerprint: str, source: str) -> None:
        other = tx.scalar("SELECT name FROM certificates WHERE fingerprint_sha256 = ?", [fingerprint])
        if other:
            raise ConflictError(f"{source}: this certificate is in the inventory already as {other}")


_CREDENTIAL_SQL = (
    "SELECT n.name, c.name, n.endpoint, n.purpose, n.owner, n.created_at "
    "FROM named_credentials n JOIN certificates c ON c.id = n.certificate_id"
)


def audit_where(f: AuditFilter) -> tuple[str, dict[str, Any]]:
    """The WHERE clause and parameters of an audit filter (shared by listings, counts and exports)."""
    clauses, params = ["TRUE"], {}
    for col in ("actor", "action", "object", "outcome"):
        value = getattr(f, col)
        if value:
            clauses.append(f"{col} = ${col}")
            params[col] = value.value if hasattr(value, "value") else value
    if f.since:
        clauses.append("occurred_at >= $since")
        params["since"] = f.since
    if f.until:
        clauses.append("occurred_at < $until")
        params["until"] = f.until
    return " AND ".join(clauses), params


def _check_purpose(purpose: str) -> str:
    p = str(purpose).strip().lower()
    if p not in CREDENTIAL_PURPOSES:
        raise InvalidInputError(f"unknown credential purpose {purpose!r}: choose {', '.join(CREDENTIAL_PURPOSES)}")
    return p


def _check_endpoint(endpoint: str) -> str:
    e = str(endpoint).strip()
    if len(e) > 2048 or not _ENDPOINT.fullmatch(e):
        raise InvalidInputError(f"invalid endpoint {endpoint!r}: give a URL (https://host/path) or HOST:PORT")
    return e


def _expand(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        out.extend(_files_under(p) if p.is_dir() else [p])
    return out


def _files_under(top: Path) -> list[Path]:
    """The files in a folder and its subfolders, not hidden ones, in path order (what sorting rglob's
    files gives, without a stat per file and Path comparisons: a tenth of the time for 10,000 files).
    Linked folders are not entered; linked files are taken."""
    found: list[str] = []
    todo = [str(top)]
    while todo:
        with os.scandir(todo.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    todo.append(entry.path)
                elif not entry.name.startswith(".") and entry.is_file():
                    found.append(entry.path)
    found.sort(key=lambda path: path.split(os.sep))
    return [Path(f) for f in found]


def _pair_key_files(parsed: Sequence[tuple[ImportSource, formats.Loaded | CertlabError]]) -> dict[int, int]:
    """Files holding a private key alone, matched to the certificate file of the same import whose
    certificate carries that key (``certlab import server.crt server.key``)."""
    alone = {i: loaded.private_key for i, (_, loaded) in enumerate(parsed)
             if isinstance(loaded, formats.Loaded) and loaded.private_key is not None and not loaded.certificates}
    pairs: dict[int, int] = {}
    for i, (_, loaded) in enumerate(parsed):
        if not alone or not isinstance(loaded, formats.Loaded) or loaded.private_key is not None:
            continue
        for k, key in list(alone.items()):
            if any(same_public_key(c.public_key(), key.public_key()) for c in loaded.certificates):
                pairs[i] = k
                del alone[k]
                break
    return pairs


def _read_fields(parsed: list[tuple[ImportSource, formats.Loaded | CertlabError]]
                 ) -> list[tuple[ImportSource, formats.Loaded | CertlabError]]:
    """Read the fields of every loaded certificate that its loader left unread (load_bundle(read=False),
    DER, PKCS#7 and PKCS#12 files), all files at once, before the import takes the lock; a file with a
    certificate that cannot be read is rejected with that error, as a file read on its own would be."""
    items: list[tuple[x509.Certificate, str]] = []
    owners: list[int] = []
    for i, (src, loaded) in enumerate(parsed):
        if isinstance(loaded, formats.Loaded) and loaded.certificates and not loaded.infos:
            items.extend((c, src.source) for c in loaded.certificates)
            owners.extend([i] * len(loaded.certificates))
    by_file: dict[int, list[CertInfo | CertlabError]] = {}
    for i, got in zip(owners, read_each(items)):
        by_file.setdefault(i, []).append(got)
    out = list(parsed)
    for i, got_all in by_file.items():
        src, loaded = parsed[i]
        assert isinstance(loaded, formats.Loaded)
        error = next((g for g in got_all if isinstance(g, CertlabError)), None)
        infos = tuple(g for g in got_all if isinstance(g, CertInfo))
        out[i] = (src, error) if error is not None else (src, dataclasses.replace(loaded, infos=infos))
    return out


_NAMES_PER_QUERY = 8


def _suffixed(base: str, n: int) -> str:
    return base if n == 1 else f"{base}_{n}"


class _Importer:
    """Turns parsed files into rows: one batch insert for certificates, one audit event per file."""

    def __init__(self, inv: CoreActions, tx: Tx, *, trusted: bool, name: str | None, exportable: bool) -> None:
        self.inv, self.tx, self.trusted, self.name, self.exportable = inv, tx, trusted, name, exportable
        self.taken: set[str] = set()  # names in use, of those this import looked at (see _check_names)
        self.checked: set[str] = set()  # names looked up (taken or free)
        self.known: dict[str, str] = {}  # fingerprint -> name, of this import's certificates already stored
        self.rows: list[dict[str, Any]] = []
        self.next_id = tx.next_id("certificates")
        self.now = inv.now()
        self.events: list[dict[str, Any]] = []  # one per file, chained in one batch at the end

    def run(self, parsed: Sequence[tuple[ImportSource, formats.Loaded | CertlabError]]) -> list[ImportResult]:
        self._prefetch(parsed)
        pairs = _pair_key_files(parsed)  # certificate file index -> index of the file holding its key alone
        paired_keys = set(pairs.values())
        results: list[ImportResult | None] = [None] * len(parsed)
        for i, (src, loaded) in enumerate(parsed):
            if i in paired_keys:
                continue  # reported with its certificate file
            if isinstance(loaded, CertlabError):
                results[i] = ImportResult(src.source, "rejected", None, str(loaded))
                continue
            try:
                if i in pairs:
                    key_src, key_loaded = parsed[pairs[i]]
                    assert isinstance(key_loaded, formats.Loaded) and key_loaded.private_key is not None
                    result = self._with_key(src, key_loaded.private_key, list(loaded.certificates), key_src.source)
                else:
                    result = self._one(src, loaded)
            except CertlabError as exc:
                result = ImportResult(src.source, "rejected", None, str(exc))
            results[i] = result
            if i in pairs:
                key_src = parsed[pairs[i]][0]
                reason = (f"private key of {src.source}" if result.result != "rejected"
                          else f"{key_src.source}: not imported, its certificate file was rejected ({result.reason})")
                results[pairs[i]] = ImportResult(key_src.source, result.result, result.name, reason)
        self._flush()
        audit_chain.append_many(self.tx, self.inv._keyring().audit_key, self.events)
        return [r for r in results if r is not None]

    def _prefetch(self, parsed: Sequence[tuple[ImportSource, formats.Loaded | CertlabError]]) -> None:
        """Read, once, the stored names and fingerprints this import can collide with: those of its own
        certificates, and the names its certificates would get (``base``, ``base_2``, ...). Reading the
        whole name and fingerprint columns instead made one file's import into a million certificates
        take seconds. Every loaded certificate's fields were read before the lock (_read_fields)."""
        fingerprints: set[str] = set()
        bases: set[str] = {self.name} if self.name else set()
        for _, loaded in parsed:
            if isinstance(loaded, formats.Loaded):
                for info in loaded.infos:
                    fingerprints.add(info.fingerprint_sha256)
                    bases.add(_base_name(info))
        if fingerprints:
            self.known = dict(self.tx.rows(
                "SELECT fingerprint_sha256, name FROM certificates WHERE fingerprint_sha256 IN "
                "(SELECT unnest(?::VARCHAR[]))", [sorted(fingerprints)]))
        self._check_names([_suffixed(b, k) for b in sorted(bases) for k in range(1, _NAMES_PER_QUERY + 1)])

    def _audit(self, obj: str, details: dict[str, Any]) -> None:
        self.events.append({"at": self.inv.now(), "actor": self.inv.actor.name, "role": self.inv.actor.role.value,
                            "action": Action.IMPORTED.value, "object": obj, "details": details,
                            "outcome": Outcome.OK.value})

    def _one(self, src: ImportSource, loaded: formats.Loaded) -> ImportResult:
        if not loaded.certificates:
            raise FormatError(f"{src.source}: holds a private key only, and no certificate of this import matches it; "
                              "import it together with its certificate file")
        if loaded.private_key is not None:
            return self._with_key(src, loaded.private_key, list(loaded.certificates))
        if self.name is not None and len(loaded.certificates) > 1:
            raise InvalidInputError(f"{src.source}: --name applies to one certificate, this file has {len(loaded.certificates)}")
        infos = (list(loaded.infos) if len(loaded.infos) == len(loaded.certificates)  # read once, by the loader
                 else [CertInfo.of(c, src.source) for c in loaded.certificates])
        if self.trusted:
            for info in infos:
                if not (info.is_ca or info.self_issued):
                    raise InvalidInputError(f"{src.source}: {info.subject} is not a CA certificate; import it without --trusted")
        new: dict[str, CertInfo] = {}
        dup_names: list[str] = []
        for info in infos:
            if info.fingerprint_sha256 in self.known:
                dup_names.append(self.known[info.fingerprint_sha256])
            else:
                new.setdefault(info.fingerprint_sha256, info)
        if not new:
            return ImportResult(src.source, "duplicate", dup_names[0], f"already in the inventory as {', '.join(dup_names[:5])}")
        picked = self._pick_names(list(new.values()))  # may refuse: nothing is written before this
        names = [self._add(info, None, "", name) for info, name in zip(new.values(), picked)]
        infos = list(new.values())
        kind = "trusted_ca" if self.trusted else "imported"
        self._audit(names[0] if len(names) == 1 else src.source, {
            "file": src.source, "kind": kind, "count": len(names), "duplicates": len(dup_names),
            "fingerprints_sha256": [i.fingerprint_sha256 for i in infos[:20]],
        })
        return ImportResult(src.source, "imported", names[0] if len(names) == 1 else ",".join(names[:3]) + (
            f" (+{len(names) - 3} more)" if len(names) > 3 else ""), None)

    def _with_key(self, src: ImportSource, key: PrivateKey, certs: list[x509.Certificate],
                  key_file: str | None = None) -> ImportResult:
        leaf = next((c for c in certs if same_public_key(c.public_key(), key.public_key())), None)
        if leaf is None:
            raise ChainError(f"{src.source}: the private key matches none of its certificates")
        chain = [leaf, *formats.order_chain([c for c in certs if c is not leaf])]
        formats.check_chain(chain, src.source)
        info = CertInfo.of(leaf, src.source)
        if info.fingerprint_sha256 in self.known:
            existing = self.known[info.fingerprint_sha256]
            return ImportResult(src.source, "duplicate", existing, f"already in the inventory as {existing}")
        (name,) = self._pick_names([info])  # may refuse: nothing is written before this
        self._flush()  # keys need ids in order with their certificates
        key_id = self.inv._store_private_key(self.tx, key)
        self._add(info, key_id, formats.dump_pem(chain[1:]).decode(), name)
        self._flush()
        self._audit(name, {
            "file": src.source, "kind": "imported", "with_private_key": True, "exportable": self.exportable,
            "fingerprint_sha256": info.fingerprint_sha256, "chain_length": len(chain),
            **({"key_file": key_file} if key_file else {}),
        })
        return ImportResult(src.source, "imported", name, None)

    def _pick_names(self, infos: Sequence[CertInfo]) -> list[str]:
        """The names the certificates of one file will get; refuses before anything is written."""
        if self.name is not None:
            self._check_names([self.name])
            if self.name in self.taken:
                raise ConflictError(f"a certificate named {self.name!r} exists already")
            self.taken.add(self.name)
            return [self.name]
        return [self._name_for(info) for info in infos]

    def _name_for(self, info: CertInfo) -> str:
        """The first free name of base, base_2, base_3, ... (looked up in batches)."""
        base, n = _base_name(info), 1
        while True:
            name = _suffixed(base, n)
            if name not in self.checked:
                self._check_names([_suffixed(base, k) for k in range(n, n + _NAMES_PER_QUERY)])
            if name not in self.taken:
                self.taken.add(name)
                return name
            n += 1

    def _check_names(self, names: list[str]) -> None:
        """Which of ``names`` are stored: one lookup of these names, not a read of every name (a
        million names read for a one-file import took seconds; a regular expression over them too)."""
        todo = sorted(set(names) - self.checked)
        if todo:
            self.taken.update(r[0] for r in self.tx.rows(
                "SELECT name FROM certificates WHERE name IN (SELECT unnest(?::VARCHAR[]))", [todo]))
            self.checked.update(todo)

    def _add(self, info: CertInfo, key_id: int | None, chain_pem: str, name: str) -> str:
        cols = self.inv._info_columns(info)
        self.rows.append({
            "id": self.next_id, "name": name, "label": name,
            "kind": Kind.TRUSTED_CA.value if self.trusted else Kind.IMPORTED.value,
            "status": Status.ACTIVE.value, "purpose": None, "chain_pem": chain_pem, "key_id": key_id,
            "exportable": self.exportable and key_id is not None, "owner": "", "tags": "[]",
            "created_at": self.now, "updated_at": self.now, **cols,
        })
        self.next_id += 1
        self.known[info.fingerprint_sha256] = name
        return name

    def _flush(self) -> None:
        if not self.rows:
            return
        for row in self.rows:
            row["der"] = bytes(row["der"])
        self.tx.insert_rows("certificates", self.rows)
        self.rows = []
