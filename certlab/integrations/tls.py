"""Mutual TLS: SSL contexts from in-memory keys, and handshakes that say why they failed.

Loading the private key: ``SSLContext.load_cert_chain`` only reads files. certlab never gives it the
clear key. It serialises the key as encrypted PKCS#8 under a random one-time password (kept only in
this process's memory), and writes certificate, chain and encrypted key to an anonymous in-memory file
(``memfd_create``: no name in any file system, gone when closed), which OpenSSL reads through
``/proc/self/fd/N``. Where memfd is missing (not Linux), the same encrypted bytes go to a 0600 file in a
private 0700 temporary directory, deleted as soon as OpenSSL has read it. Either way only ciphertext
ever leaves memory, and its password dies with the call.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import secrets
import select
import socket
import ssl
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..certs import CertInfo
from ..errors import ChainError, InvalidInputError
from ..keys import PrivateKey
from .trust import Trust as Trust  # re-exported: certlab.integrations.tls.Trust

DEFAULT_PORTS = {"https": 443, "wss": 443, "ldaps": 636, "smtps": 465, "imaps": 993, "pop3s": 995, "ftps": 990}
_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9._-]+)):(?P<port>\d{1,5})$")
_INTERNAL_SUFFIXES = (".local", ".internal", ".lan", ".localdomain", ".corp", ".home.arpa", ".intranet", ".test")


@dataclass(frozen=True)
class Endpoint:
    """Where a peer listens: scheme, host, port and (for URLs) a path."""

    host: str
    port: int
    scheme: str = "tls"
    path: str = "/"

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        raw = str(text).strip()
        bad = InvalidInputError(f"invalid endpoint {text!r}: give https://host[:port]/path or HOST:PORT")
        if "://" in raw:
            try:
                parts = urlsplit(raw)
                port = parts.port
            except ValueError:
                raise bad from None
            scheme = parts.scheme.lower()
            if not parts.hostname:
                raise bad
            if port is None:
                if scheme not in DEFAULT_PORTS:
                    raise InvalidInputError(f"endpoint {text!r}: give a port for scheme {scheme!r}")
                port = DEFAULT_PORTS[scheme]
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            endpoint = cls(parts.hostname, port, scheme, path)
        else:
            m = _HOST_PORT.match(raw)
            if not m:
                raise bad
            endpoint = cls(m.group("v6") or m.group("host"), int(m.group("port")))
        if not 1 <= endpoint.port <= 65535:
            raise bad
        return endpoint

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def is_http(self) -> bool:
        return self.scheme == "https"

    def url(self, path: str | None = None) -> str:
        return f"https://{self.authority}{path if path is not None else self.path}"

    def __str__(self) -> str:
        return self.url() if self.is_http else self.authority

    @property
    def is_external(self) -> bool:
        """Whether the host is outside the organisation: not loopback, private, link-local or an internal name."""
        host = self.host.lower().rstrip(".")
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return not (host == "localhost" or "." not in host or host.endswith(_INTERNAL_SUFFIXES))
        return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved)


def pem_of(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def load_identity(ctx: ssl.SSLContext, cert: x509.Certificate, chain: Sequence[x509.Certificate],
                  key: PrivateKey) -> None:
    """Load a certificate, its chain and its private key into ``ctx`` without the clear key touching disk."""
    password = secrets.token_urlsafe(32).encode()
    encrypted = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    data = pem_of([cert, *chain]) + encrypted
    try:
        if hasattr(os, "memfd_create"):
            _load_from_memfd(ctx, data, password)
        else:  # not Linux
            _load_from_private_file(ctx, data, password)
    except ssl.SSLError as exc:
        raise ChainError(f"the certificate and its key cannot be loaded for TLS ({exc.reason or exc})") from None


def _load_from_memfd(ctx: ssl.SSLContext, data: bytes, password: bytes) -> None:
    fd = os.memfd_create("certlab-identity", os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        ctx.load_cert_chain(f"/proc/self/fd/{fd}", password=password)
    finally:
        os.close(fd)


def _load_from_private_file(ctx: ssl.SSLContext, data: bytes, password: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="certlab-") as tmp:
        path = Path(tmp) / "identity.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            ctx.load_cert_chain(str(path), password=password)
        finally:
            path.unlink(missing_ok=True)


def client_context(
    *,
    identity: tuple[x509.Certificate, Sequence[x509.Certificate], PrivateKey] | None,
    trusted: Sequence[x509.Certificate],
    trust: Trust = Trust.INVENTORY,
) -> ssl.SSLContext:
    """A verifying client context (TLS 1.2 or newer, hostname checked) with an optional client identity."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if trust in (Trust.SYSTEM, Trust.BOTH):
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if trust in (Trust.INVENTORY, Trust.BOTH) and trusted:
        ctx.load_verify_locations(cadata=pem_of(trusted).decode("ascii"))
    if identity is not None:
        load_identity(ctx, *identity)
    return ctx


def _discovery_context() -> ssl.SSLContext:
    """A context that accepts any server chain: for reading what a server serves, never for sending data."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with warnings.catch_warnings():  # old servers are worth discovering too
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except (ssl.SSLError, ValueError):  # pragma: no cover - depends on the OpenSSL build
        pass
    return ctx


# --- watching a handshake --------------------------------------------------------------------------

_ALERT, _HANDSHAKE = 21, 22
_CERTIFICATE, _CERTIFICATE_REQUEST, _NEW_SESSION_TICKET = 11, 13, 4
ALERTS = {
    40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked",
    45: "certificate_expired", 46: "certificate_unknown", 48: "unknown_ca", 49: "access_denied",
    51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
    112: "unrecognized_name", 116: "certificate_required",
}


class _Trace:
    """Notes what the TLS handshake says (OpenSSL's message callback): requests, tickets, alerts."""

    def __init__(self) -> None:
        self.cert_requested = False
        self.cert_sent = False
        self.ticket = False
        self.alert_received: int | None = None

    def __call__(self, conn: Any, direction: str, version: Any, content_type: Any, msg_type: Any, data: Any) -> None:
        ct, mt = int(content_type), int(msg_type)
        if direction == "read":
            if ct == _HANDSHAKE and mt == _CERTIFICATE_REQUEST:
                self.cert_requested = True
            elif ct == _HANDSHAKE and mt == _NEW_SESSION_TICKET:
                self.ticket = True
            elif ct == _ALERT and mt != 0 and self.alert_received is None:  # 0: close_notify
                self.alert_received = mt
        elif ct == _HANDSHAKE and mt == _CERTIFICATE:
            self.cert_sent = True


def _watch(ctx: ssl.SSLContext) -> _Trace:
    trace = _Trace()
    ctx._msg_callback = trace  # type: ignore[attr-defined]  # CPython's hook over SSL_CTX_set_msg_callback
    return trace


@dataclass(frozen=True)
class PeerCertificate:
    """One certificate a server served, as a report shows it."""

    subject: str
    issuer: str
    not_after: dt.datetime
    days_left: int
    fingerprint_sha256: str
    sans: tuple[str, ...]

    @classmethod
    def of(cls, cert: x509.Certificate, now: dt.datetime) -> PeerCertificate:
        info = CertInfo.of(cert, "server certificate")
        days = (info.not_after - now).days
        return cls(info.subject, info.issuer, info.not_after, days, info.fingerprint_sha256, info.sans)

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "issuer": self.issuer,
                "not_after": self.not_after.isoformat() + "Z", "days_left": self.days_left,
                "fingerprint_sha256": self.fingerprint_sha256, "sans": list(self.sans)}


@dataclass(frozen=True)
class HandshakeReport:
    """What a real handshake with an endpoint showed."""

    endpoint: str
    connected: bool
    tls_version: str | None = None
    cipher: str | None = None
    server_chain: tuple[PeerCertificate, ...] = ()
    server_trusted: bool | None = None
    client_cert_requested: bool | None = None
    client_cert_sent: bool = False
    client_cert_accepted: bool | None = None
    http_status: int | None = None
    problem: str | None = None
    reason: str | None = None
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint, "connected": self.connected, "tls_version": self.tls_version,
            "cipher": self.cipher, "server_chain": [c.to_json() for c in self.server_chain],
            "server_trusted": self.server_trusted, "client_cert_requested": self.client_cert_requested,
            "client_cert_sent": self.client_cert_sent, "client_cert_accepted": self.client_cert_accepted,
            "http_status": self.http_status, "problem": self.problem, "reason": self.reason,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ServedChain:
    """What a server presented, validated or not."""

    certificates: tuple[x509.Certificate, ...]
    tls_version: str | None
    cipher: str | None
    client_cert_requested: bool


class ConnectFailure(Exception):
    """A TCP-level failure: ``problem`` is refused, timeout or unreachable."""

    def __init__(self, problem: str, reason: str) -> None:
        super().__init__(reason)
        self.problem, self.reason = problem, reason


def connect(endpoint: Endpoint, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except ConnectionRefusedError:
        raise ConnectFailure("refused", f"{endpoint.authority} refused the connection (nothing listens there)") from None
    except TimeoutError:
        raise ConnectFailure("timeout", f"{endpoint.authority} did not answer within {timeout:g} s") from None
    except socket.gaierror as exc:
        raise ConnectFailure("unreachable", f"{endpoint.host} cannot be resolved ({exc.strerror})") from None
    except OSError as exc:
        raise ConnectFailure("unreachable", f"{endpoint.authority} cannot be reached ({exc.strerror or exc})") from None


def _chain_of(tls: ssl.SSLSocket) -> tuple[x509.Certificate, ...]:
    """The chain the server sent, in its order, whether or not it validated."""
    raw: Sequence[Any] | None = None
    getter = getattr(tls, "get_unverified_chain", None)  # public from Python 3.13
    if getter is None and tls._sslobj is not None:  # type: ignore[attr-defined]
        getter = getattr(tls._sslobj, "get_unverified_chain", None)  # type: ignore[attr-defined]
    if getter is not None:
        raw = getter()
    if not raw:
        leaf = tls.getpeercert(binary_form=True)
        return (x509.load_der_x509_certificate(leaf),) if leaf else ()
    out = []
    for item in raw:
        if isinstance(item, (bytes, bytearray)):
            out.append(x509.load_der_x509_certificate(bytes(item)))
        else:
            out.append(x509.load_pem_x509_certificate(item.public_bytes().encode("ascii")))
    return tuple(out)


def fetch_chain(endpoint: Endpoint, timeout: float) -> ServedChain:
    """Handshake without validating and return the served chain. Raises ConnectFailure or ssl.SSLError."""
    ctx = _discovery_context()
    trace = _watch(ctx)
    sock = connect(endpoint, timeout)
    try:
        server_name = None if _is_ip(endpoint.host) else endpoint.host
        try:
            with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
                return ServedChain(_chain_of(tls), tls.version(), (tls.cipher() or (None,))[0], trace.cert_requested)
        except TimeoutError:
            raise ConnectFailure("timeout", f"{endpoint.authority}: the TLS handshake did not finish within {timeout:g} s") from None
        except ssl.SSLError as exc:
            raise ConnectFailure("tls_error", f"{endpoint.authority}: TLS handshake failed ({_ssl_reason(exc)})") from None
        except OSError as exc:
            raise ConnectFailure("tls_error", f"{endpoint.authority}: the connection broke during the TLS handshake "
                                              f"({exc.strerror or type(exc).__name__})") from None
    finally:
        sock.close()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _ssl_reason(exc: ssl.SSLError) -> str:
    return str(exc.reason or exc.strerror or exc).lower().replace("_", " ")


_VERIFY_PROBLEMS = {
    10: "expired", 9: "not_yet_valid", 62: "hostname_mismatch", 64: "hostname_mismatch", 23: "revoked",
    2: "unknown_ca", 18: "unknown_ca", 19: "unknown_ca", 20: "unknown_ca", 21: "unknown_ca",
}


def _explain_verify(exc: ssl.SSLCertVerificationError, endpoint: Endpoint,
                    chain: Sequence[x509.Certificate], now: dt.datetime, trust: Trust) -> tuple[str, str]:
    code = exc.verify_code
    problem = _VERIFY_PROBLEMS.get(code, "untrusted")
    leaf = CertInfo.of(chain[0], "server certificate") if chain else None
    if problem == "expired":
        expired = next((CertInfo.of(c) for c in chain if c.not_valid_after_utc.replace(tzinfo=None) < now), leaf)
        when = expired.not_after.strftime("%Y-%m-%d %H:%M UTC") if expired else "?"
        who = expired.subject if expired else "a certificate in the chain"
        return problem, f"the server's certificate expired: {who} expired on {when}"
    if problem == "not_yet_valid" and leaf:
        return problem, f"the server's certificate {leaf.subject} is not valid before {leaf.not_before:%Y-%m-%d %H:%M} UTC"
    if problem == "hostname_mismatch":
        names = ", ".join(leaf.sans) if leaf and leaf.sans else (leaf.subject if leaf else "?")
        return problem, f"hostname mismatch: the server's certificate is for {names}, not {endpoint.host}"
    if problem == "unknown_ca":
        issuer = leaf.issuer if leaf else "?"
        where = {"inventory": "the inventory's trust store", "system": "the system's trust store",
                 "both": "the inventory's or the system's trust store"}[trust.value]
        top = CertInfo.of(chain[-1]) if chain else None
        anchor = top.issuer if top else issuer
        return problem, (f"unknown CA: the server's certificate (issued by {issuer}) does not chain to {where}; "
                         f"import {anchor} with 'certlab import CA.pem --trusted' if you trust it")
    if problem == "revoked":
        return problem, "the server's certificate is revoked"
    return problem, f"the server's certificate is not trusted ({exc.verify_message})"


def _explain_alert(alert: int | None, exc: BaseException, *, sent: bool, requested: bool,
                   our_subject: str | None, our_issuer: str | None) -> tuple[str, str]:
    name = ALERTS.get(alert or -1, "")
    text = _ssl_reason(exc) if isinstance(exc, ssl.SSLError) else str(exc)
    if requested and not sent and name in ("certificate_required", "handshake_failure", "bad_certificate", ""):
        return "client_cert_required", "the server requires a client certificate and none was sent"
    if name == "unknown_ca" or "unknown ca" in text:
        return "client_cert_unknown_ca", (f"the server does not trust our client certificate: its issuer "
                                          f"{our_issuer or '?'} is unknown to the server (alert unknown_ca)")
    if name == "certificate_expired" or "certificate expired" in text:
        return "client_cert_expired", f"the server refused our client certificate {our_subject or ''} as expired (alert certificate_expired)"
    if name == "certificate_revoked":
        return "client_cert_revoked", "the server refused our client certificate as revoked (alert certificate_revoked)"
    if name == "certificate_required" or "certificate required" in text:
        return "client_cert_required", "the server requires a client certificate and none was sent"
    if name in ("bad_certificate", "unsupported_certificate", "certificate_unknown", "access_denied", "decrypt_error"):
        return "client_cert_rejected", f"the server rejected our client certificate (alert {name})"
    if name:
        return "tls_error", f"the server ended the handshake (alert {name})"
    return "tls_error", f"TLS handshake failed ({text})"


def probe(endpoint: Endpoint, ctx: ssl.SSLContext, *, timeout: float, now: dt.datetime, trust: Trust,
          client_cert: x509.Certificate | None) -> HandshakeReport:
    """A real handshake with ``ctx`` (verifying, with our certificate if any), then one exchange to see
    whether the server kept the session. Never raises for network trouble: the report says what happened."""
    trace = _watch(ctx)
    ours = CertInfo.of(client_cert) if client_cert is not None else None
    name = str(endpoint)
    try:
        sock = connect(endpoint, timeout)
    except ConnectFailure as fail:
        return HandshakeReport(name, False, problem=fail.problem, reason=fail.reason)
    notes: list[str] = []
    try:
        try:
            tls = ctx.wrap_socket(sock, server_hostname=endpoint.host)
        except ssl.SSLCertVerificationError as exc:
            served = _served_or_empty(endpoint, timeout)
            problem, reason = _explain_verify(exc, endpoint, served.certificates if served else (), now, trust)
            return HandshakeReport(
                name, False, served.tls_version if served else None, None,
                tuple(PeerCertificate.of(c, now) for c in (served.certificates if served else ())),
                server_trusted=False, client_cert_requested=served.client_cert_requested if served else None,
                client_cert_sent=False, problem=problem, reason=reason,
                notes=("our client certificate was not sent to an untrusted server",) if ours else (),
            )
        except TimeoutError:
            return HandshakeReport(name, False, problem="timeout",
                                   reason=f"{endpoint.authority}: the TLS handshake did not finish within {timeout:g} s")
        except (ssl.SSLError, OSError) as exc:
            served = _served_or_empty(endpoint, timeout)
            problem, reason = _explain_alert(trace.alert_received, exc, sent=trace.cert_sent and ours is not None,
                                             requested=trace.cert_requested, our_subject=ours.subject if ours else None,
                                             our_issuer=ours.issuer if ours else None)
            return HandshakeReport(
                name, False, served.tls_version if served else None, None,
                tuple(PeerCertificate.of(c, now) for c in (served.certificates if served else ())),
                server_trusted=True if trace.cert_requested or trace.alert_received else None,
                client_cert_requested=trace.cert_requested, client_cert_sent=trace.cert_sent and ours is not None,
                client_cert_accepted=False if ours is not None and trace.cert_requested else None,
                problem=problem, reason=reason,
            )
        with tls:
            chain = tuple(PeerCertificate.of(c, now) for c in _chain_of(tls))
            version, cipher = tls.version(), (tls.cipher() or (None,))[0]
            status, answered, failure = _exchange(tls, endpoint, timeout, trace)
    finally:
        sock.close()
    requested = trace.cert_requested
    sent = requested and ours is not None
    if failure is not None:
        problem, reason = _explain_alert(trace.alert_received, failure, sent=sent, requested=requested,
                                         our_subject=ours.subject if ours else None,
                                         our_issuer=ours.issuer if ours else None)
        return HandshakeReport(name, False, version, cipher, chain, True, requested, sent,
                               False if sent else None, status, problem, reason)
    accepted: bool | None = None
    if sent:
        accepted = True if (answered or trace.ticket or version == "TLSv1.2") else None
        if accepted is None:
            notes.append("the server neither answered nor refused within the wait; acceptance is not known")
    if not requested:
        notes.append("the server did not ask for a client certificate")
    return HandshakeReport(name, True, version, cipher, chain, True, requested, sent, accepted, status,
                           notes=tuple(notes))


def _settle(tls: ssl.SSLSocket, trace: _Trace, wait: float) -> tuple[BaseException | None, bool]:
    """Read what the server sends right after the handshake (TLS 1.3 session tickets, or the alert that
    refuses our certificate) before writing anything, so that a refusal is not lost to a reset."""
    if tls.version() != "TLSv1.3" or not trace.cert_requested:
        return None, False
    deadline = time.monotonic() + wait
    tls.setblocking(False)
    try:
        while trace.alert_received is None and not trace.ticket:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([tls], [], [], left)[0]:
                return None, False
            try:
                if tls.recv(1):
                    return None, True  # the server speaks first: it kept the session
                return ConnectionResetError("the server closed the connection right after the handshake"), False
            except ssl.SSLWantReadError:
                continue
            except (ssl.SSLError, OSError) as exc:
                return exc, False
        return None, False
    finally:
        tls.setblocking(True)


def _served_or_empty(endpoint: Endpoint, timeout: float) -> ServedChain | None:
    try:
        return fetch_chain(endpoint, timeout)
    except (ConnectFailure, ssl.SSLError, OSError):
        return None


def _exchange(tls: ssl.SSLSocket, endpoint: Endpoint, timeout: float,
              trace: _Trace) -> tuple[int | None, bool, BaseException | None]:
    """After the handshake: under TLS 1.3 a server refuses a client certificate only now, so ask once
    (HEAD for https endpoints, a plain read otherwise) and see whether an alert comes back."""
    settled, spoke = _settle(tls, trace, min(timeout, 3.0))
    if settled is not None:
        return None, False, settled
    if spoke:
        return None, True, None
    tls.settimeout(min(timeout, 3.0))
    if endpoint.is_http:
        try:
            tls.sendall(f"HEAD {endpoint.path} HTTP/1.1\r\nHost: {endpoint.authority}\r\nConnection: close\r\n"
                        f"User-Agent: certlab\r\n\r\n".encode("ascii", "replace"))
        except (ssl.SSLError, OSError):
            pass  # the server may have refused already: its alert is read below
    try:
        data = tls.recv(256)
    except TimeoutError:
        return None, False, None
    except (ssl.SSLError, OSError) as exc:
        if trace.alert_received is not None:
            return None, False, exc
        if isinstance(exc, ssl.SSLError) and "eof" not in _ssl_reason(exc):
            return None, False, exc
        return None, False, ConnectionResetError("the server closed the connection right after the handshake")
    m = re.match(rb"HTTP/\d(?:\.\d)? (\d{3})", data or b"")
    return (int(m.group(1)) if m else None), bool(data), None


# --- callouts ----------------------------------------------------------------------------------------

MAX_RESPONSE_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Response:
    """An HTTP answer to a callout."""

    url: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = field(repr=False)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        import json

        return json.loads(self.body)


def https_request(endpoint: Endpoint, ctx: ssl.SSLContext, method: str, path: str, *, body: bytes | None,
                  headers: dict[str, str] | None, timeout: float, now: dt.datetime, trust: Trust,
                  client_cert: x509.Certificate | None, max_bytes: int = MAX_RESPONSE_BYTES) -> Response:
    """One HTTPS request over ``ctx``; network and TLS failures raise ConnectFailure with the reason."""
    import http.client

    trace = _watch(ctx)
    ours = CertInfo.of(client_cert) if client_cert is not None else None
    conn = http.client.HTTPSConnection(endpoint.host, endpoint.port, context=ctx, timeout=timeout)
    url = endpoint.url(path)
    diag = (endpoint, ctx, timeout, now, trust)
    try:
        try:
            conn.connect()
        except ssl.SSLCertVerificationError as exc:
            served = _served_or_empty(endpoint, timeout)
            raise ConnectFailure(*_explain_verify(exc, endpoint, served.certificates if served else (), now, trust)) from None
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as exc:
            raise ConnectFailure(*_alert_failure(trace, exc, ours, diagnose=diag)) from None
        except TimeoutError:
            raise ConnectFailure("timeout", f"{endpoint.authority} did not answer within {timeout:g} s") from None
        except ConnectionRefusedError:
            raise ConnectFailure("refused", f"{endpoint.authority} refused the connection (nothing listens there)") from None
        except socket.gaierror as exc:
            raise ConnectFailure("unreachable", f"{endpoint.host} cannot be resolved ({exc.strerror})") from None
        except OSError as exc:
            raise ConnectFailure("unreachable", f"{endpoint.authority} cannot be reached ({exc.strerror or exc})") from None
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read(max_bytes + 1)
        except ssl.SSLError as exc:
            raise ConnectFailure(*_alert_failure(trace, exc, ours, diagnose=diag)) from None
        except TimeoutError:
            raise ConnectFailure("timeout", f"{url}: no answer within {timeout:g} s") from None
        except (http.client.HTTPException, OSError) as exc:
            if trace.alert_received is not None:
                raise ConnectFailure(*_alert_failure(trace, exc, ours, diagnose=diag)) from None
            raise ConnectFailure("protocol", f"{url}: the exchange failed ({type(exc).__name__}: {exc})") from None
        if len(data) > max_bytes:
            raise ConnectFailure("too_large", f"{url}: the answer is larger than {max_bytes // 2**20} MiB")
        return Response(url, resp.status, resp.reason, tuple(resp.getheaders()), data)
    finally:
        conn.close()


def _alert_failure(trace: _Trace, exc: BaseException, ours: CertInfo | None, *,
                   diagnose: tuple[Endpoint, ssl.SSLContext, float, dt.datetime, Trust] | None = None) -> tuple[str, str]:
    """Why the server ended the session. Without an alert to go by (a reset can swallow it), one more
    handshake that listens before it speaks finds out."""
    if trace.alert_received is None and diagnose is not None:
        endpoint, ctx, timeout, now, trust = diagnose
        report = probe(endpoint, ctx, timeout=timeout, now=now, trust=trust,
                       client_cert=None if ours is None else x509.load_der_x509_certificate(ours.der))
        if report.problem:
            return report.problem, report.reason or report.problem
    return _explain_alert(trace.alert_received, exc, sent=trace.cert_sent and ours is not None,
                          requested=trace.cert_requested, our_subject=ours.subject if ours else None,
                          our_issuer=ours.issuer if ours else None)
