"""certlab backup / restore: consistent copies while in use; restore checks the copy before replacing."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import certlab
from certlab import Actor, ConflictError, PermissionDeniedError, Role, StoreError
from certlab.store import vault

from .conftest import ROOT, make_cert, run_cli

PW = b"a long enough export password"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _keys_decrypt(inv: certlab.Inventory) -> int:
    with inv.db.read() as tx:
        ids = [r[0] for r in tx.rows("SELECT id FROM private_keys")]
        for key_id in ids:
            inv._load_private_key(tx, key_id)
    return len(ids)


def test_backup_without_keys_is_0600_and_checked(inv: certlab.Inventory, tmp_path: Path) -> None:
    make_cert(inv, "one", exportable=True)
    result = inv.backup(tmp_path / "b.duckdb")
    assert result.certificates == 1 and result.private_keys == 1 and result.keys_path is None
    assert _mode(result.path) == 0o600
    assert not vault.key_file_for(result.path).exists()
    events = inv.audit_events()
    assert result.audit_head == f"{events[-2].seq}:{events[-2].hash}"  # the last event records the backup
    last = events[-1]
    assert (last.action, last.outcome, last.details["with_keys"]) == ("backup", "ok", False)
    # the key material never enters the database file, so neither the backup
    key = inv.export("one", "key", password=PW)
    assert b"PRIVATE KEY" not in result.path.read_bytes()
    assert key.data not in result.path.read_bytes()
    with pytest.raises(ConflictError, match="exists already"):
        inv.backup(tmp_path / "b.duckdb")
    inv.backup(tmp_path / "b.duckdb", overwrite=True)


def test_backup_with_keys_writes_a_separate_0600_key_file(inv: certlab.Inventory, tmp_path: Path) -> None:
    make_cert(inv, "one")
    result = inv.backup(tmp_path / "b.duckdb", with_keys=True)
    assert result.keys_path == tmp_path / "b.duckdb.keys"
    assert _mode(result.keys_path) == 0o600
    assert result.keys_path.read_bytes() == inv.key_file.read_bytes()


def test_backup_refuses_the_inventory_itself_and_non_admins(inv: certlab.Inventory, tmp_path: Path) -> None:
    with pytest.raises(certlab.InvalidInputError, match="inventory itself"):
        inv.backup(inv.path, overwrite=True)
    with pytest.raises(PermissionDeniedError):
        inv.as_actor(Actor("eve", Role.AUDITOR)).backup(tmp_path / "x.duckdb")
    with pytest.raises(PermissionDeniedError):
        inv.as_actor(Actor("eve", Role.ANALYST)).restore(tmp_path / "x.duckdb")
    assert not (tmp_path / "x.duckdb").exists()


@pytest.mark.slow
def test_backup_while_another_process_writes(inv: certlab.Inventory, tmp_path: Path) -> None:
    """The copy is one committed state: its certificates and audit events agree, the chain verifies."""
    make_cert(inv, "first")
    script = ("import sys, certlab\nfrom certlab import CertSpec, Actor\n"
              "inv = certlab.open(sys.argv[1], actor=Actor('writer'))\n"
              "for i in range(40): inv.create_self_signed(CertSpec(name=f'w{i}', key_type='ec-p256'))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLAB_")} | {"PYTHONPATH": str(ROOT)}
    writer = subprocess.Popen([sys.executable, "-c", script, str(inv.path)], env=env, stderr=subprocess.PIPE, text=True)
    results = []
    while writer.poll() is None and len(results) < 6:
        results.append(inv.backup(tmp_path / f"b{len(results)}.duckdb"))
    assert writer.wait(300) == 0, writer.stderr.read() if writer.stderr else ""
    assert results
    for r in results:
        target = tmp_path / "restored" / f"{r.path.name}"
        restored = certlab.Inventory(target, actor=Actor("admin"))
        restored.restore(r.path, keys=_keys_copy(inv, tmp_path))
        # every certificate in the copy has its creation event and nothing else is half there
        created = [e for e in restored.audit_events() if e.action == "created"]
        assert len(created) == restored.count() == r.certificates
        assert restored.verify_audit().ok
        assert _keys_decrypt(restored) == r.private_keys


def _keys_copy(inv: certlab.Inventory, tmp_path: Path) -> Path:
    copy = tmp_path / "keys-copy.keys"
    if not copy.exists():
        fd = os.open(copy, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(inv.key_file.read_bytes())
    return copy


def test_restore_replaces_after_checking_and_keeps_the_old_file(inv: certlab.Inventory, tmp_path: Path) -> None:
    make_cert(inv, "kept", exportable=True)
    backup = inv.backup(tmp_path / "b.duckdb")
    make_cert(inv, "later")
    inv.delete("kept")
    result = inv.restore(backup.path, expect_head=backup.audit_head)
    assert sorted(r.name for r in inv.list()) == ["kept"]
    assert result.replaced is not None and result.replaced.exists()
    assert inv.verify_audit().ok
    last = inv.audit_events()[-1]
    assert (last.action, last.details["audit_head_restored"]) == ("restored", backup.audit_head)
    assert inv.export("kept", "key", password=PW).secret  # its key decrypts
    # the replaced inventory can itself be restored (its keys kept beside it)
    again = certlab.Inventory(tmp_path / "old" / "c.duckdb", actor=inv.actor)
    again.restore(result.replaced, keys=vault.key_file_for(result.replaced))
    assert sorted(r.name for r in again.list()) == ["later"]


def _assert_unchanged(inv: certlab.Inventory, before: tuple[str, str]) -> None:
    assert (_digest(inv.path), _digest(inv.key_file)) == before


def test_restore_refuses_bad_copies_and_changes_nothing(inv: certlab.Inventory, tmp_path: Path) -> None:
    make_cert(inv, "one")
    good = inv.backup(tmp_path / "good.duckdb")
    before = (_digest(inv.path), _digest(inv.key_file))

    garbage = tmp_path / "garbage.duckdb"
    garbage.write_bytes(os.urandom(5000))
    with pytest.raises(StoreError, match="garbage.duckdb"):
        inv.restore(garbage)
    _assert_unchanged(inv, before)

    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(StoreError, match="not a certlab inventory"):
        inv.restore(empty)
    _assert_unchanged(inv, before)

    tampered = tmp_path / "tampered.duckdb"
    tampered.write_bytes(good.path.read_bytes())
    con = duckdb.connect(str(tampered))
    con.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
    con.close()
    with pytest.raises(StoreError, match="audit chain broken at event 2"):
        inv.restore(tampered)
    _assert_unchanged(inv, before)

    newer = tmp_path / "newer.duckdb"
    newer.write_bytes(good.path.read_bytes())
    con = duckdb.connect(str(newer))
    con.execute("INSERT INTO schema_version VALUES (9999, 'future', now())")
    con.close()
    with pytest.raises(StoreError, match="newer than this certlab"):
        inv.restore(newer)
    _assert_unchanged(inv, before)

    with pytest.raises(certlab.InvalidInputError, match="SEQ:HASH"):
        inv.restore(good.path, expect_head="nonsense")
    with pytest.raises(StoreError, match="missing|differs"):
        inv.restore(good.path, expect_head=f"{good.audit_events + 3}:{'0' * 64}")
    _assert_unchanged(inv, before)
    with pytest.raises(certlab.InvalidInputError, match="no such backup"):
        inv.restore(tmp_path / "absent.duckdb")
    assert len(inv.list()) == 1 and inv.verify_audit().ok


def test_restore_needs_the_master_key_that_wrapped_the_backup(inv: certlab.Inventory, tmp_path: Path) -> None:
    make_cert(inv, "one")
    old = inv.backup(tmp_path / "old.duckdb", with_keys=True)
    inv.rotate_master_key()
    before = (_digest(inv.path), _digest(inv.key_file))
    with pytest.raises(StoreError, match="does not hold .*--keys"):
        inv.restore(old.path)
    _assert_unchanged(inv, before)
    inv.restore(old.path, keys=old.keys_path)  # with the backup's key file it works
    assert _keys_decrypt(certlab.open(inv.path, actor=inv.actor)) == 1
    assert inv.verify_audit().ok


def test_restore_refuses_another_inventorys_backup(inv: certlab.Inventory, tmp_path: Path) -> None:
    other = certlab.init(tmp_path / "other" / "o.duckdb", actor=Actor("x"))
    make_cert(other, "foreign")
    foreign = other.backup(tmp_path / "foreign.duckdb", with_keys=True)
    before = (_digest(inv.path), _digest(inv.key_file))
    with pytest.raises(ConflictError, match="another inventory"):
        inv.restore(foreign.path, keys=foreign.keys_path)
    _assert_unchanged(inv, before)


def test_restore_onto_a_lost_inventory(inv: certlab.Inventory, tmp_path: Path) -> None:
    make_cert(inv, "survivor", exportable=True)
    b = inv.backup(tmp_path / "b.duckdb", with_keys=True)
    fresh = certlab.Inventory(tmp_path / "new" / "certlab.duckdb", actor=inv.actor)
    fresh.restore(b.path, keys=b.keys_path)
    assert _mode(fresh.key_file) == 0o600
    reopened = certlab.open(fresh.path, actor=inv.actor)
    assert [r.name for r in reopened.list()] == ["survivor"]
    assert reopened.export("survivor", "key", password=PW).secret
    assert reopened.verify_audit().ok


def test_restore_sets_aside_a_crashed_writers_wal(inv: certlab.Inventory, tmp_path: Path) -> None:
    make_cert(inv, "in_backup")
    b = inv.backup(tmp_path / "b.duckdb")
    script = ("import os, signal, sys\nfrom certlab.store import Database\ndb = Database(sys.argv[1])\n"
              "with db.write() as tx:\n"
              "    tx.execute(\"INSERT INTO settings VALUES ('stale', '1')\")\n"
              "    tx.con.execute('COMMIT')\n    tx.con.execute('BEGIN TRANSACTION')\n"
              "    os.kill(os.getpid(), signal.SIGKILL)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLAB_")} | {"PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", script, str(inv.path)], env=env, timeout=120)
    assert inv.path.with_name(inv.path.name + ".wal").exists()
    result = inv.restore(b.path)
    with inv.db.read() as tx:
        assert tx.scalar("SELECT count(*) FROM settings WHERE key = 'stale'") == 0
    assert result.replaced is not None
    with duckdb.connect(str(result.replaced), read_only=True) as con:  # the WAL went with the replaced file
        assert con.execute("SELECT count(*) FROM settings WHERE key = 'stale'").fetchone() == (1,)
    assert inv.verify_audit().ok


def test_cli_backup_and_restore(cli_db: Path, tmp_path: Path) -> None:
    run_cli("create", "self-signed", "web", "--key", "ec-p256", db=cli_db, check=True)
    proc = run_cli("backup", str(tmp_path / "b.duckdb"), "--with-keys", "--json", db=cli_db, check=True)
    doc = json.loads(proc.stdout)
    assert doc["certificates"] == 1 and doc["keys_path"].endswith("b.duckdb.keys")
    run_cli("delete", "web", db=cli_db, check=True)
    proc = run_cli("restore", str(tmp_path / "b.duckdb"), "--check", "--expect-head", doc["audit_head"], db=cli_db)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(run_cli("list", "--json", db=cli_db).stdout) == []  # --check replaced nothing
    proc = run_cli("restore", str(tmp_path / "b.duckdb"), "--table", db=cli_db)
    assert proc.returncode == 2  # no such option: usage error
    proc = run_cli("restore", str(tmp_path / "b.duckdb"), db=cli_db, check=True)
    assert [r["name"] for r in json.loads(run_cli("list", "--json", db=cli_db).stdout)] == ["web"]
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(b"not a database")
    proc = run_cli("restore", str(bad), db=cli_db)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("certlab: error: ") and proc.stderr.count("\n") == 1
    assert run_cli("audit", "verify", db=cli_db).returncode == 0


def _crash_mid_write(db: Path, key: str) -> None:
    """A writer killed after its commit reached the WAL but before the checkpoint: the WAL stays."""
    script = ("import os, signal, sys\nfrom certlab.store import Database\ndb = Database(sys.argv[1])\n"
              "with db.write() as tx:\n"
              f"    tx.execute(\"INSERT INTO settings VALUES ('{key}', '1')\")\n"
              "    tx.con.execute('COMMIT')\n    tx.con.execute('BEGIN TRANSACTION')\n"
              "    os.kill(os.getpid(), signal.SIGKILL)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLAB_")} | {"PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", script, str(db)], env=env, timeout=120)


def test_inventory_files_are_owner_only(tmp_path: Path, admin: Actor) -> None:
    old_umask = os.umask(0o022)  # the usual umask: files would be world-readable unless certlab says otherwise
    try:
        inv = certlab.init(tmp_path / "inv" / "certlab.duckdb", actor=admin)
        assert (_mode(inv.path), _mode(inv.key_file)) == (0o600, 0o600)
        make_cert(inv, "one", exportable=True)
        _crash_mid_write(inv.path, "crashed")  # DuckDB made this WAL itself
        wal = inv.path.with_name(inv.path.name + ".wal")
        assert wal.exists() and _mode(wal) == 0o600
        b = inv.backup(tmp_path / "b.duckdb", with_keys=True)
        assert b.keys_path is not None and (_mode(b.path), _mode(b.keys_path)) == (0o600, 0o600)
        result = inv.restore(b.path)
        assert result.replaced is not None and _mode(result.replaced) == 0o600
        assert _mode(inv.path) == 0o600
        beside = {f.name: _mode(f) for f in inv.path.parent.iterdir()}
        assert set(beside.values()) == {0o600}, beside
        # an inventory made before certlab did this is tightened by its next write
        os.chmod(inv.path, 0o644)
        make_cert(inv, "two")
        assert _mode(inv.path) == 0o600
        assert os.umask(0o022) == 0o022  # and the caller's umask is back
        # the CLI's files too
        proc = run_cli("init", db=tmp_path / "cli" / "certlab.duckdb")
        assert proc.returncode == 0, proc.stderr
        assert {_mode(f) for f in (tmp_path / "cli").iterdir()} == {0o600}
    finally:
        os.umask(old_umask)


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          timeout=60)
    return int(proc.stdout)


def _plant(path: Path) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"a whole inventory would be here")
    os.close(fd)
    return path


def test_stale_temporary_copies_of_dead_processes_are_removed(inv: certlab.Inventory, tmp_path: Path) -> None:
    make_cert(inv, "one")
    dead = _dead_pid()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        here = inv.path.parent
        name = inv.path.name
        stale = [_plant(here / f".{name}.restore-{dead}"), _plant(here / f".{name}.restore-{dead}.wal"),
                 _plant(here / f".{name}.verify-{dead}")]
        in_use = _plant(here / f".{name}.restore-{live.pid}")  # a restore still running elsewhere
        other = _plant(here / f".other.duckdb.restore-{dead}")  # not this inventory's
        lookalike = _plant(here / f".{name}.restore-{dead}.old")  # not a name certlab makes
        out = tmp_path / "out"
        out.mkdir()
        stale_partial = [_plant(out / f".b.duckdb.partial-{dead}"), _plant(out / f".b.duckdb.keys.partial-{dead}")]
        b = inv.backup(out / "b.duckdb", with_keys=True)
        assert sorted(b.stale_removed) == sorted(stale + stale_partial)
        assert not any(p.exists() for p in stale + stale_partial)
        assert in_use.exists() and other.exists() and lookalike.exists()
        assert inv.audit_events()[-1].details["stale_copies_removed"] == [str(p) for p in sorted(stale + stale_partial)]
        # a check and a restore do the same
        again = _plant(here / f".{name}.verify-{dead}")
        assert inv.verify_backup(b.path).stale_removed == (again,) and not again.exists()
        again = _plant(here / f".{name}.restore-{dead}")
        result = inv.restore(b.path)
        assert result.stale_removed == (again,) and not again.exists()
        assert json.loads(json.dumps(result.to_json()))["stale_removed"] == [str(again)]
        assert inv.audit_events()[-1].details["stale_copies_removed"] == [str(again)]
        assert in_use.exists()
        assert inv.restore(b.path).stale_removed == ()  # nothing left to remove: no mention
        assert "stale_copies_removed" not in inv.audit_events()[-1].details
    finally:
        live.kill()
        live.wait()


def _old_key_traces(ring_doc: dict[str, object]) -> list[bytes]:
    """The master keys of a key file as they would appear on disk (base64 in a key file, or raw)."""
    import base64

    keys = ring_doc["master_keys"]
    assert isinstance(keys, dict)
    return [v.encode() for v in keys.values()] + [base64.b64decode(v) for v in keys.values()]


def test_master_key_rotation_rewraps_pre_restore_copies(cli_db: Path, tmp_path: Path) -> None:
    admin = certlab.open(cli_db, actor=Actor("alice", Role.ADMIN))
    make_cert(admin, "kept", exportable=True)
    b = admin.backup(tmp_path / "b.duckdb")
    make_cert(admin, "later", exportable=True)
    replaced = admin.restore(b.path).replaced
    assert replaced is not None and vault.key_file_for(replaced).exists()
    old = json.loads(admin.key_file.read_text())
    assert json.loads(vault.key_file_for(replaced).read_text())["master_keys"] == old["master_keys"]
    # a second pre-restore copy that is broken: reported, left as it was
    broken = cli_db.with_name(f"{cli_db.name}.pre-restore-20200101T000000000000Z")
    broken.write_bytes(b"not a database")
    broken_keys = vault.key_file_for(broken)
    fd = os.open(broken_keys, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, vault.key_file_for(replaced).read_bytes())
    os.close(fd)
    broken_before = broken_keys.read_bytes()

    proc = run_cli("master-key", "rotate", "--json", db=cli_db, env={"CERTLAB_ACTOR": "alice:admin"})
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["pre_restore_rewrapped"] == [str(replaced)]
    assert f"pre-restore copy {replaced} rewrapped too: it can still be restored" in proc.stderr
    assert list(doc["pre_restore_failed"]) == [str(broken)]
    assert f"warning: pre-restore copy {broken} could not be rewrapped" in proc.stderr
    assert f"{broken}.keys still holds an old master key" in proc.stderr and "Traceback" not in proc.stderr
    event = admin.audit_events()[-1]
    assert event.action == "master_key_rotated" and event.details["pre_restore_rewrapped"] == [str(replaced)]
    assert list(event.details["pre_restore_failed"]) == [str(broken)]

    # the old master key is gone from every file beside the inventory but the broken copy's (reported)
    new_id = doc["new_key_id"]
    for f in cli_db.parent.iterdir():
        if f != broken_keys:
            assert not any(t in f.read_bytes() for t in _old_key_traces(old)), f
    assert broken_keys.read_bytes() == broken_before
    assert list(json.loads(vault.key_file_for(replaced).read_text())["master_keys"]) == [new_id]
    assert _mode(vault.key_file_for(replaced)) == 0o600
    # and the restore can still be undone: the copy opens with its (rewrapped) key file
    undo = certlab.Inventory(tmp_path / "undo" / "certlab.duckdb", actor=admin.actor)
    undo.restore(replaced, keys=vault.key_file_for(replaced))
    assert sorted(r.name for r in undo.list()) == ["kept", "later"]
    assert _keys_decrypt(undo) == 2 and undo.verify_audit().ok
    # the next rotation rewraps the copy again, and nothing fails once the broken copy is gone
    broken.unlink()
    broken_keys.unlink()
    again = admin.rotate_master_key()
    assert again.pre_restore_rewrapped == (replaced,) and again.pre_restore_failed == ()
