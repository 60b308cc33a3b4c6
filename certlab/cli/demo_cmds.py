"""``certlab demo``: fill an empty inventory with a demo organisation's certificates and history."""

from __future__ import annotations

import argparse
from typing import Any

from . import add_command, db_path
from . import output as out


def register(sub: Any) -> None:
    p = add_command(sub, "demo", "Fill an empty inventory with a demo organisation (creates it if missing).",
                    "certlab --db data/demo.duckdb demo")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_demo)


def seed_into(path: Any, *, quiet: bool = False) -> Any:
    """Create the inventory if missing and seed the demo; refuses an inventory that holds certificates."""
    from ..demo import create_inventory, seed_demo
    from ..errors import ConflictError
    from ..models import Actor

    inv = create_inventory(path, actor=Actor.from_env())
    held = inv.count()
    if held:
        raise ConflictError(f"{inv.path} holds {held} certificates already: seed the demo into an empty "
                            "inventory (--db another file)")
    return seed_demo(inv, None if quiet else (lambda msg: out.info(f"demo: {msg}")))


def cmd_demo(args: argparse.Namespace) -> int:
    summary = seed_into(db_path(args), quiet=bool(args.json))
    if args.json:
        out.print_json({"certificates": summary.certificates, "credentials": summary.credentials,
                        "audit_events": summary.audit_events})
    else:
        out.info(f"demo inventory ready: {summary.certificates} certificates, {summary.credentials} named "
                 f"credentials, {summary.audit_events} audit events")
    return 0
