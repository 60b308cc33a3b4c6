"""Opening the DuckDB file per action, under a cross-process lock, with versioned migrations.

DuckDB lets one process write a file or several read it, not both. certlab's surfaces (dashboard,
notebook kernel, CLI) share one file, so no one holds it open between actions: each action takes the
lock (shared for reads, exclusive for writes), opens the file, works in one transaction and closes.

"Opens" means ATTACH to one in-memory DuckDB instance kept per process, and "closes" DETACH: starting
a DuckDB instance costs about 25 ms of CPU (its catalog of built-in functions) while attaching and
detaching a file costs about 2 ms, and DETACH checkpoints, closes the file and releases DuckDB's own
lock exactly as closing a connection does. Between actions the file is not open.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import itertools
import os
import random
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from ..errors import InventoryBusyError, NotFoundError, StoreError

DEFAULT_LOCK_TIMEOUT = float(os.environ.get("CERTLAB_LOCK_TIMEOUT", "30"))
_MIGRATION = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@functools.cache
def _shipped_migrations() -> tuple[tuple[int, str, str], ...]:
    out = []
    for entry in resources.files("certlab.store").joinpath("sql").iterdir():
        m = _MIGRATION.match(entry.name)
        if m:
            out.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    return tuple(sorted(out))


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every schema file shipped with the code, in order (read once per process:
    every action checks the file's schema against them)."""
    return list(_shipped_migrations())


def code_schema_version() -> int:
    return migrations()[-1][0]


_umask_lock = threading.Lock()
_umask_users = 0
_umask_saved = 0


@contextlib.contextmanager
def owner_only_files() -> Iterator[None]:
    """Files created meanwhile are owner-only (umask 077): DuckDB creates the database file and its WAL
    itself, with no say in their mode. The umask is per process: overlapping uses (threads) share one
    change, and the last to finish puts the caller's umask back."""
    global _umask_users, _umask_saved
    with _umask_lock:
        if _umask_users == 0:
            _umask_saved = os.umask(0o077)
            os.umask(_umask_saved | 0o077)
        _umask_users += 1
    try:
        yield
    finally:
        with _umask_lock:
            _umask_users -= 1
            if _umask_users == 0:
                os.umask(_umask_saved)


def make_owner_only(path: Path) -> None:
    """Take group and other permissions off a file certlab made (an inventory from before they were)."""
    with contextlib.suppress(OSError):
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)


class _FileLock:
    """flock on a lock file beside the database: bounded waiting, shared or exclusive, writers first.

    flock belongs to the open file description, so threads of one process exclude each other too, and
    the kernel releases it when a process dies (a killed process never leaves the inventory locked).

    A second lock file, the gate, keeps a stream of overlapping readers (a busy dashboard) from starving
    a writer: a writer takes the gate exclusively, waits for the readers inside to finish, takes the
    main lock and opens the gate again; a reader passes the gate (shared) before taking the main lock.
    """

    def __init__(self, path: Path, exclusive: bool, timeout: float, what: str) -> None:
        self.path, self.exclusive, self.timeout, self.what = path, exclusive, timeout, what
        self.gate_path = path.with_name(path.name + ".gate")
        self.fd = -1
        self.waited = 0.0
        self.acquired_at = 0.0

    def __enter__(self) -> _FileLock:
        start = time.monotonic()
        gate = os.open(self.gate_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            self._take(gate, fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH, start)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                self._take(self.fd, fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH, start)
            except BaseException:
                os.close(self.fd)
                raise
        finally:
            os.close(gate)  # closing releases the gate
        self.acquired_at = time.monotonic()
        self.waited = self.acquired_at - start
        return self

    def _take(self, fd: int, mode: int, start: float) -> None:
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() - start > self.timeout:
                    raise InventoryBusyError(
                        f"inventory busy: {self.what} is in use by another process "
                        f"(waited {self.timeout:.0f} s); try again"
                    ) from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.02)

    def __exit__(self, *exc: object) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)


@dataclass(frozen=True)
class LockTiming:
    """What one action spent on the lock, in seconds.

    ``waited``: waiting for certlab's cross-process lock (other processes' actions); ``opened``: opening
    the DuckDB file (including retries while another program held DuckDB's own lock); ``held``: from
    taking the lock to releasing it (open, work, commit, close).
    """

    exclusive: bool
    waited: float
    opened: float
    held: float


@dataclass(frozen=True)
class LockStats:
    """Totals over the actions of one Database object (all its threads), for measuring the lock's cost."""

    actions: int = 0
    exclusive: int = 0
    busy: int = 0
    waited: float = 0.0
    opened: float = 0.0
    held: float = 0.0
    max_waited: float = 0.0

    @property
    def mean_waited(self) -> float:
        return self.waited / self.actions if self.actions else 0.0

    @property
    def mean_held(self) -> float:
        return self.held / self.actions if self.actions else 0.0

    def to_json(self) -> dict[str, float | int]:
        return {"actions": self.actions, "exclusive": self.exclusive, "busy": self.busy,
                "waited_s": round(self.waited, 6), "opened_s": round(self.opened, 6), "held_s": round(self.held, 6),
                "max_waited_s": round(self.max_waited, 6), "mean_waited_s": round(self.mean_waited, 6),
                "mean_held_s": round(self.mean_held, 6)}


IN_PARAMS = 256  # up to this many values an IN list is spelled out as parameters


def in_list(column: str, values: Sequence[Any], cast: str = "BIGINT") -> tuple[str, list[Any]]:
    """``column IN (...)`` and its parameters. A few values go in as parameters: DuckDB then looks them
    up through an index or skips row groups by their min/max. Many go in as one list parameter (a join,
    which scans the column)."""
    if not re.fullmatch(r"[a-z_.0-9]+", column) or cast not in ("BIGINT", "VARCHAR"):
        raise ValueError("bad identifier")
    if not values:
        return "false", []
    if len(values) <= IN_PARAMS:
        return f"{column} IN ({', '.join('?' for _ in values)})", list(values)
    return f"{column} IN (SELECT unnest(?::{cast}[]))", [list(values)]


class Tx:
    """One open connection inside one transaction. Parameterised SQL only."""

    def __init__(self, con: duckdb.DuckDBPyConnection, writable: bool) -> None:
        self.con = con
        self.writable = writable

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> None:
        self.con.execute(sql, params or [])

    def rows(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or []).fetchall()

    def dicts(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[dict[str, Any]]:
        cur = self.con.execute(sql, params or [])
        cols = [d[0] for d in cur.description or ()]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def one(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> tuple[Any, ...] | None:
        cur = self.con.execute(sql, params or [])
        row = cur.fetchone()
        if row is not None:
            cur.fetchall()  # finish the result: DuckDB refuses a frame insert while one is pending
        return row

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def df(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        return self.con.execute(sql, params or []).df()

    def next_id(self, table: str, column: str = "id") -> int:
        """The next id of a table; safe because writers hold the exclusive lock."""
        if not re.fullmatch(r"[a-z_]+", table + column):
            raise ValueError("bad identifier")
        return int(self.scalar(f"SELECT coalesce(max({column}), 0) + 1 FROM {table}"))

    def insert_rows(self, table: str, columns: Mapping[str, Sequence[Any]] | Sequence[dict[str, Any]]) -> None:
        """Insert rows as one batch: columns (name -> values) or a list of row dicts (the same keys).

        DuckDB scans a dict of NumPy object arrays directly: NumPy loads in a tenth of pandas' import time,
        which a command line that imports ten files should not pay.
        """
        import numpy as np

        if isinstance(columns, Mapping):
            by_name: Mapping[str, Sequence[Any]] = columns
        else:
            rows = list(columns)
            by_name = {k: [r[k] for r in rows] for k in (rows[0] if rows else {})}
        if len({len(v) for v in by_name.values()}) > 1:
            raise ValueError("columns of different lengths")
        batch = {}
        for name, values in by_name.items():
            array = np.empty(len(values), dtype=object)
            array[:] = list(values)  # element by element: a list of tuples stays a list of objects
            batch[name] = array
        if batch and len(next(iter(batch.values()))):
            self.insert_frame(table, batch)

    def insert_frame(self, table: str, frame: Any) -> None:
        """Insert a pandas DataFrame, an Arrow table or a dict of NumPy arrays as one batch (columns by name)."""
        if not re.fullmatch(r"[a-z_]+", table):
            raise ValueError("bad identifier")
        self.con.register("_certlab_batch", frame)
        try:
            names = frame.keys() if isinstance(frame, dict) else frame.columns
            cols = ", ".join(f'"{c}"' for c in names if re.fullmatch(r"[a-z_0-9]+", c))
            self.con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _certlab_batch")
        finally:
            self.con.unregister("_certlab_batch")

    def setting(self, key: str, default: Any = None) -> Any:
        import json

        value = self.scalar("SELECT value FROM settings WHERE key = ?", [key])
        return default if value is None else json.loads(value)

    def set_setting(self, key: str, value: Any) -> None:
        import json

        self.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", [key, json.dumps(value)])


class Database:
    """The inventory file. Thread- and process-safe: every action opens, works and closes.

    Cost of the lock: ``last_lock`` (this thread's last action), ``last_lock_wait`` and ``lock_stats()``
    (totals over every action of this object) say how long actions waited for and held the lock.
    """


    def __init__(self, path: str | os.PathLike[str], lock_timeout: float | None = None) -> None:
        self.path = Path(path).expanduser().absolute()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.lock_timeout = DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout
        self._local = threading.local()
        self._stats = LockStats()
        self._stats_lock = threading.Lock()

    def __copy__(self) -> Database:
        # Inventory.as_actor copies shallowly: the copy shares this object (stats, thread state) on purpose.
        return self

    # --- measuring the lock --------------------------------------------------------------------------

    @property
    def last_lock(self) -> LockTiming | None:
        """This thread's last action's time on the lock (None before the first action)."""
        return getattr(self._local, "last", None)

    @property
    def last_lock_wait(self) -> float:
        """Seconds this thread's last action waited for the cross-process lock."""
        last = self.last_lock
        return last.waited if last else 0.0

    def lock_stats(self) -> LockStats:
        with self._stats_lock:
            return self._stats

    def reset_lock_stats(self) -> None:
        with self._stats_lock:
            self._stats = LockStats()

    def _record(self, timing: LockTiming) -> None:
        self._local.last = timing
        with self._stats_lock:
            s = self._stats
            self._stats = LockStats(
                actions=s.actions + 1, exclusive=s.exclusive + int(timing.exclusive), busy=s.busy,
                waited=s.waited + timing.waited, opened=s.opened + timing.opened, held=s.held + timing.held,
                max_waited=max(s.max_waited, timing.waited),
            )

    def _record_busy(self) -> None:
        with self._stats_lock:
            s = self._stats
            self._stats = LockStats(s.actions, s.exclusive, s.busy + 1, s.waited, s.opened, s.held, s.max_waited)

    # --- the file --------------------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.path.exists()

    def create(self) -> bool:
        """Create the file and apply every migration. False when it existed already."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        existed = self.path.exists()
        with self._session(exclusive=True) as con:
            self._migrate(con)
        return not existed

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the exclusive lock across several steps (a file beside the database, then a transaction).

        Inside the block this thread's ``write()`` and ``read()`` use the lock already held; other
        processes and threads wait.
        """
        self._require()
        if getattr(self._local, "held", False):
            yield
            return
        lock = self._locked(exclusive=True)
        with lock:
            self._local.held = True
            try:
                yield
            finally:
                self._local.held = False

    @contextlib.contextmanager
    def write(self) -> Iterator[Tx]:
        """An exclusive transaction: commits when the block ends, rolls back on any exception."""
        self._require()
        with self._session(exclusive=True) as con:
            if not self._schema_is_current(con):  # refuses a file newer than the code
                self._migrate(con)
            con.execute("BEGIN TRANSACTION")
            try:
                yield Tx(con, writable=True)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    @contextlib.contextmanager
    def read(self) -> Iterator[Tx]:
        """A shared, read-only transaction (several readers at once, never beside a writer)."""
        self._require()
        for attempt in range(2):
            with self._session(exclusive=False) as con:
                # Checked on every open (another process may have replaced or upgraded the file); a read
                # that finds the schema current goes on under the shared lock, with no write at all.
                if self._schema_is_current(con) or attempt == 1:
                    con.execute("BEGIN TRANSACTION")
                    yield Tx(con, writable=False)
                    con.execute("COMMIT")
                    return
            # An older schema (a file from an older certlab, or restored from an older backup): bring it
            # up to date under the exclusive lock, then read.
            with self._session(exclusive=True) as con:
                self._migrate(con)

    @contextlib.contextmanager
    def _session(self, exclusive: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        """Take the lock (unless this thread holds it), open the file, hand out the connection, close."""
        held = getattr(self._local, "held", False)
        lock = None if held else self._locked(exclusive)
        start = time.monotonic()
        try:
            if lock is not None:
                lock.__enter__()
        except InventoryBusyError:
            self._record_busy()
            raise
        acquired = time.monotonic()
        opened: float | None = None
        writable = exclusive or held
        umask = owner_only_files() if writable else contextlib.nullcontext()
        try:
            with umask:  # the database file and its WAL are created 0600
                con, alias = self._connect(read_only=not writable)
                opened = time.monotonic()
                try:
                    if writable:
                        make_owner_only(self.path)
                    yield con
                finally:
                    _detach(con, alias)
        finally:
            if lock is not None:
                lock.__exit__(None, None, None)
            end = time.monotonic()
            if opened is not None:
                self._record(LockTiming(exclusive or held, acquired - start, opened - acquired, end - acquired))

    # --- internals -------------------------------------------------------------------------------

    def _require(self) -> None:
        if not self.path.exists():
            raise NotFoundError(f"no inventory at {self.path}: run 'certlab init' first")

    def _locked(self, exclusive: bool) -> _FileLock:
        lock = _FileLock(self.lock_path, exclusive, self.lock_timeout, str(self.path))
        return lock

    def _connect(self, read_only: bool) -> tuple[duckdb.DuckDBPyConnection, str]:
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                return _attach(self.path, read_only)
            except duckdb.IOException as exc:
                # Another program (not certlab) holds DuckDB's own lock: wait and retry like a writer.
                if "lock" not in str(exc).lower():
                    raise StoreError(f"{self.path}: cannot open the inventory ({_first_line(exc)})") from None
                if time.monotonic() > deadline:
                    self._record_busy()
                    raise InventoryBusyError(f"inventory busy: {self.path} is locked by another program") from None
                time.sleep(0.02 + random.random() * 0.03)
            except duckdb.Error as exc:
                raise StoreError(f"{self.path}: cannot open the inventory ({_first_line(exc)})") from None

    def _schema_is_current(self, con: duckdb.DuckDBPyConnection) -> bool:
        """True when the file's schema is this code's; a newer one is refused (checked on every open,
        because another process with newer code may have upgraded the file meanwhile)."""
        try:
            row = con.execute("SELECT coalesce(max(version), 0), count(*) FROM schema_version").fetchone()
        except duckdb.Error:
            return False
        have, newest = (int(row[0]) if row else 0), code_schema_version()
        if have > newest:
            raise self._too_new(have, newest)
        return have == newest and (int(row[1]) if row else 0) == len(migrations())

    def _too_new(self, have: int, newest: int) -> StoreError:
        return StoreError(
            f"{self.path}: schema version {have} is newer than this certlab understands ({newest}); upgrade certlab"
        )

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
            "applied_at TIMESTAMP NOT NULL)"
        )
        current = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        have = int(current[0]) if current else 0
        known = migrations()
        newest = known[-1][0]
        if have > newest:
            raise self._too_new(have, newest)
        # Every schema file not yet recorded, in order: files are numbered per feature, so one with a
        # lower number can arrive after a higher one was applied (it must not be skipped).
        applied = {int(r[0]) for r in con.execute("SELECT version FROM schema_version").fetchall()}
        for version, name, sql in known:
            if version in applied:
                continue
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(sql)
                con.execute(
                    "INSERT INTO schema_version VALUES (?, ?, CAST(timezone('UTC', now()) AS TIMESTAMP))",
                    [version, name],
                )
                con.execute("COMMIT")
            except duckdb.Error as exc:
                con.execute("ROLLBACK")
                raise StoreError(f"{self.path}: schema migration {version:04d}_{name} failed ({_first_line(exc)})") from None


_host_lock = threading.Lock()
_host: tuple[int, duckdb.DuckDBPyConnection] | None = None
_aliases = itertools.count(1)


def _host_cursor() -> duckdb.DuckDBPyConnection:
    """A new connection to this process's in-memory DuckDB instance (made on first use, and again
    after a fork: an instance must not cross into a child process)."""
    global _host
    with _host_lock:
        if _host is None or _host[0] != os.getpid():
            _host = (os.getpid(), duckdb.connect(":memory:"))
        return _host[1].cursor()


def path_literal(path: Path) -> str:
    """A file path as an SQL string literal (ATTACH takes no parameters)."""
    return "'" + str(path).replace("'", "''") + "'"


def _attach(path: Path, read_only: bool) -> tuple[duckdb.DuckDBPyConnection, str]:
    """Open the inventory for one action: a connection whose default catalog is the attached file (and
    that catalog's name, to detach it)."""
    alias = f"certlab_{next(_aliases)}"
    con = _host_cursor()
    try:
        con.execute(f"ATTACH {path_literal(path)} AS {alias}" + (" (READ_ONLY)" if read_only else ""))
    except BaseException:
        con.close()
        raise
    try:
        con.execute(f"USE {alias}")
    except BaseException:
        _detach(con, alias)
        raise
    return con, alias


def _detach(con: duckdb.DuckDBPyConnection, alias: str) -> None:
    """Close the inventory after an action: end any open transaction, detach (checkpoint, close the file,
    release DuckDB's lock). If that fails the instance is dropped, which closes every file it holds."""
    global _host
    try:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")  # only when a transaction is still open (an exception left it)
        con.execute("USE memory")
        con.execute(f"DETACH {alias}")
        con.close()
    except duckdb.Error:
        with _host_lock:
            if _host is not None and _host[0] == os.getpid():
                with contextlib.suppress(duckdb.Error):
                    _host[1].close()
                _host = None
        raise


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
