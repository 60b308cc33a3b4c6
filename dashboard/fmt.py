"""Formatting for people: relative dates with the exact UTC time, statuses, tables of records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd

from certlab import CertificateRecord

STATUS_LABELS = {
    "active": "active", "expiring": "expiring", "expired": "EXPIRED", "pending": "pending",
    "revoked": "REVOKED", "retired": "retired",
}
STATUS_MARKDOWN = {  # Streamlit's coloured text, for the detail view
    "active": ":green[active]", "expiring": ":orange[expiring]", "expired": ":red[expired]",
    "pending": ":gray[pending]", "revoked": ":red[revoked]", "retired": ":gray[retired]",
}
KIND_LABELS = {
    "self_signed": "self-signed", "ca_signed": "CA-signed", "imported": "imported", "trusted_ca": "trusted CA",
    "internal_ca": "internal CA", "discovered": "discovered",
}


def count_text(n: int, one: str, many: str) -> str:
    """"1 certificate matches", "3 certificates match"."""
    return f"{n:,} {one if n == 1 else many}"


def utc_text(value: dt.datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _amount(days: int) -> str:
    if days == 0:
        return "today"
    if days == 1:
        return "1 day"
    if days < 60:
        return f"{days} days"
    if days < 730:
        return f"{round(days / 30.44)} months"
    return f"{days / 365.25:.1f} years".replace(".0 years", " years")


def expiry_text(not_after: dt.datetime | None, now: dt.datetime, status: str = "active") -> str:
    """"expires in 12 days", "expired 3 days ago", "expires today"; "—" for pending entries."""
    if not_after is None:
        return "—" if status != "pending" else "waiting for the signed certificate"
    delta = not_after - now
    if delta.total_seconds() < 0:
        days = int((-delta).total_seconds() // 86400)
        return "expired today" if days == 0 else f"expired {_amount(days)} ago"
    days = int(delta.total_seconds() // 86400)
    return "expires today" if days == 0 else f"expires in {_amount(days)}"


def ago_text(when: dt.datetime | None, now: dt.datetime) -> str:
    if when is None:
        return "never"
    seconds = (now - when).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{_amount(int(seconds // 86400))} ago"


def records_frame(records: Sequence[CertificateRecord], now: dt.datetime) -> pd.DataFrame:
    """The table of the Certificates page: one row per record, dates as relative text plus UTC."""
    rows: list[dict[str, Any]] = [{
        "Name": r.name,
        "Label": r.label,
        "Status": STATUS_LABELS.get(r.status, r.status),
        "Expiry": expiry_text(r.not_after, now, r.status),
        "Not after (UTC)": r.not_after,
        "Kind": KIND_LABELS.get(r.kind, r.kind),
        "Key": r.key_type or "",
        "Subject": r.subject,
        "Issuer": r.issuer or "",
        "Used by": ", ".join(r.credentials),
    } for r in records]
    return pd.DataFrame(rows, columns=["Name", "Label", "Status", "Expiry", "Not after (UTC)", "Kind", "Key",
                                       "Subject", "Issuer", "Used by"])
