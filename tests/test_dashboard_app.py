"""The dashboard's sign-in, password change and Overview, through Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from certlab import Actor, Role
from dashboard import state

from .dashboard_fixtures import APP, PASSWORDS, TIMEOUT, app_as, demo_db, demo_template, errors, open_inv, texts

__all__ = ["demo_db", "demo_template"]


def _sign_in(at: AppTest, name: str, password: str, *, ok: bool = True) -> AppTest:
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    at.button[0].click()
    at.run()
    return _home(at) if ok else at


def _home(at: AppTest) -> AppTest:
    """Run again (the rerun the form asked for) and open the home page, as the browser does."""
    at.run()
    return at.switch_page("pages/overview.py").run()


def test_sign_in_runs_as_the_user_and_is_audited(demo_db: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert "Sign in to certlab" in texts(at)
    at = _sign_in(at, "auditor", PASSWORDS["auditor"])
    assert not errors(at)
    assert at.session_state[state.ACTOR] == Actor("auditor", Role.AUDITOR)
    assert "Overview" in texts(at)
    last = open_inv(demo_db).audit_events()[-1]
    assert (last.action, last.actor, last.outcome) == ("signed_in", "auditor", "ok")


def test_wrong_password_is_shown_in_the_form_and_audited(demo_db: Path) -> None:
    at = _sign_in(AppTest.from_file(str(APP), default_timeout=TIMEOUT).run(), "admin", "not the password", ok=False)
    assert errors(at) == ["sign-in failed: unknown user or wrong password"]
    assert state.ACTOR not in at.session_state
    last = open_inv(demo_db).audit_events()[-1]
    assert (last.action, last.object, last.outcome) == ("sign_in_failed", "user:admin", "denied")


def test_one_time_password_must_be_changed_first(demo_db: Path) -> None:
    admin = open_inv(demo_db).as_actor(Actor("admin", Role.ADMIN))
    admin.set_password("auditor", "one-time password x", must_change_password=True)
    at = _sign_in(AppTest.from_file(str(APP), default_timeout=TIMEOUT).run(), "auditor", "one-time password x",
                  ok=False).run()
    at.switch_page("pages/change_password.py").run()  # the only page of the navigation now
    assert "Choose a password" in texts(at)
    at.switch_page("pages/overview.py").run()  # other pages stay closed until the password is changed
    assert "Overview" not in texts(at) and not at.metric
    at.switch_page("pages/change_password.py").run()
    at.text_input[0].input("one-time password x")
    at.text_input[1].input("my own long password")
    at.text_input[2].input("my own long password!")
    at.button[0].click()
    at.run()
    assert errors(at) == ["The two new passwords differ."]
    at.text_input[0].input("one-time password x")
    at.text_input[1].input("my own long password")
    at.text_input[2].input("my own long password")
    at.button[0].click()
    at.run()
    assert not errors(at)
    _home(at)
    assert "Overview" in texts(at) and at.metric
    assert admin.authenticate("auditor", "my own long password").role is Role.AUDITOR


def test_overview_shows_counts_expiries_and_chain(demo_db: Path) -> None:
    at = app_as("auditor")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    summary = open_inv(demo_db).summary()
    assert metrics["Certificates"] == str(summary.total)
    assert metrics["Expired"] == str(summary.expired) and int(metrics["Expired"]) >= 3
    assert metrics["Pending CSRs"] == str(summary.pending)
    assert summary.linted_at is not None and metrics["Findings"] == str(summary.findings)
    page = texts(at)
    assert "Verified:" in page and "unbroken" in page
    frames = [df.value for df in at.dataframe]
    next_expiries = frames[0]
    assert "payments_mtls" in set(next_expiries["Certificate"])
    breaks = dict(zip(next_expiries["Certificate"], next_expiries["Breaks"]))
    assert breaks["payments_mtls"] == "payment_gateway"
    assert "payment_gateway" in set(frames[1]["Integration"])
