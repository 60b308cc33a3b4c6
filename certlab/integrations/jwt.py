"""JWT bearer assertions (RFC 7523, the OAuth 2.0 JWT Bearer flow) signed with PyJWT.

RS256 for RSA keys, ES256 / ES384 / ES512 for EC P-256 / P-384 / P-521 keys; the header carries the
certificate's ``x5t#S256`` thumbprint so the authorisation server can pick the right certificate.
Ed25519 keys are refused: the OAuth servers these assertions go to (Salesforce, SAP, Azure AD, ...)
accept RSA and ECDSA only.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import jwt as pyjwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ..errors import InvalidInputError
from ..keys import PrivateKey

MAX_LIFETIME = 86400
DEFAULT_LIFETIME = 300
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


@dataclass(frozen=True)
class BearerToken:
    token: str
    algorithm: str
    header: dict[str, Any]
    claims: dict[str, Any]


def algorithm_for(key: PrivateKey, signer_name: str) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in _EC_ALGORITHMS:
        return _EC_ALGORITHMS[key.curve.name]
    kind = key.curve.name if isinstance(key, ec.EllipticCurvePrivateKey) else type(key).__name__.replace("PrivateKey", "").strip("_")
    raise InvalidInputError(f"{signer_name}: a {kind} key cannot sign JWT bearer assertions: use an RSA or EC P-256/P-384 key")


def x5t_s256(cert: x509.Certificate) -> str:
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _claim(value: str, what: str) -> str:
    text = str(value or "").strip()
    if not text or len(text) > 2048 or any(ord(c) < 32 for c in text):
        raise InvalidInputError(f"--{what}: give a non-empty value of at most 2048 printable characters")
    return text


def bearer_token(cert: x509.Certificate, key: PrivateKey, *, issuer: str, subject: str, audience: str,
                 lifetime: int = DEFAULT_LIFETIME, now: dt.datetime, signer_name: str = "the certificate") -> BearerToken:
    """Sign iss/sub/aud/iat/nbf/exp/jti with the key; ``now`` is naive UTC."""
    if isinstance(lifetime, bool) or not isinstance(lifetime, int) or not 1 <= lifetime <= MAX_LIFETIME:
        raise InvalidInputError(f"lifetime must be whole seconds in 1..{MAX_LIFETIME}, not {lifetime!r}")
    algorithm = algorithm_for(key, signer_name)
    iat = int(now.replace(tzinfo=dt.UTC).timestamp())
    claims = {"iss": _claim(issuer, "iss"), "sub": _claim(subject, "sub"), "aud": _claim(audience, "aud"),
              "iat": iat, "nbf": iat, "exp": iat + lifetime, "jti": str(uuid.uuid4())}
    header = {"typ": "JWT", "alg": algorithm, "x5t#S256": x5t_s256(cert)}
    token = pyjwt.encode(claims, key, algorithm=algorithm, headers=header)
    return BearerToken(token, algorithm, header, claims)
