"""Altair charts for compliance review: the expiry timeline and the renewal-load forecast, and their
PNG/SVG renderings (vl-convert). Plain functions of plain data; no Streamlit here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import altair as alt
import pandas as pd

from certlab import CertificateRecord

STATUS_COLOURS = {"expired": "#c62828", "expiring": "#ef6c00", "active": "#2e7d32", "pending": "#9e9e9e",
                  "revoked": "#6d4c41", "retired": "#546e7a"}
BANDS = ((0, 30, "#fdecea"), (30, 60, "#fff4e5"), (60, 90, "#fffbe6"))
MAX_BARS = 300  # above this, the timeline shows expiries as aggregated points, not one bar per certificate


def _colour_scale() -> alt.Scale:
    return alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values()))


def timeline_frame(records: Sequence[CertificateRecord]) -> pd.DataFrame:
    """One row per certificate with a validity period (pending CSRs have none yet)."""
    rows = [{"name": r.name, "label": r.label, "status": r.status, "issuer": r.issuer or "",
             "credentials": ", ".join(r.credentials) or "—", "not_before": r.not_before, "not_after": r.not_after,
             "days_left": r.days_to_expiry}
            for r in records if r.not_before is not None and r.not_after is not None]
    return pd.DataFrame(rows, columns=["name", "label", "status", "issuer", "credentials", "not_before",
                                       "not_after", "days_left"])


def _bands(now: dt.datetime) -> alt.Chart:
    frame = pd.DataFrame([{"start": now + dt.timedelta(days=a), "end": now + dt.timedelta(days=b),
                           "band": f"{a}–{b} days", "colour": c} for a, b, c in BANDS])
    return alt.Chart(frame).mark_rect(opacity=0.9).encode(
        x="start:T", x2="end:T", color=alt.Color("colour:N", scale=None),
        tooltip=[alt.Tooltip("band:N", title="Expires within")])


def _today(now: dt.datetime) -> alt.LayerChart:
    frame = pd.DataFrame([{"t": now, "label": "today"}])
    rule = alt.Chart(frame).mark_rule(color="#0f172a", strokeWidth=2).encode(x="t:T")
    text = alt.Chart(frame).mark_text(align="left", dx=4, dy=-4, baseline="bottom", color="#0f172a").encode(
        x="t:T", y=alt.value(0), text="label:N")
    return rule + text


PAST, FUTURE = dt.timedelta(days=365), dt.timedelta(days=730)


def window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The time axis: a year back, two years ahead; longer validity is cut at the edges."""
    return now - PAST, now + FUTURE


def timeline_chart(frame: pd.DataFrame, now: dt.datetime, *, width: int = 900) -> alt.LayerChart:
    """Each certificate from not_before to not_after, coloured by status; today and 30/60/90-day bands."""
    height = max(160, min(22 * len(frame), 6600))
    start, end = window(now)
    bars = alt.Chart(frame).mark_bar(height=12, cornerRadius=3, clip=True).encode(
        x=alt.X("not_before:T", title="Validity (UTC)", scale=alt.Scale(domain=[start.isoformat(), end.isoformat()]),
                axis=alt.Axis(format="%b %Y")),
        x2="not_after:T",
        y=alt.Y("name:N", sort=alt.EncodingSortField("not_after", order="ascending"), title=None,
                axis=alt.Axis(labelOverlap=False, labelLimit=220)),
        color=alt.Color("status:N", scale=_colour_scale(), legend=alt.Legend(title="Status", orient="top")),
        tooltip=[alt.Tooltip("name:N", title="Certificate"), alt.Tooltip("issuer:N", title="Issuer"),
                 alt.Tooltip("credentials:N", title="Used by"), alt.Tooltip("not_after:T", title="Expires (UTC)",
                                                                             format="%Y-%m-%d %H:%M"),
                 alt.Tooltip("days_left:Q", title="Days left"), alt.Tooltip("status:N", title="Status")],
    )
    return alt.layer(_bands(now), bars, _today(now)).properties(width=width, height=height)


def expiry_points_chart(bins: pd.DataFrame, now: dt.datetime, *, width: int = 900) -> alt.LayerChart:
    """For large inventories: one point per week and status, sized by how many certificates expire then."""
    start, end = window(now)
    points = alt.Chart(bins).mark_circle(opacity=0.8, clip=True).encode(
        x=alt.X("start:T", title="Expiry (UTC)", scale=alt.Scale(domain=[start.isoformat(), end.isoformat()])),
        y=alt.Y("status:N", title=None, sort=list(STATUS_COLOURS)),
        size=alt.Size("count:Q", title="Certificates"),
        color=alt.Color("status:N", scale=_colour_scale(), legend=None),
        tooltip=[alt.Tooltip("start:T", title="Week of"), alt.Tooltip("status:N"), alt.Tooltip("count:Q", title="Certificates")],
    )
    return alt.layer(_bands(now), points, _today(now)).properties(width=width, height=200)


def bins_frame(bins: Sequence[object]) -> pd.DataFrame:
    """Long form (start, status, count) of ExpiryBin values, for stacked bars and points."""
    rows = []
    for b in bins:
        for status in ("expired", "expiring", "later"):
            n = int(getattr(b, status))
            if n:
                rows.append({"start": pd.Timestamp(b.start), "status": "active" if status == "later" else status,
                             "count": n})
    return pd.DataFrame(rows, columns=["start", "status", "count"])


def renewal_load_chart(frame: pd.DataFrame, period: str, *, width: int = 900) -> alt.Chart:
    """Expiries per week or month, stacked by status: the renewal work ahead."""
    unit = "yearweek" if period == "week" else "yearmonth"
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X(f"{unit}(start):T", title=f"Expiries per {period}"),
        y=alt.Y("sum(count):Q", title="Certificates"),
        color=alt.Color("status:N", scale=_colour_scale(), legend=alt.Legend(title="Status", orient="top")),
        tooltip=[alt.Tooltip(f"{unit}(start):T", title=period.capitalize()), alt.Tooltip("status:N"),
                 alt.Tooltip("sum(count):Q", title="Certificates")],
    ).properties(width=width, height=220)


def to_png(chart: alt.TopLevelMixin, scale: float = 2.0) -> bytes:
    import vl_convert as vlc

    return bytes(vlc.vegalite_to_png(chart.to_json(), scale=scale))


def to_svg(chart: alt.TopLevelMixin) -> bytes:
    import vl_convert as vlc

    return str(vlc.vegalite_to_svg(chart.to_json())).encode("utf-8")
