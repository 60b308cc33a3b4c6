"""Real peers for integration tests: a small test PKI and TLS servers bound to 127.0.0.1 only."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

import certlab
from certlab.certs import Issued, Purpose, build_certificate, utcnow


def x509_name(cn: str, org: str = "Certlab Test") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])


def _ski(cert: x509.Certificate) -> x509.SubjectKeyIdentifier:
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value


def make_ca(cn: str, key_type: str = "ec-p256", *, not_before: dt.datetime | None = None,
            not_after: dt.datetime | None = None) -> Issued:
    key = certlab.generate_key(key_type)
    cert = build_certificate(subject=x509_name(cn), public_key=key.public_key(), issuer=x509_name(cn), issuer_key=key,
                             days=3650, is_ca=True, purpose=Purpose.ANY, not_before=not_before, not_after=not_after)
    return Issued(cert, key)


def issue(ca: Issued, cn: str, *, sans: Sequence[str] = (), purpose: Purpose = Purpose.SERVER,
          key: certlab.keys.PrivateKey | None = None, key_type: str = "ec-p256", days: int = 90,
          not_before: dt.datetime | None = None, not_after: dt.datetime | None = None,
          serial: int | None = None) -> Issued:
    key = key or certlab.generate_key(key_type)
    names: list[x509.GeneralName] = []
    for s in sans:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(s)))
        except ValueError:
            names.append(x509.DNSName(s))
    cert = build_certificate(subject=x509_name(cn), public_key=key.public_key(), issuer=ca.certificate.subject,
                             issuer_key=ca.private_key, days=days, sans=names, purpose=purpose,
                             issuer_ski=_ski(ca.certificate), not_before=not_before, not_after=not_after, serial=serial)
    return Issued(cert, key, (ca.certificate, *ca.chain))


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(key: certlab.keys.PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def bundle(issued: Issued) -> bytes:
    """Certificate, chain and clear key in one PEM: what an admin imports."""
    return pem(issued.certificate, *issued.chain) + key_pem(issued.private_key)


def past(days: int) -> dt.datetime:
    return utcnow() - dt.timedelta(days=days)


class TLSServer:
    """A threaded HTTPS server on 127.0.0.1 with the given identity; optionally requires client
    certificates from ``client_cas``. Answers each request with JSON naming the client certificate."""

    def __init__(self, identity: Issued, workdir: Path, *, client_cas: Sequence[x509.Certificate] = (),
                 require_client_cert: bool = True, max_version: ssl.TLSVersion | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        chain_file = workdir / f"server-{id(self)}.pem"
        chain_file.write_bytes(pem(identity.certificate, *identity.chain) + key_pem(identity.private_key))
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(chain_file))
        if max_version is not None:
            self.ctx.maximum_version = max_version
        if client_cas:
            self.ctx.load_verify_locations(cadata=pem(*client_cas).decode())
            self.ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests: list[dict[str, object]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> TLSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(timeout=5)

    @property
    def authority(self) -> str:
        return f"localhost:{self.port}"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = tls.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                hdrs = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
                length = int(hdrs.get("content-length", "0"))
                while len(rest) < length:
                    rest += tls.recv(4096)
                peer = tls.getpeercert()
                subject = dict(x[0] for x in peer["subject"]) if peer else None
                record = {"method": method, "path": path, "client": subject and subject.get("commonName"),
                          "body": rest.decode("utf-8", "replace")}
                self.requests.append(record)
                payload = json.dumps(record).encode()
                answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                          b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n")
                tls.sendall(answer + (payload if method != "HEAD" else b""))
        except (ssl.SSLError, OSError, ValueError) as exc:
            self.errors.append(str(exc))
        finally:
            conn.close()
