"""A demo inventory for the notebooks: realistic certificates, integrations and two months of audit trail.

``demo_inventory(folder)`` creates a fresh inventory in ``folder`` (a temporary folder in the notebooks,
so running them changes nothing of the user's data) and fills it through the Inventory's public API:
an internal root and issuing CA, issued and self-signed certificates of every key type, a pending CSR,
imported certificates that fail policy (RSA-1024, SHA-1, expired), named credentials using them, and
sensitive actions (exports, deletions, revocations, denied attempts) spread over the previous and the
current 30-day period.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from . import inventory as _inventory
from .certs import CertSpec, utcnow
from .errors import CertlabError
from .inventory import ImportSource, Inventory
from .models import Actor, Role

DEMO_ADMIN = Actor("demo_admin", Role.ADMIN)
DEMO_AUDITOR = Actor("demo_auditor", Role.AUDITOR)
DEMO_ANALYST = Actor("demo_analyst", Role.ANALYST)
SEED_DAYS = 60
DEMO_PASSWORD = "a demo keystore password, not a real one"


def demo_inventory(folder: str | os.PathLike[str] | None = None, *, actor: Actor = DEMO_ADMIN) -> Inventory:
    """A new inventory at ``folder/certlab.duckdb`` (a new temporary folder if None), seeded with demo data."""
    base = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="certlab-demo-"))
    path = base / "certlab.duckdb"
    if path.exists():
        raise CertlabError(f"{path} exists already: the demo needs an empty folder")
    start = utcnow() - dt.timedelta(days=SEED_DAYS + 1)
    _inventory.init(path, actor=actor, clock=lambda: start)  # the trail begins before the demo's events
    inv = _inventory.open(path, actor=actor)
    seed_demo(inv)
    return inv


def seed_demo(inv: Inventory) -> None:
    """Fill an empty inventory with the demo data (times of the audit trail spread over 60 days)."""
    now = inv.now()

    def at(days_ago: float, actor: Actor = DEMO_ADMIN) -> Inventory:
        moment = now - dt.timedelta(days=days_ago)
        other = _inventory.open(inv.path, actor=actor, clock=_fixed(moment))
        return other

    # Previous period (60 to 31 days ago): certificates, imports and most integrations.
    at(60).create_self_signed(CertSpec(name="payments_mtls", key_type="ec-p256", days=25, purpose="client",  # type: ignore[arg-type]
                                       sans=("pay.example.com",), exportable=True))
    at(59).create_self_signed(CertSpec(name="sso_saml_signing", key_type="rsa-2048", days=700, purpose="signing",  # type: ignore[arg-type]
                                       subject="CN=Acme SSO,O=Acme,C=DE"))  # type: ignore[arg-type]
    at(58).create_self_signed(CertSpec(name="erp_api", key_type="rsa-2048", days=300, sans=("erp.example.com",)))  # type: ignore[arg-type]
    at(57).create_self_signed(CertSpec(name="legacy_ftp", key_type="rsa-2048", days=10, sans=("ftp.example.com",)))  # type: ignore[arg-type]
    at(56).create_self_signed(CertSpec(name="monitoring_client", key_type="ed25519", days=365, purpose="client",  # type: ignore[arg-type]
                                       sans=("monitor.example.com",), exportable=True))
    for name, pem, trusted in _outside_certificates(now):
        results = at(52).import_sources([ImportSource(f"{name}.pem", pem)], name=name, trusted=trusted)
        if results[0].result != "imported":
            raise CertlabError(f"demo import of {name} failed: {results[0].reason}")
    at(50).create_csr(CertSpec(name="partner_edi", key_type="ec-p256", sans=("edi.example.com",),  # type: ignore[arg-type]
                               subject="CN=edi.example.com,O=Acme,C=DE"))  # type: ignore[arg-type]
    for cred, cert, endpoint, purpose in [
        ("payments_api", "payments_mtls", "https://api.payments.example.net/v2", "mtls"),
        ("erp_sync", "erp_api", "https://erp.partner.example.org/soap", "mtls"),
        ("okta_sso", "sso_saml_signing", "https://acme.okta.example.com/sso/saml", "saml"),
        ("vpn_tunnel", "old_vpn_gateway", "vpn.example.com:443", "mtls"),
        ("ldap_bind", "legacy_ldap", "ldap.example.com:636", "server"),
        ("file_drop", "legacy_ftp", "ftp.example.com:990", "server"),
    ]:
        at(49).add_credential(cred, certificate=cert, endpoint=endpoint, purpose=purpose)
    at(45).export("payments_mtls", "pkcs12", password=DEMO_PASSWORD)
    at(44).create_self_signed(CertSpec(name="temp_test", key_type="ec-p256", days=5))  # type: ignore[arg-type]
    at(40).delete("temp_test")
    _attempt(lambda: at(38, DEMO_ANALYST).create_self_signed(CertSpec(name="my_test", key_type="ec-p256")))  # type: ignore[arg-type]
    at(35).export("erp_api", "pem")

    # Current period (the last 30 days): more exports, denied attempts, deletions, an analyst's query.
    at(20).export("payments_mtls", "pkcs12", password=DEMO_PASSWORD)
    at(18).export("monitoring_client", "key", password=DEMO_PASSWORD)
    _attempt(lambda: at(17, DEMO_AUDITOR).export("payments_mtls", "pkcs12", password=DEMO_PASSWORD))
    _attempt(lambda: at(16).export("erp_api", "pkcs12", password=DEMO_PASSWORD))  # not exportable: denied
    at(9).create_self_signed(CertSpec(name="scratch_cert", key_type="ec-p256", days=30))  # type: ignore[arg-type]
    at(8).delete("scratch_cert")
    _attempt(lambda: at(5, DEMO_ANALYST).delete("payments_mtls"))
    at(3, DEMO_ANALYST).sql("SELECT key_type, count(*) AS n FROM certificates_v GROUP BY key_type")

    # Today: an internal CA, integrations moved to certificates it issues, one revoked.
    today = at(0)
    today.create_ca("corp_root_ca", subject="CN=Acme Corp Root CA,O=Acme,C=DE", key_type="ec-p384", days=3650)
    today.create_ca("corp_issuing_ca", parent="corp_root_ca", subject="CN=Acme Issuing CA 1,O=Acme,C=DE",
                    key_type="ec-p256", days=400)
    for name, key_type, days, sans in [
        ("hr_portal", "ec-p256", 40, ("hr.example.com",)),
        ("billing_gateway", "ec-p256", 75, ("billing.example.com",)),
        ("intranet_web", "rsa-3072", 200, ("intranet.example.com", "10.0.0.15")),
        ("crm_sync", "ec-p384", 120, ("crm.example.com",)),
        ("hr_portal_2027", "ec-p256", 365, ("hr.example.com",)),
    ]:
        today.issue("corp_issuing_ca", CertSpec(name=name, key_type=key_type, days=days, sans=sans))  # type: ignore[arg-type]
    for cred, cert, endpoint, purpose in [
        ("hr_callout", "hr_portal", "hr.example.com:443", "server"),
        ("billing_jwt", "billing_gateway", "https://billing.example.com/oauth2/token", "jwt"),
        ("crm_events", "crm_sync", "https://crm.example.com/events", "mtls"),
    ]:
        today.add_credential(cred, certificate=cert, endpoint=endpoint, purpose=purpose)
    today.rebind_credential("hr_callout", "hr_portal_2027")
    today.revoke("hr_portal", "superseded")
    today.lint()  # a whole-inventory run fills the analysts' findings_v


def evidence_manifest(folder: "str | os.PathLike[str]") -> list[dict[str, object]]:
    """Every file under ``folder`` with its size and SHA-256, written to ``folder/MANIFEST.json`` too.

    The manifest lets a reviewer show later that the evidence handed over is unchanged.
    """
    import hashlib
    import json

    root = Path(folder)
    rows: list[dict[str, object]] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "MANIFEST.json"):
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        rows.append({"file": path.relative_to(root).as_posix(), "bytes": path.stat().st_size,
                     "sha256": digest.hexdigest()})
    (root / "MANIFEST.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return rows


def _attempt(action: Callable[[], object]) -> None:
    """Run an action that the demo expects to be refused (the refusal lands in the audit trail)."""
    try:
        action()
    except CertlabError:
        return
    raise AssertionError("the demo expected this action to be refused")


def _fixed(moment: dt.datetime) -> Callable[[], dt.datetime]:
    return lambda: moment


def _outside_certificates(now: dt.datetime) -> list[tuple[str, bytes, bool]]:
    """Certificates made elsewhere, as a partner or an old system would send them: some fail policy.

    ``legacy_ldap`` (RSA-2048 signed with SHA-1) is a shipped file: cryptography no longer signs with SHA-1.
    """
    from importlib import resources

    out = [("legacy_ldap", resources.files("certlab").joinpath("demo_data/legacy_ldap_sha1.pem").read_bytes(), False)]
    specs = [
        # name, key bits, not_before, not_after, is_ca
        ("old_vpn_gateway", 1024, now - dt.timedelta(days=800), now - dt.timedelta(days=20), False),
        ("partner_root", 2048, now - dt.timedelta(days=3000), now + dt.timedelta(days=330), True),
    ]
    for name, bits, start, end, is_ca in specs:
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        subject = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, name.replace("_", "-") + ".partner.example.org"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Partner Org"),
        ])
        builder = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        )
        if not is_ca:
            host = name.replace("_", "-") + ".partner.example.org"
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        cert = builder.sign(key, hashes.SHA256())
        out.append((name, cert.public_bytes(serialization.Encoding.PEM), is_ca))
    return out


__all__ = ["DEMO_ADMIN", "DEMO_ANALYST", "DEMO_AUDITOR", "demo_inventory", "evidence_manifest", "seed_demo"]
