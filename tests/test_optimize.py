"""Optimize: the inventory file rewritten compactly, certificates in expiry order, nothing else changed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import certlab
from certlab import Actor, CertSpec, PermissionDeniedError, Role, StoreError
from certlab.models import CertFilter

from .conftest import make_cert, run_cli

PW = b"a long enough export password"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _physical_ids(inv: certlab.Inventory) -> list[int]:
    """Certificate ids in the order DuckDB stores the rows (rowid order)."""
    with inv.db.read() as tx:
        return [r[0] for r in tx.rows("SELECT id FROM certificates ORDER BY rowid")]


def _expiry_ids(inv: certlab.Inventory) -> list[int]:
    with inv.db.read() as tx:
        return [r[0] for r in tx.rows("SELECT id FROM certificates ORDER BY not_after NULLS LAST, id")]


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          timeout=60)
    return int(proc.stdout)


def test_optimize_orders_certificates_by_expiry_and_keeps_everything(inv: certlab.Inventory) -> None:
    inv.generate_synthetic(3000, seed=7)  # written in the generator's order, expiries scattered
    make_cert(inv, "payments_mtls", exportable=True)
    inv.create_csr(CertSpec(name="pending_idp", key_type="ec-p256", sans=("idp.example.com",)))  # no expiry yet
    inv.add_credential("payments", certificate="payments_mtls", endpoint="https://pay.example.com", purpose="mtls")
    make_cert(inv, "short_lived", days=5)
    inv.delete("short_lived")
    assert _physical_ids(inv) != _expiry_ids(inv)
    records = {r.name: r for r in inv.list()}
    key_before = inv.export("payments_mtls", "key", password=PW).data
    page_before = inv.certificate_page(CertFilter(expiring_within=90), page_size=50)
    events_before = inv.audit_events()

    result = inv.optimize()

    assert result.bytes_after == inv.path.stat().st_size < result.bytes_before  # no free blocks
    events = inv.audit_events()
    assert events[:-1] == events_before  # the trail as it was, and one event for this action
    last = events[-1]
    assert (last.action, last.outcome, last.actor) == ("optimized", "ok", "alice")
    assert last.details["rows"]["certificates"] == len(records) == result.certificates
    assert result.rows["audit_events"] == len(events)
    assert last.details["bytes_before"] == result.bytes_before
    assert _physical_ids(inv) == _expiry_ids(inv)  # the rows now sit in expiry order
    assert _physical_ids(inv)[-1] == records["pending_idp"].id  # no expiry: last
    assert {r.name: r for r in inv.list()} == records  # same ids, names, fields, credentials
    assert inv.get("payments_mtls").credentials == ("payments",)
    assert inv.certificate_page(CertFilter(expiring_within=90), page_size=50) == page_before
    # the encrypted key was copied as it was: it still decrypts under the key file
    assert key_before.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY")
    assert inv.export("payments_mtls", "key", password=PW).data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY")
    assert inv.verify_audit().ok
    assert not list(inv.path.parent.glob(f".{inv.path.name}.optimize-*"))  # its temporary copy is gone
    assert json.loads(json.dumps(result.to_json()))["certificates"] == len(records)
    # the inventory goes on working: a new certificate, then optimize again keeps the order
    make_cert(inv, "after_optimize", days=1)
    inv.optimize()
    assert _physical_ids(inv) == _expiry_ids(inv)
    assert _physical_ids(inv)[0] != records["pending_idp"].id


def test_optimize_is_for_admins_and_a_refusal_changes_nothing_but_the_audit(inv: certlab.Inventory) -> None:
    make_cert(inv, "one")
    auditor = inv.as_actor(Actor("erin", Role.AUDITOR))
    with pytest.raises(PermissionDeniedError, match="may not optimize the inventory"):
        auditor.optimize()
    last = inv.audit_events()[-1]
    assert (last.action, last.outcome, last.actor) == ("optimized", "denied", "erin")


def test_a_failed_optimize_leaves_the_inventory_as_it_was(inv: certlab.Inventory) -> None:
    make_cert(inv, "one")
    inv.generate_synthetic(200, seed=3)
    before = _digest(inv.path)
    blocker = inv.path.with_name(f".{inv.path.name}.optimize-{os.getpid()}")
    blocker.mkdir()  # where the copy would go: DuckDB cannot create its file
    try:
        with pytest.raises(StoreError, match="cannot write the copy"):
            inv.optimize()
    finally:
        blocker.rmdir()
    assert _digest(inv.path) == before
    assert inv.audit_events()[-1].action == "synthetic_generated"
    assert inv.verify_audit().ok


def test_optimize_removes_a_dead_processes_copy(inv: certlab.Inventory) -> None:
    make_cert(inv, "one")
    stale = inv.path.with_name(f".{inv.path.name}.optimize-{_dead_pid()}")
    stale.write_bytes(b"a whole inventory would be here")
    result = inv.optimize()
    assert result.stale_removed == (stale,) and not stale.exists()
    assert inv.audit_events()[-1].details["stale_copies_removed"] == [str(stale)]


def test_cli_optimize(cli_db: Path) -> None:
    run_cli("create", "self-signed", "one", "--key", "ec-p256", "--san", "one.example.com", db=cli_db,
            check=True)
    proc = run_cli("optimize", "--json", db=cli_db, check=True)
    doc = json.loads(proc.stdout)
    assert doc["certificates"] == 1 and doc["rows"]["certificates"] == 1 and doc["bytes_after"] > 0
    denied = run_cli("optimize", db=cli_db, env={"CERTLAB_ACTOR": "erin:auditor"})
    assert denied.returncode == 1 and "Traceback" not in denied.stderr
    assert "may not optimize the inventory" in denied.stderr
