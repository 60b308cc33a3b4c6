"""Every dashboard page through Streamlit's AppTest, signed in (seeded session state) on a copy of the demo
inventory: each form's effect in the inventory and its audit event, refusals for auditors, errors in the form."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

import certlab
from certlab import Actor, Role
from dashboard import state

from .dashboard_fixtures import app_as, demo_db, demo_template, errors, open_inv, texts

__all__ = ["demo_db", "demo_template"]


def _last(db: Path, **match: str) -> certlab.AuditEvent:
    events = [e for e in open_inv(db).audit_events() if all(getattr(e, k) == v for k, v in match.items())]
    assert events, f"no audit event with {match}"
    return events[-1]


def _button(at: AppTest, label: str) -> object:
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r}: {[b.label for b in at.button]}"
    return matches[0]


# --- Certificates -------------------------------------------------------------------------------------

def _open(at: AppTest, name: str) -> AppTest:
    at.text_input(key="certs_search").input(name).run()
    at.selectbox(key="certs_open").select(name).run()
    return at


def test_certificates_search_filters_and_opens_the_detail(demo_db: Path) -> None:
    at = app_as("auditor", "certificates")
    table = at.dataframe[0].value
    assert len(table) == open_inv(demo_db).count()
    at.selectbox(key="certs_status").select("expired").run()
    statuses = set(at.dataframe[0].value["Status"])
    assert statuses == {"EXPIRED"}
    at.selectbox(key="certs_status").select(None).run()
    _open(at, "payments_mtls")
    assert "payments_mtls" in list(at.dataframe[0].value["Name"])
    page = texts(at)
    assert "named credential `payment_gateway`" in page and "Audit history" in page


def test_certificates_download_is_prepared_and_audited(demo_db: Path) -> None:
    at = _open(app_as("auditor", "certificates"), "sso_signing")
    _button(at, "Prepare download").click()
    at.run()
    assert not errors(at)
    name, blob = at.session_state[state.PREPARED_DOWNLOAD]
    assert name == "sso_signing" and blob.bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    event = _last(demo_db, action="downloaded", object="sso_signing")
    assert (event.actor, event.outcome, event.details["format"]) == ("auditor", "ok", "pem")


def test_auditor_keystore_export_is_refused_shown_and_audited(demo_db: Path) -> None:
    at = _open(app_as("auditor", "certificates"), "jenkins_agent")
    fields = [t for t in at.text_input if t.form_id == "export_jenkins_agent"]
    fields[0].input("a long keystore password")
    fields[1].input("a long keystore password")
    [b for b in at.button if b.form_id == "export_jenkins_agent"][0].click()
    at.run()
    assert any("may not" in e and "jenkins_agent" in e for e in errors(at))
    event = _last(demo_db, action="exported", object="jenkins_agent", actor="auditor")
    assert event.outcome == "denied"


def test_admin_exports_a_keystore_with_the_password_asked_twice(demo_db: Path) -> None:
    at = _open(app_as("admin", "certificates"), "jenkins_agent")
    fields = [t for t in at.text_input if t.form_id == "export_jenkins_agent"]
    fields[0].input("a long keystore password")
    fields[1].input("another long password")
    [b for b in at.button if b.form_id == "export_jenkins_agent"][0].click()
    at.run()
    assert "The two passwords differ." in errors(at)
    fields = [t for t in at.text_input if t.form_id == "export_jenkins_agent"]
    fields[0].input("a long keystore password")
    fields[1].input("a long keystore password")
    [b for b in at.button if b.form_id == "export_jenkins_agent"][0].click()
    at.run()
    assert not errors(at)
    assert any(b.label == "Save jenkins_agent.p12" for b in at.get("download_button"))
    _, blob = at.session_state[state.PREPARED_DOWNLOAD]
    loaded = certlab.load_bundle(blob.bytes(), "p12", b"a long keystore password")
    assert loaded.private_key is not None
    event = _last(demo_db, action="exported", object="jenkins_agent", actor="admin")
    assert event.outcome == "ok" and "a long keystore password" not in str(event.details)


def test_delete_in_use_is_blocked_saying_by_what(demo_db: Path) -> None:
    at = _open(app_as("admin", "certificates"), "payments_mtls")
    confirm = [t for t in at.text_input if t.form_id == "delete_payments_mtls"][0]
    confirm.input("payments_mtls")
    [b for b in at.button if b.form_id == "delete_payments_mtls"][0].click()
    at.run()
    assert any("in use by named credentials: payment_gateway" in e for e in errors(at))
    assert open_inv(demo_db).get("payments_mtls").name == "payments_mtls"


def test_delete_unused_certificate(demo_db: Path) -> None:
    at = _open(app_as("admin", "certificates"), "old_intranet")
    confirm = [t for t in at.text_input if t.form_id == "delete_old_intranet"][0]
    confirm.input("old_intranet")
    [b for b in at.button if b.form_id == "delete_old_intranet"][0].click()
    at.run()
    assert not errors(at)
    assert "old_intranet" not in {r.name for r in open_inv(demo_db).list()}
    assert _last(demo_db, action="deleted", object="old_intranet").actor == "admin"


def test_upload_signed_chain_with_the_wrong_file_shows_the_error(demo_db: Path) -> None:
    at = _open(app_as("admin", "certificates"), "intranet")
    other = open_inv(demo_db).export("sso_signing", "pem").bytes()
    at.file_uploader(key="upload_file_intranet").set_value(("wrong.pem", other, "application/x-pem-file"))
    [b for b in at.button if b.form_id == "upload_intranet"][0].click()
    at.run()
    assert any("no certificate in it matches the pending key of intranet" in e for e in errors(at))
    assert open_inv(demo_db).get("intranet").status == "pending"


def test_rotate_makes_a_successor(demo_db: Path) -> None:
    at = _open(app_as("admin", "certificates"), "kafka_broker_2")
    at.button(key="rotate_kafka_broker_2").click()
    at.run()
    assert not errors(at)
    rec = open_inv(demo_db).get("kafka_broker_2")
    assert rec.successor and _last(demo_db, action="rotated", object="kafka_broker_2").actor == "admin"


# --- Create -------------------------------------------------------------------------------------------

def test_create_self_signed_through_the_form(demo_db: Path) -> None:
    at = app_as("admin", "create")
    at.text_input(key="ss_label").input("App test")
    at.text_input(key="ss_name").input("apptest_cert")
    at.text_area(key="ss_sans").input("apptest.example.com\n10.1.2.3")
    at.checkbox(key="ss_exportable").check()
    at.run()
    at.button(key="ss_create").click()
    at.run()
    assert not errors(at)
    rec = open_inv(demo_db).get("apptest_cert")
    assert (rec.kind, rec.label, rec.sans, rec.exportable) == ("self_signed", "App test",
                                                                ("apptest.example.com", "10.1.2.3"), True)
    assert _last(demo_db, action="created", object="apptest_cert").actor == "admin"


def test_create_form_validates_as_you_type(demo_db: Path) -> None:
    at = app_as("admin", "create")
    at.text_input(key="ss_name").input("1bad name").run()
    assert any("invalid unique name" in e for e in errors(at))
    assert at.button(key="ss_create").disabled
    at.text_input(key="ss_name").input("good_name")
    at.text_area(key="ss_sans").input("not a host!").run()
    assert errors(at) and at.button(key="ss_create").disabled


def test_create_duplicate_name_error_is_shown(demo_db: Path) -> None:
    at = app_as("admin", "create")
    at.text_input(key="ss_name").input("payments_mtls").run()
    at.button(key="ss_create").click()
    at.run()
    assert any("exists already" in e for e in errors(at))


def test_auditor_is_refused_creation_and_the_refusal_audited(demo_db: Path) -> None:
    at = app_as("auditor", "create")
    at.text_input(key="ss_name").input("auditor_try").run()
    at.button(key="ss_create").click()
    at.run()
    assert any("may not create certificates" in e for e in errors(at))
    assert _last(demo_db, action="created", object="auditor_try").outcome == "denied"
    assert "auditor_try" not in {r.name for r in open_inv(demo_db).list()}


def test_create_csr_then_download_it(demo_db: Path) -> None:
    at = app_as("admin", "create")
    at.text_input(key="csr_name").input("apptest_csr")
    at.text_input(key="csr_subject").input("CN=apptest.example.com,O=Acme")
    at.run()
    at.button(key="csr_create").click()
    at.run()
    assert open_inv(demo_db).get("apptest_csr").status == "pending"
    at.button(key="csr_prepare").click()
    at.run()
    assert any(b.label == "Save apptest_csr.csr" for b in at.get("download_button"))
    assert _last(demo_db, action="downloaded", object="apptest_csr").details["format"] == "csr"


def test_import_upload_reports_each_file(demo_db: Path) -> None:
    good = certlab.self_signed("import.example.com", key_type="ec-p256").cert_pem.bytes()
    at = app_as("admin", "create")
    at.file_uploader(key="import_files").set_value([("partner.pem", good, "application/x-pem-file"),
                                                    ("junk.pem", b"not a certificate", "application/x-pem-file")])
    [b for b in at.button if b.form_id == "import"][0].click()
    at.run()
    results = at.dataframe[0].value
    assert list(results["Result"]) == ["imported", "rejected"]
    assert "import_example_com" in {r.name for r in open_inv(demo_db).list()} or any(
        "import.example.com" in r.subject for r in open_inv(demo_db).list())
    assert _last(demo_db, action="imported").actor == "admin"


# --- Timeline, audit, credentials, reminders, evidence, users -----------------------------------------

def test_timeline_draws_charts_and_offers_downloads(demo_db: Path) -> None:
    at = app_as("auditor", "timeline")
    assert not at.exception
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2
    labels = {b.label for b in at.get("download_button")}
    assert labels == {"Timeline as PNG", "Timeline as SVG", "Rows as CSV"}
    at.selectbox(key="tl_status").select("expired").run()
    assert "certificates with a validity period" in texts(at)


def test_audit_trail_filters_and_shows_a_broken_chain_plainly(demo_db: Path) -> None:
    at = app_as("auditor", "audit")
    assert "The audit chain is intact" in texts(at)
    at.selectbox(key="audit_actor").select("ines.vogel").run()
    assert set(at.dataframe[0].value["Actor"]) == {"ines.vogel"}
    with duckdb.connect(str(demo_db)) as con:  # tamper with one event behind certlab's back
        con.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 10")
    at = app_as("auditor", "audit")
    assert "The audit chain is broken at event 10" in texts(at)


def test_audit_chain_is_verified_once_per_session_until_asked_again(demo_db: Path) -> None:
    at = app_as("auditor", "audit")
    assert "The audit chain is intact" in texts(at)
    with duckdb.connect(str(demo_db)) as con:  # tamper behind certlab's back, leaving the newest event alone
        con.execute("UPDATE audit_events SET object = 'elsewhere' WHERE seq = 12")
    at.selectbox(key="audit_outcome").select("denied").run()  # a rerun in the same session: the kept result
    assert "The audit chain is intact" in texts(at) and "checked" in texts(at)
    at.button(key="audit_verify").click().run()
    assert "The audit chain is broken at event 12" in texts(at)
    overview = app_as("auditor", "overview")  # a new session verifies again
    assert "Broken at event 12" in texts(overview)


def test_named_credential_add_and_auditor_refusal(demo_db: Path) -> None:
    at = app_as("admin", "credentials")
    at.text_input(key="cred_name").input("crm_sync")
    at.text_input(key="cred_cert").input("kafka_broker_1")
    at.text_input(key="cred_endpoint").input("https://crm.example.com/sync")
    at.selectbox(key="cred_purpose").select("mtls")
    [b for b in at.button if b.form_id == "credential_add"][0].click()
    at.run()
    assert not errors(at)
    assert open_inv(demo_db).credential("crm_sync").certificate == "kafka_broker_1"
    at = app_as("auditor", "credentials")
    at.text_input(key="cred_name").input("auditor_cred")
    at.text_input(key="cred_cert").input("kafka_broker_1")
    at.text_input(key="cred_endpoint").input("https://x.example.com")
    [b for b in at.button if b.form_id == "credential_add"][0].click()
    at.run()
    assert any("may not" in e for e in errors(at))
    assert _last(demo_db, object="auditor_cred").outcome == "denied"


def test_named_credential_errors_in_the_form(demo_db: Path) -> None:
    at = app_as("admin", "credentials")
    at.text_input(key="cred_name").input("bad_cred")
    at.text_input(key="cred_cert").input("erp_client_2027")  # pending
    at.text_input(key="cred_endpoint").input("https://erp.example.com")
    [b for b in at.button if b.form_id == "credential_add"][0].click()
    at.run()
    assert any("erp_client_2027 is pending" in e for e in errors(at))
    with pytest.raises(certlab.NotFoundError):
        open_inv(demo_db).credential("bad_cred")


def test_reminders_and_rotation_page(demo_db: Path) -> None:
    at = app_as("admin", "reminders")
    assert not at.exception and "Rotation policy" in texts(at)
    at.number_input[0].set_value(45)
    [b for b in at.button if b.label == "Save default policy"][0].click()
    at.run()
    assert open_inv(demo_db).rotation_policy().days_before == 45
    assert _last(demo_db, action="settings_changed").actor == "admin"


def test_reminders_page_shows_the_first_rows_of_a_long_list_and_says_how_many(demo_db: Path) -> None:
    admin = certlab.open(demo_db, actor=Actor("admin", Role.ADMIN))
    admin.generate_synthetic(1500, seed=5)  # about half are expired and still active: due reminders
    due = admin.reminders_due()
    assert len(due) > 500
    at = app_as("auditor", "reminders")
    assert not at.exception
    frames = {len(df.value) for df in at.dataframe}
    assert 500 in frames and max(frames) == 500
    assert f"{len(due):,} reminders are due; the 500" in texts(at)
    rotations = len(admin.rotations_due(within_days=365))
    at.slider(key="rot_horizon").set_value(365).run()
    assert rotations > 500 and f"{rotations:,} certificates are due; the 500" in texts(at)
    shown = [df.value for df in at.dataframe if "Threshold (days)" in df.value.columns][0]
    assert list(shown["Certificate"]) == [r.certificate for r in due[:500]]


def test_evidence_pack_for_an_auditor(demo_db: Path) -> None:
    at = app_as("auditor", "evidence")
    at.button(key="ev_make").click()
    at.run()
    assert not errors(at)
    blob = at.session_state[state.EVIDENCE_PACK]
    with zipfile.ZipFile(io.BytesIO(blob.bytes())) as zf:
        names = set(zf.namelist())
        assert names == {"summary.md", "inventory.csv", "audit_events.csv", "audit_verification.json",
                         "expiry_timeline.png"}
        assert zf.read("expiry_timeline.png").startswith(b"\x89PNG")
        assert b"audit chain verified" in zf.read("summary.md")
        assert b"PRIVATE KEY" not in b"".join(zf.read(n) for n in names)
    assert _last(demo_db, action="evidence_exported").actor == "auditor"


def test_users_page_admin_adds_auditor_reviews(demo_db: Path) -> None:
    at = app_as("admin", "users")
    at.text_input(key="user_add_name").input("newbie")
    at.selectbox(key="user_add_role").select("analyst")
    [b for b in at.button if b.form_id == "user_add"][0].click()
    at.run()
    assert any("One-time password" in s for s in (str(x.value) for x in at.success))
    admin = open_inv(demo_db).as_actor(Actor("admin", Role.ADMIN))
    assert admin.user("newbie").must_change_password
    at = app_as("auditor", "users")
    assert "newbie" in set(at.dataframe[0].value["User"])
    assert not [t for t in at.text_input if t.key == "user_add_name"]


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends: nothing listens there


def test_connection_test_failure_is_shown_and_audited(demo_db: Path) -> None:
    admin = open_inv(demo_db).as_actor(Actor("admin", Role.ADMIN))
    admin.add_credential("local_probe", certificate="payments_mtls", endpoint=f"127.0.0.1:{_closed_port()}",
                         purpose="mtls")
    at = app_as("admin", "credentials")
    at.selectbox(key="test_cred_name").select("local_probe")
    [b for b in at.button if b.form_id == "credential_test"][0].click()
    at.run()
    assert any("local_probe" in e or "127.0.0.1" in e for e in errors(at)), errors(at)
    event = _last(demo_db, action="connection_tested", object="local_probe")
    assert event.actor == "admin" and event.outcome != "ok"
    at = app_as("auditor", "credentials")
    at.selectbox(key="test_cred_name").select("local_probe")
    [b for b in at.button if b.form_id == "credential_test"][0].click()
    at.run()
    assert any("may not" in e for e in errors(at))
    assert _last(demo_db, action="connection_tested", actor="auditor").outcome == "denied"
