"""A first pass over the Inventory: create, list, refuse, audit."""

from __future__ import annotations

import pytest

import certlab
from certlab import Actor, CertSpec, PermissionDeniedError, Role

from .conftest import make_cert


def test_create_self_signed_is_listed_and_audited(inv: certlab.Inventory) -> None:
    rec = make_cert(inv, "payments_mtls")
    assert rec.status == "active" and rec.kind == "self_signed" and rec.key_type == "ec-p256"
    assert [r.name for r in inv.list()] == ["payments_mtls"]
    events = inv.audit_events()
    assert [e.action for e in events] == ["initialised", "created"]
    assert events[-1].actor == "alice" and events[-1].object == "payments_mtls"
    assert inv.verify_audit().ok


def test_auditor_cannot_create_and_refusal_is_audited(inv: certlab.Inventory) -> None:
    auditor = inv.as_actor(Actor("bob", Role.AUDITOR))
    with pytest.raises(PermissionDeniedError):
        auditor.create_self_signed(CertSpec(name="x", key_type="ec-p256"))
    assert inv.list() == []
    last = inv.audit_events()[-1]
    assert (last.actor, last.outcome, last.action) == ("bob", "denied", "created")


def test_every_refusal_reads_as_a_sentence(inv: certlab.Inventory) -> None:
    from certlab.inventory.base import _VERBS

    unnamed = {a for a in certlab.Action if a not in _VERBS} - {certlab.Action.SIGNED_IN, certlab.Action.SIGN_IN_FAILED}
    assert not unnamed, f"actions without a verb for refusal messages: {unnamed}"
    analyst = inv.as_actor(Actor("carol", Role.ANALYST))
    with pytest.raises(PermissionDeniedError, match=r"carol \(analyst\) may not rotate the master key \(master-key\): admins only"):
        analyst.rotate_master_key()
