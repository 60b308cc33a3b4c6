"""Test helpers: small PKIs built in memory, and certificates damaged on purpose.

Certificates that ``cryptography`` refuses lazily are made by editing the DER of a good one: the parse
still succeeds, the odd field fails when first read, as it does with certificates found in the wild.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

import certlab
from certlab.certs import build_certificate
from certlab.keys import PrivateKey

UNKNOWN_EXT_A = x509.ObjectIdentifier("1.3.6.1.4.1.55555.1")
UNKNOWN_EXT_B = x509.ObjectIdentifier("1.3.6.1.4.1.55555.2")
ECDSA_SHA256_OID = bytes.fromhex("06082a8648ce3d040302")
EC_PUBLIC_KEY_OID = bytes.fromhex("06072a8648ce3d0201")


def name(cn: str, org: str = "Test PKI") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass(frozen=True)
class Node:
    cert: x509.Certificate
    key: PrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def root(cn: str = "Test Root CA") -> Node:
    key = certlab.generate_key("ec-p256")
    cert = build_certificate(subject=name(cn), public_key=key.public_key(), issuer=name(cn), issuer_key=key,
                             days=3650, is_ca=True, path_length=1)
    return Node(cert, key)


def issue(parent: Node, cn: str, *, is_ca: bool = False, key: PrivateKey | None = None,
          sans: tuple[str, ...] = (), not_after: dt.datetime | None = None) -> Node:
    """A certificate signed by ``parent``; with ``not_after`` in the past it starts a year before."""
    key = key or certlab.generate_key("ec-p256")
    ski = parent.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = build_certificate(
        subject=name(cn), public_key=key.public_key(), issuer=parent.cert.subject, issuer_key=parent.key,
        days=365, is_ca=is_ca, path_length=0 if is_ca else None, issuer_ski=ski,
        sans=certlab.names.parse_identities(sans), not_after=not_after,
        not_before=None if not_after is None else not_after - dt.timedelta(days=365),
    )
    return Node(cert, key)


def chain3() -> tuple[Node, Node, Node]:
    """Root, intermediate and leaf (leaf.example.com)."""
    r = root()
    i = issue(r, "Test Intermediate CA", is_ca=True)
    leaf = issue(i, "leaf.example.com", sans=("leaf.example.com",))
    return r, i, leaf


def replace_once(data: bytes, old: bytes, new: bytes, count: int = 1) -> bytes:
    assert data.count(old) >= count, "pattern not found in the DER"
    return data.replace(old, new, count)


def with_duplicate_extension() -> bytes:
    """A certificate whose extensions list the same OID twice (DuplicateExtension on first read)."""
    key = certlab.generate_key("ec-p256")
    cert = build_certificate(
        subject=name("dup.example.com"), public_key=key.public_key(), issuer=name("dup.example.com"), issuer_key=key,
        days=30, extra_extensions=[(x509.UnrecognizedExtension(UNKNOWN_EXT_A, b"\x05\x00"), False),
                                   (x509.UnrecognizedExtension(UNKNOWN_EXT_B, b"\x05\x00"), False)],
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    return replace_once(der, _oid_der(UNKNOWN_EXT_B), _oid_der(UNKNOWN_EXT_A))


def with_unknown_signature_algorithm() -> bytes:
    """ecdsa-with-SHA256 replaced by an OID nobody knows (UnsupportedAlgorithm on first read)."""
    der = certlab.self_signed("alg.example.com", key_type="ec-p256").certificate.public_bytes(serialization.Encoding.DER)
    return replace_once(der, ECDSA_SHA256_OID, ECDSA_SHA256_OID[:-1] + b"\x7f", count=2)


def with_unknown_key_algorithm() -> bytes:
    """The public key's algorithm OID replaced (the key cannot be loaded)."""
    der = certlab.self_signed("key.example.com", key_type="ec-p256").certificate.public_bytes(serialization.Encoding.DER)
    return replace_once(der, EC_PUBLIC_KEY_OID, EC_PUBLIC_KEY_OID[:-1] + b"\x7f")


def _oid_der(oid: x509.ObjectIdentifier) -> bytes:
    parts = [int(p) for p in oid.dotted_string.split(".")]
    body = bytearray([parts[0] * 40 + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        body.extend(reversed(chunk))
    return bytes([0x06, len(body)]) + bytes(body)


def pem_of(der: bytes, label: str = "CERTIFICATE") -> bytes:
    import base64
    import textwrap

    b64 = base64.b64encode(der).decode()
    return (f"-----BEGIN {label}-----\n" + "\n".join(textwrap.wrap(b64, 64)) + f"\n-----END {label}-----\n").encode()
