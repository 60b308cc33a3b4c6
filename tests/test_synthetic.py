"""The synthetic inventory generator: real certificates from synthetic CAs, batch-written, one audit event."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from cryptography import x509

import certlab
from certlab import Actor, AuditFilter, CertFilter, CertInfo, Inventory, Role, synthetic
from certlab.errors import InvalidInputError, PermissionDeniedError

from .conftest import run_cli


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    inv = certlab.init(tmp_path_factory.mktemp("syn") / "certlab.duckdb", actor=Actor("alice", Role.ADMIN))
    inv.generate_synthetic(400, audit_events=120, seed=7)
    return inv


def test_adds_certificates_cas_and_one_event(filled: Inventory) -> None:
    assert filled.count() == 400 + len(synthetic.CA_PLAN)
    events = filled.audit_events(AuditFilter(action="synthetic_generated"))
    assert len(events) == 1
    assert events[0].details["certificates"] == 400 and events[0].details["audit_events"] == 120
    assert len(filled.audit_events(AuditFilter())) == 1 + 120 + 1  # initialised, history, the action
    check = filled.verify_audit()
    assert check.ok and check.events == 122


def test_rows_match_what_the_certificates_say(filled: Inventory) -> None:
    """Fields are derived without parsing each certificate: check them against CertInfo and the issuer."""
    cas = {r.subject: filled.certificate(r.name) for r in filled.list(CertFilter(kind="trusted_ca"))}
    records = filled.list(CertFilter(limit=120))
    assert len(records) == 120
    for rec in records:
        cert = filled.certificate(rec.name)
        info = CertInfo.of(cert)
        assert (rec.subject, rec.issuer, rec.serial) == (info.subject, info.issuer, info.serial)
        assert (rec.not_before, rec.not_after) == (info.not_before, info.not_after)
        assert (rec.key_type, rec.signature_algorithm) == (info.key_type, info.signature_algorithm)
        assert rec.fingerprint_sha256 == info.fingerprint_sha256
        assert rec.sans == info.sans and rec.sans
        assert rec.has_private_key is False and rec.owner.startswith("team-")
        issuer = cert if rec.kind == "self_signed" else cas[rec.issuer]
        cert.verify_directly_issued_by(issuer)  # a real signature by the named issuer
        if rec.kind != "self_signed" and rec.kind != "trusted_ca":
            assert rec.issuer_certificate is not None and rec.issuer_certificate.startswith("synthetic_")
            assert len(filled.chain(rec.name)) == 2


def test_stored_columns_agree_with_certinfo_for_every_row(filled: Inventory) -> None:
    con = duckdb.connect(str(filled.path), read_only=True)
    try:
        rows = con.execute("SELECT der, spki_sha256, ski, aki, key_size, key_algorithm, signature_hash, is_ca "
                           "FROM certificates").fetchall()
    finally:
        con.close()
    for der, spki, ski, aki, size, algorithm, sig_hash, is_ca in rows:
        info = CertInfo.of(x509.load_der_x509_certificate(bytes(der)))
        assert (spki, ski, aki, size, algorithm, sig_hash, is_ca) == (
            info.spki_sha256, info.ski, info.aki, info.key_size, info.key_algorithm, info.signature_hash, info.is_ca)


def test_variety_of_a_real_inventory(filled: Inventory) -> None:
    records = filled.list()
    assert {r.key_type for r in records} >= {"ec-p256", "ec-p384", "ed25519", "rsa-2048"}
    assert len({r.issuer for r in records}) >= 5
    assert {r.status for r in records} >= {"active", "expiring", "expired", "revoked"}
    assert {r.kind for r in records} >= {"ca_signed", "imported", "self_signed", "trusted_ca"}
    assert any(len(r.sans) > 1 for r in records)
    assert len({r.not_after.date() for r in records if r.not_after}) > 200
    assert filled.count(CertFilter(expiring_within=90)) > 0


def test_leaves_come_in_batches() -> None:
    plan = synthetic.make_plan(seed=1, now=dt.datetime(2026, 1, 1))
    sizes = [len(cols["name"]) for cols in synthetic.leaf_batches(plan, 25, batch=10)]
    assert sizes == [10, 10, 5]


def test_second_run_adds_new_cas_and_names(tmp_path: Path, admin: Actor) -> None:
    inv = certlab.init(tmp_path / "c.duckdb", actor=admin)
    a = inv.generate_synthetic(30, seed=1)
    b = inv.generate_synthetic(30, seed=1)  # the same seed again: new CA keys, new signatures, no clash
    assert a.token != b.token
    assert inv.count() == 2 * (30 + len(synthetic.CA_PLAN))
    assert inv.verify_audit().ok


def test_auditor_is_refused_and_nothing_changes(tmp_path: Path, admin: Actor) -> None:
    inv = certlab.init(tmp_path / "c.duckdb", actor=admin)
    auditor = inv.as_actor(Actor("carol", Role.AUDITOR))
    with pytest.raises(PermissionDeniedError, match=r"carol \(auditor\) may not generate synthetic certificates \(synthetic inventory\): admins only"):
        auditor.generate_synthetic(10)  # type: ignore[attr-defined]
    assert inv.count() == 0
    denied = inv.audit_events(AuditFilter(outcome="denied"))
    assert [e.action for e in denied] == ["synthetic_generated"]


@pytest.mark.parametrize("n", [-1, 5_000_001, True, 1.5])
def test_bad_counts_are_refused(inv: Inventory, n: object) -> None:
    with pytest.raises(InvalidInputError, match="synthetic certificate count"):
        inv.generate_synthetic(n)  # type: ignore[arg-type]
    assert inv.count() == 0


def test_edited_synthetic_event_breaks_the_chain(tmp_path: Path, admin: Actor) -> None:
    inv = certlab.init(tmp_path / "c.duckdb", actor=admin)
    inv.generate_synthetic(5, audit_events=50)
    con = duckdb.connect(str(inv.path))
    con.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 20")
    con.close()
    check = inv.verify_audit()
    assert not check.ok and check.first_bad_seq == 20


def test_cli_demo_certs(tmp_path: Path) -> None:
    db = tmp_path / "scale" / "certlab.duckdb"
    proc = run_cli("demo", "--certs", "60", "--audit-events", "10", "--seed", "3", "--json", db=db, check=True)
    doc = json.loads(proc.stdout)
    assert doc["certificates"] == 60 and doc["audit_events"] == 10 and len(doc["cas"]) == len(synthetic.CA_PLAN)
    listed = json.loads(run_cli("list", "--json", db=db, check=True).stdout)
    assert len(listed) == 60 + len(synthetic.CA_PLAN)
    bad = run_cli("demo", "--certs", "-5", db=db)
    assert bad.returncode == 1 and "synthetic certificate count" in bad.stderr and "Traceback" not in bad.stderr
    assert "--certs" in run_cli("demo", "--help").stdout


def test_pem_loader_hands_over_what_it_read() -> None:
    """Bulk import reads each certificate once: the loader's CertInfo travels with the certificates."""
    from certlab import formats

    plan = synthetic.make_plan(seed=2, now=dt.datetime(2026, 1, 1))
    ders = next(synthetic.leaf_batches(plan, 3))["der"]
    certs = [x509.load_der_x509_certificate(d) for d in ders]
    loaded = formats.load_bundle(formats.dump_pem(certs), "three.pem")
    assert loaded.certificates == tuple(certs)
    assert loaded.infos == tuple(CertInfo.of(c) for c in certs)
    key_and_cert = certlab.self_signed("k.example.com", key_type="ec-p256")
    with_key = formats.load_bundle(key_and_cert.cert_pem.bytes() + key_and_cert.private_key_pem.bytes(), "k.pem")
    assert with_key.infos == (CertInfo.of(key_and_cert.certificate),)


def test_search_by_whole_fingerprint_finds_exactly_that_certificate(filled: Inventory) -> None:
    rec = filled.list(CertFilter(limit=1))[0]
    fp = rec.fingerprint_sha256
    assert fp is not None
    colons = ":".join(fp[i:i + 2] for i in range(0, 64, 2)).upper()
    for text in (fp, fp.upper(), colons, f" {fp} "):
        assert [r.name for r in filled.list(CertFilter(search=text))] == [rec.name], text
        assert filled.count(CertFilter(search=text)) == 1
    assert filled.list(CertFilter(search=fp[:63])) == []  # a part of a fingerprint is text (and matches none)


def test_import_of_many_files_audits_each_file_in_one_chain(tmp_path: Path, admin: Actor) -> None:
    """The importer chains its per-file events in one batch; the chain stays whole and ordered."""
    plan = synthetic.make_plan(seed=4, now=dt.datetime(2026, 1, 1))
    ders = next(synthetic.leaf_batches(plan, 12))["der"]
    folder = tmp_path / "certs"
    folder.mkdir()
    for i, der in enumerate(ders):
        (folder / f"c{i:02d}.pem").write_bytes(certlab.dump_pem([x509.load_der_x509_certificate(der)]))
    (folder / "zz_bad.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    inv = certlab.init(tmp_path / "c.duckdb", actor=admin)
    results = inv.import_files([folder])
    assert [r.result for r in results].count("imported") == 12 and results[-1].result == "rejected"
    events = inv.audit_events(AuditFilter(action="imported"))
    assert [e.details["file"] for e in events] == [str(folder / f"c{i:02d}.pem") for i in range(12)]
    assert [e.seq for e in events] == list(range(2, 14)) and all(e.actor == "alice" for e in events)
    check = inv.verify_audit()
    assert check.ok and check.events == 13
    assert inv.import_files([folder / "c00.pem"])[0].result == "duplicate"  # tx.one then a frame insert works


def test_demo_command_of_another_module_gains_certs() -> None:
    """When ``certlab demo`` comes from the demo module, --certs is added to it and plain demo stays as it was."""
    import argparse

    from certlab.cli import add_command, synthetic_cmds

    parser = argparse.ArgumentParser(prog="certlab")
    parser.add_argument("--db")
    sub = parser.add_subparsers(dest="command")
    seeded: list[str] = []
    demo = add_command(sub, "demo", "Fill an empty inventory with a demo organisation.", "certlab demo")
    demo.add_argument("--json", action="store_true")
    demo.set_defaults(func=lambda args: seeded.append("demo") or 0)
    synthetic_cmds.register(sub)
    args = parser.parse_args(["demo"])
    assert args.func(args) == 0 and seeded == ["demo"]
    args = parser.parse_args(["demo", "--certs", "5", "--seed", "1"])
    assert (args.certs, args.seed, args.audit_events) == (5, 1, 0)
    assert "--certs" in demo.format_help() and "demo --certs 100000" in demo.format_help()
