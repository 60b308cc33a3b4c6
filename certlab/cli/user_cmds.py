"""User commands: add dashboard users, set passwords, list, disable. Only admins manage users."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from . import add_command
from . import output as out
from .core_cmds import open_inventory

ROLES = ["admin", "auditor", "analyst"]


def register(sub: Any) -> None:
    user = add_command(sub, "user", "Dashboard users: add, set passwords, list, disable (admins only).",
                       "certlab user add carol --role auditor")
    usub = user.add_subparsers(dest="what", metavar="WHAT")
    usub.required = True

    p = add_command(usub, "add", "Add a user; the password comes from --password-file, a prompt, or --one-time.",
                    "certlab user add carol --role auditor --one-time")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--password-file", help="read the password from the first line of this file")
    p.add_argument("--one-time", action="store_true",
                   help="make a random password, print it once; the user must change it at first sign-in")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_add)

    p = add_command(usub, "passwd", "Set a user's password (from --password-file or a prompt).",
                    "certlab user passwd carol --password-file pw.txt")
    p.add_argument("name")
    p.add_argument("--password-file", help="read the password from the first line of this file")
    p.add_argument("--one-time", action="store_true",
                   help="make a random password, print it once; the user must change it at next sign-in")
    p.set_defaults(func=cmd_passwd)

    p = add_command(usub, "list", "List users and their sign-in state.", "certlab user list --json")
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true")
    p.set_defaults(func=cmd_list)

    for name, disabled, text in (("disable", True, "Stop a user from signing in (their history stays)."),
                                 ("enable", False, "Let a disabled user sign in again.")):
        p = add_command(usub, name, text, f"certlab user {name} carol")
        p.add_argument("name")
        p.set_defaults(func=cmd_disable, disabled=disabled)

    p = add_command(usub, "role", "Change a user's role.", "certlab user role carol --role admin")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=ROLES)
    p.set_defaults(func=cmd_role)


def _password(args: argparse.Namespace, what: str) -> tuple[bytes, bool]:
    """(password, one_time): from --one-time, --password-file or a prompt asked twice."""
    from ..errors import InvalidInputError
    from ..inventory.users import one_time_password

    if args.one_time:
        if args.password_file:
            raise InvalidInputError("give either --one-time or --password-file, not both")
        return one_time_password().encode(), True
    return out.read_password(args.password_file, what, confirm=True), False


def cmd_add(args: argparse.Namespace) -> int:
    inv = open_inventory(args)
    password, one_time = _password(args, f"user {args.name}")
    user = inv.add_user(args.name, args.role, password, must_change_password=one_time)
    if args.json:
        doc = user.to_json()
        if one_time:
            doc["one_time_password"] = password.decode()
        out.print_json(doc)
    else:
        out.info(f"added user {user.name} ({user.role.value})")
        if one_time:
            sys.stdout.write(f"one-time password for {user.name}: {password.decode()}\n")
            out.info("it is shown only now; the user must choose a new one at first sign-in")
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    inv = open_inventory(args)
    password, one_time = _password(args, f"user {args.name}")
    user = inv.set_password(args.name, password, must_change_password=one_time)
    out.info(f"password of {user.name} changed")
    if one_time:
        sys.stdout.write(f"one-time password for {user.name}: {password.decode()}\n")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    users = open_inventory(args).users()
    if out.wants_json(args):
        out.print_json([u.to_json() for u in users])
    elif not users:
        out.info("no users (add one with: certlab user add NAME --role admin)")
    else:
        out.table(["name", "role", "state", "last sign-in"],
                  [[u.name, u.role.value, _state(u), u.last_sign_in or "-"] for u in users])
    return 0


def _state(user: Any) -> str:
    if user.disabled:
        return "disabled"
    if user.locked_until is not None:
        return f"locked until {user.locked_until:%Y-%m-%d %H:%M} UTC"
    return "must change password" if user.must_change_password else "active"


def cmd_disable(args: argparse.Namespace) -> int:
    user = open_inventory(args).set_user_disabled(args.name, args.disabled)
    out.info(f"user {user.name} {'disabled' if user.disabled else 'enabled'}")
    return 0


def cmd_role(args: argparse.Namespace) -> int:
    user = open_inventory(args).set_user_role(args.name, args.role)
    out.info(f"user {user.name} is now {user.role.value}")
    return 0
