"""Bulk actions: fill an inventory with a synthetic organisation's certificates (demos at scale, benchmarks)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.serialization import Encoding

from ..errors import ConflictError, InvalidInputError
from ..models import Action
from ..store import audit as audit_chain
from .base import InventoryBase

MAX_SYNTHETIC = 5_000_000


if TYPE_CHECKING:
    from .results import SyntheticResult

# The result types live in results.py and load on first use (PEP 562): an action that returns
# none of them (reading one certificate, say) does not build them.
_RESULTS = ("SyntheticResult",)


def __getattr__(name: str) -> Any:
    if name in _RESULTS:
        from . import results

        return getattr(results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class BulkActions(InventoryBase):
    """Actions that write many rows at once, always as batches (never row by row)."""

    def generate_synthetic(
        self,
        n: int,
        *,
        audit_events: int = 0,
        seed: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> SyntheticResult:
        """Add ``n`` real certificates signed by a few new synthetic CAs, tagged ``synthetic``.

        The certificates are built before the lock is taken and written in batches in one transaction
        with one audit event. ``audit_events`` adds that many plausible past events (dated over the
        last year, marked ``"synthetic": true``) to the audit chain, for audit views at scale.
        """
        from .. import synthetic
        from .results import SyntheticResult

        self._authorize(Action.SYNTHETIC_GENERATED, "synthetic inventory")
        for label, value in (("certificate count", n), ("audit event count", audit_events)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SYNTHETIC:
                raise InvalidInputError(f"synthetic {label} must be a whole number from 0 to {MAX_SYNTHETIC:,}, not {value!r}")
        now = self.now()
        plan = synthetic.make_plan(seed=seed, now=now)
        ca_rows = synthetic.ca_rows(plan)
        ca_cols = {k: [r[k] for r in ca_rows] for k in ca_rows[0]}
        ca_pems = [ca.certificate.public_bytes(Encoding.PEM).decode() for ca in plan.cas]
        batches: list[dict[str, list[Any]]] = []
        made = 0
        for cols in synthetic.leaf_batches(plan, n):
            cols["chain_pem"] = [ca_pems[i] if i >= 0 else "" for i in cols["issuer_index"]]
            batches.append(cols)
            made += len(cols["name"])
            if progress is not None:
                progress(made, n + audit_events)
        names = [ca.name for ca in plan.cas]
        objects = [str(x) for x in batches[0]["name"][:1000]] if batches else names
        events: list[dict[str, Any]] = []
        for chunk in synthetic.audit_batches(plan.rng, audit_events, start=now - dt.timedelta(days=365), end=now,
                                             objects=objects):
            events.extend(chunk)
            if progress is not None:
                progress(n + len(events), n + audit_events)
        import duckdb

        with self.db.write() as tx:
            # rows(), not next_id(): DuckDB refuses a frame insert while a fetchone() result is pending.
            base = int(tx.rows("SELECT coalesce(max(id), 0) + 1 FROM certificates")[0][0])
            try:
                self._insert_batch(tx, ca_cols, base, now)
                next_id = base + len(ca_rows)
                for cols in batches:
                    self._insert_batch(tx, cols, next_id, now, ca_base=base)
                    next_id += len(cols["name"])
            except (duckdb.ConstraintException, duckdb.TransactionException) as exc:
                raise ConflictError(f"synthetic certificates clash with the inventory ({str(exc).splitlines()[0][:160]}); "
                                    "run again") from None
            audit_chain.append_many(tx, self._keyring().audit_key, events)
            self._audit(tx, Action.SYNTHETIC_GENERATED, "synthetic inventory", {
                "certificates": n, "cas": names, "audit_events": audit_events, "tag": "synthetic",
                "token": plan.token,
            })
        return SyntheticResult(n, tuple(names), audit_events, plan.token)

    @staticmethod
    def _insert_batch(tx: Any, cols: dict[str, list[Any]], first_id: int, now: dt.datetime,
                      ca_base: int | None = None) -> None:
        size = len(cols["name"])
        batch = {k: v for k, v in cols.items() if k != "issuer_index"}
        batch["id"] = list(range(first_id, first_id + size))
        batch["issuer_cert_id"] = ([None] * size if ca_base is None else
                                   [i + ca_base if i >= 0 else None for i in cols["issuer_index"]])
        batch["created_at"] = [now] * size
        batch["updated_at"] = [now] * size
        batch["exportable"] = [False] * size
        tx.insert_rows("certificates", batch)

