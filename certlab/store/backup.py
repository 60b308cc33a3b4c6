"""Consistent copies of the inventory file, and checking a copy before it replaces anything.

A copy is taken under the shared lock (readers carry on, writers wait), so no transaction is half in
it. The copy is made whole in a private temporary file (a WAL left by a crashed writer is replayed and
checkpointed into it), checked, and only then renamed into place.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..errors import StoreError
from . import audit as audit_chain
from . import vault
from .db import Database, Tx, _first_line, code_schema_version, owner_only_files, path_literal

_REQUIRED_TABLES = {"schema_version", "certificates", "private_keys", "audit_events"}


@dataclass(frozen=True)
class CopyReport:
    """What a checked copy holds."""

    schema_version: int
    certificates: int
    private_keys: int
    audit: audit_chain.Verification


def wal_of(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def private_copy(src: Path, dest: Path) -> None:
    """Copy a file to ``dest``, created 0600 before any byte is written."""
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as out, src.open("rb") as inp:
        shutil.copyfileobj(inp, out, 1024 * 1024)
        out.flush()
        os.fsync(out.fileno())


def copy_under_shared_lock(db: Database, dest: Path, key_file: Path | None = None) -> bytes | None:
    """Copy the database file (and a pending WAL) to ``dest`` while holding the shared lock.

    Returns the key file's bytes read under the same lock (when ``key_file`` is given), so that the
    keys match the copy even if a master-key rotation follows.
    """
    keys = None
    with db.read():
        private_copy(db.path, dest)
        wal = wal_of(db.path)
        if wal.exists():
            private_copy(wal, wal_of(dest))
        if key_file is not None:
            keys = key_file.read_bytes()
    return keys


@contextlib.contextmanager
def open_private(path: Path, source: str) -> Iterator[Tx]:
    """Open a private file (a temporary copy nobody else uses) read-write, without the lock."""
    with owner_only_files():  # its WAL, too, is 0600
        try:
            con = duckdb.connect(str(path))
        except duckdb.Error as exc:
            raise StoreError(f"{source}: not a certlab inventory file ({_first_line(exc)})") from None
        try:
            yield Tx(con, writable=True)
            con.execute("CHECKPOINT")
        finally:
            con.close()


def write_ordered_copy(src: Path, dest: Path, order: dict[str, str]) -> dict[str, int]:
    """Write every table of the inventory ``src`` into the new file ``dest`` (0600), the tables named in
    ``order`` sorted by its ORDER BY column list; return each table's row count, checked against ``src``.

    The caller holds the exclusive lock. DuckDB copies the schema (tables, constraints, indexes, views)
    and then the rows, table by table, into freshly allocated blocks: the copy holds no free blocks, and
    a table written in one order keeps that order on disk, so a range of its sort column is read from a
    few row groups instead of from every one. Its own DuckDB instance, so no other action's state mixes in.
    """
    remove_quietly(dest, wal_of(dest))
    with owner_only_files():
        con = duckdb.connect(":memory:")
        try:
            con.execute(f"ATTACH {path_literal(src)} AS src (READ_ONLY)")
            con.execute(f"ATTACH {path_literal(dest)} AS dst")
            con.execute("COPY FROM DATABASE src TO dst (SCHEMA)")
            counts: dict[str, int] = {}
            tables = [r[0] for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src' AND schema_name = 'main' "
                "ORDER BY table_name").fetchall()]
            for table in tables:
                sort = order.get(table)
                if sort is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z_, ]*", sort):
                    raise ValueError("bad sort order")  # column names and ASC/DESC/NULLS LAST only
                quoted = '"' + table.replace('"', '""') + '"'
                con.execute(f"INSERT INTO dst.main.{quoted} SELECT * FROM src.main.{quoted}"
                            + (f" ORDER BY {sort}" if sort else ""))
                have = con.execute(f"SELECT count(*) FROM src.main.{quoted}").fetchone()
                got = con.execute(f"SELECT count(*) FROM dst.main.{quoted}").fetchone()
                if have != got:
                    raise StoreError(f"{dest}: the copy of table {table} holds {got} rows, not {have}")
                counts[table] = int(have[0]) if have else 0
            con.execute("DETACH src")
            con.execute("DETACH dst")  # checkpoints the copy
        except duckdb.Error as exc:
            remove_quietly(dest, wal_of(dest))
            raise StoreError(f"{dest}: cannot write the copy ({_first_line(exc)})") from None
        except BaseException:
            remove_quietly(dest, wal_of(dest))
            raise
        finally:
            con.close()
    return counts


def check_copy(path: Path, source: str, ring: vault.Keyring, expect_head: str | None = None) -> CopyReport:
    """Bring a private copy to the current schema and check it: audit chain, every private key.

    Raises StoreError naming ``source`` and the first problem; the copy is left for the caller to delete.
    """
    with open_private(path, source) as tx:
        try:
            tables = {str(r[0]) for r in tx.rows(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")}
        except duckdb.Error as exc:
            raise StoreError(f"{source}: cannot be read ({_first_line(exc)})") from None
        missing = _REQUIRED_TABLES - tables
        if missing:
            raise StoreError(f"{source}: not a certlab inventory (no {', '.join(sorted(missing))} table)")
        version = int(tx.scalar("SELECT coalesce(max(version), 0) FROM schema_version") or 0)
        if version > code_schema_version():
            raise StoreError(f"{source}: schema version {version} is newer than this certlab understands "
                             f"({code_schema_version()}); restore it with a newer certlab")
        Database(path)._migrate(tx.con)
        verification = audit_chain.verify(tx, ring.audit_key, expect_head)
        if not verification.ok:
            raise StoreError(f"{source}: {verification.describe()}")
        keys = tx.rows("SELECT id, spki_sha256, encrypted_key, wrapped_data_key, master_key_id FROM private_keys")
        for key_id, spki, enc, wrapped, master_id in keys:
            if master_id not in ring.master_keys:
                raise StoreError(f"{source}: private key {key_id} is wrapped by master key {master_id}, which the "
                                 "key file does not hold (give the backup's key file with --keys)")
            try:
                vault.unseal(ring, int(key_id), str(spki), vault.SealedKey(bytes(enc), bytes(wrapped), str(master_id)))
            except StoreError as exc:
                raise StoreError(f"{source}: {exc}") from None
        certificates = int(tx.scalar("SELECT count(*) FROM certificates"))
    return CopyReport(code_schema_version(), certificates, len(keys), verification)


# The private temporary copies certlab makes beside a file: ``.NAME.restore-PID``, ``.NAME.verify-PID``,
# ``.NAME.partial-PID`` (a backup being written), each maybe with its WAL.
_TEMPORARY = re.compile(r"^\.(?P<base>.+)\.(?:restore|verify|partial|optimize)-(?P<pid>[0-9]+)(?:\.wal)?$")


def temporary_copy(path: Path, kind: str) -> Path:
    """This process's private temporary copy of ``path`` (kind: restore, verify, partial or optimize)."""
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}")


def process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process (or not a pid): leave its files alone
        return True
    return True


def remove_stale_copies(*paths: Path) -> list[Path]:
    """Remove temporary copies of ``paths`` left beside them by a process that died (killed mid-restore,
    say): each holds a whole inventory. A copy whose process is alive is left alone (it is in use)."""
    removed = []
    for path in paths:
        try:
            entries = list(os.scandir(path.parent))
        except OSError:
            continue
        for entry in entries:
            m = _TEMPORARY.match(entry.name)
            if not m or m.group("base") != path.name or process_alive(int(m.group("pid"))):
                continue
            with contextlib.suppress(FileNotFoundError):  # another process removed it first
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return sorted(removed)


def remove_quietly(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(OSError):
            p.unlink()
