"""Crash safety: a real process killed with SIGKILL at random moments of an action.

For each action, a prepared inventory is copied, the action is started in a subprocess and killed at a
random moment (sometimes it finishes first). On reopen the inventory must be exactly as before the
action or exactly as after it: the counts match one of the two, every private key decrypts with the key
file on disk, and the audit chain verifies. The seed of each run is printed for reproduction
(``CERTLAB_CRASH_SEED``); ``CERTLAB_CRASH_ROUNDS`` sets the number of kills per action.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import certlab
from certlab import Actor, CertFilter, Role
from certlab.store import vault

from .conftest import ROOT, make_cert

DRIVER = Path(__file__).with_name("reliability_crash_driver.py")
ROUNDS = int(os.environ.get("CERTLAB_CRASH_ROUNDS", "8"))
SEED = int(os.environ.get("CERTLAB_CRASH_SEED", str(int(time.time()))))
ADMIN = Actor("crash_test", Role.ADMIN)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLAB_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _copy_inventory(template: Path, dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True)
    dest = dest_dir / template.name
    shutil.copy2(template, dest)
    for suffix in (".keys", ".wal"):
        extra = template.with_name(template.name + suffix)
        if extra.exists():
            shutil.copy2(extra, dest.with_name(dest.name + suffix))
    return dest


def _run(action: str, db: Path, arg: str, kill_after: float | None) -> tuple[bool, float]:
    """Run the action; kill it ``kill_after`` seconds after it started (None: let it finish).

    Returns (finished, seconds from start to exit or kill)."""
    proc = subprocess.Popen([sys.executable, str(DRIVER), action, str(db), arg], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    ready = proc.stdout.readline().strip()
    if ready != "ready":
        proc.wait(60)
        raise AssertionError(f"{action} driver did not start: {proc.stderr.read()[-2000:]}")
    start = time.monotonic()
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
        proc.stdout.close()
        proc.stderr.close()
        return False, time.monotonic() - start
    elapsed = time.monotonic() - start
    err = proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == 0, f"{action} failed without being killed: {err[-2000:]}"
    return True, elapsed


def _all_keys_decrypt(inv: certlab.Inventory) -> int:
    with inv.db.read() as tx:
        ids = [int(r[0]) for r in tx.rows("SELECT id FROM private_keys ORDER BY id")]
        for key_id in ids:
            inv._load_private_key(tx, key_id)
    return len(ids)


def _reopen_and_check(db: Path) -> certlab.Inventory:
    inv = certlab.open(db, actor=Actor("checker", Role.AUDITOR))
    verification = inv.verify_audit()
    assert verification.ok, verification.describe()
    assert stat.S_IMODE(inv.key_file.stat().st_mode) == 0o600
    return inv


def _crash_loop(tmp_path: Path, template: Path, action: str, arg: Callable[[Path], str],
                check: Callable[[certlab.Inventory, bool], str]) -> dict[str, int]:
    """Measure the action once, then kill it at random moments; ``check`` names the state it found."""
    rnd = random.Random(SEED)
    print(f"crash test {action}: CERTLAB_CRASH_SEED={SEED}")
    db = _copy_inventory(template, tmp_path / "measure")
    finished, duration = _run(action, db, arg(db), None)
    assert finished
    assert check(_reopen_and_check(db), True) == "after"
    seen: dict[str, int] = {"before": 0, "after": 0, "killed_after": 0}
    for i in range(ROUNDS):
        db = _copy_inventory(template, tmp_path / f"round{i}")
        finished, _ = _run(action, db, arg(db), rnd.uniform(0.05, 1.1) * duration)
        state = check(_reopen_and_check(db), finished)
        if finished:
            assert state == "after"
        seen[state] += 1
        seen["killed_after"] += int(state == "after" and not finished)
    print(f"crash test {action}: {seen} (action takes {duration:.2f} s)")
    return seen


# --- bulk import ------------------------------------------------------------------------------------------

def _import_dir(directory: Path) -> tuple[int, int]:
    directory.mkdir()
    shared = certlab.generate_key("ec-p256")
    certs = 0
    for i in range(150):
        issued = certlab.self_signed(f"bulk{i}.example.com", name=f"bulk{i}", key=shared)
        (directory / f"bulk{i}.pem").write_bytes(issued.cert_pem.bytes())
        certs += 1
    keys = 0
    for i in range(8):
        issued = certlab.self_signed(f"keyed{i}.example.com", name=f"keyed{i}", key_type="ec-p256")
        (directory / f"keyed{i}.pem").write_bytes(issued.cert_pem.bytes() + issued.private_key_pem.bytes())
        keys += 1
    return certs + keys, keys


@pytest.mark.slow
def test_kill_during_bulk_import(tmp_path: Path) -> None:
    template = tmp_path / "template" / "inv.duckdb"
    inv = certlab.init(template, actor=ADMIN)
    for i in range(3):
        make_cert(inv, f"existing_{i}")
    files, keys = _import_dir(tmp_path / "bulk")
    before_events = len(inv.audit_events())

    def check(after: certlab.Inventory, finished: bool) -> str:
        count, nkeys, events = after.count(), _all_keys_decrypt(after), len(after.audit_events())
        if (count, nkeys, events) == (3, 3, before_events):
            return "before"
        assert (count, nkeys, events) == (3 + files, 3 + keys, before_events + files), \
            f"half an import: {count} certificates, {nkeys} keys, {events} events"
        return "after"

    seen = _crash_loop(tmp_path, template, "import", lambda db: str(tmp_path / "bulk"), check)
    assert seen["before"] + seen["after"] == ROUNDS


# --- master-key rotation ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_kill_during_master_key_rotation(tmp_path: Path) -> None:
    template = tmp_path / "template" / "inv.duckdb"
    inv = certlab.init(template, actor=ADMIN)
    for i in range(30):
        make_cert(inv, f"k{i}")
    original = vault.load_keyring(inv.key_file).current
    before_events = len(inv.audit_events())

    def check(after: certlab.Inventory, finished: bool) -> str:
        assert _all_keys_decrypt(after) == 30
        ring = vault.load_keyring(after.key_file)
        with after.db.read() as tx:
            used = {r[0] for r in tx.rows("SELECT DISTINCT master_key_id FROM private_keys")}
        # the key file holds what the rows need and the current key, nothing more (a rotation cut short
        # after its transaction is finished by the reopen)
        assert set(ring.master_keys) == used | {ring.current}
        assert not vault.key_file_tmp(after.key_file).exists()
        events = len(after.audit_events())
        if used == {original}:
            assert events == before_events
            return "before"
        assert len(used) == 1 and original not in ring.master_keys and events == before_events + 1
        return "after"

    seen = _crash_loop(tmp_path, template, "rotate_master_key", lambda db: "", check)
    assert seen["before"] + seen["after"] == ROUNDS


# --- audit append -------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_kill_during_audit_appends(tmp_path: Path) -> None:
    template = tmp_path / "template" / "inv.duckdb"
    inv = certlab.init(template, actor=ADMIN)
    make_cert(inv, "audited")
    before_events = len(inv.audit_events())

    def check(after: certlab.Inventory, finished: bool) -> str:
        events = after.audit_events()
        downloads = [e for e in events if e.action == "downloaded"]
        assert len(events) == before_events + len(downloads)
        assert all(e.object == "audited" and e.details == {"format": "pem"} for e in downloads)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        return "after" if len(downloads) == 60 else "before"

    seen = _crash_loop(tmp_path, template, "audit", lambda db: "60", check)
    assert seen["before"] >= 1  # killed in the middle at least once


# --- rotation cut-over ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_kill_during_cutover(tmp_path: Path) -> None:
    template = tmp_path / "template" / "inv.duckdb"
    inv = certlab.init(template, actor=ADMIN)
    make_cert(inv, "old_api")
    for i in range(40):
        inv.add_credential(f"client_{i}", certificate="old_api", endpoint=f"https://c{i}.example.com", purpose="mtls")
    successor = inv.rotate("old_api").name
    before_events = len(inv.audit_events())

    def check(after: certlab.Inventory, finished: bool) -> str:
        bound = {c.certificate for c in after.credentials()}
        status = after.get("old_api").status
        events = len(after.audit_events())
        assert len(after.credentials()) == 40
        if bound == {"old_api"}:
            assert status == "active" and events == before_events
            return "before"
        assert bound == {successor} and status == "retired" and events == before_events + 1, (bound, status)
        return "after"

    seen = _crash_loop(tmp_path, template, "cutover", lambda db: "old_api", check)
    assert seen["before"] + seen["after"] == ROUNDS


# --- restore --------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_kill_during_restore(tmp_path: Path) -> None:
    template = tmp_path / "template" / "inv.duckdb"
    inv = certlab.init(template, actor=ADMIN)
    make_cert(inv, "a")
    make_cert(inv, "b")
    backup = inv.backup(tmp_path / "backup.duckdb")
    make_cert(inv, "c")
    inv.delete("a")

    def check(after: certlab.Inventory, finished: bool) -> str:
        names = sorted(r.name for r in after.list(CertFilter()))
        _all_keys_decrypt(after)
        last = after.audit_events()[-1]
        if names == ["b", "c"]:
            assert last.action == "deleted"
            return "before"
        assert names == ["a", "b"] and last.action == "restored", (names, last.action)
        return "after"

    seen = _crash_loop(tmp_path, template, "restore", lambda db: str(backup.path), check)
    assert seen["before"] + seen["after"] == ROUNDS


# --- optimize -------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_kill_during_optimize(tmp_path: Path) -> None:
    template = tmp_path / "template" / "inv.duckdb"
    inv = certlab.init(template, actor=ADMIN)
    inv.generate_synthetic(5000, seed=11)  # long enough an optimize to be killed in the middle
    make_cert(inv, "keyed", exportable=True)
    with inv.db.read() as tx:
        before_rows = tx.rows("SELECT * EXCLUDE (der) FROM certificates ORDER BY id")

    def check(after: certlab.Inventory, finished: bool) -> str:
        with after.db.read() as tx:
            assert tx.rows("SELECT * EXCLUDE (der) FROM certificates ORDER BY id") == before_rows
            physical = [r[0] for r in tx.rows("SELECT id FROM certificates ORDER BY rowid")]
            by_expiry = [r[0] for r in tx.rows("SELECT id FROM certificates ORDER BY not_after NULLS LAST, id")]
        assert _all_keys_decrypt(after) == 1
        assert not list(after.path.parent.glob(f".{after.path.name}.optimize-*")) or not finished
        last = after.audit_events()[-1]
        if last.action == "optimized":
            assert physical == by_expiry
            return "after"
        assert last.action == "created" and physical != by_expiry, last.action
        return "before"

    seen = _crash_loop(tmp_path, template, "optimize", lambda db: "", check)
    assert seen["before"] + seen["after"] == ROUNDS


@pytest.mark.slow
def test_a_restore_killed_mid_way_leaves_a_copy_the_next_restore_removes(tmp_path: Path) -> None:
    template = tmp_path / "template" / "inv.duckdb"
    inv = certlab.init(template, actor=ADMIN)
    for i in range(12):
        make_cert(inv, f"c{i}")
    backup = inv.backup(tmp_path / "backup.duckdb")
    for attempt in range(10):  # kill it while its private copy exists (it may finish first: try again)
        db = _copy_inventory(template, tmp_path / f"attempt{attempt}")
        proc = subprocess.Popen([sys.executable, str(DRIVER), "restore", str(db), str(backup.path)], env=_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        staged = db.with_name(f".{db.name}.restore-{proc.pid}")
        while proc.poll() is None and not staged.exists():
            pass
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
        proc.stdout.close()
        if staged.exists():
            break
    else:
        pytest.fail("the restore never got killed while its copy existed")
    assert stat.S_IMODE(staged.stat().st_mode) == 0o600  # a whole inventory, left behind
    proc = subprocess.run([sys.executable, "-m", "certlab", "--db", str(db), "restore", str(backup.path)],
                          env=_env() | {"CERTLAB_ACTOR": "alice:admin"}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["stale_removed"] == [str(staged)]  # said (a terminal gets a sentence)
    assert not staged.exists() and not staged.with_name(staged.name + ".wal").exists()
    assert not [f.name for f in db.parent.iterdir() if f.name.startswith(".")]
    after = _reopen_and_check(db)
    last = after.audit_events()[-1]
    assert last.action == "restored" and last.details["stale_copies_removed"] == [str(staged)]
    assert _all_keys_decrypt(after) == 12
