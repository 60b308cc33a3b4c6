"""The DuckDB file: versioned migrations, transactions, the cross-process lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import certlab
from certlab import StoreError
from certlab.store import Database
from certlab.store import db as store_db

from .conftest import make_cert, run_cli


def _versions(path: Path) -> list[tuple[int, str]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [(int(v), n) for v, n in con.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()]
    finally:
        con.close()


def _tables(path: Path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    finally:
        con.close()


def _bump_version(path: Path, version: int) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("INSERT INTO schema_version VALUES (?, 'from_the_future', now())", [version])
    finally:
        con.close()


def test_every_shipped_migration_is_applied_and_recorded(inv: certlab.Inventory) -> None:
    shipped = [(v, n) for v, n, _ in store_db.migrations()]
    assert shipped[0] == (1, "core")
    assert [v for v, _ in shipped] == sorted({v for v, _ in shipped}), "migration numbers must be unique"
    assert _versions(inv.path) == shipped
    assert {"certificates", "private_keys", "audit_events", "schema_version", "certificates_v", "audit_v"} <= _tables(inv.path)


def test_reopening_applies_nothing_twice(inv: certlab.Inventory, db_path: Path) -> None:
    before = _versions(db_path)
    again = certlab.init(db_path, actor=inv.actor)
    make_cert(again, "after_reopen")
    assert _versions(db_path) == before


def test_a_database_newer_than_the_code_is_refused(inv: certlab.Inventory, db_path: Path) -> None:
    make_cert(inv, "kept")
    newest = store_db.code_schema_version()
    _bump_version(db_path, newest + 1)
    # This process checked the file before; the check still happens on every open.
    with pytest.raises(StoreError, match=rf"schema version {newest + 1} is newer than this certlab understands \({newest}\)"):
        inv.list()
    with pytest.raises(StoreError, match="newer than this certlab"):
        make_cert(inv, "refused")
    with pytest.raises(StoreError, match="upgrade certlab"):
        certlab.open(db_path).list()
    proc = run_cli("list", "--json", db=db_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "newer than this certlab understands" in proc.stderr and proc.stdout == ""


def test_a_failing_migration_rolls_back_and_leaves_the_file_as_it_was(
        inv: certlab.Inventory, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_cert(inv, "before_upgrade")
    shipped = store_db.migrations()
    newest = shipped[-1][0]
    broken = "CREATE TABLE half_done (x INTEGER);\nINSERT INTO half_done VALUES (1);\nSELECT * FROM no_such_table;\n"
    monkeypatch.setattr(store_db, "migrations", lambda: [*shipped, (newest + 1, "broken", broken)])
    with pytest.raises(StoreError, match=rf"schema migration {newest + 1:04d}_broken failed"):
        certlab.open(db_path).list()
    assert "half_done" not in _tables(db_path)
    assert _versions(db_path) == [(v, n) for v, n, _ in shipped]
    monkeypatch.setattr(store_db, "migrations", lambda: shipped)
    assert [r.name for r in certlab.open(db_path).list()] == ["before_upgrade"]


def test_a_new_migration_is_applied_on_the_next_open(inv: certlab.Inventory, db_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = store_db.migrations()
    newest = shipped[-1][0]
    monkeypatch.setattr(store_db, "migrations",
                        lambda: [*shipped, (newest + 1, "extra", "CREATE TABLE extra_things (x INTEGER);")])
    certlab.open(db_path).list()
    assert "extra_things" in _tables(db_path)
    assert _versions(db_path)[-1] == (newest + 1, "extra")


def test_a_failed_action_rolls_back_everything(inv: certlab.Inventory, db_path: Path) -> None:
    make_cert(inv, "one")
    with pytest.raises(RuntimeError), inv.db.write() as tx:
        tx.execute("DELETE FROM certificates")
        tx.execute("INSERT INTO settings VALUES ('x', '1')")
        raise RuntimeError("boom")
    assert [r.name for r in inv.list()] == ["one"]
    with inv.db.read() as tx:
        assert tx.scalar("SELECT count(*) FROM settings WHERE key = 'x'") == 0


def test_reads_are_read_only(inv: certlab.Inventory) -> None:
    with pytest.raises(duckdb.Error), inv.db.read() as tx:
        tx.execute("DELETE FROM certificates")


def test_missing_inventory_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(certlab.NotFoundError, match=r"no inventory at .*nowhere\.duckdb: run 'certlab init' first"):
        certlab.open(tmp_path / "nowhere.duckdb")


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "not.duckdb"
    path.write_bytes(b"this is not a duckdb file" * 100)
    with pytest.raises(StoreError, match="not.duckdb"), Database(path).write():
        pass


def test_the_file_is_not_held_open_between_actions(inv: certlab.Inventory, db_path: Path) -> None:
    make_cert(inv, "x")
    # Another program can open the file read-write right after an action: certlab holds nothing.
    con = duckdb.connect(str(db_path))
    try:
        assert con.execute("SELECT count(*) FROM certificates").fetchone() == (1,)
    finally:
        con.close()


def test_a_held_lock_makes_others_wait_then_give_up(inv: certlab.Inventory, db_path: Path) -> None:
    import fcntl
    import os

    make_cert(inv, "x")
    fd = os.open(inv.db.lock_path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        impatient = certlab.open(db_path, actor=inv.actor, lock_timeout=0.2)
        with pytest.raises(certlab.InventoryBusyError, match="inventory busy"):
            impatient.list()
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert inv.list()[0].name == "x"


def test_parameterised_sql_keeps_odd_text_literal(inv: certlab.Inventory) -> None:
    make_cert(inv, "quote_test", label="O'Reilly\"; DROP TABLE certificates; --")
    assert inv.get("quote_test").label == "O'Reilly\"; DROP TABLE certificates; --"
    assert [r.name for r in inv.list(certlab.CertFilter(search='"; DROP'))] == ["quote_test"]
    assert [r.name for r in inv.list(certlab.CertFilter(search="%"))] == []
    assert [r.name for r in inv.list(certlab.CertFilter(search="_test"))] == ["quote_test"]


def _open_elsewhere(path: Path) -> str:
    """Open the file read-write from another process, as a second program would (DuckDB refuses while
    any process still has it open)."""
    code = ("import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
            "print(con.execute('SELECT count(*) FROM certificates').fetchone()[0]); con.close()")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-400:]
    return done.stdout.strip()


def test_the_file_is_closed_between_actions_even_after_a_failed_statement(inv: certlab.Inventory,
                                                                          db_path: Path) -> None:
    """Actions attach the file to a DuckDB instance kept per process and detach it afterwards: another
    process can open it read-write right after a read, a write and a read whose statement failed."""
    make_cert(inv, "one")
    assert _open_elsewhere(db_path) == "1"
    inv.list()
    assert _open_elsewhere(db_path) == "1"
    with pytest.raises(certlab.InvalidInputError):
        inv.sql("SELECT no_such_column FROM certificates_v")
    assert _open_elsewhere(db_path) == "1"
    assert [r.name for r in inv.list()] == ["one"]  # and this process goes on working


def test_in_list_gives_the_same_rows_spelled_out_or_as_one_list() -> None:
    """A few values go in as parameters (DuckDB can use an index), many as one list; both select the same rows."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT range AS id, 'k' || range AS key FROM range(2000)")
    few, many = [5, 7, 1999], list(range(0, 2000, 3))
    for values, cast, column in ((few, "BIGINT", "id"), (many, "BIGINT", "id"), (["k5", "k77"], "VARCHAR", "key")):
        where, params = store_db.in_list(column, values, cast)
        assert ("unnest" in where) == (len(values) > store_db.IN_PARAMS)
        got = sorted(r[0] for r in con.execute(f"SELECT {column} FROM t WHERE {where}", params).fetchall())
        assert got == sorted(values)
    assert con.execute(f"SELECT count(*) FROM t WHERE {store_db.in_list('id', [])[0]}").fetchone() == (0,)
    with pytest.raises(ValueError):
        store_db.in_list("id; DROP TABLE t", [1])
