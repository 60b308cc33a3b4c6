"""Reports computed in DuckDB: summary counts, expiry bins, paginated certificate and audit pages, and
the auditors' evidence pack. Fast at 100,000 certificates: only counts and one page of rows leave the
database."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..blob import Blob
from ..csvexport import csv_bytes
from ..errors import InvalidInputError
from ..models import Action, AuditEvent, AuditFilter, CertFilter, Role, iso
from .base import InventoryBase, record_rows
from .core import READERS, audit_where, scans_text

PERIODS = ("week", "month")
MAX_PAGE_SIZE = 500
EVIDENCE_ROLES = (Role.ADMIN, Role.AUDITOR)
INVENTORY_CSV_COLUMNS = (
    "name", "label", "kind", "status", "subject", "issuer", "serial", "not_before", "not_after",
    "days_to_expiry", "key_type", "signature_algorithm", "fingerprint_sha256", "sans", "exportable",
    "credentials", "purpose", "is_ca", "has_private_key", "owner", "predecessor", "successor",
)
AUDIT_CSV_COLUMNS = ("seq", "at", "actor", "role", "action", "object", "outcome", "details", "hash")


_MONDAY_1970 = dt.date(1970, 1, 5)


def _bin_start(period: str, key: int) -> dt.date:
    """The first day of a bin from its integer key (see expiry_bins)."""
    return _MONDAY_1970 + dt.timedelta(weeks=key) if period == "week" else dt.date(key // 12, key % 12 + 1, 1)


if TYPE_CHECKING:
    from .results import CertificatePage, CredentialState, ExpiryBin, ExpiryRange, FilterOptions, Summary

# The result types live in results.py and load on first use (PEP 562): an action that returns
# none of them (reading one certificate, say) does not build them.
_RESULTS = ("Summary", "ExpiryBin", "CertificatePage", "ExpiryRange", "CredentialState", "FilterOptions")


def __getattr__(name: str) -> Any:
    if name in _RESULTS:
        from . import results

        return getattr(results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ReportActions(InventoryBase):
    """Read-only reports for the dashboard, auditors and analysts."""

    def summary(self, *, at: dt.datetime | None = None) -> Summary:
        from .results import Summary

        self._authorize(Action.QUERIED, "summary", READERS)
        now = at or self.now()
        p = {"now": now, "d30": now + dt.timedelta(days=30), "d60": now + dt.timedelta(days=60),
             "d90": now + dt.timedelta(days=90)}
        # One pass over the table: each certificate falls in one bucket, counted per kind and key type;
        # the windows (30 within 60 within 90) and the per-kind totals are sums of those few groups.
        sql = """
            SELECT CASE WHEN c.status <> 'active' THEN c.status WHEN c.not_after IS NULL THEN 'undated'
                        WHEN c.not_after < $now THEN 'expired' WHEN c.not_after < $d30 THEN 'd30'
                        WHEN c.not_after < $d60 THEN 'd60' WHEN c.not_after < $d90 THEN 'd90' ELSE 'later' END,
                   c.kind, coalesce(c.key_type, '?'), count(*)
            FROM certificates c GROUP BY ALL"""
        with self.db.read() as tx:
            groups = tx.rows(sql, p)
            creds = tx.one(
                "SELECT count(*), count(*) FILTER (WHERE c.status <> 'active' OR c.not_after < $d30) "
                "FROM named_credentials n JOIN certificates c ON c.id = n.certificate_id", {"d30": p["d30"]})
            assert creds is not None
            lint = tx.one("SELECT count(*) FILTER (WHERE severity IN ('error', 'warning')), "
                          "count(*) FILTER (WHERE severity = 'error'), max(linted_at) FROM lint_findings")
            assert lint is not None
        buckets: dict[str, int] = {}
        kinds: dict[str, int] = {}
        keys: dict[str, int] = {}
        for bucket, kind, key_type, count in groups:
            buckets[bucket] = buckets.get(bucket, 0) + int(count)
            kinds[kind] = kinds.get(kind, 0) + int(count)
            keys[key_type] = keys.get(key_type, 0) + int(count)
        kinds = dict(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))
        keys = dict(sorted(keys.items(), key=lambda kv: (-kv[1], kv[0])))
        b = buckets.get
        d30, d60, d90 = b("d30", 0), b("d30", 0) + b("d60", 0), b("d30", 0) + b("d60", 0) + b("d90", 0)
        counts = (sum(buckets.values()), d90 + b("later", 0), d30, d60, d90, b("expired", 0), b("pending", 0),
                  b("revoked", 0), b("retired", 0))
        n = [int(v) for v in counts]
        return Summary(at=now, total=n[0], active=n[1], expiring_30=n[2], expiring_60=n[3], expiring_90=n[4],
                       expired=n[5], pending=n[6], revoked=n[7], retired=n[8], credentials=int(creds[0]),
                       credentials_at_risk=int(creds[1]), by_kind=kinds, by_key_type=keys,
                       findings=int(lint[0]), findings_errors=int(lint[1]), linted_at=lint[2])

    def certificate_page(self, filters: CertFilter | None = None, *, expiry: ExpiryRange | None = None,
                         page: int = 1, page_size: int = 50, at: dt.datetime | None = None) -> CertificatePage:
        """One page of the filtered inventory (soonest expiry first) and the filtered total."""
        from .results import CertificatePage

        self._authorize(Action.QUERIED, "certificates", READERS)
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"page must be >= 1 and page size 1..{MAX_PAGE_SIZE}")
        when = at or self.now()
        where, params = self._report_where(filters, expiry, when)
        order = "ORDER BY c.not_after NULLS LAST, c.name"
        with self.db.read() as tx:
            if scans_text(filters):
                # A text search reads every row's text columns (about half a second at a million rows): scan
                # once for the matches' ids and sort keys, take the total and the page's ids from those,
                # then read the page's rows by id. A page past the end shows the last one, as below.
                found = tx.one(f"""
                    WITH m AS MATERIALIZED (SELECT c.id, c.not_after, c.name FROM certificates c WHERE {where}),
                         total AS (SELECT count(*) AS n FROM m)
                    SELECT (SELECT n FROM total), (SELECT list(id) FROM (
                        SELECT c.id FROM m c {order} LIMIT $limit
                        OFFSET least($offset, greatest((SELECT n FROM total) - 1, 0) // $limit * $limit)))""",
                    params | {"limit": page_size, "offset": (page - 1) * page_size})
                assert found is not None
                total, ids = int(found[0]), list(found[1] or [])
                page = min(page, max(1, -(-total // page_size)))
                rows = record_rows(tx, f"WHERE c.id IN (SELECT unnest(?::BIGINT[])) {order}", [ids]) if ids else []
            else:
                total = int(tx.scalar(f"SELECT count(*) FROM certificates c WHERE {where}", params))
                page = min(page, max(1, -(-total // page_size)))
                rows = record_rows(tx, f"WHERE {where} {order} LIMIT $limit OFFSET $offset",
                                   params | {"limit": page_size, "offset": (page - 1) * page_size})
        return CertificatePage(tuple(self._to_record(r, when) for r in rows), total, page, page_size)

    def expiry_bins(self, period: str = "month", filters: CertFilter | None = None, *,
                    expiry: ExpiryRange | None = None, at: dt.datetime | None = None) -> list[ExpiryBin]:
        """How many certificates expire per week or month (a renewal-load forecast), counted in DuckDB."""
        from .results import ExpiryBin

        self._authorize(Action.QUERIED, "expiry bins", READERS)
        if period not in PERIODS:
            raise InvalidInputError(f"unknown period {period!r}: choose week or month")
        when = at or self.now()
        where, params = self._report_where(filters, expiry, when)
        params |= {"t_now": when, "t_warn": when + dt.timedelta(days=self.warning_days)}
        # Bins keyed by an integer (months since year 0, or weeks since Monday 1970-01-05): at a million
        # rows, grouping by an integer is a fifth quicker than by date_trunc's date.
        key = ("CAST(floor((CAST(c.not_after AS DATE) - DATE '1970-01-05') / 7) AS BIGINT)" if period == "week"
               else "year(c.not_after) * 12 + month(c.not_after) - 1")
        sql = (f"SELECT {key} AS b, "
               "count(*) FILTER (WHERE c.not_after < $t_now), "
               "count(*) FILTER (WHERE c.not_after >= $t_now AND c.not_after < $t_warn), "
               "count(*) FILTER (WHERE c.not_after >= $t_warn) "
               f"FROM certificates c WHERE {where} AND c.not_after IS NOT NULL AND c.status IN ('active', 'pending') "
               "GROUP BY b ORDER BY b")
        with self.db.read() as tx:
            rows = tx.rows(sql, params)
        return [ExpiryBin(_bin_start(period, int(r[0])), int(r[1]), int(r[2]), int(r[3])) for r in rows]

    def credential_states(self, *, at: dt.datetime | None = None) -> list[CredentialState]:
        """Every named credential and its certificate's state, soonest expiry first."""
        from .results import CredentialState

        self._authorize(Action.QUERIED, "credentials", READERS)
        when = at or self.now()
        sql = ("SELECT n.name, n.purpose, n.endpoint, n.owner, c.name, " + self._status_sql() + ", c.not_after "
               "FROM named_credentials n JOIN certificates c ON c.id = n.certificate_id "
               "ORDER BY c.not_after NULLS LAST, n.name")
        with self.db.read() as tx:
            rows = tx.rows(sql, self._time_params(when))
        return [CredentialState(r[0], r[1], r[2], r[3], r[4], r[5], r[6],
                                None if r[6] is None else (r[6] - when).days) for r in rows]

    def filter_options(self) -> FilterOptions:
        """The values the filters offer: kinds, key types, issuers (most common first), credentials."""
        from .results import FilterOptions

        self._authorize(Action.QUERIED, "filter options", READERS)
        with self.db.read() as tx:
            kinds = tuple(r[0] for r in tx.rows("SELECT DISTINCT kind FROM certificates ORDER BY 1"))
            keys = tuple(r[0] for r in tx.rows("SELECT DISTINCT key_type FROM certificates WHERE key_type IS NOT NULL ORDER BY 1"))
            issuers = tuple(r[0] for r in tx.rows(
                "SELECT issuer FROM certificates WHERE issuer IS NOT NULL GROUP BY issuer ORDER BY count(*) DESC, issuer LIMIT 200"))
            creds = tuple(r[0] for r in tx.rows("SELECT name FROM named_credentials ORDER BY name"))
        return FilterOptions(kinds, keys, issuers, creds)

    def audit_count(self, filters: AuditFilter | None = None) -> int:
        where, params = audit_where(filters or AuditFilter())
        with self.db.read() as tx:
            return int(tx.scalar(f"SELECT count(*) FROM audit_events WHERE {where}", params))

    def audit_facets(self) -> dict[str, tuple[str, ...]]:
        """The actors, actions and outcomes that occur in the trail (for filter choices)."""
        out: dict[str, tuple[str, ...]] = {}
        with self.db.read() as tx:
            for col in ("actor", "action", "outcome"):
                out[col] = tuple(r[0] for r in tx.rows(f"SELECT DISTINCT {col} FROM audit_events ORDER BY 1"))
        return out

    def inventory_csv(self, filters: CertFilter | None = None, *, expiry: ExpiryRange | None = None) -> bytes:
        """The (filtered) inventory as spreadsheet-safe CSV; no key material."""
        self._authorize(Action.QUERIED, "inventory csv", READERS)
        when = self.now()
        where, params = self._report_where(filters, expiry, when)
        with self.db.read() as tx:
            rows = record_rows(tx, f"WHERE {where} ORDER BY c.not_after NULLS LAST, c.name", params)
        docs = [self._to_record(r, when).to_json() for r in rows]
        return csv_bytes(INVENTORY_CSV_COLUMNS, docs)

    def evidence_pack(self, since: dt.datetime, until: dt.datetime, *,
                      attachments: Mapping[str, bytes] | None = None) -> Blob:
        """One zip for compliance review: inventory CSV, the period's audit events with the chain
        verification and head, a summary, and any attachments (the dashboard adds the timeline PNG)."""
        self._authorize(Action.EVIDENCE_EXPORTED, "evidence pack", EVIDENCE_ROLES)
        if until <= since:
            raise InvalidInputError("the evidence period ends before it starts")
        for name in attachments or {}:
            if "/" in name or "\\" in name or name.startswith(".") or not name:
                raise InvalidInputError(f"attachment name {name!r} is not a plain file name")
        verification = self.verify_audit()  # type: ignore[attr-defined]
        events: list[AuditEvent] = self.audit_events(AuditFilter(since=since, until=until))  # type: ignore[attr-defined]
        summary = self.summary(at=until)
        inventory = self.inventory_csv()
        with self.db.read() as tx:
            expired = [r[0] for r in tx.rows(
                "SELECT name FROM certificates WHERE not_after >= ? AND not_after < ? ORDER BY not_after",
                [since, until])]
        rotated = sorted({e.object for e in events if e.action in ("rotated", "cut_over") and e.outcome == "ok"})
        refused = sum(1 for e in events if e.outcome != "ok")
        verification_doc = {"ok": verification.ok, "events": verification.events, "head": verification.head,
                            "first_bad_seq": verification.first_bad_seq, "problem": verification.problem,
                            "result": verification.describe(), "verified_at": iso(self.now())}
        text = _summary_text(summary, since, until, len(events), refused, expired, rotated, verification.describe(),
                             self.actor.name)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("summary.md", text)
            zf.writestr("inventory.csv", inventory)
            zf.writestr("audit_events.csv", csv_bytes(AUDIT_CSV_COLUMNS, [e.to_json() for e in events]))
            zf.writestr("audit_verification.json", json.dumps(verification_doc, indent=2))
            for name, data in (attachments or {}).items():
                zf.writestr(name, data)
        with self.db.write() as tx:
            self._audit(tx, Action.EVIDENCE_EXPORTED, "evidence pack", {
                "since": iso(since), "until": iso(until), "events": len(events), "head": verification.head,
                "chain_ok": verification.ok, "attachments": sorted(attachments or {})})
        stamp = f"{since:%Y%m%d}-{until:%Y%m%d}"
        return Blob(buf.getvalue(), f"certlab-evidence-{stamp}.zip", "application/zip")

    # --- internals ------------------------------------------------------------------------------------

    def _report_where(self, filters: CertFilter | None, expiry: ExpiryRange | None,
                      when: dt.datetime) -> tuple[str, dict[str, Any]]:
        where, params = self._filter_sql(filters or CertFilter(), when)  # type: ignore[attr-defined]
        clauses = [where]
        if expiry and expiry.start:
            clauses.append("c.not_after >= $exp_start")
            params["exp_start"] = expiry.start
        if expiry and expiry.end:
            clauses.append("c.not_after < $exp_end")
            params["exp_end"] = expiry.end
        return " AND ".join(clauses), params


def _summary_text(s: Summary, since: dt.datetime, until: dt.datetime, events: int, refused: int,
                  expired: list[str], rotated: list[str], verification: str, by: str) -> str:
    def names(items: list[str]) -> str:
        return ", ".join(items[:50]) + (f" and {len(items) - 50} more" if len(items) > 50 else "") if items else "none"

    return "\n".join([
        "# certlab evidence pack",
        "",
        f"Period: {iso(since)} to {iso(until)} (UTC). Made by {by} at {iso(s.at)}.",
        "",
        "## Inventory (at the end of the period)",
        f"- Certificates: {s.total} (active {s.active}, pending {s.pending}, revoked {s.revoked}, retired {s.retired})",
        f"- Expired: {s.expired}; expiring within 30 / 60 / 90 days: {s.expiring_30} / {s.expiring_60} / {s.expiring_90}",
        f"- Named credentials: {s.credentials} ({s.credentials_at_risk} on a certificate expired or expiring within 30 days)",
        f"- Lint findings (errors and warnings): {s.findings}" + (f", as of {iso(s.linted_at)}" if s.linted_at else
                                                                   " (lint has not run)"),
        "",
        "## In the period",
        f"- Audit events: {events} ({refused} refused or failed)",
        f"- Certificates that expired: {names(expired)}",
        f"- Certificates rotated or cut over: {names(rotated)}",
        "",
        "## Audit chain",
        f"- {verification}",
        "",
        "Files: inventory.csv, audit_events.csv, audit_verification.json, and the attachments listed in the audit event.",
        "",
    ])
