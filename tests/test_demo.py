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
    from certlab.demo import create_inventory, seed_demo

    inv = create_inventory(tmp_path_factory.mktemp("demo") / "certlab.duckdb", actor=Actor("setup", Role.ADMIN))
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


def test_demo_history_is_spread_over_months_in_chain_order(demo_inv: certlab.Inventory) -> None:
    import datetime as dt

    from certlab.demo import HISTORY_DAYS

    now = demo_inv.now()
    events = demo_inv.audit_events()
    times = [e.at for e in events]
    assert times == sorted(times) and times[-1] <= now
    assert now - times[0] >= dt.timedelta(days=HISTORY_DAYS)
    months = {(t.year, t.month) for t in times}
    assert len(months) >= 12  # not all stamped at seeding time
    by_action = Counter(e.action for e in events)
    for action in ("signed_in", "sign_in_failed", "created", "issued", "imported", "exported", "rotated",
                   "cut_over", "revoked", "deleted", "credential_added"):
        assert by_action[action] >= 1, action
    old = [e for e in events if now - e.at > dt.timedelta(days=30)]
    recent = [e for e in events if now - e.at <= dt.timedelta(days=30)]
    for period in (old, recent):
        assert {"exported", "deleted", "signed_in"} <= {e.action for e in period}
        assert any(e.outcome == "denied" for e in period)
    assert demo_inv.verify_audit().ok
    # Certificates are valid from when the history made them, and expire across the coming months.
    records = {r.name: r for r in demo_inv.list()}
    made = {e.object: e.at for e in events if e.action in ("created", "issued")}
    for name in ("sso_signing", "kafka_broker_2", "hr_portal", "jenkins_agent"):
        assert abs(records[name].not_before - made[name]) <= dt.timedelta(minutes=10), name
    left = [r.days_to_expiry for r in records.values() if r.status in ("active", "expiring")
            and r.days_to_expiry is not None and not r.is_ca]
    for low, high in ((0, 30), (31, 60), (61, 90), (91, 200), (201, 400)):
        assert any(low <= d <= high for d in left), (low, high)
    assert records["ldap_replica"].status == "retired" and records["ldap_replica"].successor == "ldap_replica_r2"
    assert records["crm_connector"].status == "revoked"
    users = {u.name: u for u in demo_inv.users()}
    assert users["maria.keller"].last_sign_in is not None and users["maria.keller"].last_sign_in < now


def test_inventory_clock_sets_validity_of_what_it_makes(tmp_path: Path) -> None:
    import datetime as dt

    past = certlab.certs.utcnow() - dt.timedelta(days=100)
    inv = certlab.init(tmp_path / "c.duckdb", actor=Actor("a", Role.ADMIN), clock=lambda: past)
    ss = inv.create_self_signed(certlab.CertSpec(name="ss", key_type="ec-p256", days=30))  # type: ignore[arg-type]
    root = inv.create_ca("root", key_type="ec-p256", days=365)
    assert ss.status == "expired" or ss.not_after < certlab.certs.utcnow()
    for rec in (ss, root):
        assert abs(rec.not_before - past) <= dt.timedelta(minutes=10)
    assert ss.not_after - ss.not_before <= dt.timedelta(days=30, minutes=10)


def test_cli_demo_refuses_a_non_empty_inventory(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    proc = run_cli("demo", "--json", db=db)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["certificates"] >= 30
    again = run_cli("demo", db=db)
    assert again.returncode == 1 and "holds" in again.stderr
    # The demo's people have passwords nobody knows: the dashboard's first run still makes first users.
    setup = run_cli("dashboard", "--setup-only", db=db)
    assert setup.returncode == 0 and "one-time" in setup.stdout, setup.stderr
    assert {"admin", "auditor", "maria.keller"} <= {u.name for u in certlab.open(db, actor=Actor("x", Role.ADMIN)).users()}


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
