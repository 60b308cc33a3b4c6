"""The store: the only code that knows it talks to DuckDB."""

from .db import Database, Tx, in_list

__all__ = ["Database", "Tx", "in_list"]
