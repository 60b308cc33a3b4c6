"""Benchmark data: PEM bundles and directories of synthetic certificates, and large inventories."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .harness import log


def certificates_der(n: int, seed: int = 1) -> list[bytes]:
    """``n`` real certificates (DER) from the synthetic generator."""
    from certlab import synthetic

    plan = synthetic.make_plan(seed=seed, now=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    out: list[bytes] = []
    for cols in synthetic.leaf_batches(plan, n):
        out.extend(cols["der"])
    return out


def pem(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def write_bundle(path: Path, ders: list[bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        for d in ders:
            f.write(pem(d))
    return path


def write_directory(path: Path, ders: list[bytes]) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    for i, d in enumerate(ders):
        (path / f"cert_{i:06d}.pem").write_bytes(pem(d))
    return path


def empty_inventory(path: Path) -> Path:
    """A fresh, initialised inventory (made once, copied for each timed run)."""
    import certlab
    from certlab import Actor

    certlab.init(path, actor=Actor("bench", "admin"))
    return path


def copy_inventory(src: Path, dst: Path) -> Path:
    """Copy an inventory with its key file (and nothing else) to ``dst``."""
    from certlab.store import vault

    dst.parent.mkdir(parents=True, exist_ok=True)
    for p in (dst, vault.key_file_for(dst), dst.with_name(dst.name + ".wal")):
        if p.exists():
            p.unlink()
    shutil.copyfile(src, dst)
    key = vault.key_file_for(src)
    shutil.copyfile(key, vault.key_file_for(dst))
    vault.key_file_for(dst).chmod(0o600)
    return dst


def large_inventory(path: Path, n: int, audit_events: int = 0, chunk: int = 100_000) -> Path:
    """An inventory of ``n`` synthetic certificates (built in actions of ``chunk``), reused when present, then
    optimized (``certlab optimize``: compact, certificates in expiry order), as an admin would after filling it."""
    import certlab
    from certlab import Actor

    if path.exists() and certlab.open(path, actor=Actor("bench", "admin")).count() < n:
        path.unlink()
    if not path.exists():
        inv = certlab.init(path, actor=Actor("bench", "admin"))
        done = 0
        while done < n:
            step = min(chunk, n - done)
            events = min(audit_events, step) if audit_events else 0
            log(f"  building inventory: {done + step:,} of {n:,} certificates")
            inv.generate_synthetic(step, audit_events=events)
            audit_events -= events
            done += step
        if audit_events:
            inv.generate_synthetic(0, audit_events=audit_events)
    if not _optimized_since_filled(path):
        log("  optimizing the inventory (certlab optimize)")
        certlab.open(path, actor=Actor("bench", "admin")).optimize()
    return path


def _optimized_since_filled(path: Path) -> bool:
    """True when the last of the inventory's bulk fills and optimizes (by its audit trail) is an optimize."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute("SELECT action FROM audit_events WHERE action IN ('synthetic_generated', 'imported', "
                          "'optimized') AND outcome = 'ok' ORDER BY seq DESC LIMIT 1").fetchone()
    finally:
        con.close()
    return row is not None and row[0] == "optimized"
