"""Policy findings: every rule, its severity, the integration at risk, and where findings show."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

import certlab
from certlab import ImportSource
from certlab.certs import Purpose, utcnow
from certlab.lint import LintSubject, Severity, Usage, lint

from .conftest import make_cert, run_cli
from .peers import bundle, issue, make_ca, past, pem

NOW = utcnow()


@pytest.fixture(scope="module")
def ca() -> certlab.Issued:
    return make_ca("Lint CA")


def rules(findings: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {f.rule: f.severity.value for f in findings}


def _leaf(ca: certlab.Issued, **kw: object) -> x509.Certificate:
    kw.setdefault("sans", ("svc.example.com",))
    return issue(ca, "svc.example.com", **kw).certificate  # type: ignore[arg-type]


def test_a_good_short_lived_server_certificate_has_no_findings(ca: certlab.Issued) -> None:
    assert lint(LintSubject("ok", _leaf(ca, days=40), purpose="server", chain=(ca.certificate,)), now=NOW) == []


@pytest.mark.parametrize("days,severity,words", [
    (500, "error", "over 398 days"),
    (365, "warning", "200-day limit"),
    (90, "warning", "47-day limit"),
])
def test_server_validity(ca: certlab.Issued, days: int, severity: str, words: str) -> None:
    found = lint(LintSubject("s", _leaf(ca, days=days)), now=NOW)
    assert rules(found) == {"server_validity": severity}
    assert words in found[0].message


def test_client_certificates_are_not_held_to_server_limits(ca: certlab.Issued) -> None:
    assert lint(LintSubject("c", _leaf(ca, days=700, purpose=Purpose.CLIENT, sans=())), now=NOW) == []


def test_weak_rsa_key_and_sha1_signature(ca: certlab.Issued) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    cert = issue(ca, "weak", sans=("weak.example.com",), key=weak, days=30).certificate
    found = rules(lint(LintSubject("w", cert), now=NOW))
    assert found == {"weak_rsa_key": "error"}
    for digest, words in (("sha1", "SHA-1"), ("md5", "MD5")):  # cryptography no longer signs these: openssl does
        made = subprocess.run(
            ["openssl", "req", "-x509", f"-{digest}", "-newkey", "rsa:2048", "-nodes", "-keyout", "/dev/null",
             "-subj", f"/CN={digest}.example.com", "-days", "30", "-addext", f"subjectAltName=DNS:{digest}.example.com"],
            capture_output=True, timeout=120, check=True)
        old = x509.load_pem_x509_certificate(made.stdout)
        found_old = lint(LintSubject(digest, old), now=NOW)
        assert rules(found_old) == {"weak_signature_hash": "error"} and words in found_old[0].message
        anchor = lint(LintSubject(digest, old, kind="trusted_ca"), now=NOW)
        assert rules(anchor) == {"weak_signature_hash": "warning"}


def test_server_without_san_low_serial_and_ca_chain(ca: certlab.Issued) -> None:
    no_san = issue(ca, "nosan", sans=(), days=30, serial=12345).certificate
    found = rules(lint(LintSubject("n", no_san), now=NOW))
    assert found == {"server_without_san": "error", "low_serial_entropy": "warning"}

    old_ca = make_ca("Old CA", not_before=past(800), not_after=past(1))
    leaf = issue(old_ca, "x", sans=("x.example.com",), days=30).certificate
    assert rules(lint(LintSubject("x", leaf, chain=(old_ca.certificate,)), now=NOW)) == {"chain_ca_expired": "error"}
    soon_ca = make_ca("Soon CA", not_after=NOW + dt.timedelta(days=10))
    leaf = issue(soon_ca, "y", sans=("y.example.com",), days=5).certificate
    found_soon = lint(LintSubject("y", leaf, chain=(soon_ca.certificate,)), now=NOW, warning_days=30)
    assert rules(found_soon) == {"chain_ca_expiring": "warning"} and "CN=Soon CA" in found_soon[0].message


def test_shared_key_self_signed_external_mtls_and_ca_as_leaf(ca: certlab.Issued) -> None:
    issued = certlab.self_signed("client.acme.example", purpose="client", days=30, key_type="ec-p256")
    ext = Usage("payment_gateway", "mtls", "https://api.bank.example/pay", external=True)
    internal = Usage("erp", "mtls", "https://erp.corp.internal/", external=False)
    found = lint(LintSubject("me", issued.certificate, kind="self_signed", usages=(ext,), same_key_as=("me_old",)),
                 now=NOW)
    assert rules(found) == {"self_signed_external_mtls": "warning", "shared_key": "warning"}
    assert all(f.integrations == ("payment_gateway",) and "puts payment_gateway at risk" in f.message for f in found)
    assert lint(LintSubject("me", issued.certificate, kind="self_signed", usages=(internal,)), now=NOW) == []
    found_ca = lint(LintSubject("ca", ca.certificate, kind="internal_ca", usages=(ext,)), now=NOW)
    assert rules(found_ca)["ca_as_leaf"] == "error"
    assert rules(lint(LintSubject("ca", ca.certificate, kind="internal_ca"), now=NOW)) == {}


def test_severity_order() -> None:
    assert Severity.parse("ERROR") is Severity.ERROR
    with pytest.raises(certlab.InvalidInputError):
        Severity.parse("fatal")


# --- in the inventory ---------------------------------------------------------------------------------

@pytest.fixture
def linted(inv: certlab.Inventory, ca: certlab.Issued) -> certlab.Inventory:
    inv.import_sources([ImportSource("ca.pem", pem(ca.certificate))], trusted=True, name="lint_ca")
    long_server = issue(ca, "pay.acme.example", sans=("pay.acme.example",), days=500, purpose=Purpose.ANY)
    inv.import_sources([ImportSource("pay.pem", bundle(long_server))], name="pay_server")
    inv.add_credential("payment_gateway", certificate="pay_server", endpoint="https://api.bank.example/pay",
                       purpose="mtls")
    make_cert(inv, "fine_client", purpose="client", days=30)
    return inv


def test_findings_show_in_records_list_and_show(linted: certlab.Inventory, cli_db: Path) -> None:
    rec = linted.get("pay_server")
    assert rec.findings and rec.findings[0]["rule"] == "server_validity" and rec.findings[0]["severity"] == "error"
    assert rec.findings[0]["integrations"] == ["payment_gateway"]
    assert "puts payment_gateway at risk" in rec.findings[0]["message"]
    doc = rec.to_json()
    assert doc["findings_count"] == len(rec.findings) == 1
    listed = {r.name: r for r in linted.list(findings=True)}
    assert listed["pay_server"].findings == rec.findings and listed["fine_client"].findings == ()
    assert {r.name: r.findings for r in linted.list()}["pay_server"] == ()  # a plain listing does not lint
    ca_rec = listed["lint_ca"]
    assert all(f["rule"] != "ca_as_leaf" for f in ca_rec.findings)


def test_lint_reports_and_findings_view(linted: certlab.Inventory) -> None:
    reports = linted.lint()
    assert [r.certificate for r in reports] == ["pay_server"]
    assert linted.lint("fine_client")[0].findings == ()
    assert linted.lint(min_severity="error")[0].findings[0].rule == "server_validity"
    with linted.db.read() as tx:
        rows = tx.rows("SELECT certificate, rule, severity, integrations FROM findings_v")
    assert rows == [("pay_server", "server_validity", "error", '["payment_gateway"]')]
    with pytest.raises(certlab.NotFoundError):
        linted.lint("nope")
    analyst = linted.as_actor(certlab.Actor("ann", certlab.Role.ANALYST))
    assert analyst.lint()[0].certificate == "pay_server"


def test_chain_and_ca_as_leaf_found_through_the_inventory(inv: certlab.Inventory) -> None:
    old_ca = make_ca("Expired Partner CA", not_before=past(800), not_after=past(1))
    inv.import_sources([ImportSource("old.pem", pem(old_ca.certificate))], trusted=True, name="old_ca")
    leaf = issue(old_ca, "legacy.acme.example", sans=("legacy.acme.example",), days=30, not_before=past(10))
    inv.import_sources([ImportSource("legacy.pem", pem(leaf.certificate))], name="legacy")
    assert {f["rule"] for f in inv.get("legacy").findings} == {"chain_ca_expired"}
    inv.add_credential("bad_binding", certificate="old_ca", endpoint="https://x.example/", purpose="saml")
    assert "ca_as_leaf" in {f["rule"] for f in inv.get("old_ca").findings}


def test_cli_lint_and_list_json(cli_db: Path, ca: certlab.Issued, tmp_path: Path) -> None:
    (tmp_path / "pay.pem").write_bytes(bundle(issue(ca, "pay.acme.example", sans=("pay.acme.example",), days=500)))
    run_cli("import", str(tmp_path / "pay.pem"), "--name", "pay_server", db=cli_db, check=True)
    run_cli("credential", "add", "payment_gateway", "--cert", "pay_server", "--endpoint", "https://api.bank.example/",
            "--purpose", "mtls", db=cli_db, check=True)
    done = run_cli("lint", "--json", db=cli_db)
    assert done.returncode == 0
    doc = json.loads(done.stdout)
    assert doc[0]["certificate"] == "pay_server" and doc[0]["findings"][0]["integrations"] == ["payment_gateway"]
    assert run_cli("lint", "--fail-on", "error", db=cli_db).returncode == 1
    table = run_cli("lint", "pay_server", "--table", db=cli_db)
    assert "server_validity" in table.stdout and "payment_gateway" in table.stdout
    listed = json.loads(run_cli("list", "--json", db=cli_db, check=True).stdout)
    assert listed[0]["findings_count"] == 1 and listed[0]["findings"][0]["severity"] == "error"
    shown = run_cli("show", "pay_server", "--table", db=cli_db, check=True).stdout
    assert "findings_count" in shown and "error: valid for" in shown


def test_issuers_found_two_levels_up_and_a_renewed_root_replaces_the_expired_one(inv: certlab.Inventory) -> None:
    """The chain above a certificate is walked by key identifier through the inventory (leaf -> its
    intermediate -> the root); where two CAs share a key (a root renewed with its key), the newer one counts."""
    from certlab.certs import Issued, build_certificate

    from .peers import _ski, x509_name

    root_key = certlab.generate_key("ec-p256")

    def root(not_before: dt.datetime, not_after: dt.datetime) -> x509.Certificate:
        return build_certificate(subject=x509_name("Two Level Root"), public_key=root_key.public_key(),
                                 issuer=x509_name("Two Level Root"), issuer_key=root_key, days=3650, is_ca=True,
                                 purpose=Purpose.ANY, not_before=not_before, not_after=not_after)

    old_root = root(past(800), past(1))
    inter_key = certlab.generate_key("ec-p256")
    inter = build_certificate(subject=x509_name("Two Level Intermediate"), public_key=inter_key.public_key(),
                              issuer=old_root.subject, issuer_key=root_key, days=1000, is_ca=True, purpose=Purpose.ANY,
                              issuer_ski=_ski(old_root), not_before=past(700))
    leaf = issue(Issued(inter, inter_key), "two.example", sans=("two.example",), days=30, not_before=past(1))
    inv.import_sources([ImportSource("root.pem", pem(old_root))], trusted=True, name="old_root")
    inv.import_sources([ImportSource("inter.pem", pem(inter))], trusted=True, name="inter")
    inv.import_sources([ImportSource("leaf.pem", pem(leaf.certificate))], name="leaf")
    found = [f for f in inv.get("leaf").findings if f["rule"] == "chain_ca_expired"]
    assert len(found) == 1 and "Two Level Root" in found[0]["message"]
    inv.import_sources([ImportSource("new.pem", pem(root(past(1), NOW + dt.timedelta(days=3000))))], trusted=True,
                       name="new_root")
    assert {f["rule"] for f in inv.get("leaf").findings} == set()


def test_a_key_in_many_certificates_names_the_first_five_and_counts_the_rest(inv: certlab.Inventory) -> None:
    """Through the inventory: the finding names the first five others (by name) and says how many more."""
    key = certlab.generate_key("ec-p256")
    ca = make_ca("Shared Key CA")
    for i in range(9):
        leaf = issue(ca, f"host{i}.example", sans=(f"host{i}.example",), key=key, days=30)
        inv.import_sources([ImportSource(f"h{i}.pem", pem(leaf.certificate))], name=f"host_{i}")
    [finding] = [f for f in inv.get("host_4").findings if f["rule"] == "shared_key"]
    assert finding["message"] == "the same key is in host_0, host_1, host_2, host_3, host_5 (+3 more)"
    [few] = [f for f in lint(LintSubject("x", _leaf(ca), same_key_as=("a", "b")), now=NOW) if f.rule == "shared_key"]
    assert few.message == "the same key is in a, b"


def _shared_key_message(records: list[certlab.CertificateRecord], name: str) -> str:
    [rec] = [r for r in records if r.name == name]
    [finding] = [f for f in rec.findings if f["rule"] == "shared_key"]
    return str(finding["message"])


def test_a_key_in_very_many_certificates_is_counted_up_to_a_hundred_others(inv: certlab.Inventory) -> None:
    """Past 100 other holders the count stops (a key in thousands would cost a read of each), and the
    finding says "or more"; a page of one certificate and a listing of many say the same."""
    key = certlab.generate_key("ec-p256")
    ca = make_ca("Pooled Key CA")
    leaves = [issue(ca, f"pool{i}.example", sans=(f"pool{i}.example",), key=key, days=30) for i in range(102)]
    inv.import_sources([ImportSource(f"p{i}.pem", pem(c.certificate)) for i, c in enumerate(leaves)])
    names = sorted(r.name for r in inv.list())
    for i in range(9):  # certificates with keys of their own: the listing below looks up many keys at once
        make_cert(inv, f"own_{i}")
    one = names[50]
    expected_others = sorted(n for n in names if n != one)[:5]
    at_cap = _shared_key_message([inv.get(one)], one)
    assert at_cap == f"the same key is in {', '.join(expected_others)} (+96 or more)"  # 101 others
    assert _shared_key_message(inv.list(findings=True), one) == at_cap
    inv.delete(names[-1])  # 100 others: counted exactly
    below = _shared_key_message([inv.get(one)], one)
    assert below == f"the same key is in {', '.join(expected_others)} (+95 more)"
    assert _shared_key_message(inv.list(findings=True), one) == below
