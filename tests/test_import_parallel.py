"""A large bulk import reads certificates in worker processes: the same fields, in the same order, the
same first error, and a `certlab import` whose workers do not run the command a second time."""

from __future__ import annotations

import datetime as dt
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
    shared = certs._read_in_parallel(leaves, "bundle.pem", 3)
    assert certs.LAST_PARALLEL_READ == {"shares": 3, "by_workers": 2}  # two workers read theirs
    assert shared == here and [i.der for i in shared] == [c.public_bytes(serialization.Encoding.DER) for c in leaves]


def test_a_bad_certificate_read_by_a_worker_gives_the_error_this_process_would(leaves: list[x509.Certificate]) -> None:
    bad = x509.load_der_x509_certificate(pki.with_duplicate_extension())
    batch = [*leaves[:60], bad, *leaves[60:]]  # in the third share
    with pytest.raises(FormatError) as here:
        [certs.CertInfo.of(c, "bundle.pem") for c in batch]
    with pytest.raises(FormatError) as shared:
        certs._read_in_parallel(batch, "bundle.pem", 3)
    assert str(shared.value) == str(here.value) and str(here.value).startswith("bundle.pem: certificate cannot be read")


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
    assert certs._read_in_parallel(leaves, "bundle.pem", 3) == here
    assert certs.LAST_PARALLEL_READ == {"shares": 3, "by_workers": 0}
    failing = tmp_path / "failing-python"
    failing.write_text("#!/bin/sh\nexit 3\n")
    failing.chmod(0o755)
    monkeypatch.setattr("sys.executable", str(failing))  # starts, reads nothing, fails
    assert certs._read_in_parallel(leaves, "bundle.pem", 3) == here
    assert certs.LAST_PARALLEL_READ == {"shares": 3, "by_workers": 0}
