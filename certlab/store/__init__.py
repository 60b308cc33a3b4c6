"""The store: the only code that knows it talks to DuckDB."""

from .db import Database, Tx

__all__ = ["Database", "Tx"]
