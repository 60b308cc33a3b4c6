"""A Blob: bytes with a kind, to hand to files and to people (trustme's idea)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Blob:
    """Some bytes to write out. ``secret`` blobs hide their content in repr and are written 0600."""

    data: bytes = field(repr=False)
    filename: str = "certlab.bin"
    media_type: str = "application/octet-stream"
    secret: bool = False

    def bytes(self) -> bytes:
        return self.data

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        shown = "<secret>" if self.secret else f"{len(self.data)} bytes"
        return f"Blob(filename={self.filename!r}, media_type={self.media_type!r}, {shown})"

    def write_to_path(self, path: str | os.PathLike[str], append: bool = False) -> Path:
        """Write the bytes; secret blobs are created with mode 0600 before any byte is written."""
        p = Path(path)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
        fd = os.open(p, flags, 0o600 if self.secret else 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.data)
        if self.secret:
            os.chmod(p, 0o600)
        return p
