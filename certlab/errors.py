"""The one hierarchy of user-facing errors.

Each class also inherits the matching built-in, so ``except ValueError`` keeps working. Messages are
one line, name the file or object concerned, and never contain key material.
"""

from __future__ import annotations

import re

# What a pasted key looks like inside a message that quotes the user's input: PEM armour, and long
# runs of base64 that mix upper case, lower case and digits (hex fingerprints and names do not).
_PEM_ARMOUR = re.compile(r"-----(BEGIN|END) [A-Z0-9 ]*PRIVATE KEY-----")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{32,}={0,2}")


def _redact_run(m: re.Match[str]) -> str:
    run = m.group(0)
    if re.search(r"[A-Z]", run) and re.search(r"[a-z]", run) and re.search(r"[0-9]", run):
        return "[redacted]"
    return run


def redact(text: str) -> str:
    """The text with anything that may be key material replaced by ``[redacted]``."""
    return _BASE64_RUN.sub(_redact_run, _PEM_ARMOUR.sub("[redacted]", text))


class CertlabError(Exception):
    """Base of every error certlab shows to a user."""

    def __init__(self, message: str) -> None:
        # One line, always: a multi-line message would break the CLI's one-line promise. A message that
        # quotes input the user pasted by mistake (a key in a name field) never repeats key material.
        super().__init__(redact(" ".join(str(message).split())))

    @property
    def message(self) -> str:
        return str(self.args[0])

    def __str__(self) -> str:
        return self.message


class InvalidInputError(CertlabError, ValueError):
    """A bad name, SAN, key size, date or other form field."""


class FormatError(CertlabError, ValueError):
    """An unparsable PEM, DER, PKCS#7 or PKCS#12 file."""


class WrongPasswordError(FormatError):
    """A password that does not open a keystore or an encrypted key."""


class PasswordRequiredError(WrongPasswordError):
    """A keystore or encrypted key was given without any password."""


class NotFoundError(CertlabError, KeyError):
    """No certificate, credential or user of that name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class ConflictError(CertlabError):
    """A duplicate name or fingerprint, or a delete of a certificate in use."""


class ChainError(CertlabError):
    """A chain that does not link, or a signed certificate that does not match its key."""


class PermissionDeniedError(CertlabError, PermissionError):
    """The actor's role may not do this, or the private key is not exportable."""


class EndpointError(CertlabError, ConnectionError):
    """An endpoint that cannot be reached, or that refuses the TLS session (the message says why)."""


class StoreError(CertlabError):
    """The database is busy, damaged, or newer than this code."""


class InventoryBusyError(StoreError):
    """Another process held the inventory for longer than the wait allows."""


__all__ = [
    "CertlabError",
    "ChainError",
    "ConflictError",
    "EndpointError",
    "FormatError",
    "InvalidInputError",
    "InventoryBusyError",
    "NotFoundError",
    "PasswordRequiredError",
    "PermissionDeniedError",
    "StoreError",
    "WrongPasswordError",
]
