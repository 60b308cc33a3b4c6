"""``certlab sql``, ``certlab views`` and ``certlab parquet`` through the real command."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .conftest import run_cli


def _seed(db: Path) -> None:
    run_cli("create", "self-signed", "soon", "--key", "ec-p256", "--san", "soon.example.com", "--days", "20",
            db=db, check=True)
    run_cli("create", "self-signed", "later", "--key", "ec-p256", "--san", "later.example.com", "--days", "300",
            db=db, check=True)


def test_sql_prints_rows_as_json_with_typed_parameters(cli_db: Path) -> None:
    _seed(cli_db)
    proc = run_cli("sql", "SELECT name, days_to_expiry FROM certificates_v WHERE days_to_expiry < $days ORDER BY name",
                   "--param", "days=90", "--json", db=cli_db, check=True)
    assert json.loads(proc.stdout) == [{"name": "soon", "days_to_expiry": 20}]
    events = json.loads(run_cli("audit", "list", "--action", "queried", "--json", db=cli_db, check=True).stdout)
    assert events[-1]["details"]["parameter_names"] == ["days"] and events[-1]["details"]["rows"] == 1


def test_sql_reads_the_query_from_stdin_and_writes_csv(cli_db: Path) -> None:
    _seed(cli_db)
    proc = run_cli("sql", "-", "--csv", db=cli_db, input=b"SELECT name FROM certificates_v ORDER BY name", check=True)
    assert proc.stdout.splitlines() == ["name", "later", "soon"]


def test_sql_refuses_a_write_with_exit_1_and_one_line(cli_db: Path) -> None:
    _seed(cli_db)
    proc = run_cli("sql", "DELETE FROM certificates", db=cli_db)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == ["certlab: error: sql() refused: only SELECT queries may run here, not DELETE"]
    listed = json.loads(run_cli("list", "--json", db=cli_db, check=True).stdout)
    assert len(listed) == 2
    bad = run_cli("sql", "SELECT 1", "--param", "not a pair", db=cli_db)
    assert bad.returncode == 1 and "NAME=VALUE" in bad.stderr


def test_views_lists_columns_and_parquet_writes_files(cli_db: Path, tmp_path: Path) -> None:
    _seed(cli_db)
    views = json.loads(run_cli("views", "--json", db=cli_db, check=True).stdout)
    assert list(views)[:3] == ["certificates_v", "credentials_v", "audit_v"]
    assert {"column": "days_to_expiry", "type": "BIGINT"} in views["certificates_v"]
    out = tmp_path / "pq"
    doc = json.loads(run_cli("parquet", str(out), "--json", db=cli_db, check=True).stdout)
    assert [f["view"] for f in doc["files"]] == list(views)
    assert sorted(pd.read_parquet(out / "certificates_v.parquet")["name"]) == ["later", "soon"]


def test_help_has_an_example() -> None:
    for command in ("sql", "views", "parquet"):
        proc = run_cli(command, "--help", check=True)
        assert "Example:" in proc.stdout and f"certlab {command}" in proc.stdout
