"""The demo inventory and ``certlab demo`` / ``certlab dashboard --setup-only``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

import certlab
from certlab import Actor, Role

from .conftest import run_cli


@pytest.fixture(scope="module")
def demo_inv(tmp_path_factory: pytest.TempPathFactory) -> certlab.Inventory:
    from certlab.demo import seed_demo

    inv = certlab.init(tmp_path_factory.mktemp("demo") / "certlab.duckdb", actor=Actor("setup", Role.ADMIN))
    seed_demo(inv)
    return inv


def test_demo_looks_like_an_organisation(demo_inv: certlab.Inventory) -> None:
    records = demo_inv.list()
    assert 30 <= len(records) <= 60
    kinds = Counter(r.kind for r in records)
    assert {"self_signed", "ca_signed", "imported", "trusted_ca"} <= set(kinds)
    statuses = Counter(r.status for r in records)
    assert statuses["expired"] >= 3 and statuses["expiring"] >= 5 and statuses["pending"] >= 2
    keys = Counter((r.key_type or "").split("-")[0] for r in records)
    assert keys["ec"] > keys["rsa"] >= 2
    assert len({r.issuer for r in records if r.issuer}) >= 5
    soon = [r for r in records if r.days_to_expiry is not None and 0 <= r.days_to_expiry <= 30]
    assert soon


def test_demo_credentials_and_audit_history(demo_inv: certlab.Inventory) -> None:
    creds = {c.name: c for c in demo_inv.credentials()}
    assert {"payment_gateway", "saml_idp", "erp_connector"} <= set(creds)
    assert creds["payment_gateway"].purpose == "mtls" and creds["saml_idp"].purpose == "saml"
    events = demo_inv.audit_events()
    actors = {e.actor for e in events}
    assert {"maria.keller", "tom.berger", "ines.vogel"} <= actors
    assert any(e.outcome == "denied" and e.actor == "ines.vogel" for e in events)
    assert demo_inv.verify_audit().ok
    dump = json.dumps([e.to_json() for e in events])
    assert "PRIVATE KEY" not in dump


def test_cli_demo_refuses_a_non_empty_inventory(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    proc = run_cli("demo", "--json", db=db)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["certificates"] >= 30
    again = run_cli("demo", db=db)
    assert again.returncode == 1 and "holds" in again.stderr


def test_dashboard_setup_makes_first_users_with_one_time_passwords(tmp_path: Path) -> None:
    db = tmp_path / "data" / "certlab.duckdb"
    proc = run_cli("dashboard", "--setup-only", "--no-demo", db=db)
    assert proc.returncode == 0, proc.stderr
    passwords = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in ("(admin)", "(auditor)"):
            passwords[parts[0]] = parts[2]
    assert set(passwords) == {"admin", "auditor"}
    assert passwords["admin"] != passwords["auditor"] and len(passwords["admin"]) >= 16
    inv = certlab.open(db, actor=Actor("x", Role.ADMIN))
    assert inv.authenticate("admin", passwords["admin"]).role is Role.ADMIN
    assert inv.authenticate("auditor", passwords["auditor"]).role is Role.AUDITOR
    assert all(u.must_change_password for u in inv.users())
    again = run_cli("dashboard", "--setup-only", db=db)  # users exist: no new passwords
    assert again.returncode == 0 and "one-time" not in again.stdout
