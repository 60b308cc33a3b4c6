"""Roles are enforced inside the Inventory, for every public method, including those added later.

The class is introspected: each public method is called as an auditor, as an analyst and as an admin,
with arguments made from its parameter names. Whatever the arguments, a non-admin call never changes the
inventory (only the audit trail may grow); and every method whose admin call changes the inventory, or
that hands out key material, refuses non-admins with PermissionDeniedError and a denied audit event.
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import certlab
from certlab import Actor, CertSpec, ImportSource, PermissionDeniedError, Role
from certlab.csr import build_csr
from certlab.models import AuditFilter

from .conftest import make_cert

PASSWORD = b"a long enough export password"
# Methods that are not user actions on the inventory.
NOT_ACTIONS = {"as_actor", "now"}
# Core methods that change the inventory: if the argument recipes below stop making them succeed for an
# admin, this test would no longer prove anything about them, so it fails instead.
KNOWN_MUTATING = {"create_self_signed", "create_csr", "upload_signed", "import_files", "import_sources", "delete",
                  "add_credential", "rebind_credential", "delete_credential", "rotate_master_key",
                  "generate_synthetic"}
# Audit actions that mean a private key was used or handed out: never for non-admins, although the
# inventory does not change.
KEY_ACTIONS = {"exported", "key_viewed", "key_used", "signed", "callout", "connection_tested"}
# Calls that hand out key material: never for non-admins, although they change nothing.
SECRET_CALLS = [("export", ("seeded", "pkcs12"), {"password": PASSWORD}),
                ("export", ("seeded", "key"), {"password": PASSWORD})]

_fresh = itertools.count(1)


class World:
    """A seeded inventory and the values arguments are made from."""

    def __init__(self, inv: certlab.Inventory, tmp: Path) -> None:
        self.inv, self.tmp = inv, tmp
        make_cert(inv, "seeded", exportable=True)
        make_cert(inv, "spare")
        inv.add_credential("seed_cred", certificate="seeded", endpoint="https://seed.example.com", purpose="mtls")
        self.ca = "seed_ca" if hasattr(inv, "create_ca") else None
        if self.ca:
            inv.create_ca(self.ca, subject="CN=Seed CA,O=Acme")
        self.csr_pem = build_csr(CertSpec(name="outside", key_type="ec-p256", sans=("outside.example.com",)))[0] \
            .public_bytes(certlab.formats.serialization.Encoding.PEM)
        other = certlab.self_signed("import-me.example.com", key_type="ec-p256")
        self.import_file = tmp / "import-me.pem"
        self.import_file.write_bytes(other.cert_pem.bytes())

    def fresh(self, prefix: str = "made") -> str:
        return f"{prefix}_{next(_fresh)}"

    def arguments(self, method: str, fn: Callable[..., Any]) -> tuple[list[Any], dict[str, Any]]:
        """Arguments for ``fn``: from recipes for the core's methods, else from the parameters' names."""
        recipes: dict[str, Callable[[], tuple[list[Any], dict[str, Any]]]] = {
            "create_self_signed": lambda: ([CertSpec(name=self.fresh(), key_type="ec-p256")], {}),
            "create_csr": lambda: ([CertSpec(name=self.fresh(), key_type="ec-p256")], {}),
            "upload_signed": lambda: (["pending_one", self._signed_for_pending()], {}),
            "import_files": lambda: ([[str(self.import_file)]], {}),
            "import_sources": lambda: ([[ImportSource("upload.pem", certlab.self_signed(
                f"{self.fresh('u').replace('_', '-')}.example.com", key_type="ec-p256").cert_pem.bytes())]], {}),
            "delete": lambda: ([self._new_cert()], {}),
            "add_credential": lambda: ([self.fresh("cred")], {"certificate": "seeded",
                                                              "endpoint": "https://x.example.com", "purpose": "mtls"}),
            "rebind_credential": lambda: (["seed_cred", "spare"], {}),
            "delete_credential": lambda: ([self._new_credential()], {}),
            "export": lambda: (["seeded", "pem"], {}),
            "sql": lambda: (["SELECT count(*) AS n FROM certificates_v"], {}),
            "to_parquet": lambda: ([str(self.tmp / "parquet")], {}),
            "create_ca": lambda: ([self.fresh("ca")], {"subject": "CN=Another CA"}),
            "issue": lambda: ([self.ca, CertSpec(name=self.fresh(), key_type="ec-p256", sans=("issued.example.com",))], {}),
            "sign_csr": lambda: ([self.ca, self.csr_pem], {"name": self.fresh("signed")}),
            # a real (small) synthetic batch: new CAs and leaves, and past audit events
            "generate_synthetic": lambda: ([3], {"audit_events": 2, "seed": next(_fresh)}),
            "revoke": lambda: ([self._issued(), "keyCompromise"], {}),
            "crl": lambda: ([self.ca], {}),
            "ca_status": lambda: ([self.ca], {}),
            "credential": lambda: (["seed_cred"], {}),
            # rotation
            "rotate": lambda: ([self._new_cert()], {}),
            "cutover": lambda: ([self._rotated()], {}),
            "set_rotation_policy": lambda: (["seeded", self._policy()], {}),
            # reminders
            "configure_reminders": lambda: ([], {"webhook": self._webhook()}),
            "set_reminder_schedule": lambda: ([[30, 7]], {"certificate": "seeded"}),
            "set_reminder_recipients": lambda: (["seeded", [f"{self.fresh('ops')}@example.com"]], {}),
            "set_team": lambda: ([self.fresh("team"), ["ops@example.com"]], {}),
            # integrations: nothing leaves this machine (a closed local port, short timeouts)
            "request": lambda: (["seed_cred", "GET", "https://127.0.0.1:9/"], {"timeout": 2}),
            "test_connection": lambda: (["seed_cred"], {"timeout": 2}),
            "scan": lambda: ([["127.0.0.1:9"]], {"timeout": 2, "workers": 1}),
            "ssl_context": lambda: (["seed_cred"], {}),
            "jwt_bearer": lambda: (["seeded"], {"issuer": "certlab-test", "subject": "svc", "audience": "https://a.example.com"}),
            "sign_saml": lambda: (["seeded", b'<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
                                             b'ID="_a1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z">'
                                             b'<saml:Issuer>certlab</saml:Issuer></saml:Assertion>'], {}),
        }
        if method in recipes:
            return recipes[method]()
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for p in list(inspect.signature(fn).parameters.values())[1:]:
            if p.default is not inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            value = self._by_name(p.name, method)
            if p.kind is p.KEYWORD_ONLY:
                kwargs[p.name] = value
            else:
                args.append(value)
        return args, kwargs

    def _by_name(self, param: str, method: str) -> Any:
        creating = method.startswith(("create", "add", "issue", "import", "new", "register"))
        table: dict[str, Any] = {
            "name": self.fresh() if creating else "seeded", "certificate": "seeded", "cert": "seeded",
            "ca": self.ca or "seeded", "spec": CertSpec(name=self.fresh(), key_type="ec-p256"),
            "data": self.import_file.read_bytes(), "path": str(self.import_file), "paths": [str(self.import_file)],
            "folder": str(self.tmp / "out"), "out": str(self.tmp / "out.bin"), "password": PASSWORD,
            "fmt": "pem", "format": "pem", "reason": "superseded", "endpoint": "https://x.example.com",
            "purpose": "mtls", "query": "SELECT 1", "credential": "seed_cred", "user": "someone",
            "role": "analyst", "targets": ["127.0.0.1:9"], "xml": b"<a/>", "timeout": 2, "owner": "ops", "days": 30, "at": self.inv.now(), "when": self.inv.now(),
        }
        return table.get(param, "seeded")

    # --- helpers for the recipes ------------------------------------------------------------------------

    def _exists(self, name: str) -> bool:
        return any(r.name == name for r in self.inv.list())

    def _new_cert(self) -> str:
        return make_cert(self.inv, self.fresh("victim")).name

    def _new_credential(self) -> str:
        name = self.fresh("cred")
        self.inv.add_credential(name, certificate="seeded", endpoint="https://y.example.com", purpose="mtls")
        return name

    def _signed_for_pending(self) -> bytes:
        """A fresh pending CSR entry and its certificate, signed by the seeded CA (not kept)."""
        if self._exists("pending_one"):
            self.inv.delete("pending_one")
        self.inv.create_csr(CertSpec(name="pending_one", key_type="ec-p256", sans=("pending.example.com",)))
        if not self.ca:  # pragma: no cover - the internal CA is part of the package
            pytest.skip("no internal CA to sign the pending request")
        record = self.inv.sign_csr(self.ca, self.inv.export("pending_one", "csr").bytes(), name=self.fresh("tmp"))
        pem = b"".join(c.public_bytes(certlab.formats.serialization.Encoding.PEM) for c in self.inv.chain(record.name))
        self.inv.delete(record.name)
        return pem

    def _rotated(self) -> str:
        name = self._new_cert()
        self.inv.rotate(name)
        return name

    @staticmethod
    def _policy() -> Any:
        from certlab.inventory import RotationPolicy

        return RotationPolicy(days_before=45)

    def _webhook(self) -> Any:
        from certlab.reminders import WebhookConfig

        return WebhookConfig(url=f"https://hooks.example.com/{self.fresh('hook')}")

    def _issued(self) -> str:
        assert self.ca
        return self.inv.issue(self.ca, CertSpec(name=self.fresh("leaf"), key_type="ec-p256",
                                                sans=("leaf.example.com",))).name


# Tables that only cache what is computed from the others (readers may refresh them).
DERIVED_TABLES = {"lint_findings"}


def _snapshot(inv: certlab.Inventory) -> str:
    """A digest of every table but the audit trail and derived caches, and of the key file."""
    h = hashlib.sha256(inv.key_file.read_bytes())
    with inv.db.read() as tx:
        tables = [r[0] for r in tx.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "AND table_name <> 'audit_events' ORDER BY table_name")]
        for t in tables:
            if t in DERIVED_TABLES:
                continue
            h.update(t.encode())
            for row in tx.rows(f'SELECT * FROM "{t}" ORDER BY ALL'):
                h.update(repr(row).encode())
    return h.hexdigest()


def _denied_count(inv: certlab.Inventory, actor: str) -> int:
    return len(inv.audit_events(AuditFilter(actor=actor, outcome="denied")))


def _call(inv: certlab.Inventory, method: str, args: list[Any], kwargs: dict[str, Any]) -> BaseException | None:
    try:
        getattr(inv, method)(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - made-up arguments may be of the wrong type; the state check decides
        return exc
    return None


def public_methods() -> list[str]:
    out = []
    for name, member in inspect.getmembers(certlab.Inventory):
        if name.startswith("_") or name in NOT_ACTIONS:
            continue
        if isinstance(inspect.getattr_static(certlab.Inventory, name), property) or not callable(member):
            continue
        out.append(name)
    return out


def test_every_public_method_is_covered() -> None:
    methods = public_methods()
    assert set(methods) >= KNOWN_MUTATING
    assert len(methods) >= 20


@pytest.mark.slow
def test_non_admins_cannot_change_anything(tmp_path: Path, db_path: Path, admin: Actor) -> None:
    inv = certlab.init(db_path, actor=admin)
    world = World(inv, tmp_path)
    mutating, not_classified = set(), []
    for method in public_methods():
        args, kwargs = world.arguments(method, getattr(certlab.Inventory, method))
        outcomes = {}
        for role in (Role.AUDITOR, Role.ANALYST):
            who = f"{role.value}_{method}"
            other = inv.as_actor(Actor(who, role))
            before, denied_before = _snapshot(inv), _denied_count(inv, who)
            error = _call(other, method, args, kwargs)
            assert _snapshot(inv) == before, f"{method} as {role.value} changed the inventory"
            denied = isinstance(error, PermissionDeniedError)
            if denied:
                assert _denied_count(inv, who) == denied_before + 1, f"{method}: refusal of {role.value} not audited"
                # A refusal says so; a failed sign-in (authenticate) is the one refusal that names no role.
                assert any(w in str(error) for w in ("may not", "refused", "sign-in failed")), str(error)
            outcomes[role] = denied
        before, events_before = _snapshot(inv), len(inv.audit_events())
        error = _call(inv, method, args, kwargs)
        used_keys = {e.action for e in inv.audit_events()[events_before:]} & KEY_ACTIONS
        if used_keys:
            assert all(outcomes.values()), f"{method} uses private keys ({used_keys}) but was allowed for {outcomes}"
        if _snapshot(inv) != before:
            mutating.add(method)
            assert all(outcomes.values()), f"{method} changes the inventory but was allowed for {outcomes}"
        elif used_keys:
            mutating.add(method)
        elif error is not None and not any(outcomes.values()):
            not_classified.append(f"{method}: {error}")
    missing = KNOWN_MUTATING - mutating
    assert not missing, f"argument recipes no longer make these succeed for an admin: {missing}"
    if world.ca:
        assert {"create_ca", "issue", "sign_csr", "revoke", "crl"} <= mutating
    if hasattr(inv, "ssl_context"):
        assert {"ssl_context", "jwt_bearer"} <= mutating  # key use is recognised
    assert not not_classified, f"add an argument recipe so these can be classified: {not_classified}"


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.ANALYST])
@pytest.mark.parametrize("call", SECRET_CALLS, ids=lambda c: f"{c[0]}-{c[1][1]}")
def test_key_material_only_for_admins(inv: certlab.Inventory, role: Role,
                                      call: tuple[str, tuple[Any, ...], dict[str, Any]]) -> None:
    make_cert(inv, "seeded", exportable=True)
    method, args, kwargs = call
    who = Actor(f"curious_{role.value}", role)
    with pytest.raises(PermissionDeniedError, match="may not export"):
        getattr(inv.as_actor(who), method)(*args, **kwargs)
    last = inv.audit_events()[-1]
    assert (last.actor, last.outcome, last.action) == (who.name, "denied", "exported")
    assert getattr(inv, method)(*args, **kwargs).secret  # the admin gets it
