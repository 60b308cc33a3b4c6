"""The README's main command in a real browser: `certlab dashboard` on a fresh database (demo seeded,
one-time passwords printed), driven with Playwright through Debian's chromium."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import certlab
from certlab import Actor, Role

from .secret_scan import Scanner

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-artifacts" / "screenshots"  # scripts/screenshots copies them to docs/screenshots
CHROMIUM = "/usr/bin/chromium"
NEW_PASSWORD = "browser test password"
RENDERED: dict[str, str] = {}  # each visited page's HTML, scanned for private keys at the end

pytestmark = [pytest.mark.slow, pytest.mark.interop,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is installed by scripts/setup")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 400) -> None:
    """Until /_stcore/health answers (the first run seeds the demo first: slow on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the dashboard exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError("the dashboard did not become healthy")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    db = tmp_path / "data" / "certlab.duckdb"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLAB_")}
    env["PYTHONPATH"] = str(ROOT)
    log = (tmp_path / "dashboard.log").open("w+")
    proc = subprocess.Popen([sys.executable, "-m", "certlab", "--db", str(db), "dashboard", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc)
        log.seek(0)
        printed = log.read()
        passwords = dict(re.findall(r"^\s+(admin|auditor)\s+\((?:admin|auditor)\)\s+(\S+)$", printed, re.MULTILINE))
        assert set(passwords) == {"admin", "auditor"}, printed
        yield url, db, passwords
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


# The app is idle: connected, its script run finished (the frontend marks a requested rerun at once, so an
# action's rerun is never mistaken for idleness), nothing left stale from the previous run, every chart drawn.
_SETTLED = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.dataset.testConnectionState !== 'CONNECTED' || app.dataset.testScriptState !== 'notRunning') {
        return false;
    }
    if (document.querySelector('[data-stale="true"]')) return false;
    return [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
        .every(chart => chart.querySelector('canvas, svg.marks'));
}"""


def _settle(page: object) -> None:
    """Wait until the app is idle, and still idle a moment later (an action's rerun may start another)."""
    for _ in range(2):
        page.wait_for_function(_SETTLED, polling=100)  # type: ignore[attr-defined]
        page.wait_for_timeout(200)  # type: ignore[attr-defined]
    page.wait_for_function(_SETTLED, polling=100)  # type: ignore[attr-defined]


def _shot(page: object, name: str) -> None:
    """A screenshot of the whole page once the app is idle and its charts have drawn."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    _settle(page)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True, animations="disabled")  # type: ignore[attr-defined]
    RENDERED[name] = page.content()  # type: ignore[attr-defined]


def test_interop_browser_sign_in_create_find_timeline_audit(server: tuple[str, Path, dict[str, str]]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, db, passwords = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1440, "height": 1100})
        page.set_default_timeout(120_000)  # a page's run on a loaded 2-core machine can take long
        expect.set_options(timeout=120_000)  # expect() has its own default (5 s)
        page.goto(url)

        # Sign in with the printed one-time password, then choose a new one.
        expect(page.get_by_text("Sign in to certlab")).to_be_visible()
        _shot(page, "sign-in")
        page.get_by_role("textbox", name="User name").fill("admin")
        page.get_by_role("textbox", name="Password", exact=True).fill(passwords["admin"])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("textbox", name="Current password")).to_be_visible()
        _settle(page)
        page.get_by_role("textbox", name="Current password").fill(passwords["admin"])
        page.get_by_role("textbox", name="New password", exact=True).fill(NEW_PASSWORD)
        page.get_by_role("textbox", name="New password again").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Save password").click()

        # Overview of the demo inventory (opened from the navigation, as after any later sign-in).
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        _settle(page)
        page.get_by_role("link", name="Overview").click()
        expect(page.get_by_text("Password changed.")).to_have_count(0)
        expect(page.get_by_text("Verified:")).to_be_visible()
        _shot(page, "overview")

        # Create a self-signed certificate through the form.
        page.get_by_role("link", name="Create").click()
        expect(page.get_by_role("heading", name="Create")).to_be_visible()
        _settle(page)  # fill the form only once the page's run is over: a late rerun could redraw it
        # Each field is committed (Enter; Ctrl+Enter in a text area) and its rerun awaited before the next.
        for field, value, commit in (("Label", "Browser test", "Enter"), ("Unique name", "browser_test_cert", "Enter"),
                                     ("Subject alternative names (one per line)", "browser.example.com",
                                      "Control+Enter")):
            box = page.get_by_role("textbox", name=field, exact=True).first
            box.fill(value)
            box.press(commit)
            _settle(page)
            expect(box).to_have_value(value)
        create = page.get_by_role("button", name="Create self-signed certificate")
        expect(create).to_be_enabled()
        create.click()
        expect(page.get_by_text("Created browser_test_cert")).to_be_visible()
        _shot(page, "create")

        # Find it in the table.
        page.get_by_role("link", name="Certificates").click()
        expect(page.get_by_role("heading", name="Certificates")).to_be_visible()
        _settle(page)
        search = page.get_by_role("textbox", name="Search")
        search.fill("browser_test")
        search.press("Enter")
        expect(page.get_by_text("1 certificate matches")).to_be_visible()
        expect(page.get_by_role("heading", name="Browser test")).to_be_visible()  # opened: it was just created
        _shot(page, "certificates")

        # The expiry timeline (the cleared search reaches the shared filters before leaving) and the audit trail.
        search.fill("")
        search.press("Enter")
        expect(page.get_by_text("1 certificate matches")).to_have_count(0)
        _settle(page)
        page.get_by_role("link", name="Expiry timeline").click()
        expect(page.get_by_role("heading", name="Renewal load")).to_be_visible()
        expect(page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(2)
        _shot(page, "timeline")
        page.get_by_role("link", name="Audit trail").click()
        expect(page.get_by_text("The audit chain is intact")).to_be_visible()
        _shot(page, "audit")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_text("Sign in to certlab")).to_be_visible()
        browser.close()

    inv = certlab.open(db, actor=Actor("check", Role.AUDITOR))
    rec = inv.get("browser_test_cert")
    assert rec.kind == "self_signed" and rec.sans == ("browser.example.com",)
    created = [e for e in inv.audit_events() if e.object == "browser_test_cert" and e.action == "created"]
    assert [(e.actor, e.outcome) for e in created] == [("admin", "ok")]
    assert inv.authenticate("admin", NEW_PASSWORD).role is Role.ADMIN
    # no private key of the inventory in any page's HTML as the browser had it
    scanner = Scanner()
    scanner.harvest(db)
    for name, html in RENDERED.items():
        scanner.add_text(f"{name} page", html)
    assert len(scanner.keys) >= 3 and len(RENDERED) >= 6, (len(scanner.keys), list(RENDERED))
    assert not scanner.leaks(), scanner.leaks()
