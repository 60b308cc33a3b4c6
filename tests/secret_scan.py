"""Finding private keys where they must not be: the byte strings that would betray a key's secret part,
and a scanner that looks for them (and for any private-key PEM) in collected texts."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import certlab
from certlab import Actor, Role
from certlab.keys import PrivateKey


def _secrets(key: PrivateKey) -> dict[str, bytes]:
    """The secret numbers of a key, as big-endian bytes."""
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        values = {"d": n.d, "p": n.p, "q": n.q}
        return {k: v.to_bytes((v.bit_length() + 7) // 8, "big") for k, v in values.items()}
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        return {"ec": key.private_numbers().private_value.to_bytes(size, "big")}
    return {"ed25519": key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                         serialization.NoEncryption())}


def _needles(key: PrivateKey) -> dict[str, bytes]:
    """Byte strings that would betray the key's secret part (never its public part): the secret numbers
    raw, in hex and base64, and pieces of the base64 (PEM) encodings that cover only secret bytes."""
    out: dict[str, bytes] = {}
    secrets = _secrets(key)
    for label, raw in secrets.items():
        out[f"{label}-raw"] = raw[-20:]
        out[f"{label}-hex"] = raw[-20:].hex().encode()
        out[f"{label}-HEX"] = raw[-20:].hex().upper().encode()
        out[f"{label}-b64"] = base64.b64encode(raw)[4:24]
    encodings = {"pkcs8": key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())}
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        encodings["traditional"] = key.private_bytes(serialization.Encoding.DER,
                                                     serialization.PrivateFormat.TraditionalOpenSSL,
                                                     serialization.NoEncryption())
    for enc, der in encodings.items():
        b64 = base64.b64encode(der)
        for label, raw in secrets.items():
            at = der.find(raw)
            assert at >= 0
            start = -(-at // 3) * 3  # the first base64 group that starts inside the secret
            for i, offset in enumerate((start, start + 12)):  # two pieces: a PEM line break splits one at most
                if offset + 9 <= at + len(raw):
                    out[f"{enc}-{label}-pem-{i}"] = b64[offset // 3 * 4: offset // 3 * 4 + 12]
    return out


class Scanner:
    """Collects every key the inventory held during the run, and every place to look."""

    def __init__(self) -> None:
        self.keys: dict[str, PrivateKey] = {}
        self.texts: dict[str, bytes] = {}

    def add_key(self, label: str, key: PrivateKey) -> None:
        self.keys[label] = key

    def harvest(self, db: Path) -> None:
        inv = certlab.open(db, actor=Actor("scanner", Role.ADMIN))
        with inv.db.read() as tx:
            for (key_id,) in tx.rows("SELECT id FROM private_keys"):
                key = inv._load_private_key(tx, int(key_id))
                spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
                self.keys[spki.hex()[-32:]] = key

    def add_text(self, where: str, data: bytes | str) -> None:
        self.texts[where] = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data

    def leaks(self) -> list[str]:
        found = []
        for where, hay in self.texts.items():
            if re.search(rb"-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----", hay):
                found.append(f"{where}: a private key PEM")
            for label, key in self.keys.items():
                for what, needle in _needles(key).items():
                    if needle in hay:
                        found.append(f"{where}: key {label} ({what})")
        return found
