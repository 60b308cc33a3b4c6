"""The Inventory: the one door to persistence. Each public method is one user action."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..models import Action, Actor
from ..store import vault
from .analytics import AnalyticsActions
from .base import InventoryBase
from .bulk import BulkActions
from .core import CoreActions
from .integrations import IntegrationActions
from .lifecycle import LifecycleActions
from .maintenance import MaintenanceActions
from .reminders import ReminderActions
from .reports import ReportActions
from .rotation import RotationActions
from .users import UserActions

if TYPE_CHECKING:
    from .results import (
        BackupResult,
        CAStatus,
        DeliveryResult,
        ImportSource,
        MasterKeyRotation,
        ParquetExport,
        RestoreResult,
        RotationDue,
        RotationOutcome,
        RotationPolicy,
        SyntheticResult,
        User,
    )

_RESULTS = ("BackupResult", "CAStatus", "DeliveryResult", "ImportSource", "MasterKeyRotation", "ParquetExport",
            "RestoreResult", "RotationDue", "RotationOutcome", "RotationPolicy", "SyntheticResult", "User")


def __getattr__(name: str) -> Any:
    """The result types (results.py) load on first use (PEP 562)."""
    if name in _RESULTS:
        from . import results

        return getattr(results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Inventory(MaintenanceActions, AnalyticsActions, ReminderActions, RotationActions, LifecycleActions,
                IntegrationActions, CoreActions, BulkActions, UserActions, ReportActions):
    """A certlab inventory in one DuckDB file, acting as one actor.

    Action groups live in their own modules (core, lifecycle, integrations, analytics, ...) and are
    mixed in here.
    """


def init(path: str | os.PathLike[str], *, actor: Actor | None = None, **options: object) -> Inventory:
    """Create the database and its key file (mode 0600). Safe to call on an existing inventory.

    ``options`` go to ``Inventory`` (``warning_days``, ``lock_timeout``, ``clock``).
    """
    inv = Inventory(path, actor=actor, **options)  # type: ignore[arg-type]
    inv.db.path.parent.mkdir(parents=True, exist_ok=True)
    key_file = vault.key_file_for(inv.db.path)
    if not key_file.exists():
        if inv.db.exists():
            from ..errors import StoreError

            raise StoreError(f"{inv.db.path} exists but its key file {key_file} is missing")
        vault.create_key_file(key_file)
    vault.load_keyring(key_file)  # refuses a key file others can read
    created = inv.db.create()
    if created:
        with inv.db.write() as tx:
            inv._audit(tx, Action.INITIALISED, str(inv.db.path.name), {"schema": "current"})
    return inv


def open(path: str | os.PathLike[str], *, actor: Actor | None = None, **options: object) -> Inventory:
    """Open an existing inventory (``certlab init`` makes one)."""
    inv = Inventory(path, actor=actor, **options)  # type: ignore[arg-type]
    inv.db._require()
    vault.load_keyring(inv.key_file)
    inv._finish_master_key_rotation()
    return inv


__all__ = ["BackupResult", "CAStatus", "DeliveryResult", "ImportSource", "Inventory", "InventoryBase", "MasterKeyRotation", "ParquetExport", "RestoreResult", "RotationDue", "RotationOutcome", "RotationPolicy", "SyntheticResult", "User", "init", "open"]
