"""Endpoint discovery against several real TLS servers on 127.0.0.1 (and a closed port)."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

import certlab
from certlab import Actor, InvalidInputError, PermissionDeniedError, Role
from certlab.integrations import scan as scan_mod
from certlab.integrations.tls import Endpoint

from .conftest import make_cert, run_cli
from .peers import TLSServer, issue, make_ca, past


@pytest.fixture(scope="module")
def chains() -> dict[str, certlab.Issued]:
    ca = make_ca("Scan Test CA")
    return {
        "ca": ca,
        "web": issue(ca, "web.internal.test", sans=("web.internal.test",)),
        "api": issue(ca, "api.internal.test", sans=("api.internal.test",)),
        "api_renewed": issue(ca, "api.internal.test", sans=("api.internal.test",)),
        "old": issue(ca, "old.internal.test", sans=("old.internal.test",), not_before=past(100), not_after=past(1)),
    }


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class SilentServer:
    """Accepts TCP connections and never speaks: a TLS handshake to it times out."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()


def test_scan_records_new_chains_known_certificates_and_failures(inv: certlab.Inventory, chains: dict[str, certlab.Issued],
                                                                   tmp_path: Path) -> None:
    make_cert(inv, "web_internal_test")  # the name the web server's certificate would get: it steps past it
    silent = SilentServer()
    closed = _closed_port()
    try:
        with TLSServer(chains["web"], tmp_path) as web, TLSServer(chains["api"], tmp_path) as api, \
                TLSServer(chains["old"], tmp_path) as old:
            targets = [f"127.0.0.1:{web.port}", f"127.0.0.1:{api.port}", f"127.0.0.1:{closed}",
                       f"127.0.0.1:{old.port}", f"127.0.0.1:{silent.port}", f"127.0.0.1:{web.port}"]
            seen: list[tuple[int, int]] = []
            results = inv.scan(targets, timeout=1.5, workers=3, progress=lambda d, t: seen.append((d, t)))
    finally:
        silent.close()
    assert [r.endpoint for r in results] == targets[:5]  # duplicates dropped, order kept
    assert seen[-1] == (5, 5)
    ok = {r.endpoint: r for r in results if r.ok}
    failed = {r.endpoint: r for r in results if not r.ok}
    assert set(failed) == {f"127.0.0.1:{closed}", f"127.0.0.1:{silent.port}"}
    assert failed[f"127.0.0.1:{closed}"].problem == "refused"
    assert failed[f"127.0.0.1:{silent.port}"].problem == "timeout"
    web_result = ok[f"127.0.0.1:{web.port}"]
    assert [c.subject.split(",")[-1] for c in web_result.chain] == ["CN=web.internal.test", "CN=Scan Test CA"]
    assert all(c.new for c in web_result.chain)
    # the CA was new at the first endpoint scanned and known at the others
    ca_new = [r.chain[1].new for r in results if r.ok]
    assert sorted(ca_new) == [False, False, True]
    old_result = ok[f"127.0.0.1:{old.port}"]
    assert old_result.chain[0].not_after < certlab.certs.utcnow()  # served although expired

    rec = inv.get(web_result.chain[0].name)
    assert rec.kind == "discovered" and not rec.has_private_key and rec.stored_status == "active"
    assert rec.name == "web_internal_test_2" and web_result.chain[1].name == "Scan_Test_CA"
    assert len([r for r in inv.list() if r.kind == "discovered"]) == 4
    eps = {e["endpoint"]: e for e in inv.endpoints()}
    assert eps[f"127.0.0.1:{web.port}"]["leaf"] == web_result.chain[0].name
    assert eps[f"127.0.0.1:{web.port}"]["last_seen"] is not None and eps[f"127.0.0.1:{web.port}"]["last_error"] is None
    assert "refused" in eps[f"127.0.0.1:{closed}"]["last_error"] and eps[f"127.0.0.1:{closed}"]["last_seen"] is None
    ca_name = web_result.chain[1].name
    assert len(inv.endpoints(ca_name)) == 3  # the known CA got every endpoint that serves it
    events = [e for e in inv.audit_events() if e.action == "scanned"]
    assert len(events) == 5 and sum(e.outcome == "failed" for e in events) == 2


def test_rescan_reports_a_changed_chain(inv: certlab.Inventory, chains: dict[str, certlab.Issued], tmp_path: Path) -> None:
    with TLSServer(chains["api"], tmp_path) as api:
        first = inv.scan([f"127.0.0.1:{api.port}"])[0]
        again = inv.scan([f"127.0.0.1:{api.port}"])[0]
        port = api.port
    assert first.ok and not first.changed and again.ok and not again.changed
    assert not any(c.new for c in again.chain)
    # the same port now serves the renewed certificate
    renewed = TLSServer(chains["api_renewed"], tmp_path)
    renewed.sock.close()
    renewed.sock = socket.socket()
    renewed.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    renewed.sock.bind(("127.0.0.1", port))
    renewed.sock.listen(4)
    renewed.port = port
    with renewed:
        changed = inv.scan([f"127.0.0.1:{port}"])[0]
    assert changed.ok and changed.changed and changed.previous_leaf == first.chain[0].name
    assert changed.chain[0].new and changed.chain[0].name != first.chain[0].name
    assert inv.endpoints()[0]["changed_at"] is not None
    assert inv.audit_events()[-1].details["changed"] is True
    assert inv.endpoints(first.chain[0].name)  # the old leaf keeps its history


def test_scan_bounds_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    active, peak = 0, 0
    lock = threading.Lock()
    gate = threading.Event()

    def fake_fetch(endpoint: Endpoint, timeout: float) -> scan_mod.Fetched:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        gate.wait(0.05)
        with lock:
            active -= 1
        return scan_mod.Fetched(endpoint, None, "refused", "test")

    monkeypatch.setattr(scan_mod, "_fetch_one", fake_fetch)
    eps = [Endpoint("127.0.0.1", p) for p in range(20000, 20024)]
    results = scan_mod.fetch_all(eps, workers=4)
    assert len(results) == 24 and [r.endpoint for r in results] == eps
    assert 1 < peak <= 4


def test_scan_refusals(inv: certlab.Inventory) -> None:
    with pytest.raises(InvalidInputError, match="invalid endpoint"):
        inv.scan(["not an endpoint"])
    with pytest.raises(InvalidInputError, match="--workers"):
        inv.scan(["127.0.0.1:1"], workers=0)
    with pytest.raises(PermissionDeniedError):
        inv.as_actor(Actor("ann", Role.ANALYST)).scan(["127.0.0.1:1"])
    assert not inv.endpoints()


def test_cli_scan(cli_db: Path, chains: dict[str, certlab.Issued], tmp_path: Path) -> None:
    closed = _closed_port()
    with TLSServer(chains["web"], tmp_path) as web, TLSServer(chains["api"], tmp_path) as api:
        done = run_cli("scan", f"127.0.0.1:{web.port}", f"localhost:{api.port}", f"127.0.0.1:{closed}", "--json",
                       "--timeout", "3", db=cli_db)
        table = run_cli("scan", f"127.0.0.1:{web.port}", "--table", db=cli_db)
    assert done.returncode == 1  # one endpoint failed; the others are recorded all the same
    doc = json.loads(done.stdout)
    assert [d["ok"] for d in doc] == [True, True, False]
    assert doc[2]["problem"] == "refused"
    assert table.returncode == 0 and "known" in table.stdout
    listed = json.loads(run_cli("list", "--kind", "discovered", "--json", db=cli_db, check=True).stdout)
    assert len(listed) == 3
    eps = {e["endpoint"]: e for e in json.loads(run_cli("endpoints", "--json", db=cli_db, check=True).stdout)}
    assert eps[f"localhost:{api.port}"]["leaf"] == "api_internal_test" and eps[f"localhost:{api.port}"]["last_seen"]
    assert "refused" in eps[f"127.0.0.1:{closed}"]["last_error"]
    only = json.loads(run_cli("endpoints", "--cert", "api_internal_test", "--json", db=cli_db, check=True).stdout)
    assert [e["endpoint"] for e in only] == [f"localhost:{api.port}"]


def test_a_deleted_certificate_takes_its_endpoint_history_with_it(inv: certlab.Inventory, chains: dict[str, certlab.Issued],
                                                                  tmp_path: Path) -> None:
    """Ids are reused after a delete (max(id) + 1): a certificate made afterwards must not inherit the
    deleted one's endpoint observations or lint rows."""
    with TLSServer(chains["web"], tmp_path) as web:
        result = inv.scan([f"127.0.0.1:{web.port}"])[0]
        endpoint = f"127.0.0.1:{web.port}"
    leaf, ca = result.chain[0].name, result.chain[1].name
    ids = {inv.get(leaf).id, inv.get(ca).id}
    inv.lint()
    inv.delete(leaf)
    inv.delete(ca)
    fresh = [make_cert(inv, "fresh_one"), make_cert(inv, "fresh_two")]
    assert {r.id for r in fresh} == ids  # the ids came back
    assert inv.endpoints("fresh_one") == [] and inv.endpoints("fresh_two") == []
    assert [e["leaf"] for e in inv.endpoints() if e["endpoint"] == endpoint] == [None]
    for r in fresh:
        assert not [f for f in inv.get(r.name).findings if "served" in f["message"]]
        assert {x.certificate for x in inv.lint(r.name)} <= {r.name}
    with inv.db.read() as tx:  # nothing left that names the deleted rows' ids under their old certificates
        assert tx.rows("SELECT certificate FROM lint_findings WHERE certificate IN (?, ?)", [leaf, ca]) == []
