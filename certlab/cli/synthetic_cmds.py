"""``certlab demo --certs N``: add N synthetic certificates (real ones, from a few synthetic CAs) at scale.

``certlab demo`` without ``--certs`` seeds the realistic demo organisation (certlab/cli/demo_cmds.py,
when installed). This module adds ``--certs`` (and ``--audit-events``, ``--seed``) to that command, or
provides the command itself when no other module does; it is listed after demo_cmds in COMMAND_MODULES.
"""

from __future__ import annotations

import argparse
from typing import Any

from . import add_command, db_path
from . import output as out

EXAMPLE = "certlab --db data/scale.duckdb demo --certs 100000"


def register(sub: Any) -> None:
    existing = sub.choices.get("demo")
    if existing is None:
        p = add_command(sub, "demo", "Fill an inventory with synthetic certificates at scale (creates it if missing).",
                        EXAMPLE)
        p.add_argument("--json", action="store_true", help="print only the JSON summary")
        _add_options(p, required=True)
        p.set_defaults(func=cmd_synthetic)
        return
    _add_options(existing, required=False)
    plain = existing.get_default("func")
    existing.epilog = (existing.epilog or "") + f"\n  {EXAMPLE}"

    def cmd_demo(args: argparse.Namespace) -> int:
        if args.certs is None:
            return int(plain(args) or 0)
        return cmd_synthetic(args)

    existing.set_defaults(func=cmd_demo)


def _add_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--certs", type=int, metavar="N", required=required,
                   help="add N synthetic certificates (real ones, signed by a few new synthetic CAs, tagged synthetic)")
    p.add_argument("--audit-events", type=int, default=0, metavar="M",
                   help="with --certs: also add M synthetic past audit events (for audit views at scale)")
    p.add_argument("--seed", type=int, help="with --certs: random seed, for repeatable dates, names and choices (CA keys and signatures stay random)")


def cmd_synthetic(args: argparse.Namespace) -> int:
    from .. import init
    from ..models import Actor

    inv = init(db_path(args), actor=Actor.from_env())
    progress = out.Progress("building")
    try:
        result = inv.generate_synthetic(args.certs, audit_events=args.audit_events, seed=args.seed, progress=progress)
    finally:
        progress.close()
    if getattr(args, "json", False):
        out.print_json(result.to_json())
    else:
        out.info(f"added {result.certificates} synthetic certificates from {len(result.cas)} synthetic CAs"
                 + (f" and {result.audit_events} synthetic audit events" if result.audit_events else "")
                 + f" to {inv.path} (names end in _{result.token}_N)")
    return 0
