"""One certlab action, run in a process the crash tests kill with SIGKILL at a random moment.

    python tests/reliability_crash_driver.py ACTION DB [ARG]

Prints ``ready`` once certlab is imported and the inventory is open, so the test can time the kill
over the action itself rather than over Python's start-up, then ``done`` when the action finished.
"""

from __future__ import annotations

import sys
from pathlib import Path

import certlab
from certlab import Actor, Role

PASSWORD = b"crash test import password"


def main() -> int:
    action, db = sys.argv[1], Path(sys.argv[2])
    arg = sys.argv[3] if len(sys.argv) > 3 else ""
    inv = certlab.open(db, actor=Actor("crash_driver", Role.ADMIN))
    print("ready", flush=True)
    if action == "import":
        inv.import_files([arg], password=PASSWORD, exportable=True)
    elif action == "rotate_master_key":
        inv.rotate_master_key()
    elif action == "audit":
        for _ in range(int(arg or 100)):
            inv.export("audited", "pem")
    elif action == "cutover":
        inv.cutover(arg)
    elif action == "restore":
        inv.restore(arg)
    elif action == "optimize":
        inv.optimize()
    else:
        raise SystemExit(f"unknown action {action}")
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
