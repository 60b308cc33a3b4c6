"""Which CAs a callout trusts for the server (``certlab.integrations.tls.Trust``).

In a module of its own so that the Inventory can use it as a default argument without importing
``ssl`` and the TLS code: commands that make no callout do not pay for them.
"""

from __future__ import annotations

import enum

from ..errors import InvalidInputError


class Trust(enum.Enum):
    """Which CAs a callout trusts for the server: the inventory's trust store, the system's, or both."""

    INVENTORY = "inventory"
    SYSTEM = "system"
    BOTH = "both"

    @classmethod
    def parse(cls, value: str | Trust) -> Trust:
        if isinstance(value, Trust):
            return value
        for m in cls:
            if m.value == str(value).strip().lower():
                return m
        raise InvalidInputError(f"unknown trust {value!r}: choose inventory, system or both")
