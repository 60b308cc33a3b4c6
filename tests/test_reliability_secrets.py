"""Secrets stay secret: after every CLI command, no private key's bytes or PEM appear anywhere they
should not (the database file and its backups, the audit trail, every command's output and error
messages, the notebooks' saved outputs). Exports need a long password and use PBES2/AES-256 with a
SHA-256 MAC (3DES only behind --legacy, audited as such); key files are 0600 and refused when others
can read them; ``audit verify --expect-head`` catches the removal of the newest events.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import certlab
from certlab import Actor, Role, formats
from certlab.cli import build_parser
from certlab.keys import PrivateKey

from .conftest import ROOT, run_cli

PW = "a long enough export password"
ADMIN_ENV = {"CERTLAB_ACTOR": "alice:admin"}


def _secrets(key: PrivateKey) -> dict[str, bytes]:
    """The secret numbers of a key, as big-endian bytes."""
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        values = {"d": n.d, "p": n.p, "q": n.q}
        return {k: v.to_bytes((v.bit_length() + 7) // 8, "big") for k, v in values.items()}
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        return {"ec": key.private_numbers().private_value.to_bytes(size, "big")}
    return {"ed25519": key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                         serialization.NoEncryption())}


def _needles(key: PrivateKey) -> dict[str, bytes]:
    """Byte strings that would betray the key's secret part (never its public part): the secret numbers
    raw, in hex and base64, and pieces of the base64 (PEM) encodings that cover only secret bytes."""
    out: dict[str, bytes] = {}
    secrets = _secrets(key)
    for label, raw in secrets.items():
        out[f"{label}-raw"] = raw[-20:]
        out[f"{label}-hex"] = raw[-20:].hex().encode()
        out[f"{label}-HEX"] = raw[-20:].hex().upper().encode()
        out[f"{label}-b64"] = base64.b64encode(raw)[4:24]
    encodings = {"pkcs8": key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())}
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        encodings["traditional"] = key.private_bytes(serialization.Encoding.DER,
                                                     serialization.PrivateFormat.TraditionalOpenSSL,
                                                     serialization.NoEncryption())
    for enc, der in encodings.items():
        b64 = base64.b64encode(der)
        for label, raw in secrets.items():
            at = der.find(raw)
            assert at >= 0
            start = -(-at // 3) * 3  # the first base64 group that starts inside the secret
            for i, offset in enumerate((start, start + 12)):  # two pieces: a PEM line break splits one at most
                if offset + 9 <= at + len(raw):
                    out[f"{enc}-{label}-pem-{i}"] = b64[offset // 3 * 4: offset // 3 * 4 + 12]
    return out


class Scanner:
    """Collects every key the inventory held during the run, and every place to look."""

    def __init__(self) -> None:
        self.keys: dict[str, PrivateKey] = {}
        self.texts: dict[str, bytes] = {}

    def add_key(self, label: str, key: PrivateKey) -> None:
        self.keys[label] = key

    def harvest(self, db: Path) -> None:
        inv = certlab.open(db, actor=Actor("scanner", Role.ADMIN))
        with inv.db.read() as tx:
            for (key_id,) in tx.rows("SELECT id FROM private_keys"):
                key = inv._load_private_key(tx, int(key_id))
                spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
                self.keys[spki.hex()[-32:]] = key

    def add_text(self, where: str, data: bytes | str) -> None:
        self.texts[where] = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data

    def leaks(self) -> list[str]:
        found = []
        for where, hay in self.texts.items():
            if re.search(rb"-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----", hay):
                found.append(f"{where}: a private key PEM")
            for label, key in self.keys.items():
                for what, needle in _needles(key).items():
                    if needle in hay:
                        found.append(f"{where}: key {label} ({what})")
        return found


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
