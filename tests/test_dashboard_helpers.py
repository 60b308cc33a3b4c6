"""The dashboard's plain helper modules and the reports they draw on: formatting, CSV safety, charts,
counts and bins computed in DuckDB."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest

import certlab
from certlab import Actor, CertFilter, Role
from certlab.certs import utcnow
from certlab.csvexport import csv_bytes, safe_cell
from certlab.inventory.reports import ExpiryRange
from dashboard import charts, fmt

from .conftest import make_cert

NOW = utcnow()  # certificates are issued from the real clock; the inventory's clock is pinned to this


@pytest.mark.parametrize("not_after,expected", [
    (NOW + dt.timedelta(days=12, hours=3), "expires in 12 days"),
    (NOW + dt.timedelta(days=1, hours=1), "expires in 1 day"),
    (NOW + dt.timedelta(hours=5), "expires today"),
    (NOW + dt.timedelta(days=120), "expires in 4 months"),
    (NOW + dt.timedelta(days=1100), "expires in 3 years"),
    (NOW - dt.timedelta(days=3, hours=2), "expired 3 days ago"),
    (NOW - dt.timedelta(hours=2), "expired today"),
])
def test_expiry_text(not_after: dt.datetime, expected: str) -> None:
    assert fmt.expiry_text(not_after, NOW) == expected


def test_expiry_text_pending_and_counts() -> None:
    assert fmt.expiry_text(None, NOW, "pending") == "waiting for the signed certificate"
    assert fmt.count_text(1, "certificate matches", "certificates match") == "1 certificate matches"
    assert fmt.count_text(1200, "certificate matches", "certificates match") == "1,200 certificates match"
    assert fmt.ago_text(NOW - dt.timedelta(minutes=5), NOW) == "5 min ago" and fmt.ago_text(None, NOW) == "never"


@pytest.mark.parametrize("value,expected", [
    ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"),
    ("+1+2", "'+1+2"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"),
    ("  =1", "'  =1"), ("＝1", "'＝1"), ("plain", "plain"), (-5, "-5"), (None, ""), (True, "true"),
    (["a", "=b"], "a; =b"),
])
def test_safe_cell_neutralises_formulas(value: object, expected: str) -> None:
    assert safe_cell(value) == expected


def test_csv_bytes_round_trips_and_is_safe() -> None:
    data = csv_bytes(["name", "note"], [{"name": "a,b", "note": "=cmd|' /C calc'!A0"}, ["x", "line\nbreak"]])
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [["name", "note"], ["a,b", "'=cmd|' /C calc'!A0"], ["x", "line\nbreak"]]


@pytest.fixture
def clocked(db_path: Path) -> certlab.Inventory:
    certlab.init(db_path, actor=Actor("alice", Role.ADMIN))
    return certlab.Inventory(db_path, actor=Actor("alice", Role.ADMIN), clock=lambda: NOW)


def test_summary_and_bins_are_counted_in_the_database(clocked: certlab.Inventory) -> None:
    for name, days in (("soon", 10), ("mid", 45), ("late", 80), ("far", 400)):
        make_cert(clocked, name, days=days)
    clocked.create_csr(certlab.CertSpec(name="waiting", key_type="ec-p256"))
    s = clocked.summary(at=NOW + dt.timedelta(days=21))  # "soon" has expired by then
    assert (s.total, s.expired, s.pending) == (5, 1, 1)
    assert (s.expiring_30, s.expiring_60, s.expiring_90) == (1, 2, 2)
    bins = clocked.expiry_bins("month")
    assert sum(b.total for b in bins) == 4
    months = sorted({(r.not_after.year, r.not_after.month) for r in clocked.list() if r.not_after})
    assert [(b.start.year, b.start.month) for b in bins] == months
    weekly = clocked.expiry_bins("week", expiry=ExpiryRange(NOW, NOW + dt.timedelta(days=60)))
    assert sum(b.total for b in weekly) == 2
    with pytest.raises(certlab.InvalidInputError):
        clocked.expiry_bins("year")


def test_summary_agrees_with_counting_each_state_one_by_one(clocked: certlab.Inventory) -> None:
    """summary() counts in one pass; every figure must equal the plain filtered count."""
    clocked.generate_synthetic(400, seed=7)
    make_cert(clocked, "retiring", days=20)
    clocked.create_csr(certlab.CertSpec(name="waiting", key_type="ec-p256"))
    at = NOW + dt.timedelta(days=3)
    s = clocked.summary(at=at)
    count = lambda **kw: clocked.count(CertFilter(**kw), at=at)
    assert s.total == count() == 402 + 5  # and the five synthetic CAs
    assert s.expired == count(status="expired") > 0
    assert s.pending == count(status="pending") == 1
    assert s.revoked == count(status="revoked") > 0 and s.retired == count(status="retired") > 0
    assert (s.expiring_30, s.expiring_60, s.expiring_90) == (
        count(expiring_within=30), count(expiring_within=60), count(expiring_within=90))
    assert s.active == count(status="active") + count(status="expiring")
    assert s.active == s.total - s.expired - s.pending - s.revoked - s.retired
    assert s.by_kind == {k: count(kind=k) for k in s.by_kind} and sum(s.by_kind.values()) == s.total
    assert list(s.by_kind.values()) == sorted(s.by_kind.values(), reverse=True)
    assert sum(s.by_key_type.values()) == s.total and len(s.by_key_type) >= 3


def test_certificate_page_paginates_with_the_total(clocked: certlab.Inventory) -> None:
    for i in range(7):
        make_cert(clocked, f"c{i}", days=10 + i)
    first = clocked.certificate_page(CertFilter(), page=1, page_size=3)
    third = clocked.certificate_page(CertFilter(), page=3, page_size=3)
    assert (first.total, first.pages, [r.name for r in first.records]) == (7, 3, ["c0", "c1", "c2"])
    assert [r.name for r in third.records] == ["c6"]
    ranged = clocked.certificate_page(CertFilter(), expiry=ExpiryRange(NOW + dt.timedelta(days=11, hours=12),
                                                                        NOW + dt.timedelta(days=13, hours=12)))
    assert [r.name for r in ranged.records] == ["c2", "c3"]
    beyond = clocked.certificate_page(CertFilter(), page=99, page_size=3)
    assert beyond.page == 3


def test_text_search_page_matches_the_listing_in_order(clocked: certlab.Inventory) -> None:
    """A text search scans once for its matches and then reads the page's rows by id: the pages, the
    total and the order (soonest expiry, then name) are those of the filtered listing."""
    for i in range(8):  # two share an expiry: the name breaks the tie
        make_cert(clocked, f"shop{i}", days=30 + (i // 2 * 2 if i < 2 else i))
    make_cert(clocked, "other", days=5, sans=("unrelated.example.net",))
    make_cert(clocked, "pending_shop", days=40)
    expected = [r.name for r in clocked.list(CertFilter(search="SHOP"))]
    assert len(expected) == 9 and expected[:2] == ["shop0", "shop1"] and "other" not in expected
    pages = [clocked.certificate_page(CertFilter(search="SHOP"), page=n, page_size=4) for n in (1, 2, 3)]
    assert [p.total for p in pages] == [9, 9, 9] and [p.page for p in pages] == [1, 2, 3]
    assert [r.name for p in pages for r in p.records] == expected
    beyond = clocked.certificate_page(CertFilter(search="shop"), page=50, page_size=4)
    assert (beyond.page, [r.name for r in beyond.records]) == (3, expected[8:])
    none = clocked.certificate_page(CertFilter(search="no-such-text"), page=2)
    assert (none.total, none.page, none.records) == (0, 1, ())
    # A literal needle: LIKE's wildcards in it match nothing by themselves.
    assert clocked.certificate_page(CertFilter(search="%")).total == 0
    assert clocked.certificate_page(CertFilter(search="shop_")).total == 0


def test_charts_render_to_png_and_svg(clocked: certlab.Inventory) -> None:
    make_cert(clocked, "one", days=20)
    make_cert(clocked, "two", days=200)
    frame = charts.timeline_frame(clocked.list())
    assert list(frame["name"]) == ["one", "two"]
    chart = charts.timeline_chart(frame, NOW)
    spec = chart.to_dict()
    assert len(spec["layer"]) == 3  # bands, bars, today
    assert charts.to_png(chart).startswith(b"\x89PNG")
    assert b"<svg" in charts.to_svg(chart)
    load = charts.renewal_load_chart(charts.bins_frame(clocked.expiry_bins("month")), "month")
    assert charts.to_png(load).startswith(b"\x89PNG")


def test_inventory_csv_has_no_key_material(clocked: certlab.Inventory) -> None:
    make_cert(clocked, "exp", days=30, exportable=True)
    text = clocked.inventory_csv().decode("utf-8-sig")
    assert "exp" in text and "PRIVATE" not in text


def test_bins_agree_with_calendar_weeks_and_months_certificate_by_certificate(clocked: certlab.Inventory) -> None:
    """Each bin starts on a Monday (weeks) or the 1st (months) and counts exactly the certificates whose
    not_after falls in it, including one that expired before 1970."""
    from collections import Counter

    from certlab import ImportSource

    from .peers import make_ca, pem

    clocked.generate_synthetic(300, seed=4)
    old = make_ca("Nineteen Sixties CA", not_before=dt.datetime(1966, 3, 1), not_after=dt.datetime(1969, 12, 31, 12))
    clocked.import_sources([ImportSource("old.pem", pem(old.certificate))], trusted=True, name="sixties")
    dates = [r.not_after.date() for r in clocked.list(CertFilter(status=None))
             if r.not_after and r.stored_status in ("active", "pending")]
    for period, start in (("week", lambda d: d - dt.timedelta(days=d.weekday())), ("month", lambda d: d.replace(day=1))):
        bins = clocked.expiry_bins(period)  # type: ignore[arg-type]
        assert {b.start: b.total for b in bins} == dict(Counter(start(d) for d in dates))
        assert [b.start for b in bins] == sorted(b.start for b in bins)
    assert clocked.expiry_bins("week")[0].start == dt.date(1969, 12, 29)  # the Monday of that week
