"""The ``certlab`` command, run for real in a subprocess: exit codes, JSON documents, messages, terminals."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

import certlab
from certlab.formats import dump_encrypted_private_key, dump_pkcs12

from . import pki
from .conftest import ROOT, run_cli

CONTRACT_KEYS = ["name", "label", "kind", "status", "subject", "issuer", "serial", "not_before", "not_after",
                 "days_to_expiry", "key_type", "signature_algorithm", "fingerprint_sha256", "sans", "exportable",
                 "credentials"]
CONTRACT_TYPES = {"name": str, "label": str, "kind": str, "status": str, "subject": str, "issuer": (str, type(None)),
                  "serial": (str, type(None)), "not_before": (str, type(None)), "not_after": (str, type(None)),
                  "days_to_expiry": (int, type(None)), "key_type": str, "signature_algorithm": (str, type(None)),
                  "fingerprint_sha256": (str, type(None)), "sans": list, "exportable": bool, "credentials": list}


def contract(doc: dict[str, object]) -> bool:
    """The contract's keys come first, in order, with their types; later keys are additions."""
    assert list(doc)[:len(CONTRACT_KEYS)] == CONTRACT_KEYS, list(doc)
    for key, kind in CONTRACT_TYPES.items():
        assert isinstance(doc[key], kind), (key, doc[key])  # type: ignore[arg-type]
    return True
PW = "correct horse battery"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def ok(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, db=db, check=True)


def fails(*args: str, db: Path | None, code: int = 1, env: dict[str, str] | None = None) -> str:
    proc = run_cli(*args, db=db, env=env)
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    if code == 1:
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("certlab: error: "), proc.stderr
        assert proc.stdout == ""
    return proc.stderr.strip()


def in_terminal(command: str, cwd: Path, input: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run a shell command on a pseudo-terminal (util-linux ``script``); returns what the terminal showed."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLAB_")}
    full_env.update({"PYTHONPATH": str(ROOT), "TERM": "xterm", "COLUMNS": "200"})
    full_env.pop("NO_COLOR", None)
    full_env.update(env or {})
    proc = subprocess.run(["script", "-qec", command, "/dev/null"], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=300, input=input)
    return proc.stdout.replace("\r\n", "\n")


def certlab_cmd(db: Path, *args: str) -> str:
    return shlex.join([sys.executable, "-m", "certlab", "--db", str(db), *args])


@pytest.fixture
def pwfile(tmp_path: Path) -> Path:
    p = tmp_path / "pw.txt"
    p.write_text(PW + "\nsecond line is ignored\n")
    return p


# --- basics ----------------------------------------------------------------------------------------------------

def test_version_and_help() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"certlab {certlab.__version__}"
    top = run_cli("--help")
    assert top.returncode == 0 and "Example:" in top.stdout


def _commands(parser: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    import argparse

    out = []
    for action in getattr(parser, "_actions", []):
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.append((*prefix, name))
                out.extend(_commands(sub, (*prefix, name)))
    return out


def test_every_command_has_help_with_an_example() -> None:
    from certlab.cli import build_parser

    commands = _commands(build_parser())
    core = {("init",), ("create",), ("create", "self-signed"), ("create", "csr"), ("upload-signed",), ("import",),
            ("export",), ("list",), ("show",), ("delete",), ("credential",), ("credential", "add"),
            ("credential", "list"), ("audit",), ("audit", "list"), ("audit", "verify"), ("master-key",),
            ("master-key", "rotate")}
    assert core <= set(commands)
    import contextlib
    import io

    from certlab.cli import main

    for command in commands:  # in-process: the same parser the command uses, without 40 interpreters
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), pytest.raises(SystemExit) as done:
            main([*command, "--help"])
        assert done.value.code == 0, command
        example = buf.getvalue().split("Example:", 1)
        assert len(example) == 2, f"certlab {' '.join(command)} --help has no example"
        assert example[1].strip().startswith("certlab "), command
    proc = run_cli("create", "csr", "--help")  # and for real, once
    assert proc.returncode == 0 and "Example:\n  certlab create csr" in proc.stdout


@pytest.mark.parametrize("args", [(), ("frobnicate",), ("create",), ("create", "self-signed"),
                                  ("create", "self-signed", "x", "--key", "rsa-1024"), ("list", "--expiring-within", "soon"),
                                  ("export", "x", "--format", "pem"), ("list", "--status", "bogus")])
def test_usage_errors_exit_2(args: tuple[str, ...], tmp_path: Path) -> None:
    proc = run_cli(*args, db=tmp_path / "x.duckdb")
    assert proc.returncode == 2 and "usage:" in proc.stderr and "Traceback" not in proc.stderr


def test_commands_before_init_say_what_to_do(tmp_path: Path) -> None:
    msg = fails("list", db=tmp_path / "none.duckdb")
    assert "no inventory at" in msg and "run 'certlab init' first" in msg


def test_database_path_from_option_env_or_default(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "certlab", "init"], cwd=tmp_path, capture_output=True, text=True,
                          env={**{k: v for k, v in os.environ.items() if not k.startswith("CERTLAB_")}, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0 and (tmp_path / "data" / "certlab.duckdb").exists()
    assert ((tmp_path / "data" / "certlab.duckdb.keys").stat().st_mode & 0o777) == 0o600
    env_db = tmp_path / "env" / "inv.duckdb"
    assert run_cli("init", env={"CERTLAB_DB": str(env_db)}).returncode == 0 and env_db.exists()
    run_cli("create", "self-signed", "in_env", "--key", "ec-p256", env={"CERTLAB_DB": str(env_db)}, check=True)
    opt = tmp_path / "opt.duckdb"
    run_cli("init", db=opt, env={"CERTLAB_DB": str(env_db)}, check=True)
    assert json.loads(run_cli("list", db=opt, env={"CERTLAB_DB": str(env_db)}).stdout) == []
    assert [d["name"] for d in json.loads(run_cli("list", env={"CERTLAB_DB": str(env_db)}).stdout)] == ["in_env"]


# --- creating, listing, showing ---------------------------------------------------------------------------------

def test_create_list_show_json_contract(cli_db: Path) -> None:
    created = ok("create", "self-signed", "payments_mtls", "--label", "Payments", "--key", "ec-p256", "--days", "30",
                 "--subject", "CN=pay.example.com,O=Acme,OU=Pay,L=Berlin,ST=BE,C=DE,emailAddress=pay@example.com",
                 "--san", "pay.example.com", "--san", "10.0.0.5", "--purpose", "client", "--exportable", "--json", db=cli_db)
    doc = json.loads(created.stdout)
    assert contract(doc)
    assert doc["subject"] == "emailAddress=pay@example.com,CN=pay.example.com,OU=Pay,O=Acme,L=Berlin,ST=BE,C=DE"
    assert (doc["label"], doc["kind"], doc["status"], doc["key_type"], doc["days_to_expiry"], doc["exportable"]) == \
        ("Payments", "self_signed", "expiring", "ec-p256", 30, True)
    assert doc["sans"] == ["pay.example.com", "10.0.0.5"] and doc["credentials"] == []
    assert re.fullmatch(r"[0-9a-f]{64}", doc["fingerprint_sha256"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["not_after"])
    ok("create", "csr", "erp_client", "--subject", "CN=erp.example.com,O=Acme,C=DE", "--san", "erp.example.com", db=cli_db)
    listed = json.loads(ok("list", "--json", db=cli_db).stdout)
    assert [d["name"] for d in listed] == ["payments_mtls", "erp_client"]
    assert all(contract(d) for d in listed)
    shown = json.loads(ok("show", "payments_mtls", "--json", db=cli_db).stdout)
    assert shown == doc
    # Piped without --json: still only the document.
    assert json.loads(ok("list", db=cli_db).stdout) == listed


def test_list_filters_on_the_command_line(cli_db: Path) -> None:
    ok("create", "self-signed", "soon", "--key", "ec-p256", "--days", "20", db=cli_db)
    ok("create", "self-signed", "later", "--key", "ec-p256", "--days", "300", "--san", "later.acme.example", db=cli_db)
    ok("create", "csr", "waiting", "--key", "ec-p256", db=cli_db)

    def names(*args: str) -> list[str]:
        return [d["name"] for d in json.loads(ok("list", "--json", *args, db=cli_db).stdout)]

    assert names("--expiring-within", "90") == ["soon"]
    assert names("--expiring-within", "365") == ["soon", "later"]
    assert names("--status", "pending") == ["waiting"]
    assert names("--status", "active") == ["later"]
    assert names("--kind", "self_signed") == ["soon", "later"]
    assert names("--search", "ACME.example") == ["later"]
    assert names("--kind", "imported") == []
    assert "--expiring-within must be a whole number" in fails("list", "--expiring-within", "-3", db=cli_db)


def test_create_refusals(cli_db: Path) -> None:
    ok("create", "self-signed", "taken", "--key", "ec-p256", db=cli_db)
    assert "a certificate named 'taken' exists already" in fails("create", "self-signed", "taken", "--key", "ec-p256", db=cli_db)
    assert "invalid unique name '9x'" in fails("create", "self-signed", "9x", db=cli_db)
    assert "invalid SAN 'a b'" in fails("create", "self-signed", "x", "--san", "a b", db=cli_db)
    assert "country code" in fails("create", "csr", "x", "--subject", "C=Deutschland", db=cli_db)
    assert "out of range" in fails("create", "self-signed", "x", "--days", "0", db=cli_db)
    assert "no certificate named 'ghost'" in fails("show", "ghost", db=cli_db)
    assert [d["name"] for d in json.loads(ok("list", db=cli_db).stdout)] == ["taken"]


# --- import ------------------------------------------------------------------------------------------------------

def test_import_json_per_file_carrying_on_and_exit_1(cli_db: Path, tmp_path: Path) -> None:
    r, i, leaf = pki.chain3()
    good = tmp_path / "good.pem"
    good.write_bytes(leaf.pem)
    bad = tmp_path / "bad.pem"
    bad.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n")
    good2 = tmp_path / "root.cer"
    good2.write_bytes(r.der)
    proc = run_cli("import", str(good), str(bad), str(good2), str(tmp_path / "missing.pem"), "--json", db=cli_db)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    docs = json.loads(proc.stdout)
    assert all(list(d) == ["file", "result", "name", "reason"] for d in docs)
    by_file = {Path(d["file"]).name: d for d in docs}
    assert by_file["good.pem"] == {"file": str(good), "result": "imported", "name": "leaf_example_com", "reason": None}
    assert by_file["bad.pem"]["result"] == "rejected" and by_file["bad.pem"]["name"] is None
    assert by_file["bad.pem"]["reason"].startswith(f"{bad}: ")
    assert by_file["missing.pem"]["result"] == "rejected" and "no such file" in by_file["missing.pem"]["reason"]
    assert by_file["root.cer"]["result"] == "imported"
    again = run_cli("import", str(good), "--json", db=cli_db)
    assert again.returncode == 0
    assert json.loads(again.stdout) == [{"file": str(good), "result": "duplicate", "name": "leaf_example_com",
                                         "reason": "already in the inventory as leaf_example_com"}]


def test_import_a_directory(cli_db: Path, tmp_path: Path) -> None:
    r, i, leaf = pki.chain3()
    d = tmp_path / "certs"
    (d / "nested").mkdir(parents=True)
    (d / "leaf.pem").write_bytes(leaf.pem)
    (d / "nested" / "chain.p7b").write_bytes(
        __import__("cryptography.hazmat.primitives.serialization.pkcs7", fromlist=["x"]).serialize_certificates(
            [i.cert, r.cert], serialization.Encoding.DER))
    docs = json.loads(ok("import", str(d), "--json", db=cli_db).stdout)
    assert [(Path(x["file"]).name, x["result"]) for x in docs] == [("leaf.pem", "imported"), ("chain.p7b", "imported")]
    assert len(json.loads(ok("list", db=cli_db).stdout)) == 3


def test_passwords_from_a_file_and_none_without_a_terminal(cli_db: Path, tmp_path: Path, pwfile: Path) -> None:
    keyed = certlab.self_signed("k.example.com", key_type="ec-p256")
    p12 = tmp_path / "k.p12"
    p12.write_bytes(dump_pkcs12("k", keyed.private_key, keyed.certificate, [], PW.encode()))
    enc = tmp_path / "enc.pem"
    other = certlab.self_signed("e.example.com", key_type="ec-p256")
    enc.write_bytes(dump_encrypted_private_key(other.private_key, PW.encode()) + other.cert_pem.bytes())
    # no password, no terminal: each file is rejected, saying what is missing
    proc = run_cli("import", str(p12), str(enc), "--json", db=cli_db)
    assert proc.returncode == 1
    reasons = [d["reason"] for d in json.loads(proc.stdout)]
    assert reasons == [f"{p12}: PKCS#12 keystore needs a password (--password-file)",
                       f"{enc}: private key is encrypted and no password was given"]
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the password\n")
    proc = run_cli("import", str(p12), "--password-file", str(wrong), "--json", db=cli_db)
    assert proc.returncode == 1 and "wrong password for the PKCS#12 keystore" in json.loads(proc.stdout)[0]["reason"]
    docs = json.loads(ok("import", str(p12), str(enc), "--password-file", str(pwfile), "--json", db=cli_db).stdout)
    assert [d["result"] for d in docs] == ["imported", "imported"]
    # export: the password file's first line is the password
    out = tmp_path / "out.p12"
    ok("import", "--help", db=cli_db)
    shown = json.loads(ok("show", "k_example_com", db=cli_db).stdout)
    assert shown["exportable"] is False
    assert "not exportable" in fails("export", "k_example_com", "--format", "pkcs12", "--out", str(out),
                                     "--password-file", str(pwfile), db=cli_db)
    assert not out.exists()
    msg = fails("export", "k_example_com", "--format", "pkcs12", "--out", str(out), db=cli_db)
    assert "needs a password: give --password-file FILE (no terminal to ask on)" in msg
    assert "cannot be read" in fails("export", "k_example_com", "--format", "key", "--out", str(out),
                                     "--password-file", str(tmp_path / "nope.txt"), db=cli_db)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    assert "first line is empty" in fails("import", str(p12), "--password-file", str(empty), db=cli_db)


def test_export_formats(cli_db: Path, tmp_path: Path, pwfile: Path) -> None:
    ok("create", "self-signed", "pay", "--key", "ec-p256", "--san", "pay.example.com", "--exportable", db=cli_db)
    for fmt in ("pem", "der", "chain", "pkcs12", "key"):
        out = tmp_path / f"pay.{fmt}"
        args = ["export", "pay", "--format", fmt, "--out", str(out)] + (["--password-file", str(pwfile)] if fmt in ("pkcs12", "key") else [])
        proc = ok(*args, db=cli_db)
        assert proc.stdout == "" and f"wrote {out}" in proc.stderr
        assert out.stat().st_size > 100
        if fmt in ("pkcs12", "key"):
            assert (out.stat().st_mode & 0o777) == 0o600
    short = tmp_path / "short.txt"
    short.write_text("short\n")
    assert "at least 12 characters" in fails("export", "pay", "--format", "key", "--out", str(tmp_path / "x"),
                                             "--password-file", str(short), db=cli_db)
    assert "cannot be written" in fails("export", "pay", "--format", "pem", "--out", str(tmp_path / "no" / "dir" / "x"), db=cli_db)


def test_csr_round_trip_on_the_command_line(cli_db: Path, tmp_path: Path) -> None:
    ok("create", "csr", "erp_client", "--key", "ec-p256", "--subject", "CN=erp.example.com,O=Acme,C=DE",
       "--san", "erp.example.com", db=cli_db)
    csr_file = tmp_path / "erp.csr"
    ok("export", "erp_client", "--format", "csr", "--out", str(csr_file), db=cli_db)
    r = pki.root()
    csr = certlab.load_csr(csr_file.read_bytes())
    from cryptography import x509

    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    signed = certlab.build_certificate(subject=csr.subject, public_key=csr.public_key(), issuer=r.cert.subject,
                                       issuer_key=r.key, days=200, sans=list(san))
    wrong = pki.issue(r, "erp.example.com")
    bad = tmp_path / "wrong.pem"
    bad.write_bytes(wrong.pem)
    assert "no certificate in it matches the pending key of erp_client" in fails("upload-signed", "erp_client", str(bad), db=cli_db)
    good = tmp_path / "signed.pem"
    good.write_bytes(signed.public_bytes(serialization.Encoding.PEM) + r.pem)
    doc = json.loads(ok("upload-signed", "erp_client", str(good), "--json", db=cli_db).stdout)
    assert doc["status"] == "active" and doc["issuer"] == "CN=Test Root CA,O=Test PKI" and contract(doc)
    assert "no such file" in fails("upload-signed", "erp_client", str(tmp_path / "nope.pem"), db=cli_db)


def test_credentials_and_delete(cli_db: Path) -> None:
    ok("create", "self-signed", "pay", "--key", "ec-p256", db=cli_db)
    doc = json.loads(ok("credential", "add", "gateway", "--cert", "pay", "--endpoint", "https://pay.example.com",
                        "--purpose", "mtls", "--json", db=cli_db).stdout)
    assert (doc["name"], doc["certificate"], doc["purpose"]) == ("gateway", "pay", "mtls")
    assert [c["name"] for c in json.loads(ok("credential", "list", "--json", db=cli_db).stdout)] == ["gateway"]
    assert json.loads(ok("show", "pay", db=cli_db).stdout)["credentials"] == ["gateway"]
    assert "pay is in use by named credentials: gateway" in fails("delete", "pay", db=cli_db)
    assert "invalid endpoint" in fails("credential", "add", "g2", "--cert", "pay", "--endpoint", "nope", "--purpose", "mtls", db=cli_db)


def test_roles_from_the_environment(cli_db: Path) -> None:
    ok("create", "self-signed", "pay", "--key", "ec-p256", db=cli_db)
    env = {"CERTLAB_ACTOR": "audrey:auditor"}
    assert run_cli("list", db=cli_db, env=env).returncode == 0
    msg = fails("delete", "pay", db=cli_db, env=env)
    assert "audrey (auditor) may not delete (pay): admins only" in msg
    events = json.loads(ok("audit", "list", "--outcome", "denied", "--json", db=cli_db).stdout)
    assert [(e["actor"], e["role"], e["action"]) for e in events] == [("audrey", "auditor", "deleted")]
    assert "unknown role 'boss'" in fails("list", db=cli_db, env={"CERTLAB_ACTOR": "x:boss"})


# --- on a terminal ------------------------------------------------------------------------------------------------

def test_tables_and_colour_on_a_terminal(cli_db: Path, tmp_path: Path) -> None:
    r = pki.root()
    import datetime as dt

    old = pki.issue(r, "old.example.com", not_after=certlab.certs.utcnow() - dt.timedelta(days=2))
    (tmp_path / "old.pem").write_bytes(old.pem)
    ok("import", str(tmp_path / "old.pem"), db=cli_db)
    ok("create", "self-signed", "soon", "--key", "ec-p256", "--days", "20", db=cli_db)
    ok("create", "self-signed", "fine_and_long_named", "--key", "ec-p256", "--days", "300", db=cli_db)
    screen = in_terminal(certlab_cmd(cli_db, "list"), tmp_path)
    lines = [ln for ln in screen.splitlines() if ln.strip()]
    plain = [ANSI.sub("", ln) for ln in lines]
    assert plain[0].split()[:6] == ["NAME", "KIND", "STATUS", "KEY", "NOT", "AFTER"]
    assert not screen.lstrip().startswith("[")  # a table, not JSON
    # aligned: the status column starts at the same place on every line
    col = plain[0].index("STATUS")
    assert {ln[col:].split()[0] for ln in plain[1:]} == {"expired", "expiring", "active"}
    rows = {p.split()[0]: raw for p, raw in zip(plain[1:], lines[1:])}
    assert "\x1b[31m" in rows["old_example_com"] and "expired 2d ago" in ANSI.sub("", rows["old_example_com"])
    assert "\x1b[33m" in rows["soon"] and " 20d " in ANSI.sub("", rows["soon"]) + " "
    assert "\x1b[3" not in rows["fine_and_long_named"]
    # --json on a terminal: only the document
    doc = json.loads(in_terminal(certlab_cmd(cli_db, "list", "--json"), tmp_path))
    assert [d["name"] for d in doc] == ["old_example_com", "soon", "fine_and_long_named"]
    # NO_COLOR is honoured
    assert "\x1b[" not in in_terminal(certlab_cmd(cli_db, "list"), tmp_path, env={"NO_COLOR": "1"})
    # show: fields for people
    shown = in_terminal(certlab_cmd(cli_db, "show", "soon"), tmp_path)
    assert re.search(r"^days_to_expiry\s+20d$", shown, re.MULTILINE) and re.search(r"^name\s+soon$", shown, re.MULTILINE)


def test_progress_bar_for_long_imports_on_a_terminal(cli_db: Path, tmp_path: Path) -> None:
    d = tmp_path / "many"
    d.mkdir()
    key = certlab.generate_key("ec-p256")
    for n in range(12):
        (d / f"c{n:02d}.pem").write_bytes(certlab.self_signed(f"c{n}.example.com", key=key).cert_pem.bytes())
    screen = in_terminal(certlab_cmd(cli_db, "import", str(d)), tmp_path)
    assert "reading [" in screen and "12/12" in screen
    assert "imported" in screen
    piped = run_cli("import", str(d), db=cli_db)
    assert "reading [" not in piped.stderr and json.loads(piped.stdout)[0]["result"] == "duplicate"


def _on_a_pty(args: list[str], answers: list[tuple[str, str]], cwd: Path) -> tuple[int, str]:
    """Run a command with a pseudo-terminal as its controlling terminal; type each answer once its
    prompt shows (as a person would: getpass discards anything typed before it asks)."""
    import fcntl
    import select
    import termios

    master, slave = os.openpty()

    def controlling_tty() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLAB_")}
    env.update({"PYTHONPATH": str(ROOT), "TERM": "xterm"})
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                            preexec_fn=controlling_tty, close_fds=True)
    os.close(slave)
    screen, pending = b"", list(answers)
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 120)
            if not ready:
                raise AssertionError(f"no output for 120 s; screen so far: {screen!r}")
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            screen += chunk
            if pending and pending[0][0].encode() in screen:
                os.write(master, pending.pop(0)[1].encode() + b"\n")
    finally:
        os.close(master)
    return proc.wait(timeout=120), screen.decode(errors="replace").replace("\r\n", "\n")


def test_password_is_asked_on_a_terminal(cli_db: Path, tmp_path: Path) -> None:
    keyed = certlab.self_signed("k.example.com", key_type="ec-p256", name="k")
    p12 = tmp_path / "k.p12"
    p12.write_bytes(dump_pkcs12("k", keyed.private_key, keyed.certificate, [], PW.encode()))
    code, screen = _on_a_pty([sys.executable, "-m", "certlab", "--db", str(cli_db), "import", str(p12)],
                             [("import password:", PW)], tmp_path)
    assert code == 0 and "import password:" in screen and "imported" in screen
    assert PW not in screen  # not echoed
    assert [d["name"] for d in json.loads(ok("list", db=cli_db).stdout)] == ["k_example_com"]


def test_export_asks_twice_on_a_terminal(cli_db: Path, tmp_path: Path) -> None:
    ok("create", "self-signed", "pay", "--key", "ec-p256", "--exportable", db=cli_db)
    out = tmp_path / "pay.p12"
    code, screen = _on_a_pty([sys.executable, "-m", "certlab", "--db", str(cli_db), "export", "pay", "--format",
                              "pkcs12", "--out", str(out)], [("password:", "first password!!"), ("Again:", "second password!")],
                             tmp_path)
    assert code == 1 and "certlab: error: the two passwords differ" in screen and "Traceback" not in screen
    assert not out.exists()
    code, screen = _on_a_pty([sys.executable, "-m", "certlab", "--db", str(cli_db), "export", "pay", "--format",
                              "pkcs12", "--out", str(out)], [("password:", PW), ("Again:", PW)], tmp_path)
    assert code == 0 and out.exists() and PW not in screen
