"""A large bulk import reads certificates in worker processes: the same fields, in the same order, the
same first error, and a `certlab import` whose workers do not run the command a second time."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import duckdb
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certlab import FormatError, certs, synthetic

from . import pki
from .conftest import run_cli


def _leaves(n: int) -> list[x509.Certificate]:
    plan = synthetic.make_plan(seed=3, now=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    return [x509.load_der_x509_certificate(d) for cols in synthetic.leaf_batches(plan, n) for d in cols["der"]]


def _pem(certs_: list[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs_)


@pytest.fixture(scope="module")
def leaves() -> list[x509.Certificate]:
    return _leaves(90)


def test_workers_read_the_same_fields_in_the_same_order(leaves: list[x509.Certificate]) -> None:
    here = [certs.CertInfo.of(c, "bundle.pem") for c in leaves]
    shared = certs._read_in_parallel([(c, "bundle.pem") for c in leaves], 3)
    assert certs.LAST_PARALLEL_READ == {"shares": 3, "by_workers": 2}  # two workers read theirs
    assert shared == here and [i.der for i in shared] == [c.public_bytes(serialization.Encoding.DER) for c in leaves]


def test_a_bad_certificate_read_by_a_worker_gives_the_error_this_process_would(leaves: list[x509.Certificate],
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    bad = x509.load_der_x509_certificate(pki.with_duplicate_extension())
    batch = [*leaves[:60], bad, *leaves[60:]]  # in the third share
    with pytest.raises(FormatError) as here:
        [certs.CertInfo.of(c, "bundle.pem") for c in batch]
    shared = certs._read_in_parallel([(c, "bundle.pem") for c in batch], 3)
    assert certs.LAST_PARALLEL_READ == {"shares": 3, "by_workers": 2}
    assert [type(x) for x in shared].count(FormatError) == 1 and isinstance(shared[60], FormatError)
    assert str(shared[60]) == str(here.value) and str(here.value).startswith("bundle.pem: certificate cannot be read")
    monkeypatch.setattr(certs, "_workers", lambda n: 3)
    with pytest.raises(FormatError, match="^bundle.pem: certificate cannot be read"):
        certs.read_infos(batch, "bundle.pem")  # the first error, raised


def test_how_many_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1, 2, 3})
    monkeypatch.delenv(certs.ENV_WORKERS, raising=False)
    assert certs._workers(certs.PARALLEL_MIN - 1) == 1  # small batches stay in this process
    assert certs._workers(certs.PARALLEL_MIN) == 2 and certs._workers(100_000) == 4
    monkeypatch.setenv(certs.ENV_WORKERS, "1")
    assert certs._workers(100_000) == 1
    monkeypatch.setenv(certs.ENV_WORKERS, "3")
    assert certs._workers(100_000) == 3


@pytest.mark.slow
def test_certlab_import_of_a_large_bundle_with_workers(tmp_path: Path) -> None:
    n = certs.PARALLEL_MIN + 400
    bundle = tmp_path / "big.pem"
    bundle.write_bytes(_pem(_leaves(n)))
    db = tmp_path / "inv.duckdb"
    run_cli("init", db=db, check=True)
    proc = run_cli("import", str(bundle), "--json", db=db, env={certs.ENV_WORKERS: "2"})
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr  # workers did not run the command again
    [result] = json.loads(proc.stdout)
    assert result["result"] == "imported" and result["file"] == str(bundle)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT fingerprint_sha256) FROM certificates").fetchone() == (n, n)
        assert con.execute("SELECT count(*) FROM audit_events WHERE action = 'imported'").fetchone()[0] >= 1


def test_when_workers_cannot_start_this_process_reads_everything(leaves: list[x509.Certificate],
                                                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    here = [certs.CertInfo.of(c, "bundle.pem") for c in leaves]
    monkeypatch.setattr("sys.executable", str(tmp_path / "no-such-python"))
    assert certs._read_in_parallel([(c, "bundle.pem") for c in leaves], 3) == here
    assert certs.LAST_PARALLEL_READ == {"shares": 3, "by_workers": 0}
    failing = tmp_path / "failing-python"
    failing.write_text("#!/bin/sh\nexit 3\n")
    failing.chmod(0o755)
    monkeypatch.setattr("sys.executable", str(failing))  # starts, reads nothing, fails
    assert certs._read_in_parallel([(c, "bundle.pem") for c in leaves], 3) == here
    assert certs.LAST_PARALLEL_READ == {"shares": 3, "by_workers": 0}


def test_a_directory_of_files_is_read_by_workers_file_by_file_results_kept(
        leaves: list[x509.Certificate], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Many small files are read together (and shared with workers, as a large bundle is); each file
    still gets its own result, and a file with an unreadable certificate gets the error it gets alone."""
    import certlab

    monkeypatch.setattr(certs, "PARALLEL_MIN", 10)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1})
    monkeypatch.setenv(certs.ENV_WORKERS, "2")
    folder = tmp_path / "certs"
    folder.mkdir()
    for i, c in enumerate(leaves[:30]):
        (folder / f"c{i:02d}.pem").write_bytes(_pem([c]))
    (folder / "c15_bad.pem").write_bytes(pki.pem_of(pki.with_duplicate_extension()))
    (folder / "c16_two.pem").write_bytes(_pem(leaves[30:32]))
    alone = certlab.init(tmp_path / "alone.duckdb").import_files([folder / "c15_bad.pem"])[0]
    inv = certlab.init(tmp_path / "inv.duckdb")
    results = {Path(r.file).name: r for r in inv.import_files([folder])}
    assert certs.LAST_PARALLEL_READ == {"shares": 2, "by_workers": 1}
    assert len(results) == 32 and results["c15_bad.pem"].result == "rejected"
    assert results["c15_bad.pem"].reason == alone.reason and "cannot be read" in (alone.reason or "")
    assert all(r.result == "imported" for name, r in results.items() if name != "c15_bad.pem")
    assert inv.count() == 32 and {inv.get(n).fingerprint_sha256 for n in results["c16_two.pem"].name.split(",")} == {  # type: ignore[union-attr]
        hashlib.sha256(c.public_bytes(serialization.Encoding.DER)).hexdigest() for c in leaves[30:32]}
