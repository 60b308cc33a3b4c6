"""Integration actions: use a named credential's certificate and key for real (mTLS callouts, connection
tests, SAML and JWT signing), discover endpoints, and lint the inventory.

Every action resolves the credential, checks its certificate's state, decrypts the key in memory only
and audits the use (never the payload, never key material).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import ssl
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from ..errors import ConflictError, EndpointError, InvalidInputError, NotFoundError
from ..integrations import tls
from ..keys import PrivateKey
from ..models import Action, Credential, Outcome, Status
from ..store import Tx
from .base import InventoryBase

_METHOD = re.compile(r"^[A-Z]{3,10}$")
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class _Use:
    """A resolved signer: the credential (None when named by certificate), its certificate and chain."""

    credential: Credential | None
    certificate: str
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    key: PrivateKey = field(repr=False)
    expired: bool = False

    @property
    def subject(self) -> str:
        return self.credential.name if self.credential else self.certificate

    def details(self) -> dict[str, Any]:
        d: dict[str, Any] = {"certificate": self.certificate}
        if self.credential:
            d["credential"] = self.credential.name
        return d


class IntegrationActions(InventoryBase):
    """Callouts, connection tests and signatures with a named credential; discovery; lint."""

    # --- resolving a credential -------------------------------------------------------------------

    def _credential_row(self, tx: Tx, name: str) -> Credential | None:
        row = tx.one(
            "SELECT n.name, c.name, n.endpoint, n.purpose, n.owner, n.created_at FROM named_credentials n "
            "JOIN certificates c ON c.id = n.certificate_id WHERE n.name = ?", [name])
        if row is None:
            return None
        return Credential(name=row[0], certificate=row[1], endpoint=row[2], purpose=row[3], owner=row[4],
                          created_at=row[5])

    def _resolve(self, tx: Tx, name: str, *, purposes: tuple[str, ...], allow_certificate: bool,
                 allow_expired: bool = False) -> _Use:
        """The credential (or, where allowed, the certificate) called ``name``, ready to use."""
        cred = self._credential_row(tx, name)
        if cred is None:
            if not allow_certificate or not tx.scalar("SELECT 1 FROM certificates WHERE name = ?", [name]):
                also = " and no certificate" if allow_certificate else ""
                raise NotFoundError(f"no named credential{also} called {name!r}")
        elif cred.purpose not in purposes:
            raise InvalidInputError(f"{name} is a {cred.purpose} credential, not {' or '.join(purposes)}")
        cert_name = cred.certificate if cred else name
        row, cert, chain = self._certificate(tx, cert_name)
        what = f"{cert_name} (used by {cred.name})" if cred else cert_name
        if row["status"] == Status.PENDING.value or cert is None:
            raise ConflictError(f"{what} is pending: it has no signed certificate yet")
        if row["status"] != Status.ACTIVE.value:
            raise ConflictError(f"{what} is {row['status']}: it may not be used")
        now = self.now()
        expired = row["not_after"] is not None and row["not_after"] < now
        if expired and not allow_expired:
            raise ConflictError(f"{what} expired on {row['not_after']:%Y-%m-%d %H:%M} UTC: rotate it before using it")
        if row["not_before"] is not None and row["not_before"] > now and not allow_expired:
            raise ConflictError(f"{what} is not valid before {row['not_before']:%Y-%m-%d %H:%M} UTC")
        if row["key_id"] is None:
            raise NotFoundError(f"{what} has no private key in the inventory")
        key = self._load_private_key(tx, int(row["key_id"]))
        return _Use(cred, cert_name, cert, tuple(chain), key, expired)

    def _trust_anchors(self, tx: Tx) -> list[x509.Certificate]:
        """The inventory's trust store: active trusted and internal CA certificates."""
        rows = tx.rows("SELECT der FROM certificates WHERE kind IN ('trusted_ca', 'internal_ca') "
                       "AND status = 'active' AND der IS NOT NULL ORDER BY id")
        return [x509.load_der_x509_certificate(bytes(r[0])) for r in rows]

    @staticmethod
    def _endpoint_of(cred: Credential) -> tls.Endpoint:
        return tls.Endpoint.parse(cred.endpoint)

    # --- mutual TLS -------------------------------------------------------------------------------

    def ssl_context(self, credential: str, *, trust: "str | tls.Trust" = tls.Trust.INVENTORY) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` that presents the credential's certificate, chain and key (loaded from
        memory) and trusts the inventory's trust store (``trust="system"`` or ``"both"`` when asked)."""
        trust = tls.Trust.parse(trust)
        self._authorize(Action.KEY_USED, credential)
        with self.db.read() as tx:
            use = self._resolve(tx, credential, purposes=("mtls",), allow_certificate=False)
            anchors = self._trust_anchors(tx)
        ctx = tls.client_context(identity=(use.cert, use.chain, use.key), trusted=anchors, trust=trust)
        with self.db.write() as tx:
            self._audit(tx, Action.KEY_USED, credential, {**use.details(), "use": "mtls_context", "trust": trust.value})
        return ctx

    def request(
        self,
        credential: str,
        method: str = "GET",
        url: str | None = None,
        *,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        trust: "str | tls.Trust" = tls.Trust.INVENTORY,
    ) -> tls.Response:
        """An HTTPS callout with mutual TLS to the credential's endpoint. ``url`` is a path (``/v1/pay``)
        or a full URL on that endpoint's host and port; certlab sends a certificate only to its endpoint.
        Audited with the credential, endpoint, method and status; never the payload."""
        trust = tls.Trust.parse(trust)
        verb = str(method).strip().upper()
        if not _METHOD.match(verb):
            raise InvalidInputError(f"invalid HTTP method {method!r}")
        self._authorize(Action.CALLOUT, credential)
        with self.db.read() as tx:
            use = self._resolve(tx, credential, purposes=("mtls",), allow_certificate=False)
            anchors = self._trust_anchors(tx)
        assert use.credential is not None
        endpoint, path = _callout_target(use.credential, url)
        data = body.encode("utf-8") if isinstance(body, str) else body
        ctx = tls.client_context(identity=(use.cert, use.chain, use.key), trusted=anchors, trust=trust)
        where = f"https://{endpoint.authority}{path.split('?', 1)[0]}"
        details = {**use.details(), "method": verb, "endpoint": where, "trust": trust.value}
        try:
            resp = tls.https_request(endpoint, ctx, verb, path, body=data, headers=headers, timeout=timeout,
                                     now=self.now(), trust=trust, client_cert=use.cert)
        except tls.ConnectFailure as fail:
            self._record_outcome(Action.CALLOUT, credential, {**details, "problem": fail.problem, "reason": fail.reason},
                                 Outcome.FAILED)
            raise EndpointError(f"callout {credential} to {where} failed: {fail.reason}") from None
        with self.db.write() as tx:
            self._audit(tx, Action.CALLOUT, credential, {**details, "status": resp.status,
                                                         "bytes_sent": len(data or b""), "bytes_received": len(resp.body)})
        return resp

    def test_connection(self, credential: str, *, trust: "str | tls.Trust" = tls.Trust.INVENTORY,
                        timeout: float = 10.0, send_certificate: bool = True) -> tls.HandshakeReport:
        """A real TLS handshake with the credential's endpoint: connected or not, the server's chain and
        its expiry, whether the server asked for and accepted our certificate, and why not. Audited."""
        trust = tls.Trust.parse(trust)
        self._authorize(Action.CONNECTION_TESTED, credential)
        with self.db.read() as tx:
            cred = self._credential_row(tx, credential)
            if cred is None:
                raise NotFoundError(f"no named credential called {credential!r}")
            use: _Use | None = None
            if send_certificate and cred.purpose == "mtls":
                use = self._resolve(tx, credential, purposes=("mtls",), allow_certificate=False, allow_expired=True)
            anchors = self._trust_anchors(tx)
        endpoint = self._endpoint_of(cred)
        identity = (use.cert, use.chain, use.key) if use else None
        ctx = tls.client_context(identity=identity, trusted=anchors, trust=trust)
        report = tls.probe(endpoint, ctx, timeout=timeout, now=self.now(), trust=trust,
                           client_cert=use.cert if use else None)
        if use is not None and use.expired:
            expired_note = f"our certificate {use.certificate} expired on {use.cert.not_valid_after_utc:%Y-%m-%d}"
            report = _with_note(report, expired_note)
        details: dict[str, Any] = {"certificate": cred.certificate, "endpoint": str(endpoint), "connected": report.connected,
                                   "trust": trust.value, "client_cert_sent": report.client_cert_sent}
        if report.server_chain:
            details["server_fingerprint_sha256"] = report.server_chain[0].fingerprint_sha256
        if report.problem:
            details["problem"] = report.problem
        with self.db.write() as tx:
            self._audit(tx, Action.CONNECTION_TESTED, credential, details,
                        Outcome.OK if report.connected else Outcome.FAILED)
        return report


    # --- signing --------------------------------------------------------------------------------------

    def sign_saml(self, name: str, xml: bytes, *, source: str = "assertion") -> bytes:
        """Sign a SAML 2.0 assertion with a saml credential (or a certificate named directly): an
        enveloped RSA-SHA256 / ECDSA-SHA256 signature after the Issuer, certificate in KeyInfo. Audited."""
        from ..integrations import saml

        self._authorize(Action.SIGNED, name)
        saml.parse_xml(xml, source)  # refuse bad input before the key is touched
        with self.db.read() as tx:
            use = self._resolve(tx, name, purposes=("saml",), allow_certificate=True)
        signed = saml.sign_assertion(xml, use.cert, use.key, source=source, signer_name=use.certificate)
        with self.db.write() as tx:
            self._audit(tx, Action.SIGNED, use.subject, {
                **use.details(), "format": "saml", "algorithm": signed.algorithm,
                "assertion_id": signed.assertion_id[:200], "issuer": signed.issuer[:200],
                "signed_sha256": hashlib.sha256(signed.xml).hexdigest(),
            })
        return signed.xml

    def jwt_bearer(self, name: str, *, issuer: str, subject: str, audience: str, lifetime: int = 300) -> str:
        """A JWT bearer assertion (RFC 7523) signed with a jwt credential (or a certificate named directly):
        RS256 / ES256 / ES384 with the certificate's x5t#S256 in the header. Audited without the token."""
        from ..integrations import jwt as jwt_mod

        self._authorize(Action.SIGNED, name)
        with self.db.read() as tx:
            use = self._resolve(tx, name, purposes=("jwt",), allow_certificate=True)
        bearer = jwt_mod.bearer_token(use.cert, use.key, issuer=issuer, subject=subject, audience=audience,
                                      lifetime=lifetime, now=self.now(), signer_name=use.certificate)
        with self.db.write() as tx:
            self._audit(tx, Action.SIGNED, use.subject, {
                **use.details(), "format": "jwt", "algorithm": bearer.algorithm, "iss": bearer.claims["iss"][:200],
                "sub": bearer.claims["sub"][:200], "aud": bearer.claims["aud"][:200], "jti": bearer.claims["jti"],
                "exp": bearer.claims["exp"],
            })
        return bearer.token


def _with_note(report: tls.HandshakeReport, note: str) -> tls.HandshakeReport:
    from dataclasses import replace

    return replace(report, notes=(note, *report.notes))


def _callout_target(cred: Credential, url: str | None) -> tuple[tls.Endpoint, str]:
    base = tls.Endpoint.parse(cred.endpoint)
    if base.scheme not in ("https", "tls"):
        raise InvalidInputError(f"{cred.name}: endpoint {cred.endpoint} is not an https endpoint")
    if url is None:
        return base, base.path
    if url.startswith("/"):
        return base, url
    target = tls.Endpoint.parse(url)
    if target.scheme != "https":
        raise InvalidInputError(f"{url}: callouts use https")
    if (target.host.lower(), target.port) != (base.host.lower(), base.port):
        raise InvalidInputError(f"{url} is not at the endpoint of {cred.name} ({base.authority}): certlab sends a "
                                f"credential's certificate only to its own endpoint")
    return base, target.path
