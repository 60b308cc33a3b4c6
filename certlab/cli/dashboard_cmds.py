"""``certlab dashboard``: first-run setup (database, demo, first users), then the Streamlit app."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path
from typing import Any

from . import add_command, db_path
from . import output as out

ROOT = Path(__file__).resolve().parent.parent.parent
APP = ROOT / "dashboard" / "app.py"
FIRST_USERS = (("admin", "admin"), ("auditor", "auditor"))


def register(sub: Any) -> None:
    p = add_command(sub, "dashboard", "Start the dashboard (first run: database, demo inventory, first users).",
                    "certlab dashboard --port 8501")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--no-demo", action="store_true", help="on first run, start with an empty inventory")
    p.add_argument("--setup-only", action="store_true", help="do the first-run setup, do not start the server")
    p.set_defaults(func=cmd_dashboard)


def first_run(path: Path, *, demo: bool = True) -> list[tuple[str, str, str]]:
    """Create the inventory if missing (seeding the demo), and the first users if there are none (the demo's
    people, whose passwords nobody knows, do not count).

    Returns (user, role, one-time password) for each user made; the passwords exist nowhere else.
    """
    from .. import init
    from ..demo import PEOPLE
    from ..inventory.users import one_time_password
    from ..models import Actor, Role
    from .demo_cmds import seed_into

    created = not path.exists()
    if created and demo:
        out.info(f"first run: creating {path} with a demo inventory (a few seconds)")
        seed_into(path)
    inv = init(path, actor=Actor("certlab-setup", Role.ADMIN))
    made = []
    demo_people = {p.name for p in PEOPLE}
    if not [u for u in inv.users() if u.name not in demo_people]:
        for name, role in FIRST_USERS:
            password = one_time_password()
            inv.add_user(name, role, password, must_change_password=True)
            made.append((name, role, password))
    return made


def _print_passwords(made: list[tuple[str, str, str]]) -> None:
    lines = ["First users (one-time passwords, shown only now; each must choose a new one at first sign-in):"]
    lines += [f"  {name:<8} {'(' + role + ')':<10} {password}" for name, role, password in made]
    lines.append("Add more with: certlab user add NAME --role admin|auditor|analyst")
    width = max(len(x) for x in lines)
    sys.stdout.write("\n" + "=" * width + "\n" + "\n".join(lines) + "\n" + "=" * width + "\n\n")
    sys.stdout.flush()


def streamlit_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", host, "--server.port",
            str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"]


def cmd_dashboard(args: argparse.Namespace) -> int:
    from ..errors import InvalidInputError

    if not 1 <= args.port <= 65535:
        raise InvalidInputError(f"--port {args.port} is out of range 1..65535")
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    path = db_path(args).expanduser().absolute()
    made = first_run(path, demo=not args.no_demo)
    if made:
        _print_passwords(made)
    if args.setup_only:
        return 0
    if not loopback:
        out.info(f"warning: binding to {args.host}: other machines can reach the dashboard; put TLS in front of it")
    out.info(f"certlab dashboard on http://{'127.0.0.1' if args.host == '0.0.0.0' else args.host}:{args.port} "
             f"(inventory {path}); stop with Ctrl-C")
    env = dict(os.environ, CERTLAB_DB=str(path), PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    os.chdir(ROOT)  # Streamlit reads .streamlit/config.toml from the working directory
    cmd = streamlit_command(args.host, args.port)
    os.execve(cmd[0], cmd, env)
    return 0  # not reached
