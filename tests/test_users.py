"""Users and sign-in: scrypt hashes, roles, audited failures, lock-out, the ``certlab user`` commands."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

import certlab
from certlab import Action, Actor, ConflictError, InvalidInputError, PermissionDeniedError, Role
from certlab.inventory import users as users_mod

from .conftest import run_cli

PW = "correct horse battery"


def test_add_user_stores_a_salted_scrypt_hash_and_audits(inv: certlab.Inventory) -> None:
    user = inv.add_user("carol", "auditor", PW)
    inv.add_user("dave", Role.ADMIN, PW)
    assert (user.name, user.role, user.must_change_password) == ("carol", Role.AUDITOR, False)
    with inv.db.read() as tx:
        hashes = dict(tx.rows("SELECT name, password_hash FROM users"))
    assert PW not in hashes["carol"]
    scheme, n, r, p, _salt, _digest = hashes["carol"].split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", users_mod.SCRYPT_N, users_mod.SCRYPT_R, users_mod.SCRYPT_P)
    assert hashes["carol"] != hashes["dave"]  # same password, different salt
    last = inv.audit_events()[-1]
    assert (last.action, last.object, last.details["role"]) == ("user_added", "user:dave", "admin")
    assert PW not in json.dumps([e.to_json() for e in inv.audit_events()])


def test_authenticate_returns_the_actor_and_audits_sign_in(inv: certlab.Inventory) -> None:
    inv.add_user("carol", "auditor", PW)
    actor = inv.authenticate("carol", PW)
    assert actor == Actor("carol", Role.AUDITOR)
    last = inv.audit_events()[-1]
    assert (last.action, last.actor, last.role, last.outcome) == ("signed_in", "carol", "auditor", "ok")
    assert inv.user("carol").last_sign_in is not None


@pytest.mark.parametrize("name,password", [("carol", "wrong password!!"), ("nobody", PW), ("bad name\n", PW)])
def test_failed_sign_in_is_refused_and_audited(inv: certlab.Inventory, name: str, password: str) -> None:
    inv.add_user("carol", "auditor", PW)
    with pytest.raises(PermissionDeniedError, match="unknown user or wrong password"):
        inv.authenticate(name, password)
    last = inv.audit_events()[-1]
    assert (last.action, last.outcome) == ("sign_in_failed", "denied")
    assert password not in json.dumps(last.to_json())


def test_repeated_failures_lock_the_user_out(db_path: Path, admin: Actor) -> None:
    clock = [dt.datetime(2026, 5, 1, 12, 0, 0)]
    inv = certlab.init(db_path, actor=admin)
    inv = certlab.Inventory(db_path, actor=admin, clock=lambda: clock[0])
    inv.add_user("carol", "auditor", PW)
    for _ in range(users_mod.MAX_FAILED_SIGN_INS):
        with pytest.raises(PermissionDeniedError):
            inv.authenticate("carol", "not the password")
    with pytest.raises(PermissionDeniedError, match="too many failed attempts"):
        inv.authenticate("carol", PW)  # even the right password, while locked
    assert inv.audit_events()[-1].details["reason"] == "locked after repeated failed sign-ins"
    clock[0] += users_mod.LOCKOUT + dt.timedelta(seconds=1)
    assert inv.authenticate("carol", PW).name == "carol"


def test_only_admins_manage_users(inv: certlab.Inventory) -> None:
    inv.add_user("carol", "auditor", PW)
    auditor = inv.as_actor(Actor("carol", Role.AUDITOR))
    with pytest.raises(PermissionDeniedError):
        auditor.add_user("eve", "admin", PW)
    with pytest.raises(PermissionDeniedError):
        auditor.set_password("alice", PW + "x")
    with pytest.raises(PermissionDeniedError):
        inv.as_actor(Actor("ann", Role.ANALYST)).users()
    denied = [e for e in inv.audit_events() if e.outcome == "denied"]
    assert [(e.actor, e.action) for e in denied][:2] == [("carol", "user_added"), ("carol", "user_updated")]
    assert [u.name for u in inv.users()] == ["carol"]


def test_user_changes_own_password_with_current_one(inv: certlab.Inventory) -> None:
    inv.add_user("carol", "auditor", PW, must_change_password=True)
    carol = inv.as_actor(inv.authenticate("carol", PW))
    with pytest.raises(PermissionDeniedError, match="current password"):
        carol.set_password("carol", "a brand new password", current_password="not it at all")
    with pytest.raises(InvalidInputError, match="differ"):
        carol.set_password("carol", PW, current_password=PW)
    user = carol.set_password("carol", "a brand new password", current_password=PW)
    assert not user.must_change_password
    with pytest.raises(PermissionDeniedError):
        inv.authenticate("carol", PW)
    assert inv.authenticate("carol", "a brand new password").name == "carol"


def test_bad_input_is_refused_and_leaves_no_row(inv: certlab.Inventory) -> None:
    with pytest.raises(InvalidInputError, match="too short"):
        inv.add_user("carol", "auditor", "short")
    with pytest.raises(InvalidInputError, match="invalid user name"):
        inv.add_user("1carol", "auditor", PW)
    with pytest.raises(InvalidInputError, match="unknown role"):
        inv.add_user("carol", "root", PW)
    inv.add_user("carol", "auditor", PW)
    with pytest.raises(ConflictError):
        inv.add_user("carol", "admin", PW)
    assert [(u.name, u.role) for u in inv.users()] == [("carol", Role.AUDITOR)]


def test_disable_and_last_admin_protection(inv: certlab.Inventory) -> None:
    inv.add_user("root_admin", "admin", PW)
    with pytest.raises(ConflictError, match="last admin"):
        inv.set_user_disabled("root_admin", True)
    inv.add_user("carol", "auditor", PW)
    inv.set_user_disabled("carol", True)
    with pytest.raises(PermissionDeniedError, match="disabled"):
        inv.authenticate("carol", PW)
    assert inv.audit_events()[-1].action == Action.SIGN_IN_FAILED.value


def test_verify_password_rejects_malformed_hashes() -> None:
    good = users_mod.hash_password(b"some password here", n=2**10)
    assert users_mod.verify_password(b"some password here", good)
    assert not users_mod.verify_password(b"some password herE", good)
    for bad in ("", "md5$x", "scrypt$a$b$c$d$e", good.replace("scrypt", "bcrypt")):
        assert not users_mod.verify_password(b"some password here", bad)


def test_cli_user_add_passwd_list(cli_db: Path, tmp_path: Path) -> None:
    pw_file = tmp_path / "pw.txt"
    pw_file.write_text(PW + "\n")
    proc = run_cli("user", "add", "carol", "--role", "auditor", "--password-file", str(pw_file), db=cli_db)
    assert proc.returncode == 0, proc.stderr
    inv = certlab.open(cli_db, actor=Actor("x", Role.ADMIN))
    assert inv.authenticate("carol", PW) == Actor("carol", Role.AUDITOR)
    proc = run_cli("user", "add", "dave", "--role", "admin", "--one-time", "--json", db=cli_db, check=True)
    doc = json.loads(proc.stdout)
    assert doc["must_change_password"] and inv.authenticate("dave", doc["one_time_password"]).role is Role.ADMIN
    pw_file.write_text("another long password\n")
    run_cli("user", "passwd", "carol", "--password-file", str(pw_file), db=cli_db, check=True)
    assert inv.authenticate("carol", "another long password").name == "carol"
    listed = json.loads(run_cli("user", "list", "--json", db=cli_db, check=True).stdout)
    assert [u["name"] for u in listed] == ["carol", "dave"]


def test_cli_user_refusals_exit_1(cli_db: Path) -> None:
    proc = run_cli("user", "add", "carol", "--role", "auditor", db=cli_db)  # no terminal, no password file
    assert proc.returncode == 1 and "--password-file" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("user", "add", "carol", "--role", "auditor", "--one-time", db=cli_db,
                   env={"CERTLAB_ACTOR": "bob:auditor"})
    assert proc.returncode == 1 and "may not" in proc.stderr
    assert run_cli("user", "add", "carol", "--role", "boss", db=cli_db).returncode == 2
