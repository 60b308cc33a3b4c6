"""Schema files are numbered per feature: one with a lower number may arrive after a higher one."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import certlab
from certlab.store import db as store_db


def _versions(path: Path) -> list[int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [int(r[0]) for r in con.execute("SELECT version FROM schema_version ORDER BY version").fetchall()]
    finally:
        con.close()


def test_a_lower_numbered_schema_file_arriving_later_is_still_applied(
        db_path: Path, admin: certlab.Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = store_db.migrations()
    newest = shipped[-1][0]
    later = (newest + 2, "later", "CREATE TABLE later_things (x INTEGER);")
    late = (newest + 1, "late", "CREATE TABLE late_things (x INTEGER);")
    monkeypatch.setattr(store_db, "migrations", lambda: [*shipped, later])
    certlab.init(db_path, actor=admin)
    assert _versions(db_path)[-1] == newest + 2
    # The code now also ships a file numbered below one already applied.
    monkeypatch.setattr(store_db, "migrations", lambda: [*shipped, late, later])
    assert certlab.open(db_path, actor=admin).list() == []
    assert _versions(db_path)[-2:] == [newest + 1, newest + 2]
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM late_things").fetchone() == (0,)
    finally:
        con.close()
