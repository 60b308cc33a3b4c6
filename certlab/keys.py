"""Key types, key generation and describing a public key."""

from __future__ import annotations

import enum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from .errors import InvalidInputError

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


class KeyType(enum.Enum):
    """The key types certlab generates. The value is the name users type and see."""

    RSA_2048 = "rsa-2048"
    RSA_3072 = "rsa-3072"
    RSA_4096 = "rsa-4096"
    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"
    ED25519 = "ed25519"

    @classmethod
    def parse(cls, value: str | KeyType) -> KeyType:
        if isinstance(value, KeyType):
            return value
        text = str(value).strip().lower()
        for member in cls:
            if member.value == text:
                return member
        choices = ", ".join(m.value for m in cls)
        raise InvalidInputError(f"unsupported key type {value!r}: choose one of {choices}")

    @property
    def algorithm(self) -> str:
        return self.value.split("-")[0]


_CURVES: dict[KeyType, ec.EllipticCurve] = {
    KeyType.EC_P256: ec.SECP256R1(),
    KeyType.EC_P384: ec.SECP384R1(),
}
_CURVE_LABELS = {"secp256r1": "ec-p256", "secp384r1": "ec-p384", "secp521r1": "ec-p521"}


def generate_key(key_type: KeyType | str = KeyType.RSA_2048) -> PrivateKey:
    """Make a new private key of the given type."""
    kt = KeyType.parse(key_type)
    if kt.algorithm == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kt.value.split("-")[1]))
    if kt in _CURVES:
        return ec.generate_private_key(_CURVES[kt])
    return ed25519.Ed25519PrivateKey.generate()


def describe_public_key(key: object) -> tuple[str, int, str]:
    """(algorithm, size in bits, label such as ``rsa-2048``) of a public key of any kind."""
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", key.key_size, f"rsa-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        label = _CURVE_LABELS.get(key.curve.name, f"ec-{key.curve.name}")
        return "ec", key.curve.key_size, label
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", 256, "ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "ed448", 456, "ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return "dsa", key.key_size, f"dsa-{key.key_size}"
    return "unknown", 0, "unknown"


def signature_hash_for(key: PrivateKey) -> hashes.HashAlgorithm | None:
    """The hash certlab signs with: SHA-256 for RSA and ECDSA, none for Ed25519 (it has its own)."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    return hashes.SHA256()


def supported_private_key(key: object, source: str) -> PrivateKey:
    """Accept only the private key kinds certlab can store and use."""
    if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
        return key
    raise InvalidInputError(f"{source}: unsupported private key type {type(key).__name__}")


def same_public_key(a: object, b: object) -> bool:
    from cryptography.hazmat.primitives import serialization

    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    try:
        return bool(a.public_bytes(enc, fmt) == b.public_bytes(enc, fmt))  # type: ignore[attr-defined]
    except (AttributeError, ValueError, TypeError):
        return False
