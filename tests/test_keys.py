"""Key types, generation and description of public keys."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from certlab import InvalidInputError, KeyType, generate_key
from certlab.keys import describe_public_key, same_public_key, signature_hash_for, supported_private_key


@pytest.mark.parametrize(
    ("text", "member"),
    [("rsa-2048", KeyType.RSA_2048), ("RSA-3072", KeyType.RSA_3072), (" rsa-4096 ", KeyType.RSA_4096),
     ("ec-p256", KeyType.EC_P256), ("ec-p384", KeyType.EC_P384), ("ed25519", KeyType.ED25519)],
)
def test_parse_accepts_every_supported_type(text: str, member: KeyType) -> None:
    assert KeyType.parse(text) is member
    assert KeyType.parse(member) is member


@pytest.mark.parametrize("bad", ["rsa-1024", "rsa", "ec-p521", "dsa-2048", "ed448", "", "RSA2048"])
def test_parse_refuses_unsupported_types_naming_the_choices(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="unsupported key type") as err:
        KeyType.parse(bad)
    assert "rsa-2048" in str(err.value) and "ed25519" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_generate_ec_and_ed25519_keys_of_the_requested_kind() -> None:
    p256 = generate_key("ec-p256")
    assert isinstance(p256, ec.EllipticCurvePrivateKey) and p256.curve.name == "secp256r1"
    p384 = generate_key(KeyType.EC_P384)
    assert isinstance(p384, ec.EllipticCurvePrivateKey) and p384.curve.name == "secp384r1"
    assert isinstance(generate_key("ed25519"), ed25519.Ed25519PrivateKey)


@pytest.mark.slow
@pytest.mark.parametrize("bits", [3072, 4096])
def test_generate_large_rsa_keys(bits: int) -> None:
    key = generate_key(f"rsa-{bits}")
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == bits
    assert key.public_key().public_numbers().e == 65537


def test_default_key_is_rsa_2048(rsa_key: rsa.RSAPrivateKey) -> None:
    key = generate_key()
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert describe_public_key(rsa_key.public_key()) == ("rsa", 2048, "rsa-2048")


def test_describe_public_key_labels() -> None:
    assert describe_public_key(generate_key("ec-p256").public_key()) == ("ec", 256, "ec-p256")
    assert describe_public_key(generate_key("ec-p384").public_key()) == ("ec", 384, "ec-p384")
    assert describe_public_key(generate_key("ed25519").public_key()) == ("ed25519", 256, "ed25519")
    assert describe_public_key(ec.generate_private_key(ec.SECP521R1()).public_key())[2] == "ec-p521"
    assert describe_public_key(ed448.Ed448PrivateKey.generate().public_key())[2] == "ed448"
    assert describe_public_key(object()) == ("unknown", 0, "unknown")


def test_signatures_use_sha256_except_ed25519(rsa_key: rsa.RSAPrivateKey) -> None:
    assert isinstance(signature_hash_for(rsa_key), hashes.SHA256)
    assert isinstance(signature_hash_for(generate_key("ec-p384")), hashes.SHA256)
    assert signature_hash_for(generate_key("ed25519")) is None


def test_supported_private_key_refuses_other_kinds() -> None:
    key = generate_key("ec-p256")
    assert supported_private_key(key, "x.pem") is key
    with pytest.raises(InvalidInputError, match=r"^x\.pem: unsupported private key type"):
        supported_private_key(ed448.Ed448PrivateKey.generate(), "x.pem")
    with pytest.raises(InvalidInputError, match="x.pem"):
        supported_private_key(dsa.generate_private_key(1024), "x.pem")


def test_same_public_key() -> None:
    a, b = generate_key("ec-p256"), generate_key("ec-p256")
    again = serialization.load_der_public_key(
        a.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert same_public_key(a.public_key(), again)
    assert not same_public_key(a.public_key(), b.public_key())
    assert not same_public_key(a.public_key(), "not a key")
