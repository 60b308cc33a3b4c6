"""Synthetic inventories: real certificates, signed by a few synthetic CAs, made fast and in batches.

For demos at scale and for the benchmarks. Every certificate is a real, parsable X.509 certificate with
a valid signature from its (synthetic) issuer; the variety is what a large organisation's inventory
shows: several issuers and key types, SANs of every kind, expiry dates spread over years (some expired,
some expiring soon), a few revoked or retired entries.

What keeps it fast (about 0.1 ms per certificate on one core):

- EC P-256 and Ed25519 leaves (seven in ten) get a key of their own (about 45 µs each), except a small
  share (:data:`KEY_REUSE_SHARE`) that reuse one, as renewals with key reuse do in real inventories.
  P-384 and RSA leaves take theirs from a small pool (:data:`LEAF_KEY_POOL`) made once per run: RSA key
  generation alone would take 43 ms per key, so those certificates share public keys.
- The synthetic CAs are two EC P-256 CAs, an Ed25519 CA, and a P-384 and an RSA-2048 CA that sign a
  small share each (their signatures cost about five and fifteen times a P-256 one).
- Fields are taken from what was built instead of parsing each certificate back; a test checks them
  against :class:`certlab.certs.CertInfo` for a sample.

No private key is stored: synthetic entries are like imported certificates (``has_private_key`` false),
tagged ``synthetic`` and owned by teams named ``team-...``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import random
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .certs import CertInfo, Purpose, build_certificate, key_usage
from .keys import KeyType, PrivateKey, describe_public_key, generate_key, signature_hash_for
from .names import general_name_text, name_text

#: Leaf keys per key type made once per run, with the share of certificates of that type.
LEAF_KEY_POOL: dict[KeyType, tuple[int, float]] = {
    KeyType.EC_P256: (48, 0.62),
    KeyType.EC_P384: (12, 0.12),
    KeyType.ED25519: (12, 0.08),
    KeyType.RSA_2048: (4, 0.15),
    KeyType.RSA_3072: (2, 0.03),
}

#: Key types whose leaves get a fresh key (cheap to make), and the share of those that reuse a pool key.
FRESH_KEY_TYPES = frozenset({KeyType.EC_P256, KeyType.ED25519})
KEY_REUSE_SHARE = 0.02

#: (CA label, key type, share of CA-signed leaves). The RSA CA signs few: RSA signatures are slow.
CA_PLAN: tuple[tuple[str, KeyType, float], ...] = (
    ("Issuing CA EC G1", KeyType.EC_P256, 0.50),
    ("Issuing CA EC G2", KeyType.EC_P256, 0.25),
    ("Partner CA Ed25519", KeyType.ED25519, 0.14),
    ("Issuing CA P-384", KeyType.EC_P384, 0.07),
    ("Legacy Issuing CA RSA", KeyType.RSA_2048, 0.04),
)
SELF_SIGNED_SHARE = 0.08
DEFAULT_BATCH = 20_000

_APPS = (
    "billing", "payments", "erp", "crm", "hr_portal", "sso", "api_gateway", "mail", "vpn", "wiki", "ci", "registry",
    "search", "ledger", "orders", "inventory", "shipping", "reports", "metrics", "logs", "backup", "storage",
    "partner_edi", "bank_link", "tax_filing", "payroll", "intranet", "helpdesk", "chat", "calendar", "kiosk",
    "pos", "warehouse", "scanner", "iot_gateway", "mqtt", "ldap", "radius", "proxy", "cdn",
)
_ENVS = ("prod", "prod", "prod", "stage", "test", "dev")
_ORGS = ("Example Corp", "Example Corp", "Example Payments GmbH", "Example Logistics Ltd", "Example Retail SAS")
_COUNTRIES = ("DE", "DE", "GB", "FR", "US")
_TEAMS = ("team-platform", "team-payments", "team-identity", "team-erp", "team-network", "team-data")
_DOMAINS = ("example.com", "example.net", "example.org")
_VALIDITY_DAYS = (90, 90, 180, 365, 365, 397, 397, 730, 825)


@dataclass(frozen=True)
class _PoolKey:
    key: PrivateKey = field(repr=False)
    public: Any
    key_type: KeyType
    key_algorithm: str
    key_size: int
    label: str
    spki_sha256: str
    ski: x509.SubjectKeyIdentifier
    is_rsa: bool


@dataclass(frozen=True)
class SyntheticCA:
    """A CA made for one run; its key lives in memory only."""

    name: str
    certificate: x509.Certificate
    key: PrivateKey = field(repr=False)
    info: CertInfo = field(repr=False)
    share: float


@dataclass(frozen=True)
class Plan:
    """The synthetic CAs and leaf keys of one run, and the random source."""

    cas: tuple[SyntheticCA, ...]
    keys: tuple[_PoolKey, ...]
    key_weights: tuple[float, ...]
    rng: random.Random = field(repr=False)
    token: str
    now: dt.datetime


def _pool_key(key: PrivateKey) -> _PoolKey:
    pub = key.public_key()
    algorithm, size, label = describe_public_key(pub)
    spki = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _PoolKey(key, pub, KeyType.parse(label), algorithm, size, label, hashlib.sha256(spki).hexdigest(),
                    x509.SubjectKeyIdentifier.from_public_key(pub), isinstance(pub, rsa.RSAPublicKey))


def make_plan(*, seed: int | None = None, now: dt.datetime) -> Plan:
    """Make the CAs and the leaf key pool (about half a second, mostly the RSA keys)."""
    rng = random.Random(seed)
    token = secrets.token_hex(3)  # not from the seed: names stay unique when a seed is used twice
    cas = []
    for label, key_type, share in CA_PLAN:
        key = generate_key(key_type)
        subject = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Corp"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Example {label} {token}"),
        ])
        cert = build_certificate(subject=subject, public_key=key.public_key(), issuer=subject, issuer_key=key,
                                 days=3650, purpose=Purpose.ANY, is_ca=True, path_length=0,
                                 not_before=now - dt.timedelta(days=900))
        slug = re.sub(r"[^a-z0-9]+", "_", label.lower())
        cas.append(SyntheticCA(f"synthetic_{slug}_{token}", cert, key, CertInfo.of(cert), share))
    keys: list[_PoolKey] = []
    weights: list[float] = []
    for key_type, (count, share) in LEAF_KEY_POOL.items():
        for _ in range(count):
            keys.append(_pool_key(generate_key(key_type)))
            weights.append(share / count)
    return Plan(tuple(cas), tuple(keys), tuple(weights), rng, token, now)


def ca_rows(plan: Plan) -> list[dict[str, Any]]:
    """The rows of the synthetic CAs themselves (trusted CAs, without keys)."""
    rows = []
    for ca in plan.cas:
        i = ca.info
        rows.append({
            "name": ca.name, "label": ca.info.subject.split("CN=")[-1], "kind": "trusted_ca", "status": "active",
            "purpose": None, "subject": i.subject, "issuer": i.issuer, "serial": i.serial,
            "not_before": i.not_before, "not_after": i.not_after, "key_algorithm": i.key_algorithm,
            "key_size": i.key_size, "key_type": i.key_type, "signature_algorithm": i.signature_algorithm,
            "signature_hash": i.signature_hash, "fingerprint_sha256": i.fingerprint_sha256,
            "spki_sha256": i.spki_sha256, "ski": i.ski, "aki": i.aki, "sans": "[]", "is_ca": True, "der": i.der,
            "owner": "team-platform", "tags": '["synthetic"]', "issuer_index": -1,
        })
    return rows


class _Signer:
    """What a leaf's issuer contributes: name, key, hash, AKI and the names of its signature."""

    def __init__(self, name: x509.Name, key: PrivateKey, ski_digest: bytes, sample: CertInfo | None) -> None:
        self.name = name
        self.name_text = name_text(name)
        self.key = key
        self.hash = signature_hash_for(key)
        self.aki = x509.AuthorityKeyIdentifier(ski_digest, None, None)
        self.aki_hex = ski_digest.hex()
        self.sig_algorithm = sample.signature_algorithm if sample else ""
        self.sig_hash = sample.signature_hash if sample else ""


_BC_LEAF = x509.BasicConstraints(ca=False, path_length=None)
_EKU = {
    "server": x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
    "client": x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
    "any": x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
}


def _signature_names(key: PrivateKey) -> tuple[str, str]:
    """signature_algorithm and signature_hash as CertInfo reports them for certificates this key signs."""
    from .certs import self_signed

    probe = self_signed("probe.example.com", key=key).info
    return probe.signature_algorithm, probe.signature_hash


def leaf_batches(plan: Plan, n: int, *, batch: int = DEFAULT_BATCH) -> Iterator[dict[str, list[Any]]]:
    """``n`` leaf certificates as column dicts of at most ``batch`` rows (no ids: the caller assigns them).

    ``issuer_index`` is the position of the issuing CA in ``plan.cas``, or -1 for a self-signed leaf.
    """
    rng, now = plan.rng, plan.now
    signers = [_Signer(ca.certificate.subject, ca.key, ca.certificate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier).value.digest, ca.info) for ca in plan.cas]
    ca_weights = [ca.share for ca in plan.cas]
    sig_names: dict[str, tuple[str, str]] = {}
    ku_cache: dict[tuple[str, bool], x509.KeyUsage] = {}
    org_names = [(x509.NameAttribute(NameOID.COUNTRY_NAME, c), x509.NameAttribute(NameOID.ORGANIZATION_NAME, o))
                 for o, c in zip(_ORGS, _COUNTRIES)]
    base = x509.CertificateBuilder().add_extension(_BC_LEAF, critical=True)
    done = 0
    while done < n:
        size = min(batch, n - done)
        cols: dict[str, list[Any]] = {c: [] for c in _LEAF_COLUMNS}
        keys = rng.choices(plan.keys, weights=plan.key_weights, k=size)
        issuers = rng.choices(range(len(signers)), weights=ca_weights, k=size)
        for j in range(size):
            i = done + j
            pk = keys[j]
            if pk.key_type in FRESH_KEY_TYPES and rng.random() >= KEY_REUSE_SHARE:
                pk = _pool_key(generate_key(pk.key_type))
            self_signed = rng.random() < SELF_SIGNED_SHARE
            if self_signed:
                # A self-signed leaf signs itself; RSA pool keys would be slow, so those go to a CA.
                self_signed = not pk.is_rsa
            app = rng.choice(_APPS)
            env = rng.choice(_ENVS)
            domain = rng.choice(_DOMAINS)
            host = f"{app.replace('_', '-')}-{i}.{env}.{domain}"
            country, org = org_names[rng.randrange(len(org_names))]
            subject = x509.Name([country, org, x509.NameAttribute(NameOID.COMMON_NAME, host)])
            purpose = rng.choice(("server", "server", "server", "client", "any"))
            sans: list[x509.GeneralName] = [x509.DNSName(host)]
            r = rng.random()
            if r < 0.25:
                sans.append(x509.DNSName(f"{app.replace('_', '-')}.{env}.{domain}"))
            elif r < 0.35:
                sans.append(x509.IPAddress(ipaddress.IPv4Address(0x0A000000 + (i % 0xFFFFFF))))
            elif r < 0.40 and purpose == "client":
                sans.append(x509.RFC822Name(f"{app}-ops@{domain}"))
            validity = rng.choice(_VALIDITY_DAYS)
            age = rng.randrange(0, validity + 150)
            not_before = now.replace(hour=0, minute=0, second=0) - dt.timedelta(days=age, seconds=rng.randrange(86400))
            not_after = not_before + dt.timedelta(days=validity)
            serial = rng.getrandbits(127) | (1 << 126)
            if self_signed:
                signer = _Signer(subject, pk.key, pk.ski.digest, None)
                issuer_index = -1
            else:
                issuer_index = issuers[j]
                signer = signers[issuer_index]
            ku_key = (purpose, pk.is_rsa)
            if ku_key not in ku_cache:
                ku_cache[ku_key] = key_usage(Purpose.parse(purpose), pk.public)
            cert = (
                base.subject_name(subject).issuer_name(signer.name).public_key(pk.public)
                .serial_number(serial).not_valid_before(not_before).not_valid_after(not_after)
                .add_extension(ku_cache[ku_key], critical=True)
                .add_extension(pk.ski, critical=False)
                .add_extension(signer.aki, critical=False)
                .add_extension(_EKU[purpose], critical=False)
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .sign(signer.key, signer.hash)  # type: ignore[arg-type]
            )
            der = cert.public_bytes(serialization.Encoding.DER)
            if self_signed:
                if pk.label not in sig_names:
                    sig_names[pk.label] = _signature_names(pk.key)
                sig_alg, sig_hash = sig_names[pk.label]
                issuer_text = subject_text = name_text(subject)
                aki = pk.ski.digest.hex()
            else:
                sig_alg, sig_hash = signer.sig_algorithm, signer.sig_hash
                subject_text = name_text(subject)
                issuer_text = signer.name_text
                aki = signer.aki_hex
            status = "active"
            s = rng.random()
            if s < 0.02:
                status = "revoked"
            elif s < 0.035:
                status = "retired"
            name = f"{app}_{env}_{plan.token}_{i}"
            cols["name"].append(name)
            cols["label"].append(f"{app.replace('_', ' ').title()} ({env})")
            cols["kind"].append("self_signed" if self_signed else rng.choice(("ca_signed", "imported", "imported")))
            cols["status"].append(status)
            cols["purpose"].append(purpose)
            cols["subject"].append(subject_text)
            cols["issuer"].append(issuer_text)
            cols["serial"].append(format(serial, "x"))
            cols["not_before"].append(not_before)
            cols["not_after"].append(not_after)
            cols["key_algorithm"].append(pk.key_algorithm)
            cols["key_size"].append(pk.key_size)
            cols["key_type"].append(pk.label)
            cols["signature_algorithm"].append(sig_alg)
            cols["signature_hash"].append(sig_hash)
            cols["fingerprint_sha256"].append(hashlib.sha256(der).hexdigest())
            cols["spki_sha256"].append(pk.spki_sha256)
            cols["ski"].append(pk.ski.digest.hex())
            cols["aki"].append(aki)
            cols["sans"].append(json.dumps([general_name_text(g) for g in sans]))
            cols["is_ca"].append(False)
            cols["der"].append(der)
            cols["owner"].append(rng.choice(_TEAMS))
            cols["tags"].append('["synthetic"]')
            cols["issuer_index"].append(issuer_index)
        done += size
        yield cols


_LEAF_COLUMNS = (
    "name", "label", "kind", "status", "purpose", "subject", "issuer", "serial", "not_before", "not_after",
    "key_algorithm", "key_size", "key_type", "signature_algorithm", "signature_hash", "fingerprint_sha256",
    "spki_sha256", "ski", "aki", "sans", "is_ca", "der", "owner", "tags", "issuer_index",
)

# Synthetic audit history: what people do with an inventory, in plausible proportions.
_AUDIT_MIX = (
    ("downloaded", 0.40), ("created", 0.15), ("imported", 0.15), ("exported", 0.08), ("rotated", 0.07),
    ("credential_updated", 0.05), ("revoked", 0.03), ("deleted", 0.03), ("denied", 0.04),
)
_PEOPLE = (("alice", "admin"), ("bob", "admin"), ("carol", "auditor"), ("dave", "analyst"), ("erin", "admin"))


def audit_batches(rng: random.Random, n: int, *, start: dt.datetime, end: dt.datetime, objects: list[str],
                  batch: int = 100_000) -> Iterator[list[dict[str, Any]]]:
    """``n`` plausible past audit events (without seq and hashes: the caller chains them), oldest first."""
    span = max(1, int((end - start).total_seconds()))
    times = sorted(rng.randrange(span) for _ in range(n))
    actions = rng.choices([a for a, _ in _AUDIT_MIX], weights=[w for _, w in _AUDIT_MIX], k=n)
    for lo in range(0, n, batch):
        out = []
        for k in range(lo, min(n, lo + batch)):
            actor, role = _PEOPLE[rng.randrange(len(_PEOPLE))]
            action = actions[k]
            outcome = "ok"
            details: dict[str, Any] = {"synthetic": True}
            if action == "denied":
                action, outcome, role = "exported", "denied", "auditor"
                details["reason"] = "role auditor may not do this"
            elif action == "downloaded":
                details["format"] = rng.choice(("pem", "der", "chain"))
            out.append({"at": start + dt.timedelta(seconds=times[k]), "actor": actor, "role": role,
                        "action": action, "object": objects[rng.randrange(len(objects))] if objects else "inventory",
                        "details": details, "outcome": outcome})
        yield out


__all__ = ["CA_PLAN", "FRESH_KEY_TYPES", "KEY_REUSE_SHARE", "LEAF_KEY_POOL", "Plan", "SyntheticCA", "audit_batches", "ca_rows", "leaf_batches",
           "make_plan"]
