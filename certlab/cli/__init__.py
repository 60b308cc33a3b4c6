"""The ``certlab`` command line. Each command group registers itself from its own module."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import CertlabError

DEFAULT_DB = Path("data") / "certlab.duckdb"

# Modules that add commands: each has ``register(subparsers)``; commands set ``func(args) -> int``.
COMMAND_MODULES = [
    "certlab.cli.core_cmds",
    "certlab.cli.lifecycle_cmds",
    "certlab.cli.reminders_cmds",
    "certlab.cli.integration_cmds",
    "certlab.cli.analytics_cmds",
    "certlab.cli.user_cmds",
    "certlab.cli.demo_cmds",
    "certlab.cli.dashboard_cmds",
    "certlab.cli.synthetic_cmds",  # after demo_cmds: it adds --certs to ``certlab demo``
    "certlab.cli.maintenance_cmds",
]

# The modules each command needs, in COMMAND_MODULES order: the one that registers it, any that extend
# it (integration_cmds adds subcommands to ``credential``, synthetic_cmds options to ``demo``) and any
# whose commands it extends. A command builds only these rather than every command's parser; --help,
# --version and any word not listed here build the whole parser, so help and usage errors read the
# same. tests/test_cli.py checks each command's parser against the whole one's, so this cannot go stale.
_CORE, _INTEGRATION = "certlab.cli.core_cmds", "certlab.cli.integration_cmds"
COMMANDS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("init", "create", "upload-signed", "import", "export", "list", "show", "delete", "audit",
                     "master-key"), (_CORE,)),
    **dict.fromkeys(("credential", "sign", "scan", "endpoints", "lint"), (_CORE, _INTEGRATION)),
    **dict.fromkeys(("ca", "revoke", "rotate", "rotation-policy"), ("certlab.cli.lifecycle_cmds",)),
    "reminders": ("certlab.cli.reminders_cmds",),
    **dict.fromkeys(("sql", "views", "parquet"), ("certlab.cli.analytics_cmds",)),
    "user": ("certlab.cli.user_cmds",),
    "demo": ("certlab.cli.demo_cmds", "certlab.cli.synthetic_cmds"),
    "dashboard": ("certlab.cli.dashboard_cmds",),
    **dict.fromkeys(("backup", "restore", "optimize"), ("certlab.cli.maintenance_cmds",)),
}


def db_path(args: argparse.Namespace) -> Path:
    """``--db``, else ``$CERTLAB_DB``, else ``data/certlab.duckdb``."""
    return Path(args.db or os.environ.get("CERTLAB_DB") or DEFAULT_DB)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def command_named(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs when that is certain from the words before it (only ``--db PATH`` may
    come first), else None."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--db" and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            i += 2
        elif word.startswith("--db="):
            i += 1
        else:
            return word if word in COMMANDS else None
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``certlab`` parser: every command's, or only ``command``'s (the others are then unknown)."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="certlab",
        description="Create, store, use, rotate and audit certificates and keys.",
        formatter_class=_Formatter,
        epilog="Example:\n  certlab init\n  certlab create self-signed payments_mtls --san pay.example.com --exportable\n"
        "  certlab list --expiring-within 90",
    )
    parser.add_argument("--version", action="version", version=f"certlab {__version__}")
    parser.add_argument("--db", metavar="PATH", help="inventory file (default: $CERTLAB_DB or data/certlab.duckdb)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    wanted = COMMANDS[command] if command is not None else COMMAND_MODULES
    for module in COMMAND_MODULES:
        if module in wanted:
            importlib.import_module(module).register(sub)
    return parser


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str,
                example: str) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with an example."""
    return sub.add_parser(name, help=help, description=help, epilog=f"Example:\n  {example}",
                          formatter_class=_Formatter)


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    # A library's warning (a certificate with a negative serial, a PKCS#7 read as BER) is no error, and
    # the command's output stays one line per error: certlab reports what matters itself.
    warnings.simplefilter("ignore")
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(command_named(argv))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CertlabError as exc:
        sys.stderr.write(f"certlab: error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("certlab: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0


def run() -> None:
    sys.exit(main())
