"""4. Audit verification: walk the whole hash chain (Inventory.verify_audit) against the floor: the same
rows read from DuckDB and HMACs computed in a plain loop, in one process."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import duckdb

from .harness import Result, Size, log, measure_pair
from .queries import large


def run(size: Size, work: Path) -> list[Result]:
    import certlab
    from certlab import Actor

    path = large(size, work)
    inv = certlab.open(path, actor=Actor("bench", "auditor"))
    key = inv._keyring().audit_key  # the floor needs the same key; benchmarks only

    def raw() -> int:
        con = duckdb.connect(str(path), read_only=True)
        try:
            cur = con.execute("SELECT body, prev_hash, hash FROM audit_events ORDER BY seq")
            prev, n = "0" * 64, 0
            while rows := cur.fetchmany(100_000):
                for body, prev_hash, digest in rows:
                    if prev_hash != prev or not hmac.compare_digest(
                            hmac.new(key, (prev + "\n" + body).encode(), hashlib.sha256).hexdigest(), digest):
                        raise AssertionError("chain broken")
                    prev = digest
                    n += 1
            return n
        finally:
            con.close()

    events = inv.verify_audit().events
    log(f"audit: verifying {events:,} events")
    runs = max(3, size.runs // 2)
    c, r = measure_pair(lambda: inv.verify_audit(), raw, runs)
    return [Result(
        "audit", f"verify the chain of {events:,} events", c.median, {"raw HMAC walk": r.median},
        ratio_to="raw HMAC walk", target="≤ 10 s" + (" (at 1,000,000 events)" if events < 1_000_000 else ""),
        limit=10.0 * events / 1_000_000, target_on="value", runs=runs,
        notes="certlab also checks each event's stored columns against its hashed body (in DuckDB, vectorised "
              "JSON functions) and keys the HMAC once (a copy per event); the raw walk checks links and HMACs "
              "only, with one hmac.new per event." + (
                  f" Target scaled to {events:,} events: {10.0 * events / 1_000_000:.2f} s." if events < 1_000_000 else ""),
    )]
