"""Rotation with cut-over: successors, lineage, policies and due rotations."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509

import certlab
from certlab import CertSpec, ConflictError, InvalidInputError, RotationPolicy

from .conftest import make_cert, run_cli


def _spki(inv: certlab.Inventory, name: str) -> str:
    from cryptography.hazmat.primitives import serialization

    return inv.certificate(name).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo).hex()


def _state(inv: certlab.Inventory) -> tuple[object, ...]:
    return (tuple((r.name, r.stored_status, r.successor, r.credentials) for r in inv.list()), len(inv.audit_events()))


def test_rotate_self_signed_keeps_names_with_a_new_key(inv: certlab.Inventory) -> None:
    make_cert(inv, "pay", subject="CN=pay.example.com,O=Acme,C=DE", sans=("pay.example.com", "10.0.0.7"),
              purpose="client", exportable=True)
    succ = inv.rotate("pay", days=90)
    old = inv.get("pay")
    assert (succ.name, succ.predecessor, old.successor, old.status) == ("pay_r2", "pay", "pay_r2", "active")
    assert (succ.subject, succ.sans, succ.purpose, succ.exportable, succ.kind) == (
        old.subject, old.sans, "client", True, "self_signed")
    assert _spki(inv, "pay") != _spki(inv, "pay_r2")
    assert succ.not_after is not None and succ.not_before is not None
    assert (succ.not_after - succ.not_before).days == 90
    event = inv.audit_events()[-1]
    assert (event.action, event.object, event.details["successor"], event.details["key_reused"]) == (
        "rotated", "pay", "pay_r2", False)
    third = inv.rotate("pay_r2", key_type="ec-p384")
    assert third.name == "pay_r3" and third.key_type == "ec-p384"


def test_key_reuse_needs_the_policy(inv: certlab.Inventory) -> None:
    make_cert(inv, "web")
    before = _state(inv)
    with pytest.raises(ConflictError, match="does not allow key reuse"):
        inv.rotate("web", reuse_key=True)
    assert _state(inv) == before
    inv.set_rotation_policy("web", RotationPolicy(days_before=20, allow_key_reuse=True))
    succ = inv.rotate("web", reuse_key=True)
    assert _spki(inv, succ.name) == _spki(inv, "web")
    assert inv.rotation_policy(succ.name).allow_key_reuse  # the successor inherits the policy


def test_cutover_moves_every_credential_and_retires(inv: certlab.Inventory) -> None:
    make_cert(inv, "pay")
    make_cert(inv, "other")
    for cred in ("gw_a", "gw_b"):
        inv.add_credential(cred, certificate="pay", endpoint=f"https://{cred.replace('_', '-')}.example.com",
                           purpose="mtls")
    inv.add_credential("gw_other", certificate="other", endpoint="https://o.example.com", purpose="mtls")
    inv.rotate("pay")
    succ = inv.cutover("pay")
    assert succ.credentials == ("gw_a", "gw_b")
    assert inv.get("pay").stored_status == "retired" and inv.get("pay").credentials == ()
    assert inv.credential("gw_other").certificate == "other"
    event = inv.audit_events()[-1]
    assert (event.action, event.details["credentials_moved"], event.details["successor"]) == (
        "cut_over", ["gw_a", "gw_b"], "pay_r2")
    with pytest.raises(ConflictError, match="retired"):
        inv.add_credential("late", certificate="pay", endpoint="https://l.example.com", purpose="mtls")


def test_bad_input_changes_nothing(inv: certlab.Inventory) -> None:
    make_cert(inv, "solo")
    inv.create_csr(CertSpec(name="waiting", key_type="ec-p256", sans=("w.example.com",)))
    inv.create_ca("root", key_type="ec-p256")
    inv.issue("root", CertSpec(name="gone", key_type="ec-p256", sans=("g.example.com",)))
    inv.revoke("gone", "keyCompromise")
    make_cert(inv, "done")
    inv.rotate("done")
    inv.cutover("done")
    before = _state(inv)
    for name, match in (("waiting", "pending"), ("gone", "revoked"), ("done", "retired"), ("root", "a CA")):
        with pytest.raises(ConflictError, match=match):
            inv.rotate(name)
    with pytest.raises(ConflictError, match="has no successor"):
        inv.cutover("solo")
    with pytest.raises(ConflictError, match="successor of done"):
        inv.cutover("done_r2")
    with pytest.raises(ConflictError, match="exists already"):
        inv.rotate("solo", new_name="done")
    with pytest.raises(InvalidInputError):
        inv.rotate("solo", days=0)
    with pytest.raises(certlab.NotFoundError):
        inv.rotate("nothing")
    assert _state(inv) == before
    inv.rotate("solo")
    with pytest.raises(ConflictError, match="rotated already"):
        inv.rotate("solo")


def test_internal_ca_certificate_is_renewed_by_its_ca(inv: certlab.Inventory) -> None:
    inv.create_ca("root", key_type="ec-p256")
    inv.create_ca("issuing", parent="root", key_type="ec-p256")
    inv.issue("issuing", CertSpec(name="api", key_type="ec-p256", sans=("api.example.com",), purpose="server"))
    succ = inv.rotate("api")
    assert (succ.kind, succ.status, succ.issuer_certificate) == ("ca_signed", "active", "issuing")
    chain = inv.chain(succ.name)
    chain[0].verify_directly_issued_by(chain[1])
    chain[1].verify_directly_issued_by(chain[2])
    assert inv.certificate("api").serial_number != chain[0].serial_number


def test_outside_ca_signed_gets_a_pending_csr_then_cuts_over(inv: certlab.Inventory) -> None:
    outside = certlab.CA(key_type="ec-p256")
    inv.create_csr(CertSpec(name="erp", key_type="ec-p256", sans=("erp.example.com",), purpose="client"))
    csr = x509.load_pem_x509_csr(inv.export("erp", "csr").bytes())
    signed = outside.sign_csr(csr, days=60, purpose="client")
    inv.upload_signed("erp", certlab.dump_pem([signed, outside.certificate]))
    inv.add_credential("erp_conn", certificate="erp", endpoint="erp.example.com:443", purpose="mtls")
    succ = inv.rotate("erp")
    assert (succ.stored_status, succ.kind, succ.predecessor) == ("pending", "ca_signed", "erp")
    new_csr = x509.load_pem_x509_csr(inv.export(succ.name, "csr").bytes())
    assert new_csr.subject == signed.subject
    assert list(new_csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value) == [
        x509.DNSName("erp.example.com")]
    with pytest.raises(ConflictError, match="pending"):
        inv.cutover("erp")
    inv.upload_signed(succ.name, certlab.dump_pem([outside.sign_csr(new_csr, days=60, purpose="client"),
                                                    outside.certificate]))
    assert inv.cutover("erp").credentials == ("erp_conn",)


def test_policies_say_what_is_due(inv: certlab.Inventory) -> None:
    make_cert(inv, "short", days=100)                       # default: 30 days before expiry
    make_cert(inv, "share", days=100)
    inv.set_rotation_policy("share", RotationPolicy(days_before=None, lifetime_share=0.5))
    make_cert(inv, "long", days=400)
    now = inv.now()
    assert inv.rotations_due(now) == []
    at = now + dt.timedelta(days=55)
    assert [d.name for d in inv.rotations_due(at)] == ["share"]
    at = now + dt.timedelta(days=75)
    assert [d.name for d in inv.rotations_due(at)] == ["share", "short"]  # in the order they fell due
    inv.set_rotation_policy(None, RotationPolicy(days_before=380))
    assert [d.name for d in inv.rotations_due(at)] == ["short", "long", "share"]
    assert inv.rotation_policy("short").days_before == 380 and inv.rotation_policy("share").lifetime_share == 0.5
    # The due time DuckDB computes is the policy's own, to the microsecond, for both kinds of policy.
    for d in inv.rotations_due(at):
        rec = inv.get(d.name)
        assert d.due_at == inv.rotation_policy(d.name).due_at(rec.not_before, rec.not_after)
    # A page of the list and its total, as the dashboard asks for them.
    assert inv.rotations_due(at, limit=2) == inv.rotations_due(at)[:2]
    assert inv.count_rotations_due(at) == 3 and inv.count_rotations_due(now) == 1  # "short" is past due now
    assert [d.name for d in inv.rotations_due(now, within_days=21, limit=5)] == ["short", "long"]
    assert inv.count_rotations_due(now, within_days=21) == 2
    # A global lifetime-share policy applies to every certificate without one of its own.
    inv.set_rotation_policy(None, RotationPolicy(days_before=None, lifetime_share=0.9))
    assert [d.name for d in inv.rotations_due(now + dt.timedelta(days=95))] == ["share", "short"]
    with pytest.raises(InvalidInputError, match="limit"):
        inv.rotations_due(at, limit=-1)
    with pytest.raises(InvalidInputError):
        RotationPolicy(days_before=10, lifetime_share=0.5)
    with pytest.raises(InvalidInputError):
        RotationPolicy(days_before=None, lifetime_share=1.5)
    with pytest.raises(InvalidInputError):
        RotationPolicy(days_before=-1)


def test_rotate_due_renews_and_makes_csrs(inv: certlab.Inventory) -> None:
    make_cert(inv, "selfie", days=40)
    inv.create_ca("root", key_type="ec-p256")
    inv.issue("root", CertSpec(name="internal", key_type="ec-p256", sans=("i.example.com",), days=40))
    outside = certlab.CA(key_type="ec-p256")
    inv.create_csr(CertSpec(name="outer", key_type="ec-p256", sans=("o.example.com",)))
    csr = x509.load_pem_x509_csr(inv.export("outer", "csr").bytes())
    inv.upload_signed("outer", certlab.dump_pem([outside.sign_csr(csr, days=40)]))
    make_cert(inv, "later", days=365)
    outcomes = {o.name: o for o in inv.rotate_due(inv.now() + dt.timedelta(days=15))}
    assert {n: o.result for n, o in outcomes.items()} == {
        "selfie": "rotated", "internal": "rotated", "outer": "csr_created"}
    assert inv.get("outer_r2").stored_status == "pending" and inv.get("internal_r2").issuer_certificate == "root"
    again = {o.name for o in inv.rotate_due(inv.now() + dt.timedelta(days=5))}
    assert again == set()  # the rotated ones have successors; the successors are not due yet
    again = {o.name for o in inv.rotate_due(inv.now() + dt.timedelta(days=15))}
    assert again == {"selfie_r2", "internal_r2"}  # same 40-day lifetime: due too; the pending CSR is not


def test_cli_rotate_cutover_and_due(cli_db: Path) -> None:
    ok = lambda *a: run_cli(*a, db=cli_db, check=True)
    ok("create", "self-signed", "pay", "--san", "pay.example.com", "--key", "ec-p256", "--days", "20")
    ok("credential", "add", "gw", "--cert", "pay", "--endpoint", "https://pay.example.com", "--purpose", "mtls")
    bad = run_cli("rotate", "pay", "--cutover", db=cli_db)
    assert bad.returncode == 1 and "has no successor" in bad.stderr and "Traceback" not in bad.stderr
    succ = json.loads(ok("rotate", "pay", "--key", "ec-p256", "--json").stdout)
    assert succ["name"] == "pay_r2" and succ["predecessor"] == "pay"
    moved = json.loads(ok("rotate", "pay", "--cutover", "--json").stdout)
    assert moved["credentials"] == ["gw"]
    shown = json.loads(ok("show", "pay", "--json").stdout)
    assert (shown["status"], shown["successor"]) == ("retired", "pay_r2")
    ok("rotation-policy", "pay_r2", "--days-before", "25")
    due = json.loads(ok("rotate", "--due", "--dry-run", "--json").stdout)
    assert [d["name"] for d in due] == ["pay_r2"]
    assert json.loads(ok("rotate", "--due", "--at", "2020-01-01T00:00:00Z", "--json").stdout) == []
    done = json.loads(ok("rotate", "--due", "--json").stdout)
    assert [(d["name"], d["result"], d["successor"]) for d in done] == [("pay_r2", "rotated", "pay_r3")]
    assert run_cli("rotation-policy", "pay_r3", "--lifetime-share", "2", db=cli_db).returncode == 1
    assert run_cli("rotate", "--due", "--at", "yesterday", db=cli_db).returncode == 1


def test_deleted_certificate_leaves_no_settings_to_inherit(inv: certlab.Inventory) -> None:
    make_cert(inv, "keep")
    gone = make_cert(inv, "gone")
    inv.set_rotation_policy("gone", RotationPolicy(days_before=5, allow_key_reuse=True))
    inv.set_reminder_schedule([3], certificate="gone")
    inv.set_reminder_recipients("gone", ["x@example.com"])
    inv.delete("gone")
    reused = make_cert(inv, "fresh")
    assert reused.id == gone.id  # the id is taken again ...
    assert inv.rotation_policy("fresh").source == "default"  # ... but nothing of "gone" comes with it
    assert inv.reminder_schedule("fresh") == ((90, 60, 30, 7, 0), "default")
    assert inv.set_reminder_recipients("fresh") == ()


def test_revoked_certificate_is_kept(inv: certlab.Inventory) -> None:
    inv.create_ca("root", key_type="ec-p256")
    inv.issue("root", CertSpec(name="leaf", key_type="ec-p256", sans=("l.example.com",)))
    inv.revoke("leaf", "superseded")
    with pytest.raises(ConflictError, match="CRL of root"):
        inv.delete("leaf")
    assert inv.get("leaf").status == "revoked"
