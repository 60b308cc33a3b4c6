"""The CLI path stays light: certlab's public names load on first use, and no command imports the data
science stack (pandas, pyarrow, numpy, altair, streamlit) just to start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import certlab

from .conftest import ROOT, run_cli

HEAVY = {"pandas", "pyarrow", "numpy", "altair", "streamlit", "ipywidgets"}
PROBE = """
import runpy, sys
sys.argv = ["certlab", *sys.argv[1:]]
try:
    runpy.run_module("certlab", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
sys.stderr.write("\\nMODULES " + " ".join(sorted(sys.modules)) + "\\n")
"""


def modules_after(*args: str) -> tuple[str, set[str]]:
    """Run ``certlab ARGS`` in a fresh interpreter: its output, and every module it had loaded at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLAB_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES "))
    return proc.stdout, set(line.split()[1:])


def loaded_by(*args: str) -> set[str]:
    """The top-level packages ``certlab ARGS`` loaded."""
    return {m.split(".")[0] for m in modules_after(*args)[1]}


def test_every_public_name_resolves() -> None:
    for name in certlab.__all__:
        assert getattr(certlab, name) is not None, name
    namespace: dict[str, object] = {}
    exec("from certlab import *", namespace)
    assert set(certlab.__all__) <= set(namespace)
    assert certlab.Inventory.__name__ == "Inventory" and certlab.open is certlab.inventory.open
    assert "PrivateKey" in dir(certlab.keys)  # submodules stay reachable as attributes
    assert set(certlab.__all__) <= set(dir(certlab))


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        certlab.nope  # noqa: B018


def test_help_loads_no_cryptography_or_database() -> None:
    mods = loaded_by("--help")
    assert "argparse" in mods and "certlab" in mods  # the probe saw the command run
    assert not mods & ({"cryptography", "duckdb"} | HEAVY), mods & ({"cryptography", "duckdb"} | HEAVY)


def test_show_loads_no_data_science_stack(cli_db: Path) -> None:
    run_cli("create", "self-signed", "probe_cert", "--key", "ec-p256", db=cli_db, check=True)
    mods = loaded_by("--db", str(cli_db), "show", "probe_cert", "--json")
    assert {"cryptography", "duckdb"} <= mods  # it did open the inventory
    assert not mods & HEAVY, mods & HEAVY
