"""3. Queries at scale through the Inventory's own methods (as the dashboard calls them), each including
the per-action lock, open and close; beside each, the same question asked of DuckDB directly (open the
file read-only, one query, close)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from . import data
from .harness import Result, Size, log, measure_pair

FINDINGS = [
    ("Queries: every read action takes the shared lock and opens and closes the file read-only; at small sizes "
    "that open/close is most of the 'raw DuckDB' column too, so the ratio shows certlab's own cost (building "
    "records, the correlated sub-selects of RECORD_COLUMNS, several actions where one is asked)."),
]


LIMIT = 0.050
PAGE = 50


def large(size: Size, work: Path) -> Path:
    """The shared large inventory (certificates for queries, events for the audit benchmark)."""
    return data.large_inventory(work.parent / "large" / "certlab.duckdb", size.query_certs,
                                audit_events=size.audit_events)


def run(size: Size, work: Path) -> list[Result]:
    import certlab
    from certlab import Actor, CertFilter

    path = large(size, work)
    inv = certlab.open(path, actor=Actor("bench", "auditor"))
    n = inv.count()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    sample = inv.list(CertFilter(expiring_within=365, limit=1))[0]
    fp, name = sample.fingerprint_sha256, sample.name
    word = name.split("_")[0]
    needle = f"{word}-{name.rsplit('_', 1)[1][:3]}"
    log(f"queries: {n:,} certificates; sample {name}")

    def raw(sql: str, params: Any = None) -> Callable[[], Any]:
        def go() -> Any:
            con = duckdb.connect(str(path), read_only=True)
            try:
                return con.execute(sql, params or []).fetchall()
            finally:
                con.close()
        return go

    statuses = ["active", "expiring", "expired", "revoked", "retired", "pending"]
    status_sql = ("SELECT CASE WHEN status <> 'active' THEN status WHEN not_after < $now THEN 'expired' "
                  "WHEN not_after < $warn THEN 'expiring' ELSE 'active' END AS s, count(*) FROM certificates GROUP BY s")
    warn = {"now": now, "warn": now + dt.timedelta(days=90)}
    cases: list[tuple[str, Callable[[], Any], Callable[[], Any], str]] = []
    if hasattr(inv, "summary"):
        cases.append(("counts by status", lambda: inv.summary(), raw(status_sql, warn), "Inventory.summary()"))
    else:
        cases.append(("counts by status", lambda: [inv.count(CertFilter(status=s)) for s in statuses],
                      raw(status_sql, warn), "Inventory.count(status=...) per status (6 actions)"))
    cases.append(("expiring within 90 days, first page", lambda: inv.list(CertFilter(expiring_within=90, limit=PAGE)),
                  raw("SELECT * EXCLUDE (der) FROM certificates WHERE status = 'active' AND not_after >= ? AND "
                      "not_after < ? ORDER BY not_after LIMIT 50", [now, now + dt.timedelta(days=90)]),
                  "Inventory.list(CertFilter(expiring_within=90, limit=50))"))
    month_sql = "SELECT date_trunc('month', not_after) AS m, count(*) FROM certificates GROUP BY m ORDER BY m"
    if hasattr(inv, "expiry_bins"):
        cases.append(("expiries per month", lambda: inv.expiry_bins("month"), raw(month_sql), "Inventory.expiry_bins('month')"))
    else:
        cases.append(("expiries per month", lambda: inv.sql(
            "SELECT date_trunc('month', not_after) AS m, count(*) AS n FROM certificates_v GROUP BY m ORDER BY m"),
            raw(month_sql), "Inventory.sql(...) over certificates_v (audited: one write)"))
    cases.append((f"text search ({needle!r}), first page", lambda: inv.list(CertFilter(search=needle, limit=PAGE)),
                  raw("SELECT * EXCLUDE (der) FROM certificates WHERE name ILIKE ? OR subject ILIKE ? OR sans ILIKE ? "
                      "ORDER BY not_after LIMIT 50", [f"%{needle}%"] * 3),
                  "Inventory.list(CertFilter(search=..., limit=50))"))
    cases.append(("lookup by fingerprint", lambda: inv.list(CertFilter(search=fp, limit=PAGE)),
                  raw("SELECT * EXCLUDE (der) FROM certificates WHERE fingerprint_sha256 = ?", [fp]),
                  "Inventory.list(CertFilter(search=FINGERPRINT))"))
    cases.append(("lookup by name", lambda: inv.get(name),
                  raw("SELECT * EXCLUDE (der) FROM certificates WHERE name = ?", [name]), "Inventory.get(name)"))
    results = []
    for label, ours, theirs, how in cases:
        log(f"queries: {label}")
        c, r = measure_pair(ours, theirs, size.runs * 2 + 1)
        results.append(Result(
            "queries", f"{label} at {n:,} certificates", c.median, {"raw DuckDB (open, query, close)": r.median},
            ratio_to="raw DuckDB (open, query, close)", target="≤ 50 ms", limit=LIMIT, target_on="value",
            runs=size.runs * 2 + 1, notes=how,
        ))
    return results
