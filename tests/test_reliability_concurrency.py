"""Three real processes (dashboard-like, notebook-like, CLI-like) share one inventory file.

No operation may fail except with the clear "inventory busy" error after the wait; no write may be lost
(the counts of certificates, credentials and audit events add up exactly); the audit chain verifies.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import certlab
from certlab import Actor, CertSpec, InventoryBusyError, Role
from certlab.store import Database

from .conftest import ROOT, make_cert

WORKER = Path(__file__).with_name("reliability_worker.py")
OPS = {"dashboard": 250, "notebook": 200, "cli": 150}
# Writes that append exactly one audit event each.
AUDITED = ("create", "import", "export", "export_key", "download", "credential_add", "credential_rebind",
           "credential_delete")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLAB_")}
    env["PYTHONPATH"] = str(ROOT)
    env["CERTLAB_LOCK_TIMEOUT"] = "60"
    return env


def _import_files(directory: Path, count: int) -> None:
    directory.mkdir()
    key = certlab.generate_key("ec-p256")
    for i in range(count):
        issued = certlab.self_signed(f"imported{i}.example.com", name=f"imp{i}", key=key)
        (directory / f"imp{i}.pem").write_bytes(issued.cert_pem.bytes())


@pytest.mark.slow
def test_three_surfaces_share_one_inventory(tmp_path: Path) -> None:
    db = tmp_path / "shared.duckdb"
    inv = certlab.init(db, actor=Actor("setup", Role.ADMIN))
    for i in range(5):
        make_cert(inv, f"seed_{i}")
    seeded_events = len(inv.audit_events())
    imports = tmp_path / "imports"
    _import_files(imports, 80)
    go = tmp_path / "go"
    procs = {}
    for seed, role in enumerate(OPS, 1):
        out = tmp_path / f"{role}.json"
        procs[role] = (subprocess.Popen(
            [sys.executable, str(WORKER), role, str(db), str(OPS[role]), str(seed), str(go), str(out), str(imports)],
            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), out)
    go.touch()  # all three start together
    reports = {}
    for role, (proc, out) in procs.items():
        stdout, stderr = proc.communicate(timeout=900)
        assert proc.returncode == 0, f"{role} worker crashed: {stderr[-3000:]}"
        reports[role] = json.loads(out.read_text())

    for role, report in reports.items():
        print(role, json.dumps({k: report[k] for k in ("done", "busy", "seconds", "lock")}))
        assert report["failed"] == [], f"{role}: operations failed with other than the busy error: {report['failed'][:3]}"
        assert sum(report["done"].values()) + sum(report["busy"].values()) + sum(report["expected_errors"].values()) \
            >= OPS[role] * 0.9, f"{role} did too little: {report}"
    # The processes really overlapped: each did writes or reads while the others ran.
    assert reports["cli"]["done"]["create"] > 10 and reports["notebook"]["done"]["create"] > 5
    assert reports["dashboard"]["done"]["list"] > 50

    done = {k: sum(r["done"].get(k, 0) for r in reports.values()) for k in AUDITED}
    after = certlab.open(db, actor=Actor("check", Role.AUDITOR))
    assert after.count() == 5 + done["create"] + done["import"], (done, after.count())
    assert len(after.credentials()) == done["credential_add"] - done["credential_delete"]
    events = after.audit_events()
    assert len(events) == seeded_events + sum(done.values()), "an audited write was lost or doubled"
    assert all(e.outcome == "ok" for e in events)
    verification = after.verify_audit()
    assert verification.ok, verification.describe()
    # The CLI reports the same.
    proc = subprocess.run([sys.executable, "-m", "certlab", "--db", str(db), "audit", "verify"],
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "audit chain verified" in proc.stdout
    # Lock cost was measured by the surfaces that used the Inventory directly.
    for role in ("dashboard", "notebook"):
        lock = reports[role]["lock"]
        assert lock["actions"] >= OPS[role] * 0.5 and lock["held_s"] > 0


def test_busy_error_is_clear_and_changes_nothing(inv: certlab.Inventory) -> None:
    """A writer that cannot get the lock within the wait gets InventoryBusyError; nothing is half-done."""
    make_cert(inv, "before")
    events = len(inv.audit_events())
    holder = Database(inv.path)
    impatient = certlab.Inventory(inv.path, actor=inv.actor, lock_timeout=0.3)
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.read():
            entered.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    entered.wait(5)
    try:
        with pytest.raises(InventoryBusyError, match=r"^inventory busy: .*shared\.duckdb|^inventory busy: .*certlab\.duckdb"):
            impatient.create_self_signed(CertSpec(name="blocked", key_type="ec-p256"))
        assert impatient.db.lock_stats().busy == 1
    finally:
        release.set()
        t.join()
    assert [r.name for r in inv.list()] == ["before"]
    assert len(inv.audit_events()) == events
    assert inv.verify_audit().ok


def test_readers_share_the_lock_and_timing_is_recorded(inv: certlab.Inventory) -> None:
    make_cert(inv, "one")
    inv.db.reset_lock_stats()
    inv.list()
    first = inv.db.last_lock
    assert first is not None and not first.exclusive and first.held >= first.opened >= 0
    assert inv.db.last_lock_wait == first.waited
    make_cert(inv, "two")
    last = inv.db.last_lock
    assert last is not None and last.exclusive
    stats = inv.db.lock_stats()
    assert stats.actions >= 2 and stats.exclusive >= 1 and stats.held >= first.held + last.held - 1e-9
    assert set(stats.to_json()) >= {"actions", "waited_s", "held_s", "mean_held_s", "busy"}
    # a copy for another actor shares the counters
    assert inv.as_actor(Actor("bob", Role.AUDITOR)).db.lock_stats() == inv.db.lock_stats()

    # two readers in other threads hold the shared lock at the same time
    inside = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            with Database(inv.path).read():
                inside.wait()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


_KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    import certlab
    from certlab.store import Database
    db = Database(sys.argv[1])
    with db.write() as tx:
        tx.execute("INSERT INTO settings (key, value) VALUES ('after_crash', '1')")
        tx.con.execute("COMMIT")          # committed to the WAL ...
        tx.con.execute("BEGIN TRANSACTION")
        tx.execute("INSERT INTO settings (key, value) VALUES ('uncommitted', '1')")
        os.kill(os.getpid(), signal.SIGKILL)   # ... and killed before the file was closed (no checkpoint)
""")


def test_reader_after_writer_killed_with_pending_wal(inv: certlab.Inventory) -> None:
    make_cert(inv, "kept")
    proc = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(inv.path)], env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert inv.path.with_name(inv.path.name + ".wal").exists(), "the killed writer left no WAL to replay"
    # A fresh process reads first (read_only open, the lock released by the kernel at the kill).
    reader = subprocess.run(
        [sys.executable, "-c", "import sys, certlab; from certlab.store import Database\n"
         "db = Database(sys.argv[1])\n"
         "with db.read() as tx: print(tx.scalar(\"SELECT count(*) FROM settings WHERE key IN ('after_crash', 'uncommitted')\"))\n"
         "inv = certlab.open(sys.argv[1]); print(len(inv.list()), inv.verify_audit().ok)",
         str(inv.path)], env=_env(), capture_output=True, text=True, timeout=120)
    assert reader.returncode == 0, reader.stderr
    assert reader.stdout.split() == ["1", "1", "True"]
    # and a writer afterwards works and keeps everything
    make_cert(inv, "after")
    assert [r.name for r in inv.list()] == ["after", "kept"] or sorted(r.name for r in inv.list()) == ["after", "kept"]
    assert inv.verify_audit().ok
