"""Item 1: the project starts from nothing with the README's two commands, and CI runs the test one."""

from __future__ import annotations

import os
import re
import tomllib

from .conftest import ROOT


def test_pyproject_declares_the_package_the_command_and_the_extras() -> None:
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = doc["project"]
    assert project["name"] == "certlab" and project["scripts"]["certlab"] == "certlab.cli:run"
    assert {"dashboard", "notebook", "dev"} <= set(project["optional-dependencies"])
    assert any(d.startswith("cryptography") for d in project["dependencies"])
    assert any(d.startswith("duckdb") for d in project["dependencies"])
    assert "certlab.store" in doc["tool"]["setuptools"]["package-data"]


def test_the_readme_commands_exist_and_ci_runs_the_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    first_screen = readme.split("## ", 1)[0]
    assert "scripts/start" in first_screen and "scripts/test" in first_screen
    for script in ("scripts/start", "scripts/test", "scripts/setup", ".ci/run"):
        path = ROOT / script
        assert path.exists() and os.access(path, os.X_OK), script
        assert path.read_text().startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in path.read_text()
    assert re.search(r"^scripts/test\b", (ROOT / ".ci/run").read_text(), re.MULTILINE)
    setup = (ROOT / "scripts/setup").read_text()
    for tool, package in [("openssl", "openssl"), ("keytool", "default-jre-headless")]:
        assert f"command -v {tool} >/dev/null || need+=({package})" in setup
    assert "pip install" in setup and "[dashboard,notebook" in setup and "dev]" in setup
    assert "scripts/setup" in (ROOT / "scripts/test").read_text()
