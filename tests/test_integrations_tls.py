"""Mutual TLS with a named credential, against real TLS servers on 127.0.0.1 (and curl)."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import urllib.request
from pathlib import Path

import pytest

import certlab
from certlab import Actor, ConflictError, EndpointError, ImportSource, NotFoundError, PermissionDeniedError, Role
from certlab.certs import Purpose

from .conftest import make_cert, run_cli
from .peers import TLSServer, bundle, issue, make_ca, past, pem


@pytest.fixture(scope="module")
def pki() -> dict[str, certlab.Issued]:
    server_ca = make_ca("Partner Server CA")
    bank_ca = make_ca("Bank Client CA")
    other_ca = make_ca("Someone Else CA")
    rogue_ca = make_ca("Unknown Server CA")
    return {
        "server_ca": server_ca, "bank_ca": bank_ca, "other_ca": other_ca,
        "server": issue(server_ca, "localhost", sans=("localhost", "127.0.0.1")),
        "server_rogue": issue(rogue_ca, "localhost", sans=("localhost", "127.0.0.1")),
        "server_expired": issue(server_ca, "localhost", sans=("localhost", "127.0.0.1"),
                                not_before=past(400), not_after=past(2)),
        "server_wrong_name": issue(server_ca, "pay.partner.test", sans=("pay.partner.test",)),
        "client": issue(bank_ca, "client.bank.test", purpose=Purpose.CLIENT),
        "client_other": issue(other_ca, "client.bank.test", purpose=Purpose.CLIENT),
        "client_expired": issue(bank_ca, "old.bank.test", purpose=Purpose.CLIENT, not_before=past(400),
                                not_after=past(3)),
    }


def _import(inv: certlab.Inventory, name: str, data: bytes, **kw: object) -> None:
    results = inv.import_sources([ImportSource(f"{name}.pem", data)], name=name, **kw)  # type: ignore[arg-type]
    assert results[0].result == "imported", results


@pytest.fixture
def setup(inv: certlab.Inventory, pki: dict[str, certlab.Issued]) -> certlab.Inventory:
    _import(inv, "partner_server_ca", pem(pki["server_ca"].certificate), trusted=True)
    _import(inv, "bank_client", bundle(pki["client"]), exportable=True)
    _import(inv, "other_client", bundle(pki["client_other"]))
    _import(inv, "expired_client", bundle(pki["client_expired"]))
    return inv


@pytest.fixture
def server(pki: dict[str, certlab.Issued], tmp_path: Path):  # type: ignore[no-untyped-def]
    with TLSServer(pki["server"], tmp_path, client_cas=[pki["bank_ca"].certificate]) as srv:
        yield srv


def _cred(inv: certlab.Inventory, name: str, cert: str, endpoint: str, purpose: str = "mtls") -> None:
    inv.add_credential(name, certificate=cert, endpoint=endpoint, purpose=purpose)


def test_callout_is_accepted_by_a_server_requiring_client_certificates(setup: certlab.Inventory, server: TLSServer) -> None:
    _cred(setup, "payment_gateway", "bank_client", f"https://{server.authority}/api")
    resp = setup.request("payment_gateway", "POST", "/api/pay", body='{"amount": 12}',
                         headers={"Content-Type": "application/json"})
    assert resp.status == 200
    assert resp.json() == {"method": "POST", "path": "/api/pay", "client": "client.bank.test", "body": '{"amount": 12}'}
    event = setup.audit_events()[-1]
    assert (event.action, event.object, event.outcome) == ("callout", "payment_gateway", "ok")
    assert event.details["endpoint"] == f"https://{server.authority}/api/pay"
    assert event.details["status"] == 200 and event.details["certificate"] == "bank_client"
    assert "amount" not in json.dumps(event.details)  # never the payload


def test_ssl_context_works_with_urllib_and_is_audited(setup: certlab.Inventory, server: TLSServer) -> None:
    _cred(setup, "payment_gateway", "bank_client", f"https://{server.authority}/")
    ctx = setup.ssl_context("payment_gateway")
    assert isinstance(ctx, ssl.SSLContext) and ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    with urllib.request.urlopen(f"https://{server.authority}/hello", context=ctx, timeout=10) as resp:
        assert json.loads(resp.read())["client"] == "client.bank.test"
    event = setup.audit_events()[-1]
    assert (event.action, event.object, event.details["use"]) == ("key_used", "payment_gateway", "mtls_context")


def test_system_trust_does_not_trust_the_partner_ca(setup: certlab.Inventory, server: TLSServer) -> None:
    _cred(setup, "payment_gateway", "bank_client", f"https://{server.authority}/")
    with pytest.raises(EndpointError, match="unknown CA"):
        setup.request("payment_gateway", trust="system")
    event = setup.audit_events()[-1]
    assert (event.action, event.outcome, event.details["problem"]) == ("callout", "failed", "unknown_ca")


def test_connection_test_reports_chain_request_and_acceptance(setup: certlab.Inventory, server: TLSServer) -> None:
    _cred(setup, "payment_gateway", "bank_client", f"https://{server.authority}/")
    report = setup.test_connection("payment_gateway")
    assert report.connected and report.server_trusted
    assert report.client_cert_requested is True and report.client_cert_sent and report.client_cert_accepted is True
    assert report.http_status == 200
    assert "CN=localhost" in report.server_chain[0].subject and "Partner Server CA" in report.server_chain[0].issuer
    assert 80 <= report.server_chain[0].days_left <= 90
    event = setup.audit_events()[-1]
    assert (event.action, event.outcome, event.details["connected"]) == ("connection_tested", "ok", True)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_client_certificate_from_another_ca_is_refused(setup: certlab.Inventory, pki: dict[str, certlab.Issued],
                                                       tmp_path: Path, version: ssl.TLSVersion) -> None:
    with TLSServer(pki["server"], tmp_path, client_cas=[pki["bank_ca"].certificate], max_version=version) as srv:
        _cred(setup, "wrong_client", "other_client", f"https://{srv.authority}/")
        report = setup.test_connection("wrong_client")
        assert not report.connected and report.server_trusted
        assert report.problem == "client_cert_unknown_ca"
        assert "Someone Else CA" in (report.reason or "")
        assert report.client_cert_requested and report.client_cert_accepted is False
        with pytest.raises(EndpointError, match="does not trust our client certificate"):
            setup.request("wrong_client")
        assert srv.requests == []


def test_expired_client_certificate_is_refused_by_certlab_and_by_the_server(
        setup: certlab.Inventory, server: TLSServer) -> None:
    _cred(setup, "old_client", "expired_client", f"https://{server.authority}/")
    with pytest.raises(ConflictError, match="expired on"):
        setup.request("old_client")
    with pytest.raises(ConflictError, match="expired"):
        setup.ssl_context("old_client")
    report = setup.test_connection("old_client")  # a diagnosis may still try it, and says why it fails
    assert not report.connected and report.problem == "client_cert_expired"
    assert any("expired on" in n for n in report.notes)
    assert server.requests == []


def test_no_client_certificate_is_refused(setup: certlab.Inventory, server: TLSServer) -> None:
    _cred(setup, "payment_gateway", "bank_client", f"https://{server.authority}/")
    report = setup.test_connection("payment_gateway", send_certificate=False)
    assert not report.connected and report.problem == "client_cert_required"
    assert report.client_cert_requested and not report.client_cert_sent
    ctx = ssl.create_default_context(cadata=pem(setup.certificate("partner_server_ca")).decode())
    # a plain client without a certificate: refused too
    with pytest.raises((ssl.SSLError, ConnectionError)), \
            socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        tls.recv(100)


@pytest.mark.parametrize("which,problem,words", [
    ("server_rogue", "unknown_ca", "unknown CA"),
    ("server_expired", "expired", "expired on"),
    ("server_wrong_name", "hostname_mismatch", "pay.partner.test, not localhost"),
])
def test_connection_test_says_why_the_server_is_not_trusted(setup: certlab.Inventory, pki: dict[str, certlab.Issued],
                                                            tmp_path: Path, which: str, problem: str, words: str) -> None:
    with TLSServer(pki[which], tmp_path, client_cas=[pki["bank_ca"].certificate]) as srv:
        _cred(setup, "partner", "bank_client", f"https://{srv.authority}/")
        report = setup.test_connection("partner")
        assert not report.connected and report.server_trusted is False
        assert report.problem == problem and words in (report.reason or "")
        assert report.server_chain and report.server_chain[0].fingerprint_sha256  # the chain, even untrusted
        assert not report.client_cert_sent  # our certificate is not shown to an untrusted server
        with pytest.raises(EndpointError, match=words):
            setup.request("partner")
        assert srv.requests == []


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_refused_connection_is_reported_and_audited(setup: certlab.Inventory) -> None:
    _cred(setup, "down", "bank_client", f"https://127.0.0.1:{_closed_port()}/")
    report = setup.test_connection("down")
    assert not report.connected and report.problem == "refused" and "refused" in (report.reason or "")
    before = len(setup.audit_events())
    with pytest.raises(EndpointError, match="refused the connection"):
        setup.request("down")
    events = setup.audit_events()
    assert len(events) == before + 1 and events[-1].outcome == "failed"


def test_bad_input_is_refused_and_changes_nothing(setup: certlab.Inventory, server: TLSServer) -> None:
    _cred(setup, "payment_gateway", "bank_client", f"https://{server.authority}/")
    _cred(setup, "sso", "bank_client", f"https://{server.authority}/", purpose="saml")
    before = len(setup.audit_events())
    with pytest.raises(NotFoundError, match="no named credential called 'nope'"):
        setup.request("nope")
    with pytest.raises(certlab.InvalidInputError, match="saml credential, not mtls"):
        setup.request("sso")
    with pytest.raises(certlab.InvalidInputError, match="only to its own endpoint"):
        setup.request("payment_gateway", "GET", "https://elsewhere.example.com/")
    with pytest.raises(certlab.InvalidInputError, match="invalid HTTP header"):
        setup.request("payment_gateway", headers={"X-Evil": "a\r\nInjected: yes"})
    with pytest.raises(certlab.InvalidInputError, match="invalid HTTP method"):
        setup.request("payment_gateway", "GET /x")
    with setup.db.write() as tx:
        tx.execute("UPDATE certificates SET status = 'revoked' WHERE name = 'bank_client'")
    with pytest.raises(ConflictError, match="is revoked"):
        setup.request("payment_gateway")
    assert len(setup.audit_events()) == before
    assert server.requests == []


def test_readers_may_not_use_keys(setup: certlab.Inventory, server: TLSServer) -> None:
    _cred(setup, "payment_gateway", "bank_client", f"https://{server.authority}/")
    auditor = setup.as_actor(Actor("bob", Role.AUDITOR))
    with pytest.raises(PermissionDeniedError):
        auditor.request("payment_gateway")
    with pytest.raises(PermissionDeniedError):
        auditor.ssl_context("payment_gateway")
    assert setup.audit_events()[-1].outcome == "denied"
    assert server.requests == []


def test_cli_credential_test_and_call(cli_db: Path, pki: dict[str, certlab.Issued], server: TLSServer,
                                      tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_bytes(pem(pki["server_ca"].certificate))
    (tmp_path / "client.pem").write_bytes(bundle(pki["client"]))
    (tmp_path / "other.pem").write_bytes(bundle(pki["client_other"]))
    run_cli("import", str(tmp_path / "ca.pem"), "--trusted", db=cli_db, check=True)
    run_cli("import", str(tmp_path / "client.pem"), "--name", "bank_client", db=cli_db, check=True)
    run_cli("import", str(tmp_path / "other.pem"), "--name", "other_client", db=cli_db, check=True)
    for name, cert in (("payment_gateway", "bank_client"), ("wrong_client", "other_client")):
        run_cli("credential", "add", name, "--cert", cert, "--endpoint", f"https://{server.authority}/",
                "--purpose", "mtls", db=cli_db, check=True)
    ok = run_cli("credential", "test", "payment_gateway", "--json", db=cli_db)
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["connected"] and doc["client_cert_accepted"] and doc["server_chain"][0]["days_left"] >= 80
    bad = run_cli("credential", "test", "wrong_client", "--table", db=cli_db)
    assert bad.returncode == 1
    assert "NOT connected" in bad.stdout and "unknown to the server" in bad.stdout
    call = run_cli("credential", "call", "payment_gateway", "/orders", "--method", "PUT", "--data-file", "-",
                   db=cli_db, input=b"order-1")
    assert call.returncode == 0, call.stderr
    assert json.loads(call.stdout) == {"method": "PUT", "path": "/orders", "client": "client.bank.test", "body": "order-1"}
    assert "200 OK" in call.stderr
    missing = run_cli("credential", "test", "nope", db=cli_db)
    assert missing.returncode == 1 and "no named credential called 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr


@pytest.mark.interop
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is installed by scripts/setup")
def test_interop_curl_with_exported_files_is_accepted(cli_db: Path, pki: dict[str, certlab.Issued],
                                                      server: TLSServer, tmp_path: Path) -> None:
    (tmp_path / "client.pem").write_bytes(bundle(pki["client"]))
    run_cli("import", str(tmp_path / "client.pem"), "--name", "bank_client", "--exportable", db=cli_db, check=True)
    pw = tmp_path / "pw.txt"
    pw.write_text("a long keystore password\n")
    run_cli("export", "bank_client", "--format", "chain", "--out", str(tmp_path / "chain.pem"), db=cli_db, check=True)
    run_cli("export", "bank_client", "--format", "key", "--out", str(tmp_path / "key.pem"), "--password-file", str(pw),
            db=cli_db, check=True)
    (tmp_path / "server-ca.pem").write_bytes(pem(pki["server_ca"].certificate))
    curl = ["curl", "-sS", "--fail", "--cacert", str(tmp_path / "server-ca.pem"), f"https://{server.authority}/curl"]
    done = subprocess.run(curl + ["--cert", str(tmp_path / "chain.pem"), "--key", str(tmp_path / "key.pem"),
                                  "--pass", "a long keystore password"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["client"] == "client.bank.test"
    refused = subprocess.run(curl, capture_output=True, text=True, timeout=60, check=False)  # no client certificate at all
    assert refused.returncode != 0


def test_self_signed_inventory_certificate_is_refused_by_the_partner(setup: certlab.Inventory, server: TLSServer) -> None:
    make_cert(setup, "home_made", purpose="client")
    _cred(setup, "home_made_cred", "home_made", f"https://{server.authority}/")
    report = setup.test_connection("home_made_cred")
    assert not report.connected and report.problem == "client_cert_unknown_ca"


def test_the_key_reaches_openssl_only_encrypted_and_leaves_no_file(pki: dict[str, certlab.Issued],
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    from certlab.integrations import tls

    client = pki["client"]
    handed: list[bytes] = []
    real = tls._load_from_memfd

    def spy(ctx: ssl.SSLContext, data: bytes, password: bytes) -> None:
        handed.append(data)
        real(ctx, data, password)

    monkeypatch.setattr(tls, "_load_from_memfd", spy)
    ctx = tls.client_context(identity=(client.certificate, client.chain, client.private_key),
                             trusted=[pki["server_ca"].certificate])
    assert b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in handed[0] and b"-----BEGIN PRIVATE KEY-----" not in handed[0]
    # the fallback where memfd is missing: a 0600 file in a private directory, gone after loading
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    with TLSServer(pki["server"], tmp_path / "srv", client_cas=[pki["bank_ca"].certificate]) as srv:
        for context in (ctx, _fallback_context(tls, pki, tmp_path)):
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw, \
                    context.wrap_socket(raw, server_hostname="localhost") as conn:
                conn.sendall(b"GET /k HTTP/1.1\r\nHost: localhost\r\n\r\n")
                assert b'"client": "client.bank.test"' in conn.recv(4096)
    assert [p.name for p in tmp_path.iterdir()] == ["srv"]  # nothing of the fallback is left


def _fallback_context(tls: object, pki: dict[str, certlab.Issued], tmp_path: Path) -> ssl.SSLContext:
    import secrets

    from cryptography.hazmat.primitives import serialization

    client = pki["client"]
    password = secrets.token_bytes(16).hex().encode()
    data = pem(client.certificate, *client.chain) + client.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(password))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=pem(pki["server_ca"].certificate).decode())
    tls._load_from_private_file(ctx, data, password)  # type: ignore[attr-defined]
    return ctx
