"""The hash-chained audit trail: tampering is found, and named at the right event."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

import certlab
from certlab import Action, Actor, AuditFilter, CertSpec, InvalidInputError, PermissionDeniedError, Role

from .conftest import make_cert, run_cli


@pytest.fixture
def busy(inv: certlab.Inventory) -> certlab.Inventory:
    """An inventory with eight events: initialised, then seven actions."""
    for name in ("a", "b", "c"):
        make_cert(inv, name, exportable=True)
    inv.export("a", "pem")
    inv.add_credential("gateway", certificate="a", endpoint="https://gw.example.com", purpose="mtls")
    inv.export("b", "key", password=b"long enough password")
    inv.delete("c")
    assert len(inv.audit_events()) == 8
    return inv


def _sql(path: Path, *statements: str) -> None:
    con = duckdb.connect(str(path))
    try:
        for s in statements:
            con.execute(s)
    finally:
        con.close()


def test_events_have_every_field(busy: certlab.Inventory) -> None:
    events = busy.audit_events()
    assert [e.seq for e in events] == list(range(1, 9))
    assert [e.action for e in events] == ["initialised", "created", "created", "created", "downloaded",
                                          "credential_added", "exported", "deleted"]
    e = events[6]
    assert (e.actor, e.role, e.object, e.outcome) == ("alice", "admin", "b", "ok")
    assert e.details == {"format": "key"} and len(e.hash) == 64
    assert isinstance(e.at, dt.datetime) and abs((e.at - certlab.certs.utcnow()).total_seconds()) < 3600
    assert set(e.to_json()) == {"seq", "at", "actor", "role", "action", "object", "details", "outcome", "hash"}
    assert e.to_json()["at"].endswith("Z")


def test_intact_chain_verifies_and_reports_the_head(busy: certlab.Inventory) -> None:
    v = busy.verify_audit()
    assert v.ok and v.events == 8 and v.head_seq == 8 and v.head == f"8:{busy.audit_events()[-1].hash}"
    assert busy.verify_audit(v.head).ok
    assert v.describe() == f"audit chain verified: 8 events, head {v.head}"


@pytest.mark.parametrize(
    ("statement", "problem"),
    [("UPDATE audit_events SET actor = 'mallory' WHERE seq = 4", "edited"),
     ("UPDATE audit_events SET details = '{}' WHERE seq = 4", "edited"),
     ("UPDATE audit_events SET outcome = 'denied' WHERE seq = 4", "edited"),
     ("UPDATE audit_events SET occurred_at = occurred_at - INTERVAL 1 DAY WHERE seq = 4", "edited"),
     ("UPDATE audit_events SET body = replace(body, '\"alice\"', '\"mallory\"'), actor = 'mallory' WHERE seq = 4", "edited"),
     ("UPDATE audit_events SET hash = repeat('0', 64) WHERE seq = 4", "edited"),
     ("UPDATE audit_events SET body = 'not json' WHERE seq = 4", "edited"),
     ("UPDATE audit_events SET body = '[1, 2]' WHERE seq = 4", "edited"),
     ("UPDATE audit_events SET seq = 40 WHERE seq = 4", "missing")],
)
def test_an_edited_event_is_named(busy: certlab.Inventory, statement: str, problem: str) -> None:
    _sql(busy.path, statement)
    v = busy.verify_audit()
    assert not v.ok and v.first_bad_seq == 4 and problem in v.problem
    assert v.describe().startswith("audit chain broken at event 4: ")
    assert v.head_seq == 3  # the last good event


@pytest.mark.parametrize(("statements", "seq", "problem"), [
    # a column edited before a broken link: the column check (DuckDB) names the earlier event
    (["UPDATE audit_events SET actor = 'mallory' WHERE seq = 3", "UPDATE audit_events SET prev_hash = repeat('1', 64) WHERE seq = 6"],
     3, "stored columns differ"),
    # a broken hash before an edited column: the walk (Python) names the earlier event
    (["UPDATE audit_events SET hash = repeat('0', 64) WHERE seq = 2", "UPDATE audit_events SET actor = 'mallory' WHERE seq = 5"],
     2, "edited"),
    # both at one event: the hash is reported, as a walk that checks it first would
    (["UPDATE audit_events SET body = 'not json', actor = 'x' WHERE seq = 7"], 7, "edited"),
    # a body that is not JSON before a deleted event
    (["UPDATE audit_events SET body = '[1]' WHERE seq = 2", "DELETE FROM audit_events WHERE seq = 5"], 2, "edited"),
    # a gap before an edited column
    (["DELETE FROM audit_events WHERE seq = 3", "UPDATE audit_events SET outcome = 'denied' WHERE seq = 6"], 3, "missing"),
])
def test_the_first_problem_wins_whichever_check_finds_it(busy: certlab.Inventory, statements: list[str], seq: int,
                                                        problem: str) -> None:
    """The column check runs beside the walk; the report is the first broken event either way, with the
    events and head before it."""
    hashes = {e.seq: e.hash for e in busy.audit_events()}
    _sql(busy.path, *statements)
    v = busy.verify_audit()
    assert (v.ok, v.first_bad_seq, v.events, v.head_seq) == (False, seq, seq - 1, seq - 1)
    assert problem in v.problem and v.head_hash == hashes[seq - 1]


def test_events_with_any_text_verify_and_their_columns_are_still_checked(inv: certlab.Inventory) -> None:
    """The column check runs in DuckDB over the stored JSON: escapes, non-ASCII text, quotes and
    backslashes must compare equal to the columns, and a changed column must still be caught."""
    odd = "Grüße \u2013 🚀 \"quoted\" back\\slash \n new line <b>&amp;</b> '; DROP TABLE x; --"
    with inv.db.write() as tx:
        inv._audit(tx, Action.QUERIED, odd, {"note": odd, "nested": {"list": [odd, 1, None, True]}})
    assert inv.verify_audit().ok
    seq = inv.audit_events()[-1].seq
    _sql(inv.path, f"UPDATE audit_events SET object = object || ' ' WHERE seq = {seq}")
    v = inv.verify_audit()
    assert not v.ok and v.first_bad_seq == seq and "stored columns differ" in v.problem


def test_a_deleted_event_is_named(busy: certlab.Inventory) -> None:
    _sql(busy.path, "DELETE FROM audit_events WHERE seq = 5")
    v = busy.verify_audit()
    assert not v.ok and v.first_bad_seq == 5 and "missing" in v.problem


def test_a_deleted_event_with_renumbered_successors_is_named(busy: certlab.Inventory) -> None:
    _sql(busy.path, "DELETE FROM audit_events WHERE seq = 5", "UPDATE audit_events SET seq = seq - 1 WHERE seq > 5")
    v = busy.verify_audit()
    assert not v.ok and v.first_bad_seq == 5


def test_reordered_events_are_named(busy: certlab.Inventory) -> None:
    _sql(busy.path, "UPDATE audit_events SET seq = 100 WHERE seq = 3", "UPDATE audit_events SET seq = 3 WHERE seq = 6",
         "UPDATE audit_events SET seq = 6 WHERE seq = 100")
    v = busy.verify_audit()
    assert not v.ok and v.first_bad_seq == 3 and "reordered" in v.problem


def test_reordering_by_swapping_contents_is_named(busy: certlab.Inventory) -> None:
    # Swap every column of events 5 and 6 but their seq: the stored order is the tampered one.
    cols = "occurred_at, actor, role, action, object, details, outcome, body, prev_hash, hash"
    _sql(busy.path,
         f"CREATE TEMP TABLE t AS SELECT seq, {cols} FROM audit_events WHERE seq IN (5, 6)",
         "UPDATE audit_events SET " + ", ".join(f"{c} = (SELECT {c} FROM t WHERE t.seq = 11 - audit_events.seq)"
                                                 for c in cols.split(", ")) + " WHERE seq IN (5, 6)")
    v = busy.verify_audit()
    assert not v.ok and v.first_bad_seq == 5


def test_removing_the_newest_events_needs_the_kept_head(busy: certlab.Inventory) -> None:
    head = busy.verify_audit().head
    _sql(busy.path, "DELETE FROM audit_events WHERE seq >= 7")
    assert busy.verify_audit().ok  # on its own, a shorter chain looks whole...
    v = busy.verify_audit(head)  # ... the head kept elsewhere tells
    assert not v.ok and v.first_bad_seq == 7 and "events 7 to 8 are missing" in v.problem


def test_removed_then_replaced_newest_events_are_caught_by_the_head(busy: certlab.Inventory) -> None:
    head = busy.verify_audit().head
    _sql(busy.path, "DELETE FROM audit_events WHERE seq = 8")
    make_cert(busy, "d")  # a new event 8, chained properly on event 7
    assert busy.verify_audit().ok
    v = busy.verify_audit(head)
    assert not v.ok and v.first_bad_seq == 8 and "rewritten" in v.problem


@pytest.mark.parametrize("head", ["", "8", "x:abc", "8:" + "g" * 64, "8:" + "a" * 63])
def test_a_malformed_expected_head_is_refused(busy: certlab.Inventory, head: str) -> None:
    if head == "":
        assert busy.verify_audit(head).ok  # no head given
        return
    with pytest.raises(InvalidInputError, match="SEQ:HASH"):
        busy.verify_audit(head)


def test_audit_verify_cli(busy: certlab.Inventory) -> None:
    ok = run_cli("audit", "verify", db=busy.path)
    assert ok.returncode == 0 and ok.stdout.startswith("audit chain verified: 8 events, head 8:")
    head = ok.stdout.strip().rsplit(" ", 1)[1]
    doc = json.loads(run_cli("audit", "verify", "--json", db=busy.path, check=True).stdout)
    assert doc == {"ok": True, "events": 8, "head": head, "first_bad_seq": None, "problem": ""}
    _sql(busy.path, "DELETE FROM audit_events WHERE seq = 8")
    assert run_cli("audit", "verify", db=busy.path).returncode == 0
    bad = run_cli("audit", "verify", "--expect-head", head, db=busy.path)
    assert bad.returncode == 1 and "audit chain broken at event 8" in bad.stdout
    _sql(busy.path, "UPDATE audit_events SET object = 'zzz' WHERE seq = 2")
    bad = run_cli("audit", "verify", "--json", db=busy.path)
    assert bad.returncode == 1 and json.loads(bad.stdout)["first_bad_seq"] == 2
    assert "Traceback" not in bad.stderr


def test_audit_key_is_not_the_database(busy: certlab.Inventory) -> None:
    """Someone with only the database cannot recompute the chain: the HMAC key is in the key file."""
    from certlab.store import audit as chain
    from certlab.store import vault

    key = vault.load_keyring(busy.key_file).audit_key
    with duckdb.connect(str(busy.path), read_only=True) as con:
        prev, body, digest = con.execute("SELECT prev_hash, body, hash FROM audit_events WHERE seq = 3").fetchone()  # type: ignore[misc]
    assert chain.chain_hash(key, prev, body) == digest
    assert chain.chain_hash(b"\x00" * 32, prev, body) != digest
    import hashlib
    assert hashlib.sha256((prev + "\n" + body).encode()).hexdigest() != digest


def test_refusals_are_audited_as_denied(inv: certlab.Inventory) -> None:
    make_cert(inv, "secret", exportable=False)
    analyst = inv.as_actor(Actor("dan", Role.ANALYST))
    with pytest.raises(PermissionDeniedError, match=r"dan \(analyst\) may not create certificates \(x\): admins only"):
        analyst.create_self_signed(CertSpec(name="x", key_type="ec-p256"))  # type: ignore[attr-defined]
    with pytest.raises(PermissionDeniedError, match="not exportable"):
        inv.export("secret", "pkcs12", password=b"long enough password")
    denied = inv.audit_events(AuditFilter(outcome="denied"))
    assert [(e.actor, e.action, e.object) for e in denied] == [("dan", "created", "x"), ("alice", "exported", "secret")]
    assert inv.verify_audit().ok


def test_audit_list_filters(busy: certlab.Inventory) -> None:
    other = busy.as_actor(Actor("bob", Role.ADMIN))
    make_cert(other, "bobs")  # type: ignore[arg-type]
    assert [e.object for e in busy.audit_events(AuditFilter(actor="bob"))] == ["bobs"]
    assert [e.object for e in busy.audit_events(AuditFilter(action="created"))] == ["a", "b", "c", "bobs"]
    assert [e.action for e in busy.audit_events(AuditFilter(object="a"))] == ["created", "downloaded"]
    assert len(busy.audit_events(AuditFilter(since=dt.datetime(2000, 1, 1)))) == 9
    assert busy.audit_events(AuditFilter(until=dt.datetime(2000, 1, 1))) == []
    assert busy.audit_events(AuditFilter(since=dt.datetime(2999, 1, 1))) == []
    assert [e.seq for e in busy.audit_events(AuditFilter(limit=2, newest_first=True))] == [9, 8]


def test_audit_list_cli(busy: certlab.Inventory) -> None:
    docs = json.loads(run_cli("audit", "list", "--action", "created", "--json", db=busy.path, check=True).stdout)
    assert [d["object"] for d in docs] == ["a", "b", "c"]
    docs = json.loads(run_cli("audit", "list", "--since", "2000-01-01T00:00:00Z", "--until", "2999-01-01",
                              "--actor", "alice", "--object", "b", db=busy.path, check=True).stdout)
    assert [d["action"] for d in docs] == ["created", "exported"]
    bad = run_cli("audit", "list", "--since", "yesterday", db=busy.path)
    assert bad.returncode == 1 and "--since: 'yesterday' is not an ISO 8601" in bad.stderr


def test_no_key_material_in_audit_details(inv: certlab.Inventory, tmp_path: Path) -> None:
    issued = certlab.self_signed("k.example.com", key_type="ec-p256")
    f = tmp_path / "k.pem"
    f.write_bytes(issued.private_key_pem.bytes() + issued.cert_pem.bytes())
    inv.import_files([f], exportable=True)
    name = inv.list()[0].name
    inv.export(name, "key", password=b"long enough password")
    inv.export(name, "pkcs12", password=b"long enough password")
    text = json.dumps([e.to_json() for e in inv.audit_events()])
    d = issued.private_key.private_numbers().private_value  # type: ignore[union-attr]
    assert "PRIVATE" not in text and format(d, "x") not in text and str(d) not in text
    with duckdb.connect(str(inv.path), read_only=True) as con:
        bodies = " ".join(r[0] + r[1] for r in con.execute("SELECT details, body FROM audit_events").fetchall())
    assert "PRIVATE" not in bodies and format(d, "x") not in bodies


def test_actions_are_an_enum(busy: certlab.Inventory) -> None:
    assert {e.action for e in busy.audit_events()} <= {a.value for a in Action}
