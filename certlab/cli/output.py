"""Terminal output: tables, colour, progress, JSON, passwords. Nothing here knows the inventory."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError

RED, YELLOW, GREEN, DIM, RESET = "\033[31m", "\033[33m", "\033[32m", "\033[2m", "\033[0m"


def is_tty() -> bool:
    return sys.stdout.isatty()


def use_colour() -> bool:
    return is_tty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def wants_json(args: Any) -> bool:
    """``--json``, or stdout is not a terminal: then only the document is printed."""
    return bool(getattr(args, "json", False)) or (not is_tty() and not getattr(args, "table", False))


def print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str, ensure_ascii=False) + "\n")


def _clean(value: Any) -> str:
    text = "" if value is None else str(value)
    # Never let stored text drive the terminal: control characters are shown escaped.
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], colours: Sequence[str | None] | None = None) -> None:
    cells = [[_clean(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    colour = use_colour()
    out = sys.stdout
    head = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths)).rstrip()
    out.write((DIM + head + RESET if colour else head) + "\n")
    for i, row in enumerate(cells):
        line = "  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip()
        c = colours[i] if colours and colour else None
        out.write((c + line + RESET if c else line) + "\n")


def status_colour(status: str) -> str | None:
    return {"expired": RED, "revoked": RED, "expiring": YELLOW, "pending": DIM}.get(status)


def info(message: str) -> None:
    """A human message: to stderr, so that stdout carries only the document."""
    sys.stderr.write(message + "\n")


class Progress:
    """A progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < 2:
            return
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


def read_password(path: str | None, what: str, *, confirm: bool = False) -> bytes:
    """The first line of ``path`` (as openssl's ``file:``), else a prompt on a terminal, else an error."""
    if path:
        try:
            with Path(path).open("rb") as fh:
                line = fh.readline()
        except OSError as exc:
            raise InvalidInputError(f"password file {path}: cannot be read ({exc.strerror})") from None
        pw = line.rstrip(b"\r\n")
        if not pw:
            raise InvalidInputError(f"password file {path}: first line is empty")
        return pw
    if not sys.stdin.isatty():
        raise InvalidInputError(f"{what} needs a password: give --password-file FILE (no terminal to ask on)")
    try:
        import getpass

        first = getpass.getpass(f"{what} password: ")
        if confirm and getpass.getpass("Again: ") != first:
            raise InvalidInputError("the two passwords differ")
    except EOFError:
        raise InvalidInputError(f"{what}: no password was typed") from None
    if not first:
        raise InvalidInputError(f"{what}: the password is empty")
    return first.encode("utf-8")


class PasswordPrompt:
    """A password asked on the terminal the first time it is needed, then remembered."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.value: bytes | None = None

    def __call__(self) -> bytes:
        if self.value is None:
            self.value = read_password(None, self.what)
        return self.value


def days_text(days: int | None) -> str:
    if days is None:
        return "-"
    if days < 0:
        return f"expired {-days}d ago"
    return f"{days}d"
