"""The package passes its own linters, as the design asks: ruff over everything, mypy --strict over certlab.
Run here so that the README's test command (and CI) holds every change to them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=900,
                          check=False)


def test_ruff() -> None:
    proc = _run("ruff", "check", "--no-cache", "certlab", "dashboard", "benchmarks", "tests")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


@pytest.mark.slow
def test_mypy_strict() -> None:
    proc = _run("mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null", "certlab")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
