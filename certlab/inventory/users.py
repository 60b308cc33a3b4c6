"""Users and sign-in: who may use the dashboard, with salted, slow password hashes (scrypt).

A stored hash names its parameters (``scrypt$N$r$p$salt$hash``), so stronger parameters later still
verify the old hashes. Failed sign-ins are audited; after ``MAX_FAILED_SIGN_INS`` in a row the user is
locked out for ``LOCKOUT``.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hmac
import os
import re
import secrets
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from ..models import Action, Actor, Outcome, Role, iso
from ..store import Tx
from .base import InventoryBase

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SALT_BYTES, HASH_BYTES = 16, 32
MIN_PASSWORD, MAX_PASSWORD = 12, 1024
MAX_FAILED_SIGN_INS = 5
LOCKOUT = dt.timedelta(minutes=5)
_USER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.@-]{0,63}$")
SIGN_IN_FAILED = "sign-in failed: unknown user or wrong password"


if TYPE_CHECKING:
    from .results import User

# The result types live in results.py and load on first use (PEP 562): an action that returns
# none of them (reading one certificate, say) does not build them.
_RESULTS = ("User",)


def __getattr__(name: str) -> Any:
    if name in _RESULTS:
        from . import results

        return getattr(results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_user_name(name: str) -> str:
    if not isinstance(name, str) or not _USER_NAME.match(name):
        raise InvalidInputError(f"invalid user name {name!r}: a letter, then letters, digits, '_', '.', '@' or '-' "
                                "(at most 64)")
    return name


def check_password(password: str | bytes, who: str) -> bytes:
    pw = password.encode("utf-8") if isinstance(password, str) else bytes(password)
    if len(pw) < MIN_PASSWORD:
        raise InvalidInputError(f"password for {who} is too short: use at least {MIN_PASSWORD} characters")
    if len(pw) > MAX_PASSWORD:
        raise InvalidInputError(f"password for {who} is longer than {MAX_PASSWORD} bytes")
    return pw


def one_time_password() -> str:
    """A random password to hand over once (about 128 bits)."""
    return secrets.token_urlsafe(16)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: bytes, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = os.urandom(SALT_BYTES)
    digest = Scrypt(salt=salt, length=HASH_BYTES, n=n, r=r, p=p).derive(password)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: bytes, stored: str) -> bool:
    """Constant-time comparison against a stored ``scrypt$N$r$p$salt$hash``."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest, validate=True)
        got = Scrypt(salt=base64.b64decode(salt, validate=True), length=len(want), n=int(n), r=int(r),
                     p=int(p)).derive(password)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user is unknown, so that the answer takes as long as for a known user."""
    return hash_password(b"certlab-no-such-user")

_USER_COLUMNS = ("name, role, disabled, must_change_password, failed_sign_ins, locked_until, last_sign_in, "
                 "created_at")


class UserActions(InventoryBase):
    """Dashboard users: added and managed by admins; each signs in as themselves."""

    def add_user(self, name: str, role: Role | str, password: str | bytes, *,
                 must_change_password: bool = False) -> User:
        """Add a user with a password (hashed with scrypt and a random salt)."""
        self._authorize(Action.USER_ADDED, f"user:{name}")
        check_user_name(name)
        role = Role.parse(role)
        stored = hash_password(check_password(password, name))  # slow: outside the lock
        with self.db.write() as tx:
            if tx.scalar("SELECT 1 FROM users WHERE name = ?", [name]):
                raise ConflictError(f"a user called {name!r} exists already")
            now = self.now()
            tx.execute("INSERT INTO users (name, role, password_hash, disabled, must_change_password, created_at, "
                       "updated_at) VALUES (?, ?, ?, FALSE, ?, ?, ?)",
                       [name, role.value, stored, must_change_password, now, now])
            self._audit(tx, Action.USER_ADDED, f"user:{name}",
                        {"role": role.value, "must_change_password": must_change_password})
            return self._user(tx, name)

    def set_password(self, name: str, password: str | bytes, *, current_password: str | bytes | None = None,
                     must_change_password: bool = False) -> User:
        """Set a user's password: admins for anyone; a user for themselves, giving the current password."""
        obj = f"user:{name}"
        own = self.actor.name == name and current_password is not None
        if not own:
            self._authorize(Action.USER_UPDATED, obj)
        new = check_password(password, name)
        with self.db.read() as tx:
            row = tx.one("SELECT password_hash FROM users WHERE name = ?", [name])
        if row is None:
            raise NotFoundError(f"no user called {name!r}")
        if own:
            assert current_password is not None
            cur = current_password.encode("utf-8") if isinstance(current_password, str) else bytes(current_password)
            if not verify_password(cur, row[0]):
                raise self._deny(Action.USER_UPDATED, obj, f"the current password of {name} is not correct")
            if hmac.compare_digest(cur, new):
                raise InvalidInputError("the new password must differ from the current one")
            must_change_password = False
        stored = hash_password(new)
        with self.db.write() as tx:
            tx.execute("UPDATE users SET password_hash = ?, must_change_password = ?, failed_sign_ins = 0, "
                       "locked_until = NULL, updated_at = ? WHERE name = ?",
                       [stored, must_change_password, self.now(), name])
            self._audit(tx, Action.USER_UPDATED, obj, {"password_changed": True, "by_self": own,
                                                        "must_change_password": must_change_password})
            return self._user(tx, name)

    def set_user_role(self, name: str, role: Role | str) -> User:
        self._authorize(Action.USER_UPDATED, f"user:{name}")
        role = Role.parse(role)
        with self.db.write() as tx:
            old = self._user(tx, name)
            if old.role is Role.ADMIN and role is not Role.ADMIN:
                self._check_other_admin(tx, name)
            tx.execute("UPDATE users SET role = ?, updated_at = ? WHERE name = ?", [role.value, self.now(), name])
            self._audit(tx, Action.USER_UPDATED, f"user:{name}", {"role": {"from": old.role.value, "to": role.value}})
            return self._user(tx, name)

    def set_user_disabled(self, name: str, disabled: bool) -> User:
        """Disable (or enable again) a user's sign-in; their audit history stays."""
        self._authorize(Action.USER_UPDATED, f"user:{name}")
        with self.db.write() as tx:
            old = self._user(tx, name)
            if disabled and old.role is Role.ADMIN:
                self._check_other_admin(tx, name)
            tx.execute("UPDATE users SET disabled = ?, failed_sign_ins = 0, locked_until = NULL, updated_at = ? "
                       "WHERE name = ?", [disabled, self.now(), name])
            self._audit(tx, Action.USER_UPDATED, f"user:{name}", {"disabled": disabled})
            return self._user(tx, name)

    def users(self) -> list[User]:
        """Every user (admins and auditors: who has access is part of an audit)."""
        self._authorize(Action.QUERIED, "users", (Role.ADMIN, Role.AUDITOR))
        with self.db.read() as tx:
            return [_to_user(r) for r in tx.rows(f"SELECT {_USER_COLUMNS} FROM users ORDER BY name")]

    def user(self, name: str) -> User:
        """One user: anyone may read their own entry; admins and auditors anyone's."""
        if name != self.actor.name:
            self._authorize(Action.QUERIED, f"user:{name}", (Role.ADMIN, Role.AUDITOR))
        with self.db.read() as tx:
            return self._user(tx, name)

    def has_users(self) -> bool:
        with self.db.read() as tx:
            return bool(tx.scalar("SELECT count(*) FROM users"))

    def authenticate(self, name: str, password: str | bytes) -> Actor:
        """Check a user's password; the Actor to act as, or PermissionDeniedError. Every attempt is audited."""
        pw = password.encode("utf-8") if isinstance(password, str) else bytes(password)
        valid_name = isinstance(name, str) and bool(_USER_NAME.match(name))
        row = None
        if valid_name:
            with self.db.read() as tx:
                row = tx.one("SELECT role, password_hash, disabled, locked_until FROM users WHERE name = ?", [name])
        now = self.now()
        ok = verify_password(pw[:MAX_PASSWORD], row[1] if row else _dummy_hash())
        shown = name if valid_name else repr(name)[:66]
        if row is None:
            self._sign_in_failed(shown, "unknown user", count=False)
            raise PermissionDeniedError(SIGN_IN_FAILED)
        role, _, disabled, locked_until = row
        if disabled:
            self._sign_in_failed(name, "user is disabled", count=False)
            raise PermissionDeniedError(f"sign-in refused: user {name} is disabled; ask an admin")
        if locked_until is not None and locked_until > now:
            self._sign_in_failed(name, "locked after repeated failed sign-ins", count=False)
            raise PermissionDeniedError(f"sign-in refused: too many failed attempts for {name}; "
                                        f"try again after {locked_until:%H:%M} UTC")
        if not ok:
            self._sign_in_failed(name, "wrong password", count=True)
            raise PermissionDeniedError(SIGN_IN_FAILED)
        actor = Actor(name, Role.parse(role))
        with self.db.write() as tx:
            tx.execute("UPDATE users SET failed_sign_ins = 0, locked_until = NULL, last_sign_in = ? WHERE name = ?",
                       [now, name])
            self.as_actor(actor)._audit(tx, Action.SIGNED_IN, f"user:{name}", {})
        return actor

    # --- internals ------------------------------------------------------------------------------------

    def _sign_in_failed(self, name: str, reason: str, *, count: bool) -> None:
        with self.db.write() as tx:
            details: dict[str, Any] = {"reason": reason}
            if count:
                failed = int(tx.scalar("SELECT failed_sign_ins FROM users WHERE name = ?", [name]) or 0) + 1
                locked = self.now() + LOCKOUT if failed >= MAX_FAILED_SIGN_INS else None
                tx.execute("UPDATE users SET failed_sign_ins = ?, locked_until = ? WHERE name = ?",
                           [0 if locked else failed, locked, name])
                details["failed_in_a_row"] = failed
                if locked:
                    details["locked_until"] = iso(locked)
            self._audit(tx, Action.SIGN_IN_FAILED, f"user:{name}", details, Outcome.DENIED)

    def _user(self, tx: Tx, name: str) -> User:
        row = tx.one(f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", [name])
        if row is None:
            raise NotFoundError(f"no user called {name!r}")
        return _to_user(row)

    def _check_other_admin(self, tx: Tx, name: str) -> None:
        others = tx.scalar("SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled AND name <> ?", [name])
        if not others:
            raise ConflictError(f"{name} is the last admin who can sign in: add another admin first")


def _to_user(row: tuple[Any, ...]) -> User:
    from .results import User

    return User(name=row[0], role=Role.parse(row[1]), disabled=bool(row[2]), must_change_password=bool(row[3]),
                failed_sign_ins=int(row[4]), locked_until=row[5], last_sign_in=row[6], created_at=row[7])
