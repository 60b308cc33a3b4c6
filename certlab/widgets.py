"""Notebook widgets over an Inventory (ipywidgets, Altair charts).

Each function returns an object that displays itself in a notebook (``explorer`` as the last line of a
cell, or ``display(explorer)``) and exposes what it shows as plain values for the next cells:

- ``inventory_explorer(inv)``: filters (status, kind, key type, issuer, expiring within, search) that
  update a table and an expiry timeline; ``.frame`` is the filtered pandas DataFrame, ``.chart`` the chart.
- ``issue_form(inv)``: the self-signed / CSR form; runs as the inventory's actor and role; ``.result``
  is the last ``CertificateRecord`` made, ``.error`` the last refusal (a ``CertlabError``).
- ``audit_browser(inv)``: filter audit events and verify the chain; ``.frame``, ``.events``,
  ``.verification``.

The widgets call the Inventory only (no SQL, no cryptography), so they hold no database connection
between calls and work beside a running dashboard or CLI. Nothing they show contains key material.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Callable, Sequence
from typing import Any

import altair as alt
import ipywidgets as w  # type: ignore[import-untyped]
import pandas as pd

from .certs import DEFAULT_DAYS, CertSpec, Purpose
from .errors import CertlabError
from .inventory import Inventory
from .keys import KeyType
from .models import Action, AuditEvent, AuditFilter, CertFilter, CertificateRecord, Kind, Outcome, Status
from .store.audit import Verification

ANY = "(any)"
#: Columns of ``InventoryExplorer.frame``, in order. No key material, no certificate bytes.
CERTIFICATE_COLUMNS = (
    "name", "label", "kind", "status", "key_type", "issuer", "subject", "not_before", "not_after",
    "days_to_expiry", "credentials", "sans", "purpose", "is_ca", "exportable", "has_private_key",
    "fingerprint_sha256", "owner",
)
AUDIT_COLUMNS = ("seq", "at", "actor", "role", "action", "object", "outcome", "details", "hash")
_STATUS_COLOURS = {
    "active": "#2e7d32", "expiring": "#f9a825", "expired": "#c62828", "pending": "#757575",
    "revoked": "#6a1b9a", "retired": "#90a4ae",
}
_TABLE_ROWS = 200


# --- plain helpers (also useful on their own in a notebook) -------------------------------------------------


def records_frame(records: Sequence[CertificateRecord]) -> pd.DataFrame:
    """Certificate records as a DataFrame with ``CERTIFICATE_COLUMNS`` (lists joined with ', ')."""
    rows = []
    for r in records:
        rows.append({
            "name": r.name, "label": r.label, "kind": r.kind, "status": r.status, "key_type": r.key_type,
            "issuer": r.issuer, "subject": r.subject, "not_before": r.not_before, "not_after": r.not_after,
            "days_to_expiry": r.days_to_expiry, "credentials": ", ".join(r.credentials), "sans": ", ".join(r.sans),
            "purpose": r.purpose, "is_ca": r.is_ca, "exportable": r.exportable, "has_private_key": r.has_private_key,
            "fingerprint_sha256": r.fingerprint_sha256, "owner": r.owner,
        })
    frame = pd.DataFrame(rows, columns=list(CERTIFICATE_COLUMNS))
    return frame.astype({"days_to_expiry": "Int64"}) if len(frame) else frame


def events_frame(events: Sequence[AuditEvent]) -> pd.DataFrame:
    """Audit events as a DataFrame with ``AUDIT_COLUMNS`` (details as compact JSON text)."""
    rows = [{
        "seq": e.seq, "at": e.at, "actor": e.actor, "role": e.role, "action": e.action, "object": e.object,
        "outcome": e.outcome, "details": json.dumps(e.details, sort_keys=True, separators=(",", ":")), "hash": e.hash,
    } for e in events]
    return pd.DataFrame(rows, columns=list(AUDIT_COLUMNS))


def expiry_timeline(frame: pd.DataFrame, *, now: dt.datetime | None = None, limit: int = _TABLE_ROWS) -> alt.TopLevelMixin:
    """An Altair timeline: one bar per certificate from not_before to not_after, coloured by status,
    with a rule at ``now``. The ``limit`` certificates that expire first are drawn."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    data = frame.dropna(subset=["not_after"]).sort_values("not_after").head(limit)
    data = data[["name", "status", "key_type", "issuer", "not_before", "not_after", "days_to_expiry"]].copy()
    data["days_to_expiry"] = data["days_to_expiry"].astype("float")
    statuses = list(_STATUS_COLOURS)
    bars = alt.Chart(data).mark_bar(cornerRadius=2).encode(
        x=alt.X("not_before:T", title="validity"),
        x2="not_after:T",
        y=alt.Y("name:N", sort=alt.EncodingSortField(field="not_after", order="ascending"), title=None),
        color=alt.Color("status:N", scale=alt.Scale(domain=statuses, range=[_STATUS_COLOURS[s] for s in statuses])),
        tooltip=["name:N", "status:N", "key_type:N", "issuer:N", "not_after:T", "days_to_expiry:Q"],
    )
    rule = alt.Chart(pd.DataFrame({"now": [now]})).mark_rule(color="black", strokeDash=[4, 3]).encode(x="now:T")
    height = max(60, min(18 * max(len(data), 1), 2400))
    return alt.layer(bars, rule).properties(title="Certificate validity and expiry", width=640, height=height)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _show(out: w.Output, *objects: Any) -> None:
    """Replace an Output widget's contents (only inside a kernel: elsewhere there is nothing to draw)."""
    if not _in_kernel():
        return
    from IPython.display import display

    out.clear_output(wait=True)
    with out:
        for obj in objects:
            display(obj)  # type: ignore[no-untyped-call]


def _table_html(frame: pd.DataFrame, rows: int = _TABLE_ROWS) -> str:
    shown = frame.head(rows)
    more = f"<p>… and {len(frame) - rows} more rows (use <code>.frame</code>)</p>" if len(frame) > rows else ""
    return str(shown.to_html(index=False, escape=True, na_rep="", border=0)) + more


def _message(kind: str, text: str) -> str:
    colour = {"ok": "#2e7d32", "error": "#c62828", "info": "#37474f"}[kind]
    return f'<div style="color:{colour}">{html.escape(text)}</div>'


def _options(values: Sequence[str]) -> list[tuple[str, str | None]]:
    return [(ANY, None)] + [(v, v) for v in values]


class _Base:
    widget: w.Widget

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)  # type: ignore[no-untyped-call]


# --- inventory explorer ------------------------------------------------------------------------------------


class InventoryExplorer(_Base):
    """Filters over the inventory, a table and an expiry timeline. ``.frame`` is what the filters select."""

    def __init__(self, inv: Inventory) -> None:
        self.inv = inv
        self.error: CertlabError | None = None
        everything = inv.list()
        key_types = sorted({kt.value for kt in KeyType} | {r.key_type for r in everything if r.key_type})
        issuers = sorted({r.issuer for r in everything if r.issuer})
        style = {"description_width": "initial"}
        self.status = w.Dropdown(options=_options([s.value for s in Status]), description="Status", style=style)
        self.kind = w.Dropdown(options=_options([k.value for k in Kind]), description="Kind", style=style)
        self.key_type = w.Dropdown(options=_options(key_types), description="Key type", style=style)
        self.issuer = w.Combobox(options=issuers, placeholder="any issuer (part of its name)", description="Issuer",
                                 ensure_option=False, continuous_update=False, style=style)
        self.expiring_within = w.BoundedIntText(value=0, min=0, max=36500, description="Expiring within days (0 = any)",
                                                style=style)
        self.search = w.Text(placeholder="name, subject, SAN, serial, fingerprint", description="Search",
                             continuous_update=False, style=style)  # one query per Enter, not per keystroke
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.summary = w.HTML()
        self.table = w.HTML()
        self.chart_output = w.Output()
        for control in (self.status, self.kind, self.key_type, self.issuer, self.expiring_within, self.search):
            control.observe(lambda _change: self.refresh(), names="value")
        self.refresh_button.on_click(lambda _button: self.refresh())
        self.widget = w.VBox([
            w.HBox([self.status, self.kind, self.key_type]),
            w.HBox([self.issuer, self.expiring_within]),
            w.HBox([self.search, self.refresh_button]),
            self.summary, self.chart_output, self.table,
        ])
        self.frame = records_frame([])
        self.chart = expiry_timeline(self.frame)
        self.refresh()

    def filters(self) -> CertFilter:
        """The current filter values as a ``CertFilter`` (what ``inv.list`` takes)."""
        return CertFilter(
            status=self.status.value, kind=self.kind.value, key_type=self.key_type.value,
            issuer=self.issuer.value.strip() or None,
            expiring_within=int(self.expiring_within.value) or None,
            search=self.search.value.strip() or None,
        )

    def refresh(self) -> pd.DataFrame:
        """Read the inventory again with the current filters; returns (and keeps) the DataFrame."""
        try:
            records = self.inv.list(self.filters())
        except CertlabError as exc:
            self.error = exc
            self.summary.value = _message("error", str(exc))
            return self.frame
        self.error = None
        self.frame = records_frame(records)
        self.chart = expiry_timeline(self.frame, now=self.inv.now())
        counts = self.frame["status"].value_counts().to_dict() if len(self.frame) else {}
        parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        self.summary.value = _message("info", f"{len(self.frame)} certificates" + (f": {parts}" if parts else ""))
        self.table.value = _table_html(self.frame)
        _show(self.chart_output, self.chart)
        return self.frame


def inventory_explorer(inv: Inventory) -> InventoryExplorer:
    """Filters (status, kind, key type, issuer, expiring within) over a table and an expiry timeline."""
    return InventoryExplorer(inv)


# --- issue form --------------------------------------------------------------------------------------------


class IssueForm(_Base):
    """The self-signed / CSR form. ``submit()`` (or the button) creates the entry as the inventory's actor."""

    SELF_SIGNED = "self_signed"
    CSR = "csr"

    def __init__(self, inv: Inventory) -> None:
        self.inv = inv
        self.result: CertificateRecord | None = None
        self.error: CertlabError | None = None
        self.csr_pem: str | None = None
        style = {"description_width": "initial"}
        self.mode = w.ToggleButtons(options=[("Self-signed", self.SELF_SIGNED), ("CSR for a CA", self.CSR)],
                                    value=self.SELF_SIGNED)
        self.name = w.Text(description="Name (API name)", placeholder="payments_mtls", style=style)
        self.label = w.Text(description="Label", placeholder="shown to people (optional)", style=style)
        self.sans = w.Textarea(description="SANs", placeholder="one per line: api.example.com, 10.0.0.5, ops@example.com",
                               style=style)
        self.subject = w.Text(description="Subject", placeholder="CN=api.example.com,O=Acme,C=DE (optional)", style=style)
        self.key_type = w.Dropdown(options=[kt.value for kt in KeyType], value=KeyType.RSA_2048.value,
                                   description="Key type", style=style)
        self.days = w.BoundedIntText(value=DEFAULT_DAYS, min=1, max=10950, description="Validity days", style=style)
        self.purpose = w.Dropdown(options=[p.value for p in Purpose], value=Purpose.SERVER.value,
                                  description="Purpose", style=style)
        self.exportable = w.Checkbox(value=False, description="Private key exportable")
        self.submit_button = w.Button(description="Create", button_style="primary", icon="plus")
        self.acting_as = w.HTML(_message("info", f"Acting as {inv.actor.name} ({inv.actor.role.value})"))
        self.message = w.HTML()
        self.csr_text = w.Textarea(description="CSR", disabled=True, layout=w.Layout(width="100%", height="12em"),
                                   style=style)
        self.csr_text.layout.display = "none"
        self.submit_button.on_click(lambda _button: self.submit())
        self.widget = w.VBox([
            self.acting_as, self.mode, self.name, self.label, self.sans, self.subject,
            w.HBox([self.key_type, self.days]), w.HBox([self.purpose, self.exportable]),
            self.submit_button, self.message, self.csr_text,
        ])

    def spec(self) -> CertSpec:
        """The form's values as a ``CertSpec`` (validated: raises ``InvalidInputError``)."""
        sans = tuple(s.strip() for s in self.sans.value.replace(",", "\n").splitlines() if s.strip())
        return CertSpec(
            name=self.name.value.strip(), label=self.label.value.strip(), key_type=self.key_type.value,
            days=int(self.days.value), subject=self.subject.value.strip(),
            sans=sans, purpose=self.purpose.value, exportable=bool(self.exportable.value),
        )

    def submit(self) -> CertificateRecord | None:
        """Create the certificate (or CSR) now; returns the record, or None with ``.error`` set."""
        self.result, self.error, self.csr_pem = None, None, None
        self.csr_text.layout.display = "none"
        self.submit_button.disabled = True
        self.message.value = _message("info", "working …")
        try:
            spec = self.spec()
            if self.mode.value == self.CSR:
                record = self.inv.create_csr(spec)
                self.csr_pem = self.inv.export(spec.name, "csr").bytes().decode("ascii")
            else:
                record = self.inv.create_self_signed(spec)
        except CertlabError as exc:
            self.error = exc
            self.message.value = _message("error", f"Not created: {exc}")
            return None
        finally:
            self.submit_button.disabled = False
        self.result = record
        if self.csr_pem is not None:
            self.csr_text.value = self.csr_pem
            self.csr_text.layout.display = None
            done = f"CSR for {record.name} created ({record.key_type}); send it to your CA, then upload what it returns."
        else:
            done = (f"{record.name} created: {record.key_type}, valid until {record.not_after:%Y-%m-%d}, "
                    f"SHA-256 {record.fingerprint_sha256}")
        self.message.value = _message("ok", done)
        return record


def issue_form(inv: Inventory) -> IssueForm:
    """The self-signed / CSR form as a widget, acting as ``inv``'s actor and role."""
    return IssueForm(inv)


# --- audit browser -----------------------------------------------------------------------------------------


class AuditBrowser(_Base):
    """Filter audit events and verify the hash chain. ``.frame`` holds the events shown."""

    def __init__(self, inv: Inventory, *, limit: int = 500) -> None:
        self.inv = inv
        self.error: CertlabError | None = None
        self.events: list[AuditEvent] = []
        self.verification: Verification | None = None
        style = {"description_width": "initial"}
        self.actor = w.Text(description="Actor", placeholder="any", style=style)
        self.action = w.Dropdown(options=_options([a.value for a in Action]), description="Action", style=style)
        self.object = w.Text(description="Object", placeholder="any (certificate or credential name)", style=style)
        self.outcome = w.Dropdown(options=_options([o.value for o in Outcome]), description="Outcome", style=style)
        self.since = w.DatePicker(description="From (UTC)", style=style)
        self.until = w.DatePicker(description="To (UTC, inclusive)", style=style)
        self.limit = w.BoundedIntText(value=limit, min=1, max=1_000_000, description="At most", style=style)
        self.newest_first = w.Checkbox(value=True, description="Newest first")
        self.show_button = w.Button(description="Show events", icon="search")
        self.expect_head = w.Text(description="Kept head (SEQ:HASH)", placeholder="optional", style=style,
                                  layout=w.Layout(width="60%"))
        self.verify_button = w.Button(description="Verify chain", icon="check")
        self.verification_html = w.HTML()
        self.summary = w.HTML()
        self.table = w.HTML()
        self.show_button.on_click(lambda _button: self.refresh())
        self.verify_button.on_click(lambda _button: self.verify())
        self.widget = w.VBox([
            w.HBox([self.actor, self.action, self.object]),
            w.HBox([self.outcome, self.since, self.until]),
            w.HBox([self.limit, self.newest_first, self.show_button]),
            w.HBox([self.expect_head, self.verify_button]), self.verification_html,
            self.summary, self.table,
        ])
        self.frame = events_frame([])
        self.verify()
        self.refresh()

    def filters(self) -> AuditFilter:
        since = _day_start(self.since.value)
        until = _day_start(self.until.value)
        return AuditFilter(
            actor=self.actor.value.strip() or None, action=self.action.value, object=self.object.value.strip() or None,
            outcome=self.outcome.value, since=since, until=until + dt.timedelta(days=1) if until else None,
            limit=int(self.limit.value), newest_first=bool(self.newest_first.value),
        )

    def refresh(self) -> pd.DataFrame:
        """Read the events matching the filters; returns (and keeps) the DataFrame."""
        frame: pd.DataFrame = self._guard(self._refresh, self.frame)
        return frame

    def _refresh(self) -> pd.DataFrame:
        self.events = self.inv.audit_events(self.filters())
        self.frame = events_frame(self.events)
        self.summary.value = _message("info", f"{len(self.frame)} events shown")
        self.table.value = _table_html(self.frame, rows=int(self.limit.value))
        return self.frame

    def verify(self) -> Verification | None:
        """Walk the whole chain (and compare with the kept head, if given); returns the result."""
        result: Verification | None = self._guard(self._verify, None)
        return result

    def _verify(self) -> Verification:
        result = self.inv.verify_audit(self.expect_head.value.strip() or None)
        self.verification = result
        self.verification_html.value = _message("ok" if result.ok else "error", result.describe())
        return result

    def _guard(self, action: Callable[[], Any], fallback: Any) -> Any:
        try:
            value = action()
        except CertlabError as exc:
            self.error = exc
            self.summary.value = _message("error", str(exc))
            return fallback
        self.error = None
        return value


def _day_start(day: dt.date | None) -> dt.datetime | None:
    return None if day is None else dt.datetime(day.year, day.month, day.day)


def audit_browser(inv: Inventory, *, limit: int = 500) -> AuditBrowser:
    """Filter audit events (actor, action, object, outcome, period) and verify the hash chain."""
    return AuditBrowser(inv, limit=limit)


__all__ = [
    "AUDIT_COLUMNS", "CERTIFICATE_COLUMNS", "AuditBrowser", "InventoryExplorer", "IssueForm", "audit_browser",
    "events_frame", "expiry_timeline", "inventory_explorer", "issue_form", "records_frame",
]
