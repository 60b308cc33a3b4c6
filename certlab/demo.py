"""A demo inventory that looks like a real organisation's, made through the Inventory's public methods.

Northwind Trading (a made-up company on example.com names) runs a payment gateway over mutual TLS, a
SAML identity provider and an ERP connector; it has public-CA-signed web certificates, internal
self-signed ones, pending requests, partner certificates imported from files (some long expired, some
failing policy: an RSA-1024 key, a SHA-1 signature), trusted roots, an internal CA of its own and four
people who use certlab: two admins, an auditor and an analyst.

The history is spread over the past ``HISTORY_DAYS`` days: each step runs through the Inventory's public
methods on an Inventory whose clock is set to that step's moment, so the audit trail (sign-ins, issuance,
imports, exports, rotations, revocations, refusals) carries realistic times in chain order, certificates
are valid from when they were made, and the chain verifies like any other. Validity dates are relative to
the time of seeding, so the demo always has expired certificates, certificates expiring within 30, 60
and 90 days, and later ones spread over the coming months.

``certlab demo``, the dashboard's first run and the notebooks (``certlab.notebook_support``) all use
this one seeder.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from .certs import CertSpec, Issued, Purpose, build_certificate, utcnow
from .csr import load_csr
from .errors import CertlabError
from .formats import dump_pem
from .inventory import ImportSource, Inventory
from .inventory import init as _init
from .inventory.users import one_time_password
from .keys import KeyType, PrivateKey, generate_key
from .models import Actor, AuditFilter, Role
from .names import Subject, parse_identities

ORG = "Northwind Trading"
ADMIN = Actor("maria.keller", Role.ADMIN)
OPS = Actor("tom.berger", Role.ADMIN)
AUDITOR = Actor("ines.vogel", Role.AUDITOR)
ANALYST = Actor("li.chen", Role.ANALYST)
PEOPLE = (ADMIN, OPS, AUDITOR, ANALYST)  # dashboard users whose random passwords nobody keeps
SIGN_IN_SERVICE = Actor("dashboard", Role.ANALYST)  # signs people in, as the dashboard does
HISTORY_DAYS = 400
DEMO_EXPORT_PASSWORD = "demo keystore password"  # protects keystores the demo exports and discards

# name, label, key type, days ago it was made, days valid, subject, SANs, purpose, exportable
_SELF_SIGNED: list[tuple[Any, ...]] = [
    ("sso_signing", "SAML IdP signing", "rsa-3072", 380, 730, f"CN=idp.example.com,O={ORG},C=DE",
     ("idp.example.com",), "signing", False),
    ("sso_encryption", "SAML IdP encryption", "ec-p256", 380, 730, f"CN=idp.example.com,O={ORG},C=DE",
     ("idp.example.com",), "any", False),
    ("kafka_broker_2", "Kafka broker 2", "ec-p256", 372, 365, f"CN=kafka-2.int.example.com,O={ORG}",
     ("kafka-2.int.example.com", "10.20.1.12"), "any", False),
    ("kafka_broker_1", "Kafka broker 1", "ec-p256", 335, 365, f"CN=kafka-1.int.example.com,O={ORG}",
     ("kafka-1.int.example.com", "10.20.1.11"), "any", False),
    ("jenkins_agent", "Jenkins agent client", "ed25519", 313, 365, f"CN=jenkins-agent,OU=Build,O={ORG}",
     ("jenkins-agent.int.example.com",), "client", True),
    ("ldap_replica", "LDAP replica", "rsa-2048", 290, 300, f"CN=ldap-2.int.example.com,O={ORG}",
     ("ldap-2.int.example.com",), "server", False),
    ("backup_agent", "Backup agent mTLS", "ec-p256", 200, 820, f"CN=backup-agent,O={ORG}",
     ("backup.int.example.com",), "client", True),
    ("jwt_signing", "API gateway JWT signing", "ec-p384", 100, 180, f"CN=api-gateway JWT,O={ORG}",
     (), "signing", False),
    ("grafana_internal", "Grafana (internal)", "ec-p256", 70, 90, f"CN=grafana.int.example.com,O={ORG}",
     ("grafana.int.example.com", "10.20.0.15"), "server", False),
]

# Signed by a public or the legacy internal CA through a CSR: name, label, key type, subject, SANs, purpose,
# days before now it started (the CSR a day earlier), days from now it ends.
_CA_SIGNED: list[tuple[Any, ...]] = [
    ("vpn_gateway", "Remote-access VPN", "rsa-2048", f"CN=vpn.example.com,O={ORG},C=DE",
     ("vpn.example.com",), "server", 390, -6),
    ("payments_mtls", "Payment gateway client (mTLS)", "ec-p256", f"CN=payments.example.com,O={ORG},C=DE",
     ("payments.example.com",), "client", 353, 12),
    ("mail_gateway", "Mail gateway (SMTP TLS)", "ec-p256", f"CN=mail.example.com,O={ORG},C=DE",
     ("mail.example.com", "smtp.example.com"), "server", 340, 25),
    ("shop_example", "Web shop", "ec-p256", f"CN=shop.example.com,O={ORG},C=DE",
     ("shop.example.com",), "server", 300, 65),
    ("api_example", "Public API", "ec-p384", f"CN=api.example.com,O={ORG},C=DE",
     ("api.example.com",), "server", 200, 165),
    ("hr_sftp", "HR SFTP client", "ec-p256", f"CN=hr-sftp.example.com,O={ORG},C=DE",
     ("hr-sftp.example.com",), "client", 150, 44),
    ("partner_site", "Partner website", "ec-p256", f"CN=partners.example.com,O={ORG},C=DE",
     ("partners.example.com",), "server", 100, 265),
    ("www_example", "Public website", "ec-p256", f"CN=www.example.com,O={ORG},C=DE",
     ("www.example.com", "example.com"), "server", 60, 29),
    ("erp_client", "ERP connector client", "rsa-2048", f"CN=erp-connector.example.com,O={ORG},C=DE",
     ("erp-connector.example.com",), "client", 30, 335),
    ("status_page", "Status page", "ec-p256", f"CN=status.example.com,O={ORG},C=DE",
     ("status.example.com",), "server", 10, 80),
]

# Issued by the inventory's own CA: name, key type, days ago, days valid, SANs, purpose.
_ISSUED: list[tuple[Any, ...]] = [
    ("billing_gateway", "ec-p256", 250, 330, ("billing.example.com",), "server"),
    ("hr_portal", "ec-p256", 200, 240, ("hr.example.com",), "server"),
    ("crm_connector", "ec-p384", 150, 365, ("crm.example.com",), "client"),
    ("intranet_web", "rsa-3072", 100, 200, ("intranet.example.com", "10.0.0.15"), "server"),
]

# Requests still waiting for their signed certificate: name, label, key type, subject, SANs, purpose, days ago.
_PENDING: list[tuple[Any, ...]] = [
    ("erp_client_2027", "ERP connector client (renewal)", "ec-p256", f"CN=erp-connector.example.com,O={ORG},C=DE",
     ("erp-connector.example.com",), "client", 5),
    ("intranet", "Intranet", "ec-p256", f"CN=intranet.example.com,O={ORG},C=DE", ("intranet.example.com",),
     "server", 3),
]

# Partner and legacy certificates imported from files: name, subject, SANs, days ago it started, days from now.
_PARTNER: list[tuple[Any, ...]] = [
    ("old_intranet", f"CN=old-intranet.int.example.com,O={ORG}", ("old-intranet.int.example.com",), 2000, -600),
    ("legacy_crm", f"CN=legacy-crm.int.example.com,O={ORG}", ("legacy-crm.int.example.com",), 1500, -40),
    ("acme_logistics_sftp", "CN=sftp.acme-logistics.example,O=Acme Logistics", ("sftp.acme-logistics.example",),
     700, -335),
    ("tax_office_ws", "CN=ws.tax-office.example,O=Tax Office", ("ws.tax-office.example",), 400, 58),
    ("partner_bank_api", "CN=api.bank-partner.example,O=Partner Bank AG", ("api.bank-partner.example",), 380, -15),
    ("supplier_one_edi", "CN=edi.supplier-one.example,O=Supplier One", ("edi.supplier-one.example",), 365, 3),
    ("customer_co_sso", "CN=sso.customer-co.example,O=Customer Co", ("sso.customer-co.example",), 120, 245),
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
                                      purpose=Purpose.ANY, not_before=now - dt.timedelta(days=2100),
                                      not_after=now + dt.timedelta(days=5300))
        self.key = generate_key(KeyType.EC_P256)
        self.cert = self._sign(Subject.parse(issuing_name).to_x509(), self.key.public_key(), (), Purpose.ANY,
                               self.root, self.root_key, 2050, 1750, is_ca=True)

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


class _Timeline:
    """Inventories whose clocks stand at moments of the demo's history, in order.

    ``at(days_ago, actor)`` is the inventory acting as ``actor`` at that moment (office hours on past
    days). Moments never go back: a step is at least a second after the one before it, and after any
    event the inventory held already, so the audit trail's times follow its chain.
    """

    def __init__(self, inv: Inventory) -> None:
        self.inv = inv
        self.end = inv.now()
        newest = next(iter(inv.audit_events(AuditFilter(newest_first=True, limit=1))), None)
        self.last: dt.datetime = newest.at if newest else self.end - dt.timedelta(days=HISTORY_DAYS + 1)
        self.steps = 0
        self.passwords: dict[str, str] = {}

    def moment(self, days_ago: float) -> dt.datetime:
        when = self.end - dt.timedelta(days=days_ago)
        if days_ago >= 1:  # a working day: between 08:00 and 17:59, varied from step to step
            self.steps += 1
            when = when.replace(hour=8 + (self.steps * 7) % 10, minute=(self.steps * 17) % 60,
                                second=(self.steps * 29) % 60, microsecond=0)
        when = max(when, self.last + dt.timedelta(seconds=1))
        self.last = when
        return when

    def at(self, days_ago: float, actor: Actor, *, sign_in: bool = False) -> Inventory:
        if sign_in:
            self.sign_in(days_ago, actor)
        when = self.moment(days_ago)
        return Inventory(self.inv.path, actor=actor, warning_days=self.inv.warning_days, clock=lambda: when)

    def sign_in(self, days_ago: float, actor: Actor, password: str | None = None) -> None:
        """A dashboard sign-in (audited); a wrong ``password`` is a refused one."""
        when = self.moment(days_ago)
        service = Inventory(self.inv.path, actor=SIGN_IN_SERVICE, warning_days=self.inv.warning_days,
                            clock=lambda: when)
        try:
            service.authenticate(actor.name, password or self.passwords[actor.name])
        except CertlabError:
            if password is None:
                raise


def create_inventory(path: str | os.PathLike[str], *, actor: Actor | None = None) -> Inventory:
    """Create the inventory at ``path`` if it is missing, its history starting where the demo's begins
    (so the demo's events come after the ``initialised`` one); returned on the real clock."""
    if not Path(path).exists():
        start = utcnow() - dt.timedelta(days=HISTORY_DAYS + 1)
        _init(path, actor=actor, clock=lambda: start)
    return _init(path, actor=actor)


def seed_demo(inv: Inventory, progress: Callable[[str], None] | None = None) -> DemoSummary:
    """Fill an (empty) inventory with the demo organisation and its history up to ``inv.now()``."""
    say = progress or (lambda _msg: None)
    t = _Timeline(inv)
    now = t.end

    say("people")
    setup = t.at(HISTORY_DAYS - 1, ADMIN)
    for person in PEOPLE:
        t.passwords[person.name] = one_time_password()  # kept by nobody: the demo signs them in itself
        setup.add_user(person.name, person.role, t.passwords[person.name])

    say("trusted roots and partner certificates")
    public = _DemoCA("CN=Example Public Root CA R3,O=Example Trust Services,C=US",
                     "CN=Example TLS Issuing CA 2025,O=Example Trust Services,C=US", now)
    legacy = _DemoCA(f"CN={ORG} Root CA,O={ORG},C=DE", f"CN={ORG} Issuing CA G2,O={ORG},C=DE", now)
    partner = _DemoCA("CN=Partner Federation Root,O=Partner Federation,C=NL",
                      "CN=Partner Federation Issuing CA,O=Partner Federation,C=NL", now)
    roots = t.at(HISTORY_DAYS - 2, ADMIN, sign_in=True)
    for name, ca in (("example_public_root", public), ("northwind_root_ca", legacy),
                     ("partner_federation_root", partner)):
        roots.import_sources([ImportSource(f"{name}.pem", dump_pem([ca.root]))], trusted=True, name=name)
    partner_files: list[tuple[int, str, bytes]] = []
    for name, subject, sans, ago, ends in _PARTNER:
        ca = legacy if ORG in subject else partner
        key = generate_key(KeyType.EC_P256)
        cert = ca.issue(Subject.parse(subject).to_x509(), key.public_key(), sans, Purpose.SERVER, ago, ends)
        partner_files.append((min(ago, HISTORY_DAYS - 3), name, dump_pem([cert])))
    partner_files += [(HISTORY_DAYS - 3, name, pem) for name, pem in _weak_certificates(now)]

    def import_partners(down_to: int) -> None:
        while partner_files and partner_files[0][0] >= down_to:
            ago, name, pem = partner_files.pop(0)
            result = t.at(ago, OPS).import_sources([ImportSource(f"partners/{name}.pem", pem)], name=name)
            if result[0].result != "imported":
                raise CertlabError(f"demo import of {name} failed: {result[0].reason}")

    partner_files.sort(key=lambda f: -f[0])
    t.sign_in(HISTORY_DAYS - 3, OPS)
    import_partners(HISTORY_DAYS - 3)
    internal = t.at(HISTORY_DAYS - 4, ADMIN)
    internal.create_ca("corp_root_ca", subject=f"CN={ORG} Corporate Root CA G3,O={ORG},C=DE", key_type="ec-p384",
                       days=3650, label="Corporate root CA")
    internal.create_ca("corp_issuing_ca", parent="corp_root_ca", subject=f"CN={ORG} Issuing CA G3,O={ORG},C=DE",
                       key_type="ec-p256", days=1825, label="Corporate issuing CA")

    say("certificates, credentials and history")
    # Everything made from a date in the tables, merged into one time order with the hand-written steps.
    made: list[tuple[int, Callable[[], object]]] = []

    def later(ago: float, who: Actor, method: str, *args: object) -> Callable[[], object]:
        return lambda: getattr(t.at(ago, who), method)(*args)

    for name, label, key_type, ago, days, subject, sans, purpose, exportable in _SELF_SIGNED:
        spec = _spec(name=name, label=label, key_type=key_type, days=days, subject=subject, sans=sans,
                     purpose=purpose, exportable=exportable)
        made.append((ago, later(ago, ADMIN, "create_self_signed", spec)))
    for name, label, key_type, subject, sans, purpose, ago, ends in _CA_SIGNED:
        ca = legacy if purpose == "client" else public
        who = OPS if name in ("erp_client", "hr_sftp", "status_page") else ADMIN
        spec = _spec(name=name, label=label, key_type=key_type, subject=subject, sans=sans, purpose=purpose,
                     exportable=purpose == "client")

        def ca_signed(spec: CertSpec = spec, ca: _DemoCA = ca, who: Actor = who, ago: int = ago, ends: int = ends) -> None:
            t.at(ago + 1, who).create_csr(spec)
            csr = load_csr(t.at(ago + 1, who).export(spec.name, "csr").bytes())
            cert = ca.issue(csr.subject, csr.public_key(), spec.sans, spec.purpose, ago, ends)
            t.at(ago - 0.5, who).upload_signed(spec.name, dump_pem([cert, ca.cert, ca.root]), f"{spec.name}-signed.pem")

        made.append((ago + 1, ca_signed))
    for name, key_type, ago, days, sans, purpose in _ISSUED:
        spec = _spec(name=name, key_type=key_type, days=days, sans=sans, purpose=purpose,
                     subject=f"CN={sans[0]},O={ORG},C=DE")
        made.append((ago, later(ago, ADMIN, "issue", "corp_issuing_ca", spec)))
    for name, label, key_type, subject, sans, purpose, ago in _PENDING:
        spec = _spec(name=name, label=label, key_type=key_type, subject=subject, sans=sans, purpose=purpose,
                     exportable=purpose == "client")
        made.append((ago, later(ago, OPS, "create_csr", spec)))
    made += _steps(t, now)

    def print_server() -> None:  # a keystore handed over by a contractor: certificate, chain and key
        key = generate_key(KeyType.EC_P256)
        cert = legacy.issue(Subject.parse(f"CN=print-server.int.example.com,O={ORG}").to_x509(), key.public_key(),
                            ("print-server.int.example.com",), Purpose.SERVER, 200, 165)
        t.at(199, OPS).import_sources([ImportSource("print-server.pem", dump_pem([cert, legacy.cert]) +
                                                    Issued(cert, key).private_key_pem.bytes())], name="print_server")

    made.append((199, print_server))
    for ago, step in sorted(made, key=lambda m: -m[0]):
        import_partners(ago)
        step()
    import_partners(0)

    say("policy check")
    t.at(0.01, AUDITOR).lint()  # policy findings for the Overview
    return DemoSummary(certificates=inv.count(), credentials=len(inv.credentials()),
                       audit_events=len(inv.audit_events()))


def _steps(t: _Timeline, now: dt.datetime) -> list[tuple[int, Callable[[], object]]]:
    """The hand-written history: credentials, sign-ins, exports, rotations, revocations, refusals."""

    def refused(action: Callable[[], object]) -> None:
        try:
            action()
        except CertlabError:
            return  # the refusal is what the audit trail should show
        raise CertlabError("the demo expected this action to be refused")

    def credential(ago: int, who: Actor, name: str, cert: str, endpoint: str, purpose: str, owner: str) -> tuple[int, Callable[[], object]]:
        return ago, lambda: t.at(ago, who).add_credential(name, certificate=cert, endpoint=endpoint, purpose=purpose,
                                                          owner=owner)

    def session(ago: int, who: Actor) -> tuple[int, Callable[[], object]]:
        return ago, lambda: t.sign_in(ago, who)

    return [
        credential(379, ADMIN, "saml_idp", "sso_signing", "https://idp.example.com/saml2", "saml", "Identity team"),
        credential(352, ADMIN, "payment_gateway", "payments_mtls", "https://pay.psp.example/v2", "mtls", "Finance IT"),
        credential(299, ADMIN, "webshop_tls", "shop_example", "shop.example.com:443", "server", "E-commerce"),
        credential(280, OPS, "erp_connector", "vpn_gateway", "erp.example.com:8443", "mtls", "ERP team"),
        credential(249, ADMIN, "billing_jwt", "billing_gateway", "https://billing.example.com/oauth2/token", "jwt",
                   "Finance IT"),
        credential(199, OPS, "hr_callout", "hr_portal", "hr.example.com:443", "server", "HR IT"),
        credential(149, OPS, "crm_events", "crm_connector", "https://crm.example.com/events", "mtls", "Sales IT"),
        credential(99, ADMIN, "api_gateway_jwt", "jwt_signing", "https://api.example.com/oauth2", "jwt",
                   "Platform team"),
        credential(396, OPS, "ldap_bind", "legacy_ldap", "ldap.partner.example.org:636", "server", "Identity team"),
        credential(62, OPS, "tax_filing", "tax_office_ws", "https://ws.tax-office.example/filing", "mtls", "Finance IT"),
        # The auditor's quarterly and monthly reviews.
        (180, lambda: t.at(180, AUDITOR).verify_audit()),
        (90, lambda: t.at(90, AUDITOR, sign_in=True).verify_audit()),
        (61, lambda: t.at(61, AUDITOR).export("payments_mtls", "pem")),
        # The previous 30-day period: an export, a refused one, a test certificate made and deleted.
        session(46, ADMIN),
        (45, lambda: t.at(45, ADMIN).export("jenkins_agent", "pkcs12", password=DEMO_EXPORT_PASSWORD)),
        (45, lambda: refused(lambda: t.at(45, AUDITOR, sign_in=True).export(
            "payments_mtls", "pkcs12", password=DEMO_EXPORT_PASSWORD))),
        (44, lambda: t.at(44, ADMIN).create_self_signed(_spec(name="test_tmp", label="Temporary test",
                                                               key_type="ec-p256", days=7))),
        (40, lambda: t.at(40, ADMIN).delete("test_tmp")),
        (41, lambda: t.at(41, OPS, sign_in=True).revoke("crm_connector", "keyCompromise")),
        (41, lambda: t.at(41, OPS).issue("corp_issuing_ca", _spec(
            name="crm_connector_2", key_type="ec-p384", days=365, sans=("crm.example.com",), purpose="client",
            subject=f"CN=crm.example.com,O={ORG},C=DE"))),
        (41, lambda: t.at(41, OPS).rebind_credential("crm_events", "crm_connector_2")),
        (38, lambda: refused(lambda: t.at(38, ANALYST, sign_in=True).create_self_signed(
            _spec(name="my_test", key_type="ec-p256")))),
        (35, lambda: t.at(35, AUDITOR).export("sso_signing", "chain")),
        # The current 30-day period.
        (30, lambda: t.at(30, AUDITOR, sign_in=True).verify_audit()),
        (29, lambda: t.at(29, OPS).rebind_credential("erp_connector", "erp_client")),
        (21, lambda: t.at(21, ADMIN, sign_in=True).rotate("ldap_replica", days=365)),
        (20, lambda: t.at(20, ADMIN).cutover("ldap_replica")),
        (18, lambda: t.at(18, ADMIN).export("backup_agent", "key", password=DEMO_EXPORT_PASSWORD)),
        (17, lambda: refused(lambda: t.at(17, AUDITOR).delete("old_intranet"))),
        (16, lambda: refused(lambda: t.at(16, ADMIN, sign_in=True).export(
            "kafka_broker_1", "pkcs12", password=DEMO_EXPORT_PASSWORD))),  # not exportable
        (12, lambda: t.at(12, OPS, sign_in=True).rotate("hr_portal", days=365)),
        (11, lambda: t.at(11, OPS).cutover("hr_portal")),
        (11, lambda: t.at(11, OPS).revoke("hr_portal", "superseded")),
        (9, lambda: t.at(9, ADMIN, sign_in=True).create_self_signed(_spec(name="scratch_cert", key_type="ec-p256",
                                                                           days=30))),
        (8, lambda: t.at(8, ADMIN).delete("scratch_cert")),
        (6, lambda: t.at(6, ADMIN, sign_in=True).rotate("payments_mtls")),  # a public CA's: a CSR to send
        (5, lambda: refused(lambda: t.at(5, ANALYST).delete("payments_mtls"))),
        (3, lambda: t.at(3, ANALYST, sign_in=True).sql(
            "SELECT key_type, count(*) AS n FROM certificates_v GROUP BY key_type")),
        (2, lambda: t.sign_in(2, OPS, password="not tom's password")),  # a typo: a refused sign-in
        session(2, OPS),
        (1, lambda: t.at(1, AUDITOR, sign_in=True).verify_audit()),
        (1, lambda: t.at(1, AUDITOR).export("www_example", "pem")),
    ]


def _weak_certificates(now: dt.datetime) -> list[tuple[str, bytes]]:
    """Certificates made elsewhere, as a partner or an old system would send them, that fail policy.

    ``legacy_ldap`` (RSA-2048 signed with SHA-1, valid 2019 to 2029) is a shipped file: cryptography no
    longer signs with SHA-1. ``old_vpn_gateway`` has an RSA-1024 key.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID

    out = [("legacy_ldap", resources.files("certlab").joinpath("demo_data/legacy_ldap_sha1.pem").read_bytes())]
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    host = "old-vpn-gateway.partner.example.org"
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Partner Org")])
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=800))
        .not_valid_after(now - dt.timedelta(days=20))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    out.append(("old_vpn_gateway", cert.public_bytes(serialization.Encoding.PEM)))
    return out


__all__ = ["ADMIN", "ANALYST", "AUDITOR", "HISTORY_DAYS", "OPS", "PEOPLE", "DemoSummary", "create_inventory",
           "seed_demo"]
