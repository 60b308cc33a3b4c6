"""CSV that is safe to open in a spreadsheet: cells that would run as formulas are neutralised.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a formula by
Excel, LibreOffice and Google Sheets (CSV injection); such cells get a leading apostrophe, as OWASP
recommends. Control characters other than tab and newline are dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value: Any) -> str:
    """One value as CSV text that no spreadsheet will evaluate."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dt.datetime):
        text = value.replace(tzinfo=None).isoformat() + "Z"
    elif isinstance(value, (int, float)):
        return str(value)  # numbers, negative ones included, are data, not formulas
    elif isinstance(value, (list, tuple)):
        text = "; ".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, sort_keys=True, default=str)
    else:
        text = str(value)
    text = "".join(c for c in text if c in "\t\n" or c.isprintable() or c == "\r")
    stripped = text.lstrip(" ")
    if stripped.startswith(_FORMULA_START) or text.startswith(_FORMULA_START):
        text = "'" + text
    return text


def csv_bytes(columns: Sequence[str], rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> bytes:
    """UTF-8 CSV (with a BOM, so spreadsheets read the encoding) of ``rows`` under ``columns``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([safe_cell(c) for c in columns])
    for row in rows:
        values = [row.get(c) for c in columns] if isinstance(row, Mapping) else list(row)
        writer.writerow([safe_cell(v) for v in values])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
