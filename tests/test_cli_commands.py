"""A command builds only its own parser (certlab.cli.COMMANDS), and that parser is the whole parser's:
same subcommands, options, defaults, help and errors. ``certlab show`` loads no other command's code."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from certlab import cli

from .conftest import run_cli
from .test_lazy_imports import modules_after


def _shape(parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Everything a parser does with argv: options, defaults, choices, help, nested subcommands."""
    subs: dict[str, Any] = {}
    actions = []
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            subs = {name: _shape(p) for name, p in a.choices.items()}
            actions.append(("subcommands", a.dest, a.required, tuple(a.choices)))
        else:
            actions.append((type(a).__name__, tuple(a.option_strings), a.dest, a.nargs, repr(a.default), a.required,
                            tuple(a.choices) if a.choices else None, a.metavar, a.help))
    defaults = {k: getattr(v, "__qualname__", repr(v)) for k, v in parser._defaults.items()}
    return {"prog": parser.prog, "actions": actions, "defaults": defaults, "help": parser.format_help(), "subs": subs}


def _command_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_alone_builds_the_whole_parsers_command() -> None:
    whole = _command_parsers(cli.build_parser())
    assert set(cli.COMMANDS) == set(whole), "COMMANDS and the registered commands differ"
    for name, full in whole.items():
        alone = _command_parsers(cli.build_parser(name))
        assert name in alone
        assert _shape(alone[name]) == _shape(full), f"certlab {name} differs when built alone: fix COMMANDS"
    assert len(_command_parsers(cli.build_parser("show"))) < len(whole)  # it does build less


@pytest.mark.parametrize(("argv", "command"), [
    (["show", "x"], "show"),
    (["--db", "inv.duckdb", "show", "x", "--json"], "show"),
    (["--db=inv.duckdb", "lint"], "lint"),
    (["--db", "show", "list"], "list"),  # an inventory file called "show"
    (["--help"], None),
    (["--version"], None),
    (["--db", "inv.duckdb", "-h", "show"], None),
    (["--db"], None),
    (["--db", "--help", "show"], None),
    (["frobnicate"], None),
    ([], None),
    (["--d", "inv.duckdb", "show"], None),  # an abbreviation: left to argparse with every command
])
def test_which_command_argv_names(argv: list[str], command: str | None) -> None:
    assert cli.command_named(argv) == command


def test_unknown_command_lists_every_command(tmp_path: Path) -> None:
    proc = run_cli("frobnicate", db=tmp_path / "x.duckdb")
    assert proc.returncode == 2 and "invalid choice: 'frobnicate'" in proc.stderr
    assert all(f"'{name}'" in proc.stderr for name in cli.COMMANDS)


def test_show_loads_only_its_own_command_and_no_network_code(cli_db: Path) -> None:
    run_cli("create", "self-signed", "probe_cert", "--key", "ec-p256", db=cli_db, check=True)
    out, mods = modules_after("--db", str(cli_db), "show", "probe_cert", "--json")
    assert '"name": "probe_cert"' in out  # the command ran
    assert "certlab.cli.core_cmds" in mods and "certlab.inventory" in mods
    others = {m for m in cli.COMMAND_MODULES if m != "certlab.cli.core_cmds"}
    assert not mods & others, mods & others
    # TLS callouts, e-mail reminders, CAs and PKCS#7 load only for the commands that use them
    # (duckdb itself loads email's parser, for its package metadata; PKCS#7 would add email.policy)
    # nor do the Inventory's result types, which show never builds
    unwanted = {"ssl", "smtplib", "email.policy", "urllib.request", "certlab.integrations.tls", "certlab.reminders",
                "certlab.ca", "certlab.csr", "cryptography.hazmat.primitives.serialization.pkcs7",
                "certlab.inventory.results"}
    assert not mods & unwanted, mods & unwanted
    _, mods = modules_after("--help")
    assert set(cli.COMMAND_MODULES) <= mods  # --help lists every command


def test_create_ca_defaults_to_the_cas_default_key() -> None:
    # the Inventory names the default without importing certlab.ca (which loads when a CA acts)
    import inspect

    from certlab import ca
    from certlab.inventory import Inventory

    assert inspect.signature(Inventory.create_ca).parameters["key_type"].default is ca.DEFAULT_CA_KEY


def test_result_types_are_reachable_where_they_always_were() -> None:
    # defined in certlab.inventory.results, re-exported (loaded on first use) by their actions' modules
    import importlib

    import certlab.inventory
    from certlab.inventory import results

    for module_name in ("analytics", "bulk", "core", "integrations", "lifecycle", "maintenance", "reminders",
                        "reports", "rotation", "users"):
        module = importlib.import_module(f"certlab.inventory.{module_name}")
        for name in getattr(module, "_RESULTS", ()):
            assert getattr(module, name) is getattr(results, name), (module_name, name)
        with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
            module.Nope  # noqa: B018
    namespace: dict[str, object] = {}
    exec("from certlab.inventory import *", namespace)  # the star import is what is tested
    assert set(certlab.inventory.__all__) <= set(namespace)
    assert namespace["RotationPolicy"] is results.RotationPolicy and namespace["User"] is results.User
