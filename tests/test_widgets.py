"""The notebook widgets, driven as a user would: set values, click, read what the widget returns."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

import certlab
from certlab import Actor, InvalidInputError, PermissionDeniedError, Role, widgets

from .conftest import make_cert, run_cli


@pytest.fixture
def stocked(inv: certlab.Inventory) -> certlab.Inventory:
    make_cert(inv, "soon", days=20)
    make_cert(inv, "later", key_type="ec-p384", days=300)
    make_cert(inv, "exportable_one", days=100, exportable=True)
    inv.add_credential("pay_api", certificate="soon", endpoint="https://pay.example.com", purpose="mtls")
    return inv


def test_explorer_filters_update_the_frame_and_the_chart(stocked: certlab.Inventory) -> None:
    explorer = widgets.inventory_explorer(stocked)
    assert sorted(explorer.frame["name"]) == ["exportable_one", "later", "soon"]
    assert list(explorer.frame.columns) == list(widgets.CERTIFICATE_COLUMNS)
    explorer.status.value = "expiring"
    assert list(explorer.frame["name"]) == ["soon"]
    assert explorer.frame.iloc[0]["credentials"] == "pay_api"
    explorer.status.value = None
    explorer.key_type.value = "ec-p384"
    assert list(explorer.frame["name"]) == ["later"]
    explorer.key_type.value = None
    explorer.expiring_within.value = 150
    assert sorted(explorer.frame["name"]) == ["exportable_one", "soon"]
    explorer.issuer.value = "soon.example"
    assert list(explorer.frame["name"]) == ["soon"]
    chart = explorer.chart.to_dict()
    assert [row["name"] for row in _chart_rows(chart)] == ["soon"]
    explorer.issuer.value = "nobody-issues-this"
    assert explorer.frame.empty and _chart_rows(explorer.chart.to_dict()) == []


def _chart_rows(spec: dict) -> list[dict]:  # type: ignore[type-arg]
    datasets = spec["datasets"]
    bars = spec["layer"][0]["data"]["name"]
    return list(datasets[bars])


def test_explorer_sees_changes_made_by_another_process(stocked: certlab.Inventory) -> None:
    """The widget holds no connection between calls: another process can write, and a refresh sees it."""
    explorer = widgets.inventory_explorer(stocked)
    proc = run_cli("create", "self-signed", "from_cli", "--san", "cli.example.com", "--key", "ec-p256",
                   db=stocked.path)
    assert proc.returncode == 0, proc.stderr
    assert "from_cli" not in set(explorer.frame["name"])
    explorer.refresh_button.click()
    assert "from_cli" in set(explorer.frame["name"])


def test_explorer_never_shows_key_material(stocked: certlab.Inventory) -> None:
    explorer = widgets.inventory_explorer(stocked)
    assert not {"der", "private_key", "encrypted_key"} & set(explorer.frame.columns)
    assert "PRIVATE KEY" not in explorer.table.value


def test_issue_form_creates_a_self_signed_certificate_as_the_notebook_actor(inv: certlab.Inventory) -> None:
    form = widgets.issue_form(inv)
    form.name.value = "payments_mtls"
    form.sans.value = "pay.example.com\n10.0.0.5"
    form.key_type.value = "ec-p256"
    form.days.value = 90
    form.purpose.value = "client"
    form.exportable.value = True
    form.submit_button.click()
    assert form.error is None
    assert form.result is not None and form.result.name == "payments_mtls"
    stored = inv.get("payments_mtls")
    assert stored.sans == ("pay.example.com", "10.0.0.5") and stored.exportable and stored.key_type == "ec-p256"
    assert stored.purpose == "client" and 88 <= (stored.days_to_expiry or 0) <= 90
    created = inv.audit_events()[-1]
    assert (created.action, created.actor, created.object) == ("created", "alice", "payments_mtls")


def test_issue_form_makes_a_csr(inv: certlab.Inventory) -> None:
    form = widgets.issue_form(inv)
    form.mode.value = form.CSR
    form.name.value = "erp_client"
    form.subject.value = "CN=erp.example.com,O=Acme,C=DE"
    form.sans.value = "erp.example.com"
    form.key_type.value = "ec-p256"
    form.submit_button.click()
    assert form.error is None and form.result is not None and form.result.status == "pending"
    assert form.csr_pem is not None and form.csr_pem.startswith("-----BEGIN CERTIFICATE REQUEST-----")
    subject = certlab.load_csr(form.csr_pem.encode()).subject.rfc4514_string()
    assert set(subject.split(",")) == {"CN=erp.example.com", "O=Acme", "C=DE"}
    assert "PRIVATE" not in form.csr_text.value
    assert inv.get("erp_client").status == "pending"


def test_issue_form_shows_errors_and_changes_nothing(inv: certlab.Inventory) -> None:
    make_cert(inv, "taken")
    before = len(inv.audit_events())
    form = widgets.issue_form(inv)
    form.name.value = "bad name!"
    form.submit_button.click()
    assert form.result is None and isinstance(form.error, InvalidInputError)
    assert "bad name!" in form.message.value
    form.name.value = "taken"
    form.key_type.value = "ec-p256"
    form.submit_button.click()
    assert form.result is None and isinstance(form.error, certlab.ConflictError)
    assert [r.name for r in inv.list()] == ["taken"]
    assert len(inv.audit_events()) == before
    form.name.value = "fine_now"
    assert form.submit() is not None and form.error is None  # a later success clears the error


def test_issue_form_runs_with_the_notebook_role(inv: certlab.Inventory) -> None:
    analyst = inv.as_actor(Actor("ana", Role.ANALYST))
    form = widgets.issue_form(analyst)  # type: ignore[arg-type]
    assert "ana (analyst)" in form.acting_as.value
    form.name.value = "not_allowed"
    form.key_type.value = "ec-p256"
    form.submit_button.click()
    assert form.result is None and isinstance(form.error, PermissionDeniedError)
    assert inv.list() == []
    denied = inv.audit_events()[-1]
    assert (denied.actor, denied.outcome, denied.object) == ("ana", "denied", "not_allowed")


def test_audit_browser_filters_and_verifies(stocked: certlab.Inventory) -> None:
    stocked.export("exportable_one", "pkcs12", password="a long keystore password")
    browser = widgets.audit_browser(stocked)
    assert browser.verification is not None and browser.verification.ok
    assert browser.verification.events == len(stocked.audit_events())
    assert list(browser.frame["seq"]) == sorted(browser.frame["seq"], reverse=True)
    browser.action.value = "exported"
    browser.show_button.click()
    assert list(browser.frame["object"]) == ["exportable_one"]
    details = json.loads(browser.frame.iloc[0]["details"])
    assert details["format"] == "pkcs12" and "password" not in json.dumps(details).lower().replace("pbes2", "")
    browser.action.value = None
    browser.actor.value = "nobody"
    browser.show_button.click()
    assert browser.frame.empty
    browser.actor.value = ""
    today = dt.datetime.now(dt.UTC).date()
    browser.since.value = today + dt.timedelta(days=1)
    browser.show_button.click()
    assert browser.frame.empty
    browser.since.value = today - dt.timedelta(days=1)
    browser.until.value = today
    browser.show_button.click()
    assert len(browser.frame) == len(stocked.audit_events())


def test_audit_browser_reports_a_tampered_chain_and_a_wrong_head(stocked: certlab.Inventory) -> None:
    browser = widgets.audit_browser(stocked)
    assert browser.verification is not None
    head = browser.verification.head
    browser.expect_head.value = head
    browser.verify_button.click()
    assert browser.verification.ok
    import duckdb

    con = duckdb.connect(str(stocked.path))
    try:
        con.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
    finally:
        con.close()
    browser.verify_button.click()
    assert not browser.verification.ok and browser.verification.first_bad_seq == 2
    browser.expect_head.value = "not a head"
    assert browser.verify() is None and isinstance(browser.error, InvalidInputError)


def test_frames_are_plain_pandas(stocked: certlab.Inventory, tmp_path: Path) -> None:
    explorer = widgets.inventory_explorer(stocked)
    frame = explorer.frame
    assert isinstance(frame, pd.DataFrame)
    frame.to_csv(tmp_path / "out.csv", index=False)
    assert len(pd.read_csv(tmp_path / "out.csv")) == 3
