"""A demo inventory that looks like a real organisation's, made through the Inventory's public methods.

Northwind Trading (a made-up company on example.com names) runs a payment gateway over mutual TLS, a
SAML identity provider and an ERP connector; it has public-CA-signed web certificates, internal
self-signed ones, pending requests, partner certificates imported from files (some long expired) and
trusted roots. Validity dates are relative to the inventory's clock, so the demo always has expired
certificates and certificates about to expire.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from .certs import CertSpec, Issued, Purpose, build_certificate
from .csr import load_csr
from .errors import CertlabError, PermissionDeniedError
from .formats import dump_pem
from .inventory import ImportSource, Inventory
from .keys import KeyType, PrivateKey, generate_key
from .models import Actor, Role
from .names import Subject, parse_identities

ORG = "Northwind Trading"
ADMIN = Actor("maria.keller", Role.ADMIN)
OPS = Actor("tom.berger", Role.ADMIN)
AUDITOR = Actor("ines.vogel", Role.AUDITOR)
DEMO_EXPORT_PASSWORD = "demo keystore password"  # protects a keystore the demo exports and discards

# name, label, key type, days, subject, SANs, purpose, exportable
_SELF_SIGNED: list[tuple[Any, ...]] = [
    ("sso_signing", "SAML IdP signing", "rsa-3072", 730, f"CN=idp.example.com,O={ORG},C=DE",
     ("idp.example.com",), "signing", False),
    ("sso_encryption", "SAML IdP encryption", "ec-p256", 730, f"CN=idp.example.com,O={ORG},C=DE",
     ("idp.example.com",), "any", False),
    ("grafana_internal", "Grafana (internal)", "ec-p256", 21, f"CN=grafana.int.example.com,O={ORG}",
     ("grafana.int.example.com", "10.20.0.15"), "server", False),
    ("jenkins_agent", "Jenkins agent client", "ed25519", 52, f"CN=jenkins-agent,OU=Build,O={ORG}",
     ("jenkins-agent.int.example.com",), "client", True),
    ("kafka_broker_1", "Kafka broker 1", "ec-p256", 365, f"CN=kafka-1.int.example.com,O={ORG}",
     ("kafka-1.int.example.com", "10.20.1.11"), "any", False),
    ("kafka_broker_2", "Kafka broker 2", "ec-p256", 365, f"CN=kafka-2.int.example.com,O={ORG}",
     ("kafka-2.int.example.com", "10.20.1.12"), "any", False),
    ("jwt_signing", "API gateway JWT signing", "ec-p384", 180, f"CN=api-gateway JWT,O={ORG}",
     (), "signing", False),
    ("ldap_replica", "LDAP replica", "rsa-2048", 75, f"CN=ldap-2.int.example.com,O={ORG}",
     ("ldap-2.int.example.com",), "server", False),
    ("backup_agent", "Backup agent mTLS", "ec-p256", 820, f"CN=backup-agent,O={ORG}",
     ("backup.int.example.com",), "client", True),
]

# name, label, key type, subject, SANs, purpose, days before now it started, days from now it ends
_CA_SIGNED: list[tuple[Any, ...]] = [
    ("payments_mtls", "Payment gateway client (mTLS)", "ec-p256", f"CN=payments.example.com,O={ORG},C=DE",
     ("payments.example.com",), "client", 353, 12),
    ("erp_client", "ERP connector client", "rsa-2048", f"CN=erp-connector.example.com,O={ORG},C=DE",
     ("erp-connector.example.com",), "client", 30, 335),
    ("www_example", "Public website", "ec-p256", f"CN=www.example.com,O={ORG},C=DE",
     ("www.example.com", "example.com"), "server", 60, 29),
    ("shop_example", "Web shop", "ec-p256", f"CN=shop.example.com,O={ORG},C=DE",
     ("shop.example.com",), "server", 300, 65),
    ("api_example", "Public API", "ec-p384", f"CN=api.example.com,O={ORG},C=DE",
     ("api.example.com",), "server", 200, 165),
    ("mail_gateway", "Mail gateway (SMTP TLS)", "ec-p256", f"CN=mail.example.com,O={ORG},C=DE",
     ("mail.example.com", "smtp.example.com"), "server", 340, 25),
    ("vpn_gateway", "Remote-access VPN", "rsa-2048", f"CN=vpn.example.com,O={ORG},C=DE",
     ("vpn.example.com",), "server", 390, -6),
    ("partner_portal", "Partner portal", "ec-p256", f"CN=partners.example.com,O={ORG},C=DE",
     ("partners.example.com",), "server", 100, 265),
    ("status_page", "Status page", "ec-p256", f"CN=status.example.com,O={ORG},C=DE",
     ("status.example.com",), "server", 10, 80),
    ("hr_sftp", "HR SFTP client", "ec-p256", f"CN=hr-sftp.example.com,O={ORG},C=DE",
     ("hr-sftp.example.com",), "client", 150, 44),
]

_PENDING: list[tuple[Any, ...]] = [
    ("erp_client_2027", "ERP connector client (renewal)", "ec-p256", f"CN=erp-connector.example.com,O={ORG},C=DE",
     ("erp-connector.example.com",), "client"),
    ("intranet", "Intranet", "ec-p256", f"CN=intranet.example.com,O={ORG},C=DE", ("intranet.example.com",), "server"),
    ("payments_mtls_2027", "Payment gateway client (renewal)", "ec-p256",
     f"CN=payments.example.com,O={ORG},C=DE", ("payments.example.com",), "client"),
]

# Partner and legacy certificates imported from files: subject, SANs, days ago it started, days from now.
_PARTNER: list[tuple[Any, ...]] = [
    ("acme_logistics_sftp", "CN=sftp.acme-logistics.example,O=Acme Logistics", ("sftp.acme-logistics.example",),
     700, -335),
    ("partner_bank_api", "CN=api.bank-partner.example,O=Partner Bank AG", ("api.bank-partner.example",), 380, -15),
    ("supplier_one_edi", "CN=edi.supplier-one.example,O=Supplier One", ("edi.supplier-one.example",), 365, 3),
    ("customer_co_sso", "CN=sso.customer-co.example,O=Customer Co", ("sso.customer-co.example",), 120, 245),
    ("tax_office_ws", "CN=ws.tax-office.example,O=Tax Office", ("ws.tax-office.example",), 400, 58),
    ("legacy_crm", f"CN=legacy-crm.int.example.com,O={ORG}", ("legacy-crm.int.example.com",), 1500, -40),
    ("old_intranet", f"CN=old-intranet.int.example.com,O={ORG}", ("old-intranet.int.example.com",), 2000, -600),
    ("courier_tracking", "CN=courier-tracking.example,O=Fast Courier", ("courier-tracking.example",), 90, 640),
]


def _spec(**fields: Any) -> CertSpec:
    """A CertSpec from plain strings (validated by CertSpec itself)."""
    return CertSpec(**fields)


@dataclass(frozen=True)
class DemoSummary:
    certificates: int
    credentials: int
    audit_events: int


class _DemoCA:
    """A root and an issuing CA made in memory: they sign the demo's CSRs and partner certificates."""

    def __init__(self, root_name: str, issuing_name: str, now: dt.datetime) -> None:
        self.now = now
        self.root_key = generate_key(KeyType.EC_P384)
        root_subject = Subject.parse(root_name).to_x509()
        self.root = build_certificate(subject=root_subject, public_key=self.root_key.public_key(),
                                      issuer=root_subject, issuer_key=self.root_key, days=0, is_ca=True,
                                      purpose=Purpose.ANY, not_before=now - dt.timedelta(days=2000),
                                      not_after=now + dt.timedelta(days=5300))
        self.key = generate_key(KeyType.EC_P256)
        self.cert = self._sign(Subject.parse(issuing_name).to_x509(), self.key.public_key(), (), Purpose.ANY,
                               self.root, self.root_key, 1900, 1750, is_ca=True)

    def issue(self, subject: x509.Name, public_key: object, sans: tuple[str, ...], purpose: Purpose,
              started_days_ago: int, ends_in_days: int) -> x509.Certificate:
        return self._sign(subject, public_key, sans, purpose, self.cert, self.key, started_days_ago, ends_in_days)

    def _sign(self, subject: x509.Name, public_key: object, sans: tuple[str, ...], purpose: Purpose,
              issuer: x509.Certificate, issuer_key: PrivateKey, started_days_ago: int, ends_in_days: int,
              is_ca: bool = False) -> x509.Certificate:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return build_certificate(
            subject=subject, public_key=public_key, issuer=issuer.subject, issuer_key=issuer_key, days=0,
            sans=parse_identities(sans), purpose=purpose, is_ca=is_ca, path_length=0 if is_ca else None,
            issuer_ski=ski, not_before=self.now - dt.timedelta(days=started_days_ago),
            not_after=self.now + dt.timedelta(days=ends_in_days),
        )


def seed_demo(inv: Inventory, progress: Callable[[str], None] | None = None) -> DemoSummary:
    """Fill an (empty) inventory with the demo organisation. Runs as demo admins; needs an admin inventory."""
    say = progress or (lambda _msg: None)
    admin = inv.as_actor(ADMIN)
    ops = inv.as_actor(OPS)
    auditor = inv.as_actor(AUDITOR)
    now = inv.now()

    say("trusted roots and partner certificates")
    public = _DemoCA("CN=Example Public Root CA R3,O=Example Trust Services,C=US",
                     "CN=Example TLS Issuing CA 2025,O=Example Trust Services,C=US", now)
    internal = _DemoCA(f"CN={ORG} Root CA,O={ORG},C=DE", f"CN={ORG} Issuing CA G2,O={ORG},C=DE", now)
    partner = _DemoCA("CN=Partner Federation Root,O=Partner Federation,C=NL",
                      "CN=Partner Federation Issuing CA,O=Partner Federation,C=NL", now)
    for name, ca in (("example_public_root", public), ("northwind_root_ca", internal),
                     ("partner_federation_root", partner)):
        admin.import_sources([ImportSource(f"{name}.pem", dump_pem([ca.root]))], trusted=True, name=name)
    for name, subject, sans, ago, ends in _PARTNER:
        ca = internal if ORG in subject else partner
        key = generate_key(KeyType.EC_P256)
        cert = ca.issue(Subject.parse(subject).to_x509(), key.public_key(), sans, Purpose.SERVER, ago, ends)
        ops.import_sources([ImportSource(f"partners/{sans[0]}.pem", dump_pem([cert]))], name=name)
    # One imported with its private key (a keystore handed over by a contractor).
    key = generate_key(KeyType.EC_P256)
    cert = internal.issue(Subject.parse(f"CN=print-server.int.example.com,O={ORG}").to_x509(), key.public_key(),
                          ("print-server.int.example.com",), Purpose.SERVER, 200, 165)
    ops.import_sources([ImportSource("print-server.pem", dump_pem([cert, internal.cert]) +
                                     Issued(cert, key).private_key_pem.bytes())], name="print_server")

    say("self-signed certificates")
    for name, label, key_type, days, subject, sans, purpose, exportable in _SELF_SIGNED:
        admin.create_self_signed(_spec(name=name, label=label, key_type=key_type, days=days, subject=subject,
                                          sans=sans, purpose=purpose, exportable=exportable))

    say("CA-signed certificates")
    for name, label, key_type, subject, sans, purpose, ago, ends in _CA_SIGNED:
        ca = internal if purpose == "client" else public
        who = ops if name in ("erp_client", "hr_sftp") else admin
        who.create_csr(_spec(name=name, label=label, key_type=key_type, subject=subject, sans=sans,
                                purpose=purpose, exportable=purpose == "client"))
        csr = load_csr(who.export(name, "csr").bytes())
        cert = ca.issue(csr.subject, csr.public_key(), sans, Purpose.parse(purpose), ago, ends)
        who.upload_signed(name, dump_pem([cert, ca.cert, ca.root]), f"{name}-signed.pem")
    for name, label, key_type, subject, sans, purpose in _PENDING:
        ops.create_csr(_spec(name=name, label=label, key_type=key_type, subject=subject, sans=sans,
                                purpose=purpose, exportable=purpose == "client"))

    say("named credentials")
    admin.add_credential("payment_gateway", certificate="payments_mtls", endpoint="https://pay.psp.example/v2",
                         purpose="mtls", owner="Finance IT")
    admin.add_credential("saml_idp", certificate="sso_signing", endpoint="https://idp.example.com/saml2",
                         purpose="saml", owner="Identity team")
    ops.add_credential("erp_connector", certificate="vpn_gateway", endpoint="erp.example.com:8443",
                       purpose="mtls", owner="ERP team")
    ops.rebind_credential("erp_connector", "erp_client")
    admin.add_credential("api_gateway_jwt", certificate="jwt_signing", endpoint="https://api.example.com/oauth2",
                         purpose="jwt", owner="Platform team")
    admin.add_credential("webshop_tls", certificate="shop_example", endpoint="shop.example.com:443",
                         purpose="server", owner="E-commerce")
    ops.add_credential("tax_filing", certificate="tax_office_ws", endpoint="https://ws.tax-office.example/filing",
                       purpose="mtls", owner="Finance IT")

    say("audit history")
    auditor.export("payments_mtls", "pem")
    auditor.export("sso_signing", "chain")
    for attempt in (lambda: auditor.export("payments_mtls", "pkcs12", password=DEMO_EXPORT_PASSWORD),
                    lambda: auditor.delete("old_intranet")):
        try:
            attempt()
        except PermissionDeniedError:
            pass  # the refusal is what the audit trail should show
    admin.export("jenkins_agent", "pkcs12", password=DEMO_EXPORT_PASSWORD)
    try:
        admin.export("kafka_broker_1", "pkcs12", password=DEMO_EXPORT_PASSWORD)
    except CertlabError:
        pass  # not exportable: refused and audited
    admin.create_self_signed(_spec(name="test_tmp", label="Temporary test", key_type="ec-p256", days=7))
    admin.delete("test_tmp")
    auditor.verify_audit()
    auditor.lint()  # policy findings for the Overview
    return DemoSummary(certificates=inv.count(), credentials=len(inv.credentials()),
                       audit_events=len(inv.audit_events()))
