"""7. Concurrency cost: how long an action waits for and takes the cross-process lock, alone and while a
second process works on the same file (writes in a loop)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from . import data
from .harness import Result, Size, certlab_env, log

WRITER = """
import sys, itertools, certlab
from certlab import Actor, CertSpec
inv = certlab.open(sys.argv[1], actor=Actor("other", "admin"))
for i in itertools.count():
    inv.create_self_signed(CertSpec(name=f"other_{i}", key_type="ec-p256"))
    if i == 0:
        print("writing", flush=True)
"""


def _lock_waits(db_path: Path, n: int) -> tuple[list[float], list[float]]:
    """(time to take the lock, time of the whole action) for ``n`` small read actions."""
    import certlab
    from certlab import Actor
    from certlab.store import db as store_db

    inv = certlab.open(db_path, actor=Actor("bench", "admin"))
    waits: list[float] = []
    original = store_db._FileLock.__enter__

    def timed_enter(self: store_db._FileLock) -> store_db._FileLock:
        t = time.perf_counter()
        try:
            return original(self)
        finally:
            waits.append(time.perf_counter() - t)

    actions = []
    store_db._FileLock.__enter__ = timed_enter  # type: ignore[method-assign]
    try:
        for _ in range(n):
            t = time.perf_counter()
            inv.get("probe")
            actions.append(time.perf_counter() - t)
    finally:
        store_db._FileLock.__enter__ = original  # type: ignore[method-assign]
    return waits, actions


def run(size: Size, work: Path) -> list[Result]:
    import certlab
    from certlab import Actor, CertSpec

    db = data.empty_inventory(work / "certlab.duckdb")
    certlab.open(db, actor=Actor("bench", "admin")).create_self_signed(CertSpec(name="probe", key_type="ec-p256"))
    n = max(10, size.runs * 6)
    log(f"concurrency: {n} reads alone")
    alone_w, alone_a = _lock_waits(db, n)
    log(f"concurrency: {n} reads beside a writing process")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], env=certlab_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "writing":
            raise RuntimeError("the second (writing) process did not start")
        busy_w, busy_a = _lock_waits(db, n)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    written = certlab.open(db, actor=Actor("bench", "admin")).count() - 1

    def p95(xs: list[float]) -> float:
        return sorted(xs)[max(0, int(len(xs) * 0.95) - 1)]

    return [
        Result("concurrency", "lock wait of a read action, alone", statistics.median(alone_w),
               {"whole action": statistics.median(alone_a)}, target="report", runs=n,
               notes=f"p95 lock wait {p95(alone_w) * 1e3:.2f} ms"),
        Result("concurrency", "lock wait of a read action, beside a second process writing", statistics.median(busy_w),
               {"whole action": statistics.median(busy_a)}, target="report", runs=n,
               notes=f"p95 lock wait {p95(busy_w) * 1e3:.1f} ms, p95 action {p95(busy_a) * 1e3:.1f} ms; the other "
                     f"process created {written} certificates meanwhile (each holds the exclusive lock for its "
                     "transaction)"),
    ]
