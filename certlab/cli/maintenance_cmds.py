"""Maintenance commands: backup, restore and optimize."""

from __future__ import annotations

import argparse
from typing import Any

from . import add_command, db_path
from . import output as out
from .core_cmds import open_inventory, wants_doc


def register(sub: Any) -> None:
    p = add_command(sub, "backup", "Write a consistent, checked copy of the inventory (while it is in use).",
                    "certlab backup /backups/certlab-2026-11-26.duckdb --with-keys")
    p.add_argument("out", metavar="OUT", help="the backup file to write (mode 0600)")
    p.add_argument("--with-keys", action="store_true",
                   help="also copy the key file to OUT.keys (0600); keep it apart from OUT: both together open every key")
    p.add_argument("--force", action="store_true", help="overwrite OUT (and OUT.keys) if they exist")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_backup)

    p = add_command(sub, "restore", "Check a backup (schema, audit chain, every key decrypts), then replace the "
                    "inventory with it.", "certlab restore /backups/certlab-2026-11-26.duckdb --keys "
                    "/backups/certlab-2026-11-26.duckdb.keys")
    p.add_argument("source", metavar="IN", help="a file written by certlab backup")
    p.add_argument("--keys", metavar="FILE", help="the backup's key file (default: the inventory's own key file)")
    p.add_argument("--expect-head", metavar="SEQ:HASH", help="the audit head printed when the backup was made")
    p.add_argument("--check", action="store_true", help="only check the backup; replace nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_restore)

    p = add_command(sub, "optimize", "Rewrite the inventory file compactly, certificates in expiry order (expiry "
                    "views read fewer blocks). Other actions wait meanwhile: about a minute per million certificates.",
                    "certlab optimize")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_optimize)


def cmd_backup(args: argparse.Namespace) -> int:
    result = open_inventory(args).backup(args.out, with_keys=args.with_keys, overwrite=args.force)
    if wants_doc(args):
        out.print_json(result.to_json())
        return 0
    out.info(f"backup written: {result.path} ({result.certificates} certificates, {result.private_keys} encrypted "
             f"keys, {result.size} bytes)")
    out.info(f"audit head {result.audit_head} (keep it: certlab restore --expect-head checks it)")
    _say_stale(result.stale_removed)
    if result.keys_path:
        out.info(f"key file copied to {result.keys_path} (mode 0600): store it apart from the backup")
    else:
        out.info("the key file was not copied: the backup opens only with the inventory's key file "
                 "(back it up separately, or use --with-keys)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from .. import Inventory
    from ..models import Actor

    inv = Inventory(db_path(args), actor=Actor.from_env())
    if args.check:
        if inv.db.exists():
            result = open_inventory(args).verify_backup(args.source, keys=args.keys, expect_head=args.expect_head)
        else:
            from ..errors import NotFoundError

            raise NotFoundError(f"no inventory at {inv.path} to check against: restore without --check")
    else:
        result = inv.restore(args.source, keys=args.keys, expect_head=args.expect_head)
    if wants_doc(args):
        out.print_json(result.to_json())
        return 0
    _say_stale(result.stale_removed)
    if result.checked_only:
        out.info(f"backup {result.source} checks out: {result.certificates} certificates, {result.private_keys} "
                 f"keys decrypt, audit chain verified (head {result.audit_head}); nothing replaced")
    else:
        out.info(f"restored {result.path} from {result.source}: {result.certificates} certificates, "
                 f"{result.private_keys} keys, audit head {result.audit_head}")
        if result.replaced:
            out.info(f"the replaced inventory is kept as {result.replaced} (its keys in {result.replaced}.keys)")
    return 0


def cmd_optimize(args: argparse.Namespace) -> int:
    result = open_inventory(args).optimize()
    if wants_doc(args):
        out.print_json(result.to_json())
        return 0
    _say_stale(result.stale_removed)
    out.info(f"optimized {result.path}: {result.certificates} certificates in expiry order, "
             f"{sum(result.rows.values())} rows in {len(result.rows)} tables; {result.bytes_before} -> "
             f"{result.bytes_after} bytes in {result.seconds:.1f} s")
    return 0


def _say_stale(removed: tuple[Any, ...]) -> None:
    for path in removed:
        out.info(f"removed {path}: a temporary copy left by a certlab process that ended before finishing")
