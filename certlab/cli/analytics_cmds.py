"""``certlab sql``, ``certlab views`` and ``certlab parquet``: the analysts' SQL from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import InvalidInputError
from . import add_command
from . import output as out
from .core_cmds import open_inventory


def register(sub: Any) -> None:
    p = add_command(sub, "sql", "Run one read-only query over the analyst views (certificates_v, credentials_v, "
                    "audit_v, ...); the query is audited.",
                    "certlab sql \"SELECT name, days_to_expiry FROM certificates_v WHERE days_to_expiry < $days\" "
                    "--param days=90")
    p.add_argument("query", help="one SELECT statement, or - to read it from stdin")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a value for $NAME (JSON numbers, true/false/null are typed; anything else is text)")
    p.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    p.add_argument("--json", action="store_true", help="print one JSON array of rows")
    p.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS", help="stop the query after this long")
    p.set_defaults(func=cmd_sql)

    p = add_command(sub, "views", "List the analyst views and their columns.", "certlab views --json")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_views)

    p = add_command(sub, "parquet", "Write every analyst view as FOLDER/<view>.parquet.", "certlab parquet exports/")
    p.add_argument("folder")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_parquet)


def _params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.isidentifier():
            raise InvalidInputError(f"--param {pair!r}: give NAME=VALUE (NAME as in $NAME)")
        try:
            value = json.loads(raw)
            if isinstance(value, (list, dict)):
                value = raw
        except ValueError:
            value = raw
        params[name] = value
    return params


def cmd_sql(args: argparse.Namespace) -> int:
    query = sys.stdin.read() if args.query == "-" else args.query
    frame = open_inventory(args).sql(query, _params(args.param) or None, timeout=args.timeout)
    if args.csv:
        frame.to_csv(sys.stdout, index=False)
    elif out.wants_json(args):
        out.print_json(json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str)))
    else:
        out.table([str(c) for c in frame.columns], [[_cell(v) for v in row] for row in frame.itertuples(index=False)])
        out.info(f"{len(frame)} rows")
    return 0


def _cell(value: Any) -> str:
    try:
        import pandas as pd

        if not isinstance(value, (list, tuple, dict)) and pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    if hasattr(value, "tolist"):
        value = value.tolist()
    return str(value)


def cmd_views(args: argparse.Namespace) -> int:
    views = open_inventory(args).analyst_view_columns()
    if out.wants_json(args):
        out.print_json({v: [{"column": c, "type": t} for c, t in cols] for v, cols in views.items()})
    else:
        for view, cols in views.items():
            sys.stdout.write(f"{view}: {', '.join(c for c, _ in cols)}\n")
    return 0


def cmd_parquet(args: argparse.Namespace) -> int:
    result = open_inventory(args).to_parquet(args.folder)
    if out.wants_json(args):
        out.print_json(result.to_json())
    else:
        out.table(["view", "rows", "file"], [[v, n, p] for v, p, n in result.files])
    return 0
