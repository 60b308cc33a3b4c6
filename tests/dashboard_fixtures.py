"""Fixtures for the dashboard tests: a demo inventory made once, copied per test, with known users."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import certlab
from certlab import Actor, Role
from dashboard import state

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "dashboard" / "app.py"
PASSWORDS = {"admin": "admin password 1", "auditor": "auditor password 1", "analyst": "analyst password 1"}
TIMEOUT = 60


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from certlab.demo import create_inventory, seed_demo

    path = tmp_path_factory.mktemp("demo-template") / "certlab.duckdb"
    inv = create_inventory(path, actor=Actor("setup", Role.ADMIN))
    seed_demo(inv)
    for name, pw in PASSWORDS.items():
        inv.add_user(name, name, pw)
    return path


@pytest.fixture
def demo_db(demo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    dest = tmp_path / "data" / "certlab.duckdb"
    dest.parent.mkdir(parents=True)
    for f in demo_template.parent.iterdir():
        if not f.name.endswith(".lock"):
            shutil.copy2(f, dest.parent / f.name)
    monkeypatch.setenv("CERTLAB_DB", str(dest))
    yield dest


def open_inv(path: Path) -> certlab.Inventory:
    return certlab.open(path, actor=Actor("test-reader", Role.AUDITOR))


def app_as(role: str | None, page: str | None = None) -> AppTest:
    """The app, signed in as the user of ``role`` (session state seeded), on ``page``."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if role is not None:
        at.session_state[state.ACTOR] = Actor(role, Role.parse(role))
        at.session_state[state.MUST_CHANGE_PASSWORD] = False
    at.run()
    if page is not None:
        at.switch_page(f"pages/{page}.py").run()
    return at


def texts(at: AppTest) -> str:
    """Every piece of text on the page, for assertions."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "success", "info", "warning", "error", "text"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def errors(at: AppTest) -> list[str]:
    return [str(e.value) for e in at.error]
