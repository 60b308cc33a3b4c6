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


def db_path(args: argparse.Namespace) -> Path:
    """``--db``, else ``$CERTLAB_DB``, else ``data/certlab.duckdb``."""
    return Path(args.db or os.environ.get("CERTLAB_DB") or DEFAULT_DB)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
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
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def add_command(sub: "argparse._SubParsersAction[argparse.ArgumentParser]", name: str, help: str,
                example: str) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with an example."""
    return sub.add_parser(name, help=help, description=help, epilog=f"Example:\n  {example}",
                          formatter_class=_Formatter)


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    # A library's warning (a certificate with a negative serial, a PKCS#7 read as BER) is no error, and
    # the command's output stays one line per error: certlab reports what matters itself.
    warnings.simplefilter("ignore")
    parser = build_parser()
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
