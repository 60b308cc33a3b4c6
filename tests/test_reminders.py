"""Expiry reminders against a real SMTP server (aiosmtpd) and a real HTTP receiver, both on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import email
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

import certlab
from certlab import CertSpec, InvalidInputError
from certlab.reminders import (
    SmtpConfig,
    WebhookConfig,
    check_thresholds,
    crossed_threshold,
    parse_thresholds,
)

from .conftest import ROOT, make_cert, run_cli

LOCAL = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCAL, 0))
        return int(s.getsockname()[1])


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Mailbox, int]]:
    box = _Mailbox()
    port = _free_port()
    ctl = Controller(box, hostname=LOCAL, port=port)
    ctl.start()
    try:
        yield box, port
    finally:
        ctl.stop()


class _Receiver:
    """A real HTTP server on 127.0.0.1 that records JSON bodies (optionally slowly, or failing)."""

    def __init__(self, port: int = 0, delay: float = 0.0, status: int = 200) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.delay, self.status = delay, status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(outer.delay)
                if outer.status == 200:
                    outer.bodies.append(body)
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((LOCAL, port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{LOCAL}:{self.port}/hooks/certlab-token-123"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    yield r
    r.close()


def _pages_agree(inv: certlab.Inventory, at: dt.datetime | None = None) -> list[Any]:
    """The dashboard's page of due reminders and its total say what the whole list says."""
    every = inv.reminders_due(at)
    assert inv.count_reminders_due(at) == len(every)
    for k in (0, 1, 2, 5):
        assert inv.reminders_due(at, limit=k) == every[:k]
    order = [(r.not_after is not None, r.not_after or dt.datetime.min, r.certificate) for r in every]
    assert order == sorted(order)  # pending renewal CSRs first, then by expiry
    return every


def _configure(inv: certlab.Inventory, smtp_port: int | None, hook: str | None) -> None:
    inv.configure_reminders(
        smtp=SmtpConfig(LOCAL, smtp_port, sender="certlab@example.com") if smtp_port else None,
        webhook=WebhookConfig(hook) if hook else None)


# --- pure rules ------------------------------------------------------------------------------------------

def test_thresholds_rules() -> None:
    assert check_thresholds([7, 90, 0, 30, 7]) == (90, 30, 7, 0)
    assert parse_thresholds("90, 60,30,7,0") == (90, 60, 30, 7, 0)
    for bad in ([-1], ["x"], [], [4000]):
        with pytest.raises(InvalidInputError):
            check_thresholds(bad)
    end = dt.datetime(2027, 3, 1)
    assert crossed_threshold((90, 30, 0), end, end - dt.timedelta(days=91)) is None
    assert crossed_threshold((90, 30, 0), end, end - dt.timedelta(days=90)) == 90
    assert crossed_threshold((90, 30, 0), end, end - dt.timedelta(days=5)) == 30  # one reminder, the most urgent
    assert crossed_threshold((90, 30, 0), end, end) == 0


# --- the inventory ------------------------------------------------------------------------------------------

def test_right_messages_at_right_thresholds(inv: certlab.Inventory, smtp_server: tuple[_Mailbox, int],
                                            receiver: _Receiver) -> None:
    box, port = smtp_server
    _configure(inv, port, receiver.url)
    make_cert(inv, "pay", days=100)
    make_cert(inv, "later", days=400)
    inv.add_credential("gateway", certificate="pay", endpoint="https://pay.example.com", purpose="mtls",
                       owner="payments")
    inv.set_reminder_recipients("pay", ["ops@example.com", "payments"], owner="payments")
    inv.set_team("payments", ["alice@example.com", "bob@example.com"])
    inv.set_reminder_recipients(None, ["fallback@example.com"])
    start = inv.now()
    at = lambda days: start + dt.timedelta(days=days)

    assert inv.reminders_due(at(5)) == []
    due = inv.reminders_due(at(15))
    assert [(r.certificate, r.threshold, r.credentials, r.owner) for r in due] == [("pay", 90, ("gateway",), "payments")]
    results = inv.send_reminders(at(15))
    assert all(r.ok for r in results) and len(results) == 4
    assert sorted(rcpt[0] for rcpt, _ in box.messages) == ["alice@example.com", "bob@example.com", "ops@example.com"]
    msg = box.messages[0][1]
    assert "pay expires in 84 days" in msg["Subject"] or "pay expires in 85 days" in msg["Subject"]
    assert "gateway" in msg.get_content() and msg["X-Certlab-Threshold"] == "90"
    assert [(b["certificate"], b["threshold"], b["credentials"]) for b in receiver.bodies] == [("pay", 90, ["gateway"])]

    for days in (15, 16, 30):  # nothing twice
        assert inv.send_reminders(at(days)) == [] and _pages_agree(inv, at(days)) == []
    assert [r.certificate for r in _pages_agree(inv, at(45))] == ["pay"]
    assert len(box.messages) == 3 and len(receiver.bodies) == 1
    inv.send_reminders(at(45))
    assert [b["threshold"] for b in receiver.bodies] == [90, 60]
    inv.send_reminders(at(98))  # 30 and 7 both reached: only the more urgent one goes out
    assert [b["threshold"] for b in receiver.bodies] == [90, 60, 7]
    inv.send_reminders(at(101))
    assert receiver.bodies[-1]["threshold"] == 0 and receiver.bodies[-1]["expired"] is True
    later = inv.send_reminders(at(311))
    assert {(r.certificate, r.recipient) for r in later} == {("later", "fallback@example.com"), ("later", "default")}
    sent = [e for e in inv.audit_events() if e.action == "reminder_sent"]
    assert len(sent) == len(box.messages) + len(receiver.bodies)
    assert all("token" not in json.dumps(e.details) for e in inv.audit_events())  # the webhook path stays out


def test_schedules_per_certificate_and_owner(inv: certlab.Inventory, receiver: _Receiver) -> None:
    _configure(inv, None, receiver.url)
    make_cert(inv, "a", days=50)
    make_cert(inv, "b", days=50)
    inv.add_credential("crm", certificate="b", endpoint="https://crm.example.com", purpose="mtls", owner="crm-team")
    inv.set_reminder_schedule([14], owner="crm-team")
    assert inv.reminder_schedule("b") == ((14,), "owner crm-team")
    inv.set_reminder_schedule([45, 1], certificate="a")
    assert inv.reminder_schedule("a") == ((45, 1), "certificate")
    start = inv.now()
    assert [(r.certificate, r.threshold) for r in inv.reminders_due(start + dt.timedelta(days=20))] == [("a", 45)]
    assert [(r.certificate, r.threshold) for r in inv.reminders_due(start + dt.timedelta(days=40))] == [
        ("a", 45), ("b", 14)]
    before = len(inv.audit_events())
    with pytest.raises(InvalidInputError, match="negative"):
        inv.set_reminder_schedule([30, -7], certificate="a")
    with pytest.raises(InvalidInputError):
        inv.set_reminder_recipients("a", ["not an address"])
    assert inv.reminder_schedule("a") == ((45, 1), "certificate") and len(inv.audit_events()) == before
    inv.set_reminder_schedule([10], certificate="a")
    succ = inv.rotate("a")
    assert inv.reminder_schedule(succ.name) == ((10,), "certificate")  # the successor inherits


def test_due_reminders_follow_the_threshold_rule_for_every_certificate(inv: certlab.Inventory) -> None:
    """The default schedule is checked in DuckDB, custom ones in Python: both must give exactly what the
    rule (the smallest threshold t with at >= not_after - t days) gives, certificate by certificate."""
    inv.generate_synthetic(400, seed=11)
    make_cert(inv, "own_schedule", days=46)
    make_cert(inv, "by_owner", days=20)
    inv.add_credential("erp", certificate="by_owner", endpoint="https://erp.example.com", purpose="mtls", owner="erp-team")
    inv.set_reminder_schedule([45, 2], certificate="own_schedule")
    inv.set_reminder_schedule([21], owner="erp-team")
    inv.set_reminder_schedule([60, 14, 0])
    at = inv.now() + dt.timedelta(days=3, hours=5)
    expected = {}
    for rec in inv.list(certlab.CertFilter(status=None)):
        if rec.stored_status != "active" or rec.not_after is None:
            continue
        thresholds = inv.reminder_schedule(rec.name)[0]
        crossed = crossed_threshold(thresholds, rec.not_after, at)
        if crossed is not None:
            expected[rec.name] = crossed
    got = {r.certificate: r.threshold for r in _pages_agree(inv, at) if r.kind == "expiry"}
    assert got == expected
    assert got["own_schedule"] == 45 and got["by_owner"] == 21 and len(got) > 50


def test_failed_delivery_is_retried_and_never_recorded_as_sent(inv: certlab.Inventory) -> None:
    make_cert(inv, "pay", days=20)
    with pytest.raises(InvalidInputError, match="no delivery channel"):
        inv.send_reminders()
    assert inv.reminder_deliveries() == []
    port = _free_port()  # nothing listens here yet
    _configure(inv, None, f"http://{LOCAL}:{port}/hook")
    results = inv.send_reminders()
    assert [(r.ok, r.threshold) for r in results] == [(False, 30)] and "refused" in results[0].error.lower()
    assert inv.reminder_deliveries()[0]["status"] == "failed"
    assert inv.audit_events()[-1].outcome == "failed" and inv.audit_events()[-1].action == "reminder_failed"
    assert [r.certificate for r in inv.reminders_due()] == ["pay"]  # still due
    down = _Receiver(port=port, status=500)  # up, but failing
    try:
        assert not inv.send_reminders()[0].ok
    finally:
        down.close()
    up = _Receiver(port=port)
    try:
        assert [r.ok for r in inv.send_reminders()] == [True]
        assert len(up.bodies) == 1 and inv.send_reminders() == [] and len(up.bodies) == 1
    finally:
        up.close()
    record = inv.reminder_deliveries("pay")[0]
    assert (record["status"], record["attempts"]) == ("sent", 3)
    assert inv.reminders_due() == []


def test_partly_delivered_reminder_stays_due_for_the_rest(inv: certlab.Inventory, receiver: _Receiver) -> None:
    """A reminder the webhook got but the mail server refused is still due, for the mail only; those
    no delivery reached are due in full; page and total agree with the whole list throughout."""
    _configure(inv, _free_port(), receiver.url)  # nothing listens on the SMTP port
    for name, days in (("pay", 20), ("crm", 25), ("erp", 10)):
        make_cert(inv, name, days=days)
    inv.set_reminder_recipients("pay", ["ops@example.com"])
    inv.set_reminder_schedule([40, 5], certificate="crm")  # a schedule of its own: checked in Python
    assert [r.certificate for r in _pages_agree(inv)] == ["erp", "pay", "crm"]
    results = inv.send_reminders()
    assert {(r.certificate, r.channel, r.ok) for r in results} == {
        ("erp", "webhook", True), ("pay", "webhook", True), ("pay", "email", False), ("crm", "webhook", True)}
    due = _pages_agree(inv)
    assert [(r.certificate, r.targets) for r in due] == [("pay", (("email", "ops@example.com"),))]
    assert _pages_agree(inv, inv.now() + dt.timedelta(days=6)) == inv.reminders_due(inv.now() + dt.timedelta(days=6))
    later = [(r.certificate, r.threshold) for r in _pages_agree(inv, inv.now() + dt.timedelta(days=21))]
    assert later == [("erp", 0), ("pay", 0), ("crm", 5)]


def test_renewal_csr_gets_a_reminder(inv: certlab.Inventory, receiver: _Receiver) -> None:
    from cryptography import x509

    _configure(inv, None, receiver.url)
    outside = certlab.CA(key_type="ec-p256")
    inv.create_csr(CertSpec(name="erp", key_type="ec-p256", sans=("erp.example.com",)))
    csr = x509.load_pem_x509_csr(inv.export("erp", "csr").bytes())
    inv.upload_signed("erp", certlab.dump_pem([outside.sign_csr(csr, days=200)]))
    inv.rotate("erp")
    make_cert(inv, "soon", days=3)
    due = _pages_agree(inv)
    assert [(r.certificate, r.kind, r.predecessor) for r in due] == [("erp_r2", "renewal_csr", "erp"),
                                                                     ("soon", "expiry", None)]
    inv.send_reminders()
    inv.send_reminders()
    assert [(b["kind"], b["certificate"]) for b in receiver.bodies] == [("renewal_csr", "erp_r2"), ("expiry", "soon")]
    assert _pages_agree(inv) == []


def test_smtp_starttls_login_password_never_stored(inv: certlab.Inventory, tmp_path: Path) -> None:
    ca = certlab.CA(key_type="ec-p256")
    server = ca.issue_cert(LOCAL, "localhost")
    (tmp_path / "srv.pem").write_bytes(server.cert_pem.bytes())
    server.private_key_pem.write_to_path(tmp_path / "srv.key")
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem.bytes())
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp_path / "srv.pem", tmp_path / "srv.key")
    secret = "s3cret-smtp-Passw0rd"
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == secret.encode(), handled=False)

    box = _Mailbox()
    port = _free_port()
    ctl = Controller(box, hostname=LOCAL, port=port, tls_context=ctx, require_starttls=True,
                     authenticator=authenticator, auth_required=True)
    ctl.start()
    try:
        pw = tmp_path / "smtp.pw"
        pw.write_text("wrong-password\n")
        pw.chmod(0o644)
        with pytest.raises(InvalidInputError, match="readable by others"):
            inv.configure_reminders(smtp_password_file=str(pw))
        pw.chmod(0o600)
        inv.configure_reminders(smtp=SmtpConfig(LOCAL, port, starttls=True, username="certlab",
                                                sender="certlab@example.com", ca_file=str(tmp_path / "ca.pem")),
                                smtp_password_file=str(pw))
        inv.set_reminder_recipients(None, ["ops@example.com"])
        make_cert(inv, "pay", days=5)
        bad = inv.send_reminders()
        assert not bad[0].ok and "login as certlab refused" in bad[0].error
        pw.write_text(secret + "\n")
        good = inv.send_reminders()
        assert [r.ok for r in good] == [True] and len(box.messages) == 1
        assert logins[-1] == (b"certlab", secret.encode())
    finally:
        ctl.stop()
    for e in inv.audit_events():
        assert secret not in json.dumps(e.details) and "wrong-password" not in json.dumps(e.details)
    assert secret.encode() not in inv.path.read_bytes()
    assert inv.reminder_settings()["smtp"]["password_file"] == str(pw)


def test_calendar_lists_expiries_and_renewals(inv: certlab.Inventory) -> None:
    make_cert(inv, "pay", days=100)
    make_cert(inv, "far", days=3000)
    inv.set_rotation_policy("pay", certlab.RotationPolicy(days_before=20))
    data = inv.expiry_calendar(within_days=365).bytes()
    assert data.startswith(b"BEGIN:VCALENDAR\r\n") and data.endswith(b"END:VCALENDAR\r\n")
    physical = data.split(b"\r\n")[:-1]
    assert all(len(line) <= 75 for line in physical)
    unfolded = data.replace(b"\r\n ", b"").decode()
    pay = inv.get("pay")
    assert pay.not_after is not None
    expiry = pay.not_after.strftime("%Y%m%d")
    renew = (pay.not_after - dt.timedelta(days=20)).strftime("%Y%m%d")
    assert f"DTSTART;VALUE=DATE:{expiry}" in unfolded and f"DTSTART;VALUE=DATE:{renew}" in unfolded
    assert "SUMMARY:Certificate pay expires" in unfolded and "SUMMARY:Renew certificate pay" in unfolded
    assert f"UID:{pay.fingerprint_sha256}-expiry@certlab" in unfolded
    assert "far" not in unfolded.split("SUMMARY:")[-1] or unfolded.count("BEGIN:VEVENT") == 2
    assert unfolded.count("BEGIN:VEVENT") == 2


# --- the CLI, and two runs at once ---------------------------------------------------------------------------

def test_cli_reminders(cli_db: Path, receiver: _Receiver, tmp_path: Path) -> None:
    ok = lambda *a: run_cli(*a, db=cli_db, check=True)
    ok("create", "self-signed", "pay", "--san", "pay.example.com", "--key", "ec-p256", "--days", "50")
    bad = run_cli("reminders", "schedule", "pay", "--thresholds", "30,-1", db=cli_db)
    assert bad.returncode == 1 and "negative" in bad.stderr and "Traceback" not in bad.stderr
    ok("reminders", "schedule", "pay", "--thresholds", "60,30,7")
    ok("reminders", "configure", "--webhook-url", receiver.url)
    due = json.loads(ok("reminders", "due", "--json").stdout)
    assert [(d["certificate"], d["threshold"]) for d in due] == [("pay", 60)]
    assert json.loads(ok("reminders", "due", "--at", "2020-01-01T00:00:00Z", "--json").stdout) == []
    sent = json.loads(ok("reminders", "send", "--json").stdout)
    assert [(s["certificate"], s["ok"]) for s in sent] == [("pay", True)]
    assert json.loads(ok("reminders", "send", "--json").stdout) == []
    ok("reminders", "calendar", "--out", str(tmp_path / "c.ics"))
    assert (tmp_path / "c.ics").read_bytes().count(b"BEGIN:VEVENT") == 2
    shown = json.loads(ok("reminders", "configure", "--json").stdout)
    assert "certlab-token-123" not in json.dumps(shown)


@pytest.mark.slow
def test_two_overlapping_runs_send_nothing_twice(cli_db: Path, smtp_server: tuple[_Mailbox, int]) -> None:
    box, port = smtp_server
    slow = _Receiver(delay=0.4)
    try:
        env = {"PYTHONPATH": str(ROOT)}
        ok = lambda *a: run_cli(*a, db=cli_db, check=True)
        ok("reminders", "configure", "--smtp-host", LOCAL, "--smtp-port", str(port), "--from", "certlab@example.com",
           "--webhook-url", slow.url)
        ok("reminders", "recipients", "--default", "--to", "ops@example.com", "--to", "sec@example.com")
        for i in range(4):
            ok("create", "self-signed", f"c{i}", "--san", f"c{i}.example.com", "--key", "ec-p256", "--days", "20")
        cmd = [sys.executable, "-m", "certlab", "--db", str(cli_db), "reminders", "send", "--json"]
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLAB_")} | env
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, text=True)
                 for _ in range(2)]
        outs = [p.communicate(timeout=300) for p in procs]
        assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
        sent = [json.loads(o[0]) for o in outs]
        assert sum(len(s) for s in sent) == 12  # 4 certificates x (2 e-mails + 1 webhook), split between runs
        assert len(slow.bodies) == 4 and sorted(b["certificate"] for b in slow.bodies) == ["c0", "c1", "c2", "c3"]
        assert len(box.messages) == 8
        assert len({(tuple(r), m["X-Certlab-Certificate"]) for r, m in box.messages}) == 8
        again = run_cli("reminders", "send", "--json", db=cli_db, check=True)
        assert json.loads(again.stdout) == [] and len(slow.bodies) == 4
    finally:
        slow.close()


def test_claim_of_a_run_that_died_is_taken_over_later(inv: certlab.Inventory, receiver: _Receiver) -> None:
    from certlab.inventory.reminders import CLAIM_TTL

    _configure(inv, None, receiver.url)
    rec = make_cert(inv, "pay", days=20)
    with inv.db.write() as tx:  # what a run leaves behind when it dies between claiming and recording
        tx.execute("INSERT INTO reminder_deliveries (id, certificate_id, fingerprint, threshold, channel, recipient, "
                   "status, claim_token, claimed_at) VALUES (1, ?, ?, 30, 'webhook', 'default', 'claimed', 'dead', ?)",
                   [rec.id, rec.fingerprint_sha256, inv.now()])
    assert inv.send_reminders() == [] and receiver.bodies == []  # a fresh claim is respected
    later = certlab.open(inv.path, actor=inv.actor, clock=lambda: inv.now() + CLAIM_TTL + dt.timedelta(minutes=1))
    assert [r.ok for r in later.send_reminders()] == [True]
    assert len(receiver.bodies) == 1 and later.send_reminders() == []
