"""The demo inventory for the notebooks, and an evidence manifest.

``demo_inventory(folder)`` creates a fresh inventory in ``folder`` (a temporary folder in the notebooks,
so running them changes nothing of the user's data) and fills it with the demo organisation of
``certlab.demo`` (the one ``certlab demo`` and the dashboard show): an internal root and issuing CA,
issued, CA-signed and self-signed certificates of every key type, pending CSRs, imported certificates that
fail policy (RSA-1024, SHA-1, expired), named credentials using them, and a year of history with
sensitive actions (exports, deletions, rotations, revocations, denied attempts) in both the previous and
the current 30-day period.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from . import demo
from .demo import seed_demo
from .errors import CertlabError
from .inventory import Inventory
from .models import Actor

DEMO_ADMIN: Actor = demo.ADMIN
DEMO_AUDITOR: Actor = demo.AUDITOR
DEMO_ANALYST: Actor = demo.ANALYST


def demo_inventory(folder: str | os.PathLike[str] | None = None, *, actor: Actor = DEMO_ADMIN) -> Inventory:
    """A new inventory at ``folder/certlab.duckdb`` (a new temporary folder if None), seeded with the demo,
    acting as ``actor``."""
    base = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="certlab-demo-"))
    path = base / "certlab.duckdb"
    if path.exists():
        raise CertlabError(f"{path} exists already: the demo needs an empty folder")
    inv = demo.create_inventory(path, actor=DEMO_ADMIN)
    seed_demo(inv)
    return inv.as_actor(actor)


def evidence_manifest(folder: str | os.PathLike[str]) -> list[dict[str, object]]:
    """Every file under ``folder`` with its size and SHA-256, written to ``folder/MANIFEST.json`` too.

    The manifest lets a reviewer show later that the evidence handed over is unchanged.
    """
    import hashlib
    import json

    root = Path(folder)
    rows: list[dict[str, object]] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "MANIFEST.json"):
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        rows.append({"file": path.relative_to(root).as_posix(), "bytes": path.stat().st_size,
                     "sha256": digest.hexdigest()})
    (root / "MANIFEST.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return rows


__all__ = ["DEMO_ADMIN", "DEMO_ANALYST", "DEMO_AUDITOR", "demo_inventory", "evidence_manifest", "seed_demo"]
