"""Hostile and broken input: every parser and form field ends in success or a one-line CertlabError.

A corpus of bad files is made here (truncated, bit-flipped and garbage PEM/DER/PKCS#7/PKCS#12, wrong
passwords, empty and enormous files, thousands of PEM blocks, certificates with duplicate extensions,
negative or zero serials, unknown signature algorithms, names that are not UTF-8); hypothesis drives the
parsers and the form fields. Never another exception, a hang, a traceback in the CLI, or a change to the
inventory; text with quotes, SQL, HTML and control characters is stored and shown literally.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import os
import random
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import certlab
from certlab import CertFilter, CertlabError, CertSpec, ImportSource, Subject, formats
from certlab.csr import build_csr, load_csr
from certlab.csvsafe import records_to_csv, safe_cell, to_csv
from certlab.models import Actor, AuditFilter, Role
from certlab.names import check_label, check_unique_name, parse_identity

from . import der_surgery as ds
from .conftest import make_cert, run_cli

PW = b"correct horse battery staple"
HYPO = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.function_scoped_fixture])


def _pem(label: str, der: bytes) -> bytes:
    return f"-----BEGIN {label}-----\n".encode() + base64.encodebytes(der) + f"-----END {label}-----\n".encode()


def assert_clean(fn: Callable[[], Any]) -> Any:
    """Success, or a CertlabError whose message is one non-empty line without key material."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    except CertlabError as exc:
        text = str(exc)
        assert text and "\n" not in text and "\r" not in text, repr(text)
        assert "-----BEGIN" not in text
        return exc


# --- the corpus ---------------------------------------------------------------------------------------------

def _seeds() -> dict[str, bytes]:
    issued = certlab.self_signed("seed.example.com", key_type="ec-p256")
    cert, key = issued.certificate, issued.private_key
    der = cert.public_bytes(serialization.Encoding.DER)
    csr, _ = build_csr(CertSpec(name="seed_csr", key_type="ec-p256", sans=("csr.example.com",)))
    return {
        "cert.pem": issued.cert_pem.bytes(),
        "cert.der": der,
        "certs.p7b": pkcs7.serialize_certificates([cert], serialization.Encoding.DER),
        "certs.p7.pem": pkcs7.serialize_certificates([cert], serialization.Encoding.PEM),
        "store.p12": formats.dump_pkcs12("seed", key, cert, [], PW),
        "legacy.p12": formats.dump_pkcs12("seed", key, cert, [], PW, legacy=True),
        "bundle.pem": issued.cert_pem.bytes() + issued.private_key_pem.bytes(),
        "encrypted-key.pem": issued.cert_pem.bytes() + formats.dump_encrypted_private_key(key, PW),
        "request.csr": csr.public_bytes(serialization.Encoding.PEM),
        "request.der.csr": csr.public_bytes(serialization.Encoding.DER),
    }


def _corpus() -> dict[str, tuple[bytes, bytes | None]]:
    """name -> (bytes, password to try)."""
    rnd = random.Random(20261126)
    seeds = _seeds()
    out: dict[str, tuple[bytes, bytes | None]] = {}
    for name, data in seeds.items():
        for cut in (1, 10, len(data) // 3, len(data) // 2, len(data) - 30, len(data) - 1):
            out[f"truncated-{cut}-{name}"] = (data[:cut], PW)
        for i in range(12):
            flipped = bytearray(data)
            pos = rnd.randrange(len(flipped))
            flipped[pos] ^= 1 << rnd.randrange(8)
            out[f"flipped-{i}-{name}"] = (bytes(flipped), PW)
        out[f"tail-garbage-{name}"] = (data + os.urandom(64), PW)
    out["wrong-password.p12"] = (seeds["store.p12"], b"not the password at all")
    out["no-password.p12"] = (seeds["store.p12"], None)
    out["wrong-password-key.pem"] = (seeds["encrypted-key.pem"], b"wrong wrong wrong")
    out["no-password-key.pem"] = (seeds["encrypted-key.pem"], None)
    out["empty"] = (b"", None)
    out["whitespace"] = (b" \n\t\r\n", None)
    out["garbage"] = (os.urandom(4096), None)
    out["garbage-seq"] = (b"\x30\x82\x10\x00" + os.urandom(4096), None)
    out["deep-nesting"] = (b"\x30\x80" * 5000, None)
    out["text"] = ("certificate: yes\nkey: 🔑\n".encode(), None)
    out["utf16"] = ("-----BEGIN CERTIFICATE-----".encode("utf-16"), None)
    out["begin-only"] = (b"-----BEGIN CERTIFICATE-----\n" * 50_000, None)
    out["mismatched-end"] = (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n", None)
    out["many-empty-blocks"] = (b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n" * 20_000, None)
    out["csr-as-cert"] = (seeds["request.csr"], None)
    out["thousands-of-blocks.pem"] = (_many_certificates(3000), None)
    der = seeds["cert.der"]
    surgery = {
        "negative-serial": ds.with_serial(der, b"\xff"),
        "zero-serial": ds.with_serial(der, b"\x00"),
        "huge-serial": ds.with_serial(der, b"\x7f" + b"\x01" * 60),
        "duplicate-extension": ds.with_duplicate_extension(der),
        "unknown-signature-algorithm": ds.with_signature_oid(der, bytes([0x2A, 0x03, 0x04])),
        "md2-signature": ds.with_signature_oid(der, bytes.fromhex("2a864886f70d010102")),
        "utf8-not-utf8": ds.with_raw_subject_value(der, 0x0C, b"\xff\xfe\xc3"),
        "bmp-odd-length": ds.with_raw_subject_value(der, 0x1E, b"\x00a\x00"),
        "universal-string-bad": ds.with_raw_subject_value(der, 0x1C, b"\x00\x00\x00"),
        "printable-with-8bit": ds.with_raw_subject_value(der, 0x13, b"a@b\xff"),
        "t61-latin1": ds.with_raw_subject_value(der, 0x14, b"\xe9t\xe9"),
        "control-and-html-cn": ds.with_raw_subject_value(der, 0x0C, b"a\x00b\x1b[31m<script>x</script>"),
    }
    for name, data in surgery.items():
        out[f"{name}.der"] = (data, None)
        out[f"{name}.pem"] = (_pem("CERTIFICATE", data), None)
    return out


def _many_certificates(n: int) -> bytes:
    key = certlab.generate_key("ec-p256")
    one = certlab.self_signed("many.example.com", key=key)
    return one.cert_pem.bytes() * n


@pytest.fixture(scope="module")
def corpus() -> dict[str, tuple[bytes, bytes | None]]:
    return _corpus()


@pytest.fixture(scope="module")
def corpus_dir(corpus: dict[str, tuple[bytes, bytes | None]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("corpus")
    for name, (data, _) in corpus.items():
        (d / name).write_bytes(data)
    return d


def _state(inv: certlab.Inventory) -> tuple[Any, ...]:
    with inv.db.read() as tx:
        return (tx.rows("SELECT name, fingerprint_sha256 FROM certificates ORDER BY id"),
                tx.scalar("SELECT count(*) FROM private_keys"), tx.scalar("SELECT count(*) FROM audit_events"),
                tx.rows("SELECT name, certificate_id FROM named_credentials ORDER BY id"))


# --- parsers over the corpus ----------------------------------------------------------------------------------

def test_corpus_every_parser_ends_cleanly(corpus: dict[str, tuple[bytes, bytes | None]]) -> None:
    outcomes: dict[str, str] = {}
    for name, (data, password) in corpus.items():
        for pw in {password, None}:
            result = assert_clean(lambda: formats.load_bundle(data, name, pw))
            outcomes[name] = type(result).__name__
        assert_clean(lambda: load_csr(data, name))
    # the corpus really is hostile: most of it is refused, and the refusals name the file
    refused = [n for n, kind in outcomes.items() if kind.endswith("Error")]
    assert len(refused) > len(corpus) * 0.6
    password_errors = {"WrongPasswordError", "PasswordRequiredError"}
    assert outcomes["wrong-password.p12"] in password_errors
    assert outcomes["no-password-key.pem"] in password_errors
    assert outcomes["duplicate-extension.der"] == "FormatError"
    assert outcomes["unknown-signature-algorithm.pem"] == "FormatError"
    assert outcomes["thousands-of-blocks.pem"] == "Loaded"
    assert outcomes["empty"] == "FormatError"


def test_bounded_sizes_have_clear_errors(tmp_path: Path, inv: certlab.Inventory) -> None:
    big = tmp_path / "enormous.pem"
    with big.open("wb") as fh:  # sparse: nothing is read before the size is checked
        fh.truncate(formats.MAX_INPUT_BYTES + 1)
    before = _state(inv)
    [result] = inv.import_files([big])
    assert result.result == "rejected" and "larger than" in (result.reason or "")
    assert _state(inv) == before
    proc = run_cli("upload-signed", "whatever", str(big), db=inv.path)
    assert proc.returncode == 1 and "larger than" in proc.stderr and "Traceback" not in proc.stderr


def test_corpus_import_changes_nothing_when_refused(corpus: dict[str, tuple[bytes, bytes | None]],
                                                    inv: certlab.Inventory) -> None:
    # One import of the whole corpus: exactly what the accepted files hold gets in, nothing of the rest.
    before = _state(inv)
    sources = [ImportSource(name, data) for name, (data, _) in corpus.items()]
    results = assert_clean(lambda: inv.import_sources(sources, password=PW))
    assert isinstance(results, list) and len(results) == len(sources)
    expected: set[str] = set()
    for src, result in zip(sources, results):
        assert result.file == src.source and result.result in ("imported", "duplicate", "rejected")
        if result.result == "rejected":
            assert result.reason and "\n" not in result.reason
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = formats.load_bundle(src.data, src.source, PW)
        expected |= {certlab.CertInfo.of(c).fingerprint_sha256 for c in loaded.certificates}
    after = _state(inv)
    added = {fp for _, fp in after[0]} - {fp for _, fp in before[0]}
    assert added == expected
    imported = sum(r.result == "imported" for r in results)
    assert 0 < after[2] - before[2] <= imported  # an event per file (a key file paired with its certificate: one)
    assert sum(r.result == "rejected" for r in results) > len(results) * 0.6
    # one refused file on its own changes nothing at all, not even the audit trail
    for name in ("duplicate-extension.der", "wrong-password.p12", "garbage", "begin-only", "truncated-10-cert.der"):
        before = _state(inv)
        [result] = inv.import_sources([ImportSource(name, corpus[name][0])], password=corpus[name][1])
        assert result.result == "rejected" and _state(inv) == before
    # what got in reads back, and the audit chain still verifies
    for record in inv.list():
        assert_clean(lambda: inv.get(record.name))
        assert_clean(lambda: inv.export(record.name, "pem"))
    assert inv.verify_audit().ok


@pytest.mark.slow
def test_corpus_through_the_cli_never_shows_a_traceback(corpus_dir: Path, cli_db: Path, tmp_path: Path) -> None:
    pw = tmp_path / "pw.txt"
    pw.write_bytes(PW + b"\n")
    proc = run_cli("import", str(corpus_dir), "--password-file", str(pw), "--json", db=cli_db)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "Warning" not in proc.stderr
    results = json.loads(proc.stdout)
    assert len(results) == len(list(corpus_dir.iterdir()))
    assert {r["result"] for r in results} <= {"imported", "duplicate", "rejected"}
    run_cli("create", "csr", "pending", "--key", "ec-p256", db=cli_db, check=True)
    for name in ("duplicate-extension.pem", "truncated-10-cert.pem", "garbage", "empty", "negative-serial.der",
                 "wrong-password.p12", "begin-only"):
        proc = run_cli("upload-signed", "pending", str(corpus_dir / name), db=cli_db)
        assert proc.returncode == 1, (name, proc.stderr)
        assert proc.stderr.startswith("certlab: error: ") and proc.stderr.count("\n") == 1, proc.stderr
        assert "Traceback" not in proc.stderr
    listing = run_cli("list", "--json", db=cli_db)
    assert listing.returncode == 0 and "Traceback" not in listing.stderr
    assert run_cli("audit", "verify", db=cli_db).returncode == 0


# --- property tests over every parser -----------------------------------------------------------------------

_pem_like = st.builds(
    lambda label, body, tail: f"-----BEGIN {label}-----\n".encode() + body + f"\n-----END {label}-----\n".encode() + tail,
    st.sampled_from(["CERTIFICATE", "PKCS7", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "CERTIFICATE REQUEST", "X"]),
    st.one_of(st.binary(max_size=300), st.binary(max_size=300).map(base64.encodebytes)),
    st.binary(max_size=40),
)


@HYPO
@given(data=st.one_of(st.binary(max_size=2000), _pem_like), password=st.one_of(st.none(), st.binary(max_size=40)))
def test_property_load_bundle(data: bytes, password: bytes | None) -> None:
    assert_clean(lambda: formats.load_bundle(data, "upload.bin", password))


@HYPO
@given(data=st.one_of(st.binary(max_size=2000), _pem_like))
def test_property_load_csr(data: bytes) -> None:
    assert_clean(lambda: load_csr(data, "request.csr"))


@HYPO
@given(value=st.text(max_size=300))
@example(value="0@\u00a1")  # a non-ASCII e-mail domain once escaped as a raw ValueError
@example(value="a://\u00a1")
def test_property_identities_subjects_names_labels(value: str) -> None:
    assert_clean(lambda: parse_identity(value))
    assert_clean(lambda: Subject.parse(value))
    assert_clean(lambda: check_unique_name(value))
    assert_clean(lambda: check_label(value))
    assert_clean(lambda: certlab.KeyType.parse(value))
    assert_clean(lambda: certlab.Purpose.parse(value))
    assert_clean(lambda: Role.parse(value))
    assert_clean(lambda: certlab.ca.parse_reason(value))
    from certlab.cli.core_cmds import parse_time

    assert_clean(lambda: parse_time(value, "--since"))


@HYPO
@given(name=st.text(max_size=100), label=st.text(max_size=250), key_type=st.one_of(st.text(max_size=20),
       st.sampled_from(["rsa-2048", "ec-p256", "ed25519"])), days=st.one_of(st.integers(), st.floats(), st.text(max_size=5)),
       subject=st.text(max_size=200), sans=st.lists(st.text(max_size=80), max_size=4),
       purpose=st.text(max_size=10), exportable=st.booleans())
def test_property_certspec(name: str, label: str, key_type: str, days: Any, subject: str, sans: list[str],
                           purpose: str, exportable: bool) -> None:
    spec = assert_clean(lambda: CertSpec(name=name, label=label, key_type=key_type, days=days, subject=subject,
                                         sans=tuple(sans), purpose=purpose, exportable=exportable))
    if isinstance(spec, CertSpec):
        assert_clean(spec.x509_subject)
        assert_clean(lambda: spec.general_names)


@pytest.fixture(scope="module")
def form_inventory(tmp_path_factory: pytest.TempPathFactory) -> certlab.Inventory:
    inv = certlab.init(tmp_path_factory.mktemp("forms") / "inv.duckdb", actor=Actor("forms", Role.ADMIN))
    make_cert(inv, "target", exportable=True)
    return inv


_field = st.one_of(st.text(max_size=60), st.sampled_from(["", "target", "'; DROP TABLE certificates; --", "%", "_",
                                                         "<script>", "=cmd|' /C calc'!A0", "\x00", "active"]))


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(search=_field, status=_field, kind=_field, expiring=st.one_of(st.none(), st.integers(-5, 10**6)),
       limit=st.one_of(st.none(), st.integers(-2, 50)), actor=_field, action=_field, obj=_field)
def test_property_read_forms(form_inventory: certlab.Inventory, search: str, status: str, kind: str,
                             expiring: int | None, limit: int | None, actor: str, action: str, obj: str) -> None:
    inv = form_inventory
    before = _state(inv)
    f = assert_clean(lambda: CertFilter(search=search or None, status=status or None, kind=kind or None,
                                        expiring_within=expiring, limit=limit))
    if isinstance(f, CertFilter):
        assert_clean(lambda: inv.list(f))
        assert_clean(lambda: inv.count(f))
    assert_clean(lambda: inv.audit_events(AuditFilter(actor=actor or None, action=action or None, object=obj or None,
                                                       limit=limit if limit is None or limit >= 0 else None)))
    assert_clean(lambda: inv.get(search))
    assert _state(inv) == before


@settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(name=_field, endpoint=_field, purpose=_field, owner=_field, fmt=_field, password=st.one_of(st.none(), _field))
def test_property_write_forms(form_inventory: certlab.Inventory, name: str, endpoint: str, purpose: str, owner: str,
                              fmt: str, password: str | None) -> None:
    inv = form_inventory
    before = _state(inv)
    result = assert_clean(lambda: inv.add_credential(name, certificate="target", endpoint=endpoint, purpose=purpose,
                                                     owner=owner))
    if isinstance(result, CertlabError):
        assert _state(inv) == before
    else:
        inv.delete_credential(name)
    before = _state(inv)
    blob = assert_clean(lambda: inv.export("target", fmt, password=password))
    if isinstance(blob, CertlabError):
        assert _state(inv)[:2] == before[:2]  # a refusal may be audited, nothing else changes


# --- stored and shown literally -----------------------------------------------------------------------------

NASTY_LABEL = "Robert'); DROP TABLE certificates;-- <b onmouseover=\"alert(1)\">x</b> & =1+2 \\ %_"
NASTY_SUBJECT = {"CN": "O'Brien \"<script>alert(1)</script>\"", "O": "'; DELETE FROM audit_events; --",
                 "OU": "=HYPERLINK(\"http://evil/\")"}
NASTY_SANS = ("https://x.example.com/?q='\"<>&;--", "o'brien@example.com", "xn--bcher-kva.example.com")


def test_hostile_text_is_stored_and_shown_literally(inv: certlab.Inventory, db_path: Path) -> None:
    subject = Subject.of(**NASTY_SUBJECT)
    inv.create_self_signed(CertSpec(name="nasty", label=NASTY_LABEL, key_type="ec-p256", subject=subject,
                              sans=NASTY_SANS))
    make_cert(inv, "plain")
    got = inv.get("nasty")
    assert got.label == NASTY_LABEL
    assert got.sans == NASTY_SANS
    cert = inv.certificate("nasty")
    assert sorted(str(a.value) for a in cert.subject) == sorted(NASTY_SUBJECT.values())
    # the search text is data, never SQL or a LIKE pattern
    for text, expected in [("'); DROP TABLE", ["nasty"]), ("%", ["nasty"]), ("_", ["nasty"]),
                           ("<b onmouseover", ["nasty"]), ("' OR '1'='1", []), ("\\", ["nasty"])]:
        assert [r.name for r in inv.list(CertFilter(search=text))] == expected, text
    assert inv.count() == 2 and inv.verify_audit().ok
    # the CLI shows it literally (JSON), and never lets it drive the terminal
    doc = json.loads(run_cli("show", "nasty", "--json", db=db_path, check=True).stdout)
    assert doc["label"] == NASTY_LABEL and doc["sans"] == list(NASTY_SANS)
    assert "O'Brien" in doc["subject"] and "\\<script\\>" in doc["subject"]  # RFC 4514 escaping, nothing else
    table = run_cli("list", "--table", "--search", "'); DROP", db=db_path, check=True).stdout
    assert "nasty" in table and "plain" not in table
    # control characters are refused where they enter, with a clear message, changing nothing
    before = _state(inv)
    for bad in ({"label": "bell\x07"}, {"subject": "CN=esc\x1b[2J"}, {"sans": ("a.example.com\r\nX-Injected: 1",)}):
        with pytest.raises(certlab.InvalidInputError, match="control characters|spaces"):
            CertSpec(name="bad", key_type="ec-p256", **bad)  # type: ignore[arg-type]
    proc = run_cli("create", "self-signed", "bad", "--label", "tab\there", db=db_path)
    assert proc.returncode == 1 and "control characters" in proc.stderr
    assert _state(inv) == before


def test_imported_control_characters_are_escaped_in_the_cli(inv: certlab.Inventory, db_path: Path) -> None:
    issued = certlab.self_signed("esc.example.com", key_type="ec-p256")
    der = ds.with_raw_subject_value(issued.certificate.public_bytes(serialization.Encoding.DER), 0x0C,
                                    b"evil\x1b]0;owned\x07\x1b[31mred")
    [result] = inv.import_sources([ImportSource("esc.der", der)])
    assert result.result == "imported"
    out = run_cli("list", "--table", db=db_path, check=True).stdout
    assert "\x1b" not in out and "\x07" not in out and "\\x1b" in out
    doc = json.loads(run_cli("list", "--json", db=db_path, check=True).stdout)
    assert "\x1b" in doc[0]["subject"]  # JSON carries it literally (escaped by the encoder)


# --- CSV export ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["=1+2", "+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "=HYPERLINK(\"http://x\")",
                                  "\uff1d1+1"])
def test_csv_neutralises_formulas(cell: str) -> None:
    assert safe_cell(cell) == "'" + cell
    text = to_csv(["label"], [[cell]]).decode("utf-8-sig")
    [header, row] = list(csv.reader(io.StringIO(text)))
    assert row == ["'" + cell]


def test_csv_keeps_everything_else_literally() -> None:
    when = dt.datetime(2027, 3, 1, 12, 0)
    rows = [[NASTY_LABEL, 42, -7, 1.5, True, None, when, ("a.example.com", "b.example.com"), "line1\nline2", "é\"'"]]
    text = to_csv(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"], rows).decode("utf-8-sig")
    [_, row] = list(csv.reader(io.StringIO(text)))
    assert row == [NASTY_LABEL, "42", "-7", "1.5", "True", "", "2027-03-01T12:00:00",
                   "a.example.com, b.example.com", "line1\nline2", "é\"'"]


@HYPO
@given(cells=st.lists(st.text(max_size=30), min_size=1, max_size=6))
def test_property_csv_cells_never_start_a_formula(cells: list[str]) -> None:
    text = to_csv([f"c{i}" for i in range(len(cells))], [cells]).decode("utf-8-sig")
    [_, row] = list(csv.reader(io.StringIO(text, newline="")))
    for original, written in zip(cells, row):
        assert not written.startswith(("=", "+", "-", "@", "\t", "\r"))
        assert written in (original, "'" + original)


def test_csv_of_records(inv: certlab.Inventory) -> None:
    inv.create_self_signed(CertSpec(name="formula", label="=cmd|' /C calc'!A0", key_type="ec-p256"))
    data = records_to_csv([r.to_json() for r in inv.list()], ["name", "label", "days_to_expiry"])
    [_, row] = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert row[:2] == ["formula", "'=cmd|' /C calc'!A0"] and int(row[2]) > 300

