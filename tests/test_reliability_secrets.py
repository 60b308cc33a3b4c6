"""Secrets stay secret: after every CLI command, no private key's bytes or PEM appear anywhere they
should not (the database file and its backups, the audit trail, every command's output and error
messages, the notebooks' saved outputs, every dashboard page and download for every role). Exports
need a long password and use PBES2/AES-256 with a SHA-256 MAC (3DES only behind --legacy, audited as such); key files are 0600 and refused when others
can read them; ``audit verify --expect-head`` catches the removal of the newest events.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import certlab
from certlab import Actor, Role, formats
from certlab.cli import build_parser

from .conftest import ROOT, run_cli
from .dashboard_fixtures import demo_db, demo_template
from .secret_scan import Scanner, _needles, _secrets

__all__ = ["demo_db", "demo_template"]

PW = "a long enough export password"
ADMIN_ENV = {"CERTLAB_ACTOR": "alice:admin"}


def _cli(scanner: Scanner, name: str, *args: str, db: Path, ok: bool | None = True, stdin: bytes | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = run_cli(*args, db=db, env={**ADMIN_ENV, **(env or {})}, input=stdin)
    scanner.add_text(f"certlab {' '.join(args)} (stdout)", proc.stdout)
    scanner.add_text(f"certlab {' '.join(args)} (stderr)", proc.stderr)
    assert "Traceback" not in proc.stderr, (args, proc.stderr)
    if ok is True:
        assert proc.returncode == 0, (args, proc.stderr)
    elif ok is False:
        assert proc.returncode == 1, (args, proc.stderr)
        assert proc.stderr.startswith("certlab: error: ") or '"rejected"' in proc.stdout, (args, proc.stderr)
    return proc


def _leaf_commands() -> list[tuple[str, ...]]:
    def walk(p: argparse.ArgumentParser, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            return [prefix]
        return [leaf for name, sp in subs[0].choices.items() for leaf in walk(sp, prefix + (name,))]
    return walk(build_parser(), ())


@pytest.mark.slow
def test_no_private_key_leaks_from_any_command(tmp_path: Path) -> None:
    db = tmp_path / "inv" / "certlab.duckdb"
    work = tmp_path / "work"
    work.mkdir()
    s = Scanner()
    pw = work / "pw.txt"
    pw.write_text(PW + "\n")
    short_pw = work / "short.txt"
    short_pw.write_text("short\n")

    # material to import: a PEM bundle with its key, a PKCS#12, an encrypted key
    bundle_issued = certlab.self_signed("bundle.example.com", key_type="rsa-2048")
    s.add_key("imported-bundle", bundle_issued.private_key)
    (work / "bundle.pem").write_bytes(bundle_issued.cert_pem.bytes() + bundle_issued.private_key_pem.bytes())
    p12_issued = certlab.self_signed("p12.example.com", key_type="ec-p384")
    s.add_key("imported-p12", p12_issued.private_key)
    (work / "store.p12").write_bytes(formats.dump_pkcs12("p12", p12_issued.private_key, p12_issued.certificate,
                                                         [], PW.encode()))
    enc_issued = certlab.self_signed("enc.example.com", key_type="ed25519")
    s.add_key("imported-encrypted", enc_issued.private_key)
    (work / "enc.pem").write_bytes(enc_issued.cert_pem.bytes()
                                   + formats.dump_encrypted_private_key(enc_issued.private_key, PW.encode()))
    saml = work / "assertion.xml"
    saml.write_bytes(b'<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" '
                     b'IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>certlab</saml:Issuer></saml:Assertion>')

    leaves = _leaf_commands()
    done: set[tuple[str, ...]] = set()

    def run(*args: str, ok: bool | None = True, cmd: tuple[str, ...] | None = None) -> subprocess.CompletedProcess[str]:
        leaf = max((lf for lf in leaves if tuple(args[:len(lf)]) == lf), key=len, default=None)
        if leaf:
            done.add(leaf)
        return _cli(s, " ".join(args), *args, db=db, ok=ok)

    run("init")
    run("create", "self-signed", "web_rsa", "--key", "rsa-2048", "--san", "web.example.com", "--exportable")
    run("create", "self-signed", "sso_ec", "--key", "ec-p256", "--purpose", "signing", "--exportable")
    run("create", "self-signed", "edge_ed", "--key", "ed25519", "--exportable")
    run("create", "csr", "erp_client", "--key", "ec-p256", "--subject", "CN=erp.example.com,O=Acme")
    run("export", "erp_client", "--format", "csr", "--out", str(work / "erp.csr"))
    run("ca", "create", "acme_root", "--subject", "CN=Acme Root,O=Acme")
    run("ca", "issue", "acme_root", "api_leaf", "--key", "ec-p256", "--san", "api.example.com", "--exportable")
    run("ca", "sign", "acme_root", str(work / "erp.csr"), "--name", "erp_signed_copy")
    run("export", "erp_signed_copy", "--format", "chain", "--out", str(work / "erp-chain.pem"))
    run("delete", "erp_signed_copy")
    run("upload-signed", "erp_client", str(work / "erp-chain.pem"))
    run("import", str(work / "bundle.pem"), "--exportable")
    run("import", str(work / "store.p12"), "--password-file", str(pw))
    run("import", str(work / "enc.pem"), "--password-file", str(pw))
    run("import", str(work / "enc.pem"), ok=False)  # no password: a clear refusal
    run("import", str(work / "store.p12"), "--password-file", str(short_pw), ok=False)  # wrong password
    run("upload-signed", "erp_client", str(work / "bundle.pem"), ok=False)  # a key where a certificate belongs
    for fmt in ("pem", "der", "chain"):
        run("export", "web_rsa", "--format", fmt, "--out", str(work / f"web.{fmt}"))
    run("export", "web_rsa", "--format", "pkcs12", "--out", str(work / "web.p12"), "--password-file", str(pw))
    run("export", "web_rsa", "--format", "pkcs12", "--legacy", "--out", str(work / "web-legacy.p12"),
        "--password-file", str(pw))
    run("export", "sso_ec", "--format", "key", "--out", str(work / "sso.key.pem"), "--password-file", str(pw))
    run("export", "sso_ec", "--format", "key", "--out", str(work / "short.key.pem"), "--password-file",
        str(short_pw), ok=False)
    run("export", "erp_client", "--format", "pkcs12", "--out", str(work / "no.p12"), "--password-file", str(pw),
        ok=False)  # not exportable
    run("list", "--json")
    run("show", "web_rsa", "--json")
    run("credential", "add", "pay_gw", "--cert", "web_rsa", "--endpoint", "https://127.0.0.1:9/pay", "--purpose", "mtls")
    run("credential", "add", "sso_idp", "--cert", "sso_ec", "--endpoint", "https://idp.example.com", "--purpose", "saml")
    run("credential", "list", "--json")
    run("credential", "rebind", "pay_gw", "--cert", "api_leaf")
    run("credential", "test", "pay_gw", "--timeout", "2", ok=None)
    run("credential", "call", "pay_gw", "--timeout", "2", ok=None)
    run("sign", "saml", "sso_idp", str(saml), "--out", str(work / "signed.xml"), ok=None)
    run("sign", "jwt", "sso_ec", "--iss", "client", "--sub", "svc", "--aud", "https://auth.example.com", ok=None)
    run("scan", "127.0.0.1:9", "--timeout", "2", ok=None)
    run("lint", "--json", ok=None)
    run("rotate", "web_rsa", "--key", "ec-p256")
    run("rotate", "web_rsa", "--cutover")
    run("rotation-policy", "sso_ec", ok=None)
    run("revoke", "api_leaf", "--reason", "superseded", ok=None)
    run("ca", "crl", "acme_root", "--out", str(work / "root.crl"))
    run("ca", "list", "--json")
    run("ca", "show", "acme_root", "--json")
    run("reminders", "configure", "--webhook-url", "https://127.0.0.1:9/hook")
    run("reminders", "team", "ops", "--member", "ops@example.com")
    run("reminders", "recipients", "sso_ec", "--to", "ops")
    run("reminders", "schedule", "sso_ec", "--thresholds", "30,7")
    run("reminders", "due", "--json", "--at", "2030-01-01T00:00:00Z")
    run("reminders", "send", "--at", "2030-01-01T00:00:00Z", ok=None)
    run("reminders", "deliveries", "sso_ec", "--json", ok=None)
    run("reminders", "calendar", "--out", str(work / "expiry.ics"))
    run("audit", "list", "--json")
    run("sql", "SELECT name, label, subject FROM certificates_v", ok=None)
    run("views", "--json", ok=None)
    run("parquet", str(work / "parquet"), ok=None)
    run("endpoints", "--json", ok=None)
    run("demo", "--certs", "3", ok=None)
    run("master-key", "rotate")
    run("backup", str(work / "backup.duckdb"), "--with-keys")
    run("restore", str(work / "backup.duckdb"), "--check")
    run("credential", "delete", "sso_idp")
    run("delete", "edge_ed")
    run("restore", str(work / "backup.duckdb"))
    run("audit", "verify", "--json")
    s.harvest(db)

    # every command (also those added later) ran at least once: the rest get a best-effort run
    for leaf in leaves:
        if leaf not in done:
            run(*leaf, "web_rsa", ok=None)
    missing = [leaf for leaf in leaves if leaf not in done]
    assert not missing, f"commands never run: {missing}"

    # where to look: the database and everything beside it except files that hold keys by design
    for f in sorted(db.parent.iterdir()):
        if f.name.endswith(".keys"):
            continue  # the key file: the master key, never a private key (checked below)
        s.add_text(f"file {f.name}", f.read_bytes())
    s.add_text("backup", (work / "backup.duckdb").read_bytes())
    for f in ("web.pem", "web.der", "web.chain", "erp.csr", "erp-chain.pem", "root.crl", "expiry.ics"):
        s.add_text(f"download {f}", (work / f).read_bytes())
    inv = certlab.open(db, actor=Actor("scanner", Role.AUDITOR))
    for event in inv.audit_events():
        s.add_text(f"audit event {event.seq}", json.dumps(event.to_json(), default=str))
    with duckdb.connect(str(work / "backup.duckdb"), read_only=True) as con:
        for table in ("certificates", "audit_events", "settings", "csrs"):
            s.add_text(f"backup table {table}", repr(con.execute(f"SELECT * FROM {table}").fetchall()))
    key_file = json.loads(inv.key_file.read_text())
    assert set(key_file) == {"version", "current", "master_keys", "audit_key"}
    s.add_text("key file", inv.key_file.read_bytes())
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        doc = json.loads(nb.read_text())
        outputs = [o for c in doc.get("cells", []) for o in c.get("outputs", [])]
        s.add_text(f"notebook outputs {nb.name}", json.dumps(outputs))

    assert len(s.keys) >= 8
    leaks = s.leaks()
    assert not leaks, leaks
    # the scan would find a leak: the exported (encrypted) key is not in any output, but the plain one is found
    probe = Scanner()
    probe.keys = dict(s.keys)
    sso = next(k for k in s.keys.values() if isinstance(k, ec.EllipticCurvePrivateKey))
    probe.add_text("probe", b"x" + sso.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()).replace(b"-----BEGIN", b"") + b"y")
    assert probe.leaks()


def _reason(results: list[certlab.ImportResult]) -> None:
    raise certlab.FormatError(results[0].reason or "imported")


def test_exception_messages_never_carry_key_material(inv: certlab.Inventory, tmp_path: Path) -> None:
    s = Scanner()
    issued = certlab.self_signed("msg.example.com", key_type="ec-p256")
    s.add_key("k", issued.private_key)
    key_pem = issued.private_key_pem.bytes()
    attempts = [
        lambda: inv.upload_signed("nope", key_pem, "key.pem"),
        lambda: certlab.load_bundle(key_pem[:-40], "cut.pem"),
        lambda: certlab.load_bundle(key_pem.replace(b"PRIVATE KEY", b"PRIVATE KEX"), "bad-label.pem"),
        lambda: certlab.load_bundle(key_pem + key_pem, "two-keys.pem"),
        lambda: _reason(inv.import_sources([certlab.ImportSource("key.der", issued.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))])),
        lambda: certlab.CertSpec(name=key_pem.decode()),
        lambda: certlab.CertSpec(name="ok", label=key_pem.decode()),
        lambda: certlab.CertSpec(name="ok", label=key_pem.decode()[28:150]),
        lambda: certlab.CertSpec(name="ok", subject="CN=" + key_pem.decode()[28:150]),
        lambda: certlab.CertSpec(name="ok", sans=(key_pem.decode()[28:150],)),
        lambda: inv.get(key_pem.decode()),
        lambda: inv.add_credential("c", certificate=key_pem.decode()[30:80], endpoint="https://x.example.com",
                                   purpose="mtls"),
    ]
    messages = []
    for attempt in attempts:
        try:
            attempt()
        except certlab.CertlabError as exc:
            messages.append(str(exc))
            s.add_text(f"message {len(messages)}", str(exc))
    assert len(messages) == len(attempts)
    assert not s.leaks(), s.leaks()


# --- exports -------------------------------------------------------------------------------------------------

def test_export_password_must_be_long_enough(inv: certlab.Inventory) -> None:
    inv.create_self_signed(certlab.CertSpec(name="k", key_type="ec-p256", exportable=True))
    events = len(inv.audit_events())
    for fmt in ("pkcs12", "key"):
        for pw in (None, "", "x" * (formats.MIN_EXPORT_PASSWORD - 1)):
            with pytest.raises(certlab.InvalidInputError, match="password"):
                inv.export("k", fmt, password=pw)
    assert len(inv.audit_events()) == events  # nothing left
    assert inv.export("k", "pkcs12", password="x" * formats.MIN_EXPORT_PASSWORD).secret


def _openssl_info(path: Path, password: str) -> str:
    proc = subprocess.run(["openssl", "pkcs12", "-info", "-in", str(path), "-noout", "-passin", f"pass:{password}"]
                          ,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is installed by scripts/setup")
def test_interop_pkcs12_encryption_openssl_info(cli_db: Path, tmp_path: Path) -> None:
    pw = tmp_path / "pw.txt"
    pw.write_text(PW + "\n")
    run_cli("create", "self-signed", "pay", "--key", "ec-p256", "--exportable", db=cli_db, check=True)
    run_cli("export", "pay", "--format", "pkcs12", "--out", str(tmp_path / "modern.p12"), "--password-file", str(pw),
            db=cli_db, check=True)
    info = _openssl_info(tmp_path / "modern.p12", PW)
    assert "MAC: sha256" in info
    assert "PBES2, PBKDF2, AES-256-CBC" in info and "3DES" not in info and "TripleDES" not in info
    run_cli("export", "pay", "--format", "pkcs12", "--legacy", "--out", str(tmp_path / "legacy.p12"),
            "--password-file", str(pw), db=cli_db, check=True)
    legacy = _openssl_info(tmp_path / "legacy.p12", PW)
    assert "pbeWithSHA1And3-KeyTripleDES-CBC" in legacy and "AES-256" not in legacy
    events = json.loads(run_cli("audit", "list", "--action", "exported", "--json", db=cli_db, check=True).stdout)
    assert [e["details"]["encryption"] for e in events] == ["pbes2-aes256-sha256", "legacy-3des-sha1"]
    assert stat.S_IMODE((tmp_path / "modern.p12").stat().st_mode) == 0o600


# --- key files -------------------------------------------------------------------------------------------------

def test_key_file_is_0600_and_refused_when_others_can_read_it(cli_db: Path) -> None:
    key_file = cli_db.with_name(cli_db.name + ".keys")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    for mode in (0o640, 0o604, 0o644):
        os.chmod(key_file, mode)
        proc = run_cli("list", db=cli_db)
        assert proc.returncode == 1 and "readable by other users" in proc.stderr and f"chmod 600 {key_file}" in proc.stderr
        assert "Traceback" not in proc.stderr
        with pytest.raises(certlab.PermissionDeniedError):
            certlab.open(cli_db)
    os.chmod(key_file, 0o600)
    assert run_cli("list", db=cli_db).returncode == 0


def test_key_files_made_by_rotation_and_backup_are_0600(inv: certlab.Inventory, tmp_path: Path) -> None:
    inv.create_self_signed(certlab.CertSpec(name="k", key_type="ec-p256"))
    old_umask = os.umask(0)  # even with a permissive umask
    try:
        inv.rotate_master_key()
        b = inv.backup(tmp_path / "b.duckdb", with_keys=True)
    finally:
        os.umask(old_umask)
    for f in (inv.key_file, b.path, b.keys_path):
        assert f is not None and stat.S_IMODE(f.stat().st_mode) == 0o600, f


# --- the audit head kept elsewhere ------------------------------------------------------------------------------

def test_cli_expect_head_catches_removed_newest_events(cli_db: Path) -> None:
    run_cli("create", "self-signed", "a", "--key", "ec-p256", db=cli_db, check=True)
    kept = json.loads(run_cli("audit", "verify", "--json", db=cli_db, check=True).stdout)["head"]
    run_cli("create", "self-signed", "b", "--key", "ec-p256", db=cli_db, check=True)
    run_cli("delete", "b", db=cli_db, check=True)
    head = json.loads(run_cli("audit", "verify", "--json", db=cli_db, check=True).stdout)["head"]
    assert run_cli("audit", "verify", "--expect-head", kept, db=cli_db).returncode == 0  # an older head is fine
    seq = int(head.split(":")[0])
    with duckdb.connect(str(cli_db)) as con:  # someone deletes the two newest events (the deletion's traces)
        con.execute("DELETE FROM audit_events WHERE seq >= ?", [seq - 1])
    plain = run_cli("audit", "verify", db=cli_db)
    assert plain.returncode == 0  # the chain alone cannot tell
    caught = run_cli("audit", "verify", "--expect-head", head, db=cli_db)
    assert caught.returncode == 1 and f"events {seq - 1} to {seq} are missing" in caught.stdout
    bad = run_cli("audit", "verify", "--expect-head", "12:nothex", db=cli_db)
    assert bad.returncode == 1 and "SEQ:HASH" in bad.stderr and "Traceback" not in bad.stderr


def test_scanner_helpers_are_exercised() -> None:
    key = certlab.generate_key("ec-p256")
    needles: dict[str, Any] = _needles(key)
    assert needles and all(len(v) >= 12 for v in needles.values())
    assert {k for k in needles if "-pem-" in k} >= {"pkcs8-ec-pem-0", "pkcs8-ec-pem-1"}
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert not any(n in public or n in base64.b64encode(public) for n in needles.values())


# --- the dashboard ---------------------------------------------------------------------------------------------

class Downloads:
    """Every file a download button offers during AppTest runs: data handed over at once, and the callables
    of deferred downloads (run afterwards, as a click in the browser would). Records, changes nothing."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from streamlit.runtime.media_file_manager import MediaFileManager

        self.files: list[tuple[str, bytes]] = []
        self.deferred: list[tuple[str, Any]] = []
        add, add_deferred = MediaFileManager.add, MediaFileManager.add_deferred

        def recording_add(mgr: Any, data: Any, mimetype: str, coordinates: str, file_name: str | None = None,
                          *args: Any, **kwargs: Any) -> Any:
            if isinstance(data, bytes | str):
                self.files.append((file_name or mimetype, data.encode() if isinstance(data, str) else data))
            return add(mgr, data, mimetype, coordinates, file_name, *args, **kwargs)

        def recording_add_deferred(mgr: Any, fn: Any, mimetype: str | None, coordinates: str,
                                   file_name: str | None = None, **kwargs: Any) -> Any:
            self.deferred.append((file_name or str(mimetype), fn))
            return add_deferred(mgr, fn, mimetype, coordinates, file_name, **kwargs)

        monkeypatch.setattr(MediaFileManager, "add", recording_add)
        monkeypatch.setattr(MediaFileManager, "add_deferred", recording_add_deferred)

    def collect(self, s: Scanner) -> list[str]:
        """Hand every file to the scanner (zip members one by one); run the deferred ones first."""
        import io
        import zipfile

        for name, fn in self.deferred:
            data = fn()
            data = data.read() if hasattr(data, "read") else data
            self.files.append((f"{name} (deferred)", data.encode() if isinstance(data, str) else data))
        self.deferred.clear()
        names = []
        for i, (name, data) in enumerate(self.files):
            s.add_text(f"download {i} {name}", data)
            names.append(name)
            if data.startswith(b"PK\x03\x04"):
                with zipfile.ZipFile(io.BytesIO(data)) as zf:
                    for member in zf.namelist():
                        s.add_text(f"download {i} {name} member {member}", zf.read(member))
        return names


def _rendered(at: Any) -> bytes:
    """Everything an AppTest run rendered: every element's message as sent to the browser (markdown, code,
    captions, widget values and labels, dataframes as Arrow bytes, chart specs and data), and the
    dataframes once more as CSV."""
    parts: list[bytes] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "SerializeToString"):
            parts.append(proto.SerializeToString())
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    for frame in at.dataframe:
        parts.append(frame.value.to_csv().encode())
    return b"\n".join(parts)


def test_dashboard_scan_would_catch_a_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    """The collection below reaches code blocks, dataframes, and download buttons (at once and deferred):
    a throwaway app that shows a key in each is caught in each."""
    from streamlit.testing.v1 import AppTest

    key = certlab.generate_key("ec-p256")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    body = pem.split("-----")[2]  # the base64 body only, without the PEM markers
    downloads = Downloads(monkeypatch)
    script = f'''
import streamlit as st
where = st.session_state.get("where", "code")
if where == "code":
    st.code({body!r})
elif where == "frame":
    st.dataframe([{{"field": "key", "value": {_secrets(key)["ec"].hex()!r}}}])
elif where == "download":
    st.download_button("Save", {body.encode()!r}, file_name="k.pem")
else:
    st.download_button("Save", lambda: {body.encode()!r}, file_name="k.pem", on_click="ignore")
'''
    for where in ("code", "frame", "download", "deferred"):
        at = AppTest.from_string(script, default_timeout=60)
        at.session_state["where"] = where
        at.run()
        s = Scanner()
        s.add_key("probe", key)
        s.add_text("page", _rendered(at))
        downloads.collect(s)
        downloads.files.clear()
        assert s.leaks(), f"a key shown as {where} was not found"


ROLES = ("admin", "auditor", "analyst")


@pytest.mark.slow
def test_no_private_key_leaks_from_any_dashboard_page(demo_db: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    from dashboard import state

    from .dashboard_fixtures import APP, app_as, errors

    s = Scanner()
    downloads = Downloads(monkeypatch)
    admin = certlab.open(demo_db, actor=Actor("admin", Role.ADMIN))
    key_types = [t.value for t in certlab.KeyType]
    for kt in key_types:  # a certificate with an exportable key of every type
        admin.create_self_signed(certlab.CertSpec(name=f"leak_{kt.replace('-', '_')}", key_type=kt,
                                                  sans=(f"leak-{kt}.example.com",), exportable=True))
    admin.create_csr(certlab.CertSpec(name="leak_pending", key_type="rsa-2048", subject="CN=pending.example.com"))
    renders = 0

    def scan(at: AppTest, where: str) -> AppTest:
        nonlocal renders
        assert not at.exception, (where, [e.value for e in at.exception])
        s.add_text(where, _rendered(at))
        renders += 1
        return at

    # every page, for every role (pages added later are included), and the sign-in page
    pages = sorted(p.stem for p in (APP.parent / "pages").glob("*.py") if p.stem != "sign_in")
    scan(AppTest.from_file(str(APP), default_timeout=60).run(), "sign-in page")
    for role in ROLES:
        for page in pages:
            scan(app_as(role, page), f"{page} as {role}")

    # the certificate detail of every key type and the pending CSR, with every download and the keystore export
    names = [f"leak_{kt.replace('-', '_')}" for kt in key_types] + ["leak_pending", "jenkins_agent"]
    for role, opened in (("admin", names), ("auditor", ["leak_rsa_2048", "leak_ed25519", "leak_pending"])):
        for name in opened:
            at = app_as(role, "certificates")
            at.text_input(key="certs_search").input(name).run()
            at.selectbox(key="certs_open").select(name).run()
            scan(at, f"{name} detail as {role}")
            for fmt in ["csr"] if name == "leak_pending" else ["pem", "der", "chain"]:
                radio = next(r for r in at.radio if r.form_id == f"download_{name}")
                radio.set_value(fmt)
                next(b for b in at.button if b.form_id == f"download_{name}").click()
                at.run()
                scan(at, f"{name} download {fmt} as {role}")
                assert any(b.label.startswith("Save ") for b in at.get("download_button")), (name, fmt, errors(at))
            if name == "leak_pending":
                continue
            fields = [t for t in at.text_input if t.form_id == f"export_{name}"]
            fields[0].input(PW)
            fields[1].input(PW)
            next(b for b in at.button if b.form_id == f"export_{name}").click()
            at.run()
            scan(at, f"{name} keystore export as {role}")
            if role == "admin":
                assert not errors(at) and at.session_state[state.PREPARED_DOWNLOAD][1].secret
            else:
                assert any("may not" in e for e in errors(at))

    # the other downloads: evidence pack, CSR from the Create page, timeline and audit exports (deferred)
    at = app_as("auditor", "evidence")
    at.button(key="ev_make").click()
    scan(at.run(), "evidence pack")
    at = app_as("admin", "create")
    at.text_input(key="csr_name").input("leak_csr_form")
    at.text_area(key="csr_sans").input("leak-csr.example.com")
    at.selectbox(key="csr_key").select("ed25519")
    at.run()
    at.button(key="csr_create").click()
    at.run()
    at.button(key="csr_prepare").click()
    scan(at.run(), "create CSR and download")
    # an upload with a private key: imported (the key stays inside), or rejected (the reason names no key)
    bundle = certlab.self_signed("upload.example.com", key_type="ec-p384")
    stray = certlab.generate_key("rsa-2048")
    s.add_key("uploaded", bundle.private_key)
    s.add_key("stray", stray)
    stray_pem = stray.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    at = app_as("admin", "create")
    at.file_uploader(key="import_files").set_value([
        ("bundle.pem", bundle.cert_pem.bytes() + bundle.private_key_pem.bytes(), "application/x-pem-file"),
        ("stray.key", stray_pem, "application/x-pem-file"),
        ("cut.key", stray_pem[:-60], "application/x-pem-file")])
    next(b for b in at.button if b.form_id == "import").click()
    scan(at.run(), "import with keys")
    results = list(at.dataframe[0].value["Result"])
    assert len(results) == 3 and results[0] == "imported", results
    # every page once more as the admin, now that the inventory holds all of this
    for page in pages:
        scan(app_as("admin", page), f"{page} as admin, after")

    files = downloads.collect(s)
    s.harvest(demo_db)
    assert {k for k in s.keys} >= {"uploaded", "stray"} and len(s.keys) >= len(key_types) + 4
    assert renders >= 4 * len(pages) + 1 + len(names) + 3
    kinds = " ".join(files)
    for expected in (".pem", ".cer", ".csr", ".p12", ".zip", ".csv", ".png", ".svg", ".ics"):
        assert expected in kinds, f"no {expected} download was scanned: {files}"
    leaks = s.leaks()
    assert not leaks, leaks
