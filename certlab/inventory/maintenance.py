"""Backup and restore of the inventory.

A backup is a consistent copy of the database file, taken while the inventory is in use. Private keys in
it stay encrypted under the master key, which lives in the key file, never in the database. The key
file is copied only when asked (``with_keys``), to a separate file created 0600: whoever holds both
files holds the keys, so keep them apart (the database copy with the ordinary backups, the key file
where secrets are kept).

A restore checks the copy first (a certlab inventory, a schema this code knows, an audit chain that
verifies, every private key decrypts with the key file it will be used with) and only then replaces
the inventory, atomically, keeping the replaced file beside it as ``NAME.pre-restore-TIME``.

Optimizing rewrites the file: no free blocks (DuckDB never gives back the space of deleted rows), and the
certificates in expiry order, which is the order every expiry view reads them in.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConflictError, InvalidInputError, PermissionDeniedError, StoreError
from ..models import Action, Outcome, Role
from ..store import audit as audit_chain
from ..store import backup as copies
from ..store import vault
from .base import InventoryBase

BACKUP_READERS = (Role.ADMIN, Role.AUDITOR)


if TYPE_CHECKING:
    from .results import BackupResult, OptimizeResult, RestoreResult

# The result types live in results.py and load on first use (PEP 562): an action that returns
# none of them (reading one certificate, say) does not build them.
_RESULTS = ("BackupResult", "OptimizeResult", "RestoreResult", "MasterKeyRotation")


def __getattr__(name: str) -> Any:
    if name in _RESULTS:
        from . import results

        return getattr(results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def pre_restore_copies(db_path: Path) -> list[Path]:
    """The replaced inventories a restore kept beside ``db_path`` (``NAME.pre-restore-TIME``)."""
    prefix = f"{db_path.name}.pre-restore-"
    return sorted(p for p in db_path.parent.glob(f"{glob_escape(prefix)}*")
                  if p.name[len(prefix):].isalnum() and p.is_file())


def glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def rewrap_pre_restore_copies(db_path: Path, new_id: str, new_key: bytes
                              ) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Rewrap the data keys of every pre-restore copy under the new master key, and leave only that key
    in the copy's key file: the copy can still be restored, and no old master key stays on disk.

    Each copy in its own steps, crash safe like the rotation itself: its key file first holds old and
    new keys, then its rows are rewrapped in one transaction, then only the new key remains. A copy
    that cannot be rewrapped is put back as it was and reported.
    """
    done: list[Path] = []
    failed: list[tuple[Path, str]] = []
    for copy in pre_restore_copies(db_path):
        key_file = vault.key_file_for(copy)
        if not key_file.exists():
            continue  # no key file beside it: no master key either
        try:
            ring = vault.load_keyring(key_file)
        except (StoreError, PermissionDeniedError) as exc:
            failed.append((copy, str(exc)))
            continue
        if set(ring.master_keys) == {new_id}:
            continue
        grown = vault.Keyring({**ring.master_keys, new_id: new_key}, new_id, ring.audit_key)
        try:
            vault.write_key_file(key_file, grown)
            with copies.open_private(copy, str(copy)) as tx:
                tx.execute("BEGIN TRANSACTION")
                try:
                    for key_id, _spki, enc, wrapped, mk in tx.rows(
                            "SELECT id, spki_sha256, encrypted_key, wrapped_data_key, master_key_id FROM private_keys"):
                        sealed = vault.SealedKey(bytes(enc), bytes(wrapped), str(mk))
                        if str(mk) not in grown.master_keys:
                            raise StoreError(f"private key {key_id} is wrapped by master key {mk}, which its key "
                                             "file does not hold")
                        tx.execute("UPDATE private_keys SET wrapped_data_key = ?, master_key_id = ? WHERE id = ?",
                                   [vault.rewrap(grown, new_id, int(key_id), sealed), new_id, key_id])
                except BaseException:
                    tx.execute("ROLLBACK")
                    raise
                tx.execute("COMMIT")
            copies.fsync_file(copy)
            vault.write_key_file(key_file, vault.Keyring({new_id: new_key}, new_id, ring.audit_key))
            done.append(copy)
        except (StoreError, OSError) as exc:
            vault.write_key_file(key_file, ring)  # as it was: its rows are still under its own keys
            failed.append((copy, getattr(exc, "strerror", None) or str(exc)))
    return done, failed


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


class MaintenanceActions(InventoryBase):
    """Backups while in use, and restores that check before they replace."""

    def backup(self, out: str | os.PathLike[str], *, with_keys: bool = False, overwrite: bool = False) -> BackupResult:
        """Write a consistent, checked copy of the inventory to ``out`` (mode 0600).

        With ``with_keys`` the key file goes to ``OUT.keys`` (0600) as well; without, the copy can be
        restored only with the inventory's key file (keep it, and a copy after every master-key rotation).
        """
        from .results import BackupResult

        target = Path(out).expanduser().absolute()
        self._authorize(Action.BACKUP, str(target))
        keys_target = vault.key_file_for(target) if with_keys else None
        self._check_target(target, overwrite)
        if keys_target is not None:
            self._check_target(keys_target, overwrite)
        stale = copies.remove_stale_copies(self.db.path, target, *([keys_target] if keys_target else []))
        partial = copies.temporary_copy(target, "partial")
        try:
            key_bytes = copies.copy_under_shared_lock(self.db, partial, self.key_file)
            assert key_bytes is not None
            ring = self._keyring()  # the ring the copy was taken with (rotation holds the exclusive lock)
            report = copies.check_copy(partial, str(target), ring)
            copies.fsync_file(partial)
            if keys_target is not None:
                partial_keys = copies.temporary_copy(keys_target, "partial")
                fd = os.open(partial_keys, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(key_bytes)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(partial_keys, keys_target)
            os.replace(partial, target)
            copies.fsync_dir(target.parent)
        except OSError as exc:
            raise StoreError(f"{target}: cannot write the backup ({exc.strerror})") from None
        finally:
            copies.remove_quietly(partial, copies.wal_of(partial))
        result = BackupResult(target, keys_target, report.certificates, report.private_keys, report.audit.head,
                              report.audit.events, target.stat().st_size, tuple(stale))
        with self.db.write() as tx:
            self._audit(tx, Action.BACKUP, str(target), {
                "with_keys": with_keys, "certificates": result.certificates, "private_keys": result.private_keys,
                "audit_head": result.audit_head, "bytes": result.size, **_stale_details(stale),
            })
        return result

    def verify_backup(self, source: str | os.PathLike[str], *, keys: str | os.PathLike[str] | None = None,
                      expect_head: str | None = None) -> RestoreResult:
        """Check a backup as a restore would (schema, audit chain, every key decrypts); replace nothing."""
        from .results import RestoreResult

        src = Path(source).expanduser().absolute()
        self._authorize(Action.AUDIT_VERIFIED, str(src), BACKUP_READERS)
        ring = self._ring_for(src, keys)
        stale = copies.remove_stale_copies(self.db.path)
        scratch = copies.temporary_copy(self.db.path, "verify")
        try:
            self._stage(src, scratch)
            report = copies.check_copy(scratch, str(src), ring, expect_head)
        finally:
            copies.remove_quietly(scratch, copies.wal_of(scratch))
        with self.db.write() as tx:
            self._audit(tx, Action.AUDIT_VERIFIED, str(src), {"backup": True, "audit_head": report.audit.head,
                                                               "certificates": report.certificates,
                                                               **_stale_details(stale)})
        return RestoreResult(src, self.db.path, None, report.certificates, report.private_keys, report.audit.head,
                             checked_only=True, stale_removed=tuple(stale))

    def restore(self, source: str | os.PathLike[str], *, keys: str | os.PathLike[str] | None = None,
                expect_head: str | None = None) -> RestoreResult:
        """Replace the inventory with a backup, after checking the backup. Works on a lost inventory too.

        ``keys``: the backup's key file (``OUT.keys``); without it the inventory's key file must open the
        backup. The replaced database is kept beside it as ``NAME.pre-restore-TIME``.
        """
        from .results import RestoreResult

        src = Path(source).expanduser().absolute()
        if src == self.db.path:
            raise InvalidInputError(f"{src} is the inventory itself: restore from a backup file")
        exists = self.db.exists()
        if exists:
            self._authorize(Action.RESTORED, str(src))
        elif self.actor.role is not Role.ADMIN:
            raise PermissionDeniedError(f"{self.actor.name} ({self.actor.role.value}) may not restore ({src}): admins only")
        ring = self._ring_for(src, keys)
        current = self._current_ring_or_none()
        if current is not None and current.audit_key != ring.audit_key and exists:
            raise ConflictError(f"{src} belongs to another inventory (its audit key differs): restore it to a new "
                                "path, or move the current inventory away first")
        self.db.path.parent.mkdir(parents=True, exist_ok=True)
        stale = copies.remove_stale_copies(self.db.path)  # a restore killed before left its copy behind
        staged = copies.temporary_copy(self.db.path, "restore")
        kept = self.db.path.with_name(f"{self.db.path.name}.pre-restore-{_stamp()}") if exists else None
        try:
            self._stage(src, staged)
            report = copies.check_copy(staged, str(src), ring, expect_head)  # nothing replaced before this passes
            # The restore's own audit event goes into the copy before the swap: one atomic step.
            with copies.open_private(staged, str(src)) as tx:
                audit_chain.append(
                    tx, ring.audit_key, at=self.now(), actor=self.actor.name, role=self.actor.role.value,
                    action=Action.RESTORED.value, obj=str(src), outcome=Outcome.OK.value, details={
                        "audit_head_restored": report.audit.head, "certificates": report.certificates,
                        "private_keys": report.private_keys, "replaced": str(kept) if kept else None,
                        "keys_from": "backup key file" if keys else "inventory key file", **_stale_details(stale)})
            copies.fsync_file(staged)
            self._swap_in(staged, ring, current, kept)
        finally:
            copies.remove_quietly(staged, copies.wal_of(staged))
        return RestoreResult(src, self.db.path, kept, report.certificates, report.private_keys, report.audit.head,
                             stale_removed=tuple(stale))

    def optimize(self) -> OptimizeResult:
        """Rewrite the inventory file: compact (no free blocks) and the certificates in expiry order.

        Rows are written in the order they arrive, so an inventory filled by imports of old and new
        certificates, or by ``certlab demo --certs``, holds any expiry range scattered over every row
        group, and an expiry page (the next 90 days, first 50) decompresses its rows' wide columns
        everywhere. In expiry order the page's rows sit together (at 1,000,000 certificates: ~120 ms
        -> ~50 ms). Nothing is renumbered or re-encrypted. The copy is written under the exclusive lock
        (other actions wait: at a million certificates about a minute, longer than their 30 s lock
        timeout), its row counts checked, this action's audit event appended to it, and it replaces the
        file with one rename: an interrupted optimize leaves the inventory as it was.
        """
        from .results import OptimizeResult

        self._authorize(Action.OPTIMIZED, str(self.db.path))
        started = time.monotonic()
        stale = copies.remove_stale_copies(self.db.path)
        staged = copies.temporary_copy(self.db.path, "optimize")
        try:
            with self.db.exclusive():
                with self.db.write():
                    pass  # a WAL a killed writer left is replayed and checkpointed into the file first
                before = self.db.path.stat().st_size
                rows = copies.write_ordered_copy(self.db.path, staged,
                                                 {"certificates": "not_after NULLS LAST, id"})
                with copies.open_private(staged, str(self.db.path)) as tx:
                    audit_chain.append(
                        tx, self._keyring().audit_key, at=self.now(), actor=self.actor.name,
                        role=self.actor.role.value, action=Action.OPTIMIZED.value, obj=str(self.db.path),
                        outcome=Outcome.OK.value, details={
                            "order": "certificates by expiry", "rows": rows, "bytes_before": before,
                            **_stale_details(stale)})
                copies.fsync_file(staged)
                os.replace(staged, self.db.path)
                copies.fsync_dir(self.db.path.parent)
        except OSError as exc:
            raise StoreError(f"{self.db.path}: cannot optimize the inventory ({exc.strerror})") from None
        finally:
            copies.remove_quietly(staged, copies.wal_of(staged))
        rows["audit_events"] = rows.get("audit_events", 0) + 1
        return OptimizeResult(self.db.path, rows, before, self.db.path.stat().st_size,
                              time.monotonic() - started, tuple(stale))

    # --- helpers ---------------------------------------------------------------------------------------

    def _check_target(self, target: Path, overwrite: bool) -> None:
        if target in (self.db.path, self.key_file):
            raise InvalidInputError(f"{target} is the inventory itself: choose another backup path")
        if not target.parent.is_dir():
            raise InvalidInputError(f"{target.parent}: no such folder")
        if target.exists() and not overwrite:
            raise ConflictError(f"{target} exists already: choose another path or overwrite it (--force)")
        if target.is_dir():
            raise InvalidInputError(f"{target} is a folder")

    def _current_ring_or_none(self) -> vault.Keyring | None:
        return self._keyring() if self.key_file.exists() else None

    def _ring_for(self, src: Path, keys: str | os.PathLike[str] | None) -> vault.Keyring:
        if not src.is_file():
            raise InvalidInputError(f"{src}: no such backup file")
        if keys is not None:
            return vault.load_keyring(Path(keys).expanduser().absolute())
        if not self.key_file.exists():
            raise StoreError(f"{self.key_file} is missing: give the backup's key file (--keys {src}.keys)")
        return self._keyring()

    @staticmethod
    def _stage(src: Path, dest: Path) -> None:
        try:
            copies.private_copy(src, dest)
            if copies.wal_of(src).exists():
                copies.private_copy(copies.wal_of(src), copies.wal_of(dest))
        except OSError as exc:
            raise InvalidInputError(f"{src}: cannot be read ({exc.strerror})") from None

    def _swap_in(self, staged: Path, ring: vault.Keyring, current: vault.Keyring | None, kept: Path | None) -> None:
        """Under the exclusive lock: keys first (a ring that opens both files), then the database."""
        if kept is not None:
            with self.db.exclusive():
                self._replace(staged, ring, current, kept)
            return
        if current is None:
            vault.write_key_file(self.key_file, ring)
        else:
            vault.write_key_file(self.key_file, _merged(current, ring))
        os.replace(staged, self.db.path)
        copies.fsync_dir(self.db.path.parent)

    def _replace(self, staged: Path, ring: vault.Keyring, current: vault.Keyring | None, kept: Path) -> None:
        if current is None or set(ring.master_keys) - set(current.master_keys) or ring.current != current.current:
            # Both files open with the merged ring (a crash between the two steps loses nothing); the next
            # open drops the master keys no row uses.
            vault.write_key_file(self.key_file, _merged(current, ring) if current else ring)
        if current is not None:  # the replaced file stays restorable: its keys beside it (0600)
            vault.write_key_file(vault.key_file_for(kept), current)
        os.link(self.db.path, kept)
        wal = copies.wal_of(self.db.path)
        if wal.exists():  # a crashed writer's WAL belongs to the replaced file, never to the restored one
            os.replace(wal, copies.wal_of(kept))
        os.replace(staged, self.db.path)
        copies.fsync_dir(self.db.path.parent)


def _stale_details(stale: list[Path]) -> dict[str, Any]:
    return {"stale_copies_removed": [str(p) for p in stale]} if stale else {}


def _merged(current: vault.Keyring, restored: vault.Keyring) -> vault.Keyring:
    return vault.Keyring({**current.master_keys, **restored.master_keys}, restored.current, restored.audit_key)
