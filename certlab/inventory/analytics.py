"""Analysts' SQL over the inventory: read-only queries on the stable ``*_v`` views, and Parquet exports.

``sql()`` accepts one SELECT (or WITH ... SELECT, DESCRIBE, SUMMARIZE) statement whose every table is an
analyst view (a view in the inventory whose name ends in ``_v``) or a CTE of the query itself. The check
runs on DuckDB's own parse of the statement (``extract_statements`` for the statement type,
``json_serialize_sql`` for the tables and functions it names), so no text matching is fooled by quoting or
comments. Files, URLs, other databases and settings are out of reach: table functions other than a few
generators are refused, and so are bare file names (DuckDB's replacement scans), ATTACH, COPY, PRAGMA,
SET, INSTALL and LOAD. The query then runs on the read-only connection of ``Database.read()``.

Each query is audited (``queried``): the query text and its SHA-256, the views read, the number and names
of parameters (never their values) and the number of rows returned. Refused queries are audited as
denied.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from ..errors import InvalidInputError, PermissionDeniedError, StoreError
from ..models import Action, Outcome
from ..store import Tx
from .base import InventoryBase
from .core import READERS

#: The documented analyst views, in the order ``to_parquet`` writes them. Any other view whose name ends
#: in ``_v`` (added by a later schema file) is an analyst view too.
ANALYST_VIEWS = ("certificates_v", "credentials_v", "audit_v", "findings_v")
#: Table functions that read nothing but their arguments.
SAFE_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
#: Longest query text kept in an audit event (the SHA-256 covers the whole text).
AUDIT_QUERY_CHARS = 4000
DEFAULT_QUERY_TIMEOUT = 120.0
_ALLOWED_SHOW = {"DESCRIBE", "SUMMARY"}


if TYPE_CHECKING:
    from .results import ParquetExport

# The result types live in results.py and load on first use (PEP 562): an action that returns
# none of them (reading one certificate, say) does not build them.
_RESULTS = ("ParquetExport",)


def __getattr__(name: str) -> Any:
    if name in _RESULTS:
        from . import results

        return getattr(results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Refused(Exception):
    """Raised by the checker with the reason a query is refused."""


class AnalyticsActions(InventoryBase):
    """SQL for analysts and Parquet for tools outside Python."""

    def sql(
        self,
        query: str,
        params: Sequence[Any] | Mapping[str, Any] | None = None,
        *,
        timeout: float | None = DEFAULT_QUERY_TIMEOUT,
    ) -> Any:
        """Run one read-only query over the analyst views and return a pandas DataFrame.

        ``params`` fills ``?`` (a sequence) or ``$name`` (a mapping) placeholders: pass values that way
        rather than in the text. ``timeout`` (seconds) stops a runaway query, which would otherwise keep
        writers waiting. Raises ``PermissionDeniedError`` for anything but a read of the views (audited as
        denied) and ``InvalidInputError`` for a query DuckDB cannot run.
        """
        self._authorize(Action.QUERIED, "sql", READERS)
        if not isinstance(query, str) or not query.strip():
            raise InvalidInputError("sql(): the query is empty")
        if params is not None and (isinstance(params, (str, bytes)) or not isinstance(params, (Sequence, Mapping))):
            raise InvalidInputError("sql(): params must be a list (for ? placeholders) or a dict (for $name placeholders)")
        bound: list[Any] | dict[str, Any] = (
            dict(params) if isinstance(params, Mapping) else list(params) if params is not None else []
        )
        details = _query_details(query, bound)
        with self.db.read() as tx:
            try:
                views = _check_query(tx, query)
            except _Refused as exc:
                refusal = str(exc)
            else:
                refusal = ""
                frame = _run(tx, query, bound, timeout)
        if refusal:
            message = f"sql() refused: {refusal}"
            self._record_outcome(Action.QUERIED, "sql", details | {"reason": message}, Outcome.DENIED)
            raise PermissionDeniedError(message)
        details |= {"views": views, "rows": len(frame)}
        with self.db.write() as wtx:
            self._audit(wtx, Action.QUERIED, "sql", details)
        return frame

    def analyst_views(self) -> list[str]:
        """The names of the views ``sql()`` may read, documented ones first."""
        self._authorize(Action.QUERIED, "views", READERS)
        with self.db.read() as tx:
            return _ordered_views(_view_names(tx))

    def analyst_view_columns(self) -> dict[str, list[tuple[str, str]]]:
        """Each analyst view with its (column, type) pairs, in order: the schema, without running a query."""
        self._authorize(Action.QUERIED, "views", READERS)
        with self.db.read() as tx:
            views = _ordered_views(_view_names(tx))
            rows = tx.rows(
                "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE schema_name = 'main' "
                "AND database_name = current_database() AND list_contains($views, table_name) "
                "ORDER BY table_name, column_index", {"views": views})
        out: dict[str, list[tuple[str, str]]] = {v: [] for v in views}
        for view, column, kind in rows:
            out[str(view)].append((str(column), str(kind)))
        return out

    def to_parquet(self, folder: str | os.PathLike[str]) -> ParquetExport:
        """Write every analyst view to ``folder/<view>.parquet`` (one consistent snapshot) for other tools.

        The folder is created if missing; existing files of the same names are replaced atomically.
        """
        from .results import ParquetExport

        self._authorize(Action.QUERIED, "parquet", READERS)
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        out = Path(folder).expanduser().absolute()
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInputError(f"{out}: cannot create the folder ({exc.strerror})") from None
        if not out.is_dir():
            raise InvalidInputError(f"{out} is not a folder")
        written: list[tuple[str, Path, int]] = []
        with self.db.read() as tx:
            for view in _ordered_views(_view_names(tx)):
                table = tx.con.sql(f'SELECT * FROM "{view}"').to_arrow_table()
                target = out / f"{view}.parquet"
                partial = out / f".{view}.parquet.partial"
                try:
                    pq.write_table(table, partial)
                    os.replace(partial, target)
                except OSError as exc:
                    partial.unlink(missing_ok=True)
                    raise StoreError(f"{target}: cannot write the Parquet file ({exc.strerror})") from None
                written.append((view, target, table.num_rows))
        with self.db.write() as wtx:
            self._audit(wtx, Action.QUERIED, "parquet", {
                "to_parquet": str(out), "views": [v for v, _, _ in written], "rows": {v: n for v, _, n in written},
            })
        return ParquetExport(out, tuple(written))


# --- checking a query -------------------------------------------------------------------------------------


def _view_names(tx: Tx) -> set[str]:
    rows = tx.rows(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' "
        "AND database_name = current_database() AND view_name LIKE '%\\_v' ESCAPE '\\'"
    )
    return {str(r[0]).lower() for r in rows}


def _ordered_views(names: set[str]) -> list[str]:
    return [v for v in ANALYST_VIEWS if v in names] + sorted(names - set(ANALYST_VIEWS))


def _table_names(tx: Tx) -> set[str]:
    rows = tx.rows("SELECT table_name FROM duckdb_tables() UNION SELECT view_name FROM duckdb_views()")
    return {str(r[0]).lower() for r in rows}


def _check_query(tx: Tx, query: str) -> list[str]:
    """Refuse all but one read of the analyst views; return the views the query names."""
    try:
        statements = tx.con.extract_statements(query)
    except duckdb.Error as exc:
        raise InvalidInputError(f"sql(): cannot parse the query ({_first_line(exc)})") from None
    if len(statements) != 1:
        raise _Refused(f"give exactly one statement, not {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        what = "a PIVOT without an IN list (give the IN list)" if kind.name == "MULTI" else kind.name
        raise _Refused(f"only SELECT queries may run here, not {what}")
    raw = tx.scalar("SELECT json_serialize_sql(?)", [query])
    tree = json.loads(raw)
    if tree.get("error"):
        raise _Refused(f"cannot check the query ({tree.get('error_message', 'unsupported statement')})")
    views = _view_names(tx)
    ctes = set(_cte_names(tree))
    shadowing = sorted(ctes & (_table_names(tx) - views))
    if shadowing:
        raise _Refused(f"a CTE may not be named like an inventory table ({', '.join(shadowing)})")
    used: set[str] = set()
    known_functions: set[str] | None = None
    for node in _nodes(tree):
        if node.get("class") in ("FUNCTION", "WINDOW", "AGGREGATE") and not node.get("is_operator"):
            # Unknown functions would make DuckDB install and load an extension: refuse them instead.
            if known_functions is None:
                known_functions = {str(r[0]).lower() for r in tx.rows("SELECT DISTINCT function_name FROM duckdb_functions()")}
            fname = str(node.get("function_name", "")).lower()
            if fname and fname not in known_functions:
                raise _Refused(f"unknown function {fname}()")
        kind_name = node.get("type")
        if kind_name == "BASE_TABLE" and "class" not in node:
            used |= _check_table(node, views, ctes)
        elif kind_name == "TABLE_FUNCTION" and "class" not in node:
            fn = node.get("function") or {}
            name = str(fn.get("function_name", "")).lower()
            if name not in SAFE_TABLE_FUNCTIONS:
                raise _Refused(f"table function {name}() is not allowed: queries read the inventory's views only")
        elif kind_name == "SHOW_REF" and "class" not in node and (
            node.get("show_type") not in _ALLOWED_SHOW or node.get("query") is None
        ):
            raise _Refused("SHOW is not allowed: list the views with inv.analyst_views(), describe one with DESCRIBE")
    return sorted(used)


def _check_table(node: Mapping[str, Any], views: set[str], ctes: set[str]) -> set[str]:
    name = str(node.get("table_name", ""))
    catalog, schema = str(node.get("catalog_name", "")), str(node.get("schema_name", ""))
    lowered = name.lower()
    if not catalog and not schema and lowered in ctes:
        return set()
    if catalog or schema not in ("", "main") or lowered not in views:
        shown = ".".join(p for p in (catalog, schema, name) if p)
        if re.search(r"[./\\:]", name):
            raise _Refused(f"{shown!r} is a file or URL: queries read the inventory's views only")
        raise _Refused(
            f"{shown!r} is not an analyst view: query one of {', '.join(_ordered_views(views))}"
        )
    return {lowered}


def _cte_names(tree: Any) -> Iterator[str]:
    for node in _nodes(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            for entry in cte_map.get("map") or ():
                yield str(entry.get("key", "")).lower()


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


# --- running it -----------------------------------------------------------------------------------------


def _run(tx: Tx, query: str, params: list[Any] | dict[str, Any], timeout: float | None) -> Any:
    timer = None
    stopped = threading.Event()
    if timeout is not None:
        if timeout <= 0:
            raise InvalidInputError(f"sql(): timeout must be positive seconds, not {timeout!r}")

        def _stop() -> None:
            stopped.set()
            tx.con.interrupt()

        timer = threading.Timer(timeout, _stop)
        timer.daemon = True
        timer.start()
    try:
        return tx.con.execute(query, params).df()
    except duckdb.InterruptException:
        raise InvalidInputError(f"sql(): the query was stopped after {timeout:g} s (pass a larger timeout=)") from None
    except duckdb.Error as exc:
        if stopped.is_set():
            raise InvalidInputError(f"sql(): the query was stopped after {timeout:g} s (pass a larger timeout=)") from None
        raise InvalidInputError(f"sql(): the query failed ({_first_line(exc)})") from None
    finally:
        if timer is not None:
            timer.cancel()


def _query_details(query: str, params: list[Any] | dict[str, Any]) -> dict[str, Any]:
    """What the audit keeps of a query: its text (capped) and hash; of parameters, only count and names."""
    text = query.strip()
    details: dict[str, Any] = {
        "query": text if len(text) <= AUDIT_QUERY_CHARS else text[:AUDIT_QUERY_CHARS] + " [truncated]",
        "query_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "parameters": len(params),
    }
    if isinstance(params, dict):
        details["parameter_names"] = sorted(str(k) for k in params)
    return details


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


__all__ = ["ANALYST_VIEWS", "AnalyticsActions", "ParquetExport"]
