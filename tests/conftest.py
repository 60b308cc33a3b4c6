"""Shared fixtures: a temporary inventory, actors, and keys made once per session (RSA is slow)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

import certlab
from certlab import Actor, CertSpec, Inventory, Role

ROOT = Path(__file__).resolve().parent.parent

# CI replays the same examples every run (a gate must not fail on a newly drawn input); a developer's run
# draws fresh ones, which is where new bugs are found. `.ci/run` selects the profile.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CERTLAB_DB", "CERTLAB_MASTER_KEY", "CERTLAB_ACTOR", "CERTLAB_ROLE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def admin() -> Actor:
    return Actor("alice", Role.ADMIN)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "inv" / "certlab.duckdb"


@pytest.fixture
def inv(db_path: Path, admin: Actor) -> Inventory:
    return certlab.init(db_path, actor=admin)


@pytest.fixture(scope="session")
def rsa_key() -> certlab.keys.PrivateKey:
    return certlab.generate_key("rsa-2048")


def make_cert(inv: Inventory, name: str, **kw: object) -> certlab.CertificateRecord:
    """A factory for inventory rows: EC keys unless asked, for speed."""
    kw.setdefault("key_type", "ec-p256")
    kw.setdefault("sans", (f"{name.replace('_', '-')}.example.com",))
    return inv.create_self_signed(CertSpec(name=name, **kw))  # type: ignore[arg-type]


def run_cli(*args: str, db: Path | None = None, env: dict[str, str] | None = None,
            input: bytes | None = None, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the real ``certlab`` command in a subprocess (no terminal: stdin, stdout are pipes)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLAB_")}
    full_env["PYTHONPATH"] = str(ROOT)
    full_env.update(env or {})
    cmd = [sys.executable, "-m", "certlab"] + (["--db", str(db)] if db else []) + list(args)
    proc = subprocess.run(cmd, capture_output=True, env=full_env, timeout=300,
                          input=input.decode() if input is not None else None, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"certlab {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc


@pytest.fixture
def cli_db(db_path: Path) -> Iterator[Path]:
    run_cli("init", db=db_path, check=True)
    yield db_path
