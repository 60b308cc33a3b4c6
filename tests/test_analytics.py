"""inv.sql() and inv.to_parquet(): read-only SQL over the analyst views, audited, and Parquet exports."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import certlab
from certlab import Actor, InvalidInputError, PermissionDeniedError, Role

from .conftest import make_cert


@pytest.fixture
def seeded(inv: certlab.Inventory) -> certlab.Inventory:
    make_cert(inv, "payments_mtls", days=30)
    make_cert(inv, "erp_client", key_type="ec-p384", days=400)
    inv.add_credential("payments_api", certificate="payments_mtls", endpoint="https://pay.example.com/api", purpose="mtls")
    return inv


def _certificates_count(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM certificates").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


def test_sql_returns_a_dataframe_of_the_views(seeded: certlab.Inventory) -> None:
    df = seeded.sql("SELECT name, status, key_type, days_to_expiry, credentials, has_private_key "
                    "FROM certificates_v ORDER BY name")
    assert isinstance(df, pd.DataFrame)
    assert list(df["name"]) == ["erp_client", "payments_mtls"]
    pay = df.set_index("name").loc["payments_mtls"]
    assert pay["status"] == "expiring" and pay["key_type"] == "ec-p256" and bool(pay["has_private_key"])
    assert 28 <= pay["days_to_expiry"] <= 30
    assert list(pay["credentials"]) == ["payments_api"]
    creds = seeded.sql("SELECT name, certificate, certificate_status FROM credentials_v")
    assert creds.to_dict("records") == [{"name": "payments_api", "certificate": "payments_mtls", "certificate_status": "expiring"}]
    audit = seeded.sql("SELECT seq, action, hash, prev_hash FROM audit_v ORDER BY seq")
    assert list(audit["action"][:2]) == ["initialised", "created"]
    assert audit["prev_hash"][1] == audit["hash"][0]


def test_parameters_bind_by_position_and_by_name(seeded: certlab.Inventory) -> None:
    by_pos = seeded.sql("SELECT name FROM certificates_v WHERE key_type = ?", ["ec-p384"])
    by_name = seeded.sql("WITH c AS (SELECT * FROM certificates_v) SELECT name FROM c WHERE key_type = $kt", {"kt": "ec-p384"})
    assert list(by_pos["name"]) == list(by_name["name"]) == ["erp_client"]


def test_analyst_may_query_and_the_query_is_audited_without_parameter_values(seeded: certlab.Inventory) -> None:
    analyst = seeded.as_actor(Actor("ana", Role.ANALYST))
    df = analyst.sql("SELECT name FROM certificates_v WHERE name = $who", {"who": "payments_mtls"})  # type: ignore[attr-defined]
    assert list(df["name"]) == ["payments_mtls"]
    event = seeded.audit_events()[-1]
    assert (event.actor, event.role, event.action, event.outcome) == ("ana", "analyst", "queried", "ok")
    assert event.details["query"] == "SELECT name FROM certificates_v WHERE name = $who"
    assert event.details["views"] == ["certificates_v"] and event.details["rows"] == 1
    assert event.details["parameters"] == 1 and event.details["parameter_names"] == ["who"]
    assert "payments_mtls" not in json.dumps(event.details)
    assert seeded.verify_audit().ok


REFUSED = [
    ("INSERT INTO certificates (id) VALUES (1)", "not INSERT"),
    ("DELETE FROM audit_events", "not DELETE"),
    ("UPDATE certificates SET name = 'x'", "not UPDATE"),
    ("CREATE TABLE t AS SELECT 1", "not CREATE"),
    ("DROP VIEW certificates_v", "not DROP"),
    ("ATTACH 'other.duckdb' AS o", "not ATTACH"),
    ("COPY (SELECT * FROM certificates_v) TO '{tmp}/out.csv'", "not COPY"),
    ("EXPORT DATABASE '{tmp}/dump'", "not EXPORT"),
    ("INSTALL httpfs", "not LOAD"),  # DuckDB parses INSTALL as a LOAD statement
    ("LOAD httpfs", "not LOAD"),
    ("SET enable_external_access = true", "not SET"),
    ("PRAGMA version", "not PRAGMA"),
    ("CALL pragma_version()", "not CALL"),
    ("SELECT 1; DELETE FROM audit_events", "exactly one statement"),
    ("SELECT * FROM private_keys", "not an analyst view"),
    ("SELECT * FROM certificates", "not an analyst view"),
    ("SELECT * FROM main.audit_events", "not an analyst view"),
    ("SELECT name FROM certificates_v WHERE key_type IN (SELECT algorithm FROM private_keys)", "not an analyst view"),
    ("WITH private_keys AS (SELECT 1) SELECT * FROM private_keys", "CTE may not be named"),
    ("SELECT * FROM read_csv('/etc/passwd')", "table function read_csv()"),
    ("SELECT * FROM read_text('/etc/hostname')", "table function read_text()"),
    ("SELECT * FROM read_parquet('{tmp}/x.parquet')", "table function read_parquet()"),
    ("SELECT * FROM '/etc/passwd'", "is a file or URL"),
    ("SELECT * FROM 'https://example.com/x.csv'", "is a file or URL"),
    ("SELECT * FROM glob('/*')", "table function glob()"),
    ("SELECT * FROM query('SELECT * FROM private_keys')", "table function query()"),
    ("SELECT * FROM duckdb_secrets()", "table function duckdb_secrets()"),
    ("SELECT st_point(1, 2)", "unknown function st_point()"),
    ("SHOW TABLES", "SHOW is not allowed"),
]


@pytest.mark.parametrize(("query", "reason"), REFUSED)
def test_sql_refuses_writes_files_and_other_databases(seeded: certlab.Inventory, tmp_path: Path,
                                                       query: str, reason: str) -> None:
    before_events = len(seeded.audit_events())
    before = _certificates_count(seeded.path)
    text = query.replace("{tmp}", str(tmp_path))
    with pytest.raises(PermissionDeniedError, match="sql\\(\\) refused") as err:
        seeded.sql(text)
    assert reason in str(err.value)
    assert _certificates_count(seeded.path) == before
    assert list(tmp_path.iterdir()) == [tmp_path / "inv"]  # nothing written outside the inventory
    events = seeded.audit_events()
    assert len(events) == before_events + 1
    denied = events[-1]
    assert (denied.action, denied.outcome) == ("queried", "denied")
    assert denied.details["query"] == text.strip() and reason in denied.details["reason"]


def test_refused_for_analysts_too_and_views_still_readable(seeded: certlab.Inventory) -> None:
    analyst = seeded.as_actor(Actor("ana", Role.ANALYST))
    with pytest.raises(PermissionDeniedError):
        analyst.sql("DELETE FROM certificates")  # type: ignore[attr-defined]
    assert len(seeded.list()) == 2


def test_bad_queries_are_invalid_input_not_tracebacks(seeded: certlab.Inventory) -> None:
    with pytest.raises(InvalidInputError, match="cannot parse"):
        seeded.sql("SELEC name FROM certificates_v")
    with pytest.raises(InvalidInputError, match="query failed"):
        seeded.sql("SELECT no_such_column FROM certificates_v")
    with pytest.raises(InvalidInputError, match="empty"):
        seeded.sql("   ")
    with pytest.raises(InvalidInputError, match="params"):
        seeded.sql("SELECT ?", "x")  # type: ignore[arg-type]


def test_a_runaway_query_is_stopped(seeded: certlab.Inventory) -> None:
    with pytest.raises(InvalidInputError, match="stopped after"):
        seeded.sql("SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b", timeout=0.3)
    # the inventory is free again at once
    make_cert(seeded, "after_timeout")
    assert seeded.get("after_timeout").name == "after_timeout"


def test_views_added_by_later_schema_files_are_analyst_views(seeded: certlab.Inventory, tmp_path: Path) -> None:
    con = duckdb.connect(str(seeded.path))
    try:
        con.execute("CREATE VIEW renewals_v AS SELECT name, not_after FROM certificates")
        con.execute("CREATE VIEW secret_keys AS SELECT * FROM private_keys")
    finally:
        con.close()
    views = seeded.analyst_views()
    assert views[:3] == ["certificates_v", "credentials_v", "audit_v"] and "renewals_v" in views
    assert "secret_keys" not in views
    assert len(seeded.sql("SELECT * FROM renewals_v")) == 2
    with pytest.raises(PermissionDeniedError):
        seeded.sql("SELECT * FROM secret_keys")


def test_to_parquet_writes_every_view(seeded: certlab.Inventory, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = seeded.to_parquet(out)
    views = [v for v, _, _ in result.files]
    assert views[:3] == ["certificates_v", "credentials_v", "audit_v"] and views == seeded.analyst_views()
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{v}.parquet" for v in views)
    certs = pd.read_parquet(out / "certificates_v.parquet")
    assert sorted(certs["name"]) == ["erp_client", "payments_mtls"]
    assert not {"der", "encrypted_key", "wrapped_data_key", "public_key"} & set(certs.columns)
    assert {"days_to_expiry", "key_type", "credentials"} <= set(certs.columns)
    con = duckdb.connect()
    creds = con.execute("SELECT name, certificate FROM read_parquet(?)", [str(out / "credentials_v.parquet")]).fetchall()
    assert creds == [("payments_api", "payments_mtls")]
    audit_rows = con.execute("SELECT count(*) FROM read_parquet(?)", [str(out / "audit_v.parquet")]).fetchone()
    assert audit_rows is not None and audit_rows[0] == {v: n for v, _, n in result.files}["audit_v"]
    last = seeded.audit_events()[-1]
    assert (last.action, last.object, last.details["to_parquet"]) == ("queried", "parquet", str(out))
    assert last.details["rows"]["certificates_v"] == 2
    # a second export replaces the files
    make_cert(seeded, "third")
    seeded.to_parquet(out)
    assert len(pd.read_parquet(out / "certificates_v.parquet")) == 3
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_to_parquet_into_a_file_is_refused(seeded: certlab.Inventory, tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(InvalidInputError, match="afile"):
        seeded.to_parquet(blocker)
