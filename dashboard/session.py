"""The Inventory for this server and session, sign-in state, and showing errors. No SQL, no crypto."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import streamlit as st

import certlab
from certlab import Actor, AuditFilter, CertlabError, Role

from . import state

if TYPE_CHECKING:
    from certlab.store.audit import Verification  # the type verify_audit returns

APP_NAME = "certlab"
APP_ICON = ":material/verified_user:"
SERVER_ACTOR = Actor("dashboard", Role.ANALYST)  # signs users in; acts for no one
T = TypeVar("T")


def db_path() -> Path:
    """As the CLI finds it: ``$CERTLAB_DB``, else ``data/certlab.duckdb``."""
    return Path(os.environ.get("CERTLAB_DB") or Path("data") / "certlab.duckdb").expanduser().absolute()


@st.cache_resource(show_spinner=False)
def _server_inventory(path: str) -> certlab.Inventory:
    """One Inventory per server (and database); sessions act on copies bound to their user."""
    return certlab.open(path, actor=SERVER_ACTOR)


def server_inventory() -> certlab.Inventory:
    return _server_inventory(str(db_path()))


def actor() -> Actor | None:
    value = st.session_state.get(state.ACTOR)
    return value if isinstance(value, Actor) else None


def inventory(*, password_change: bool = False) -> certlab.Inventory:
    """The Inventory acting as the signed-in user; stops the page for anyone not signed in, or still
    holding a one-time password (only the password page takes ``password_change=True``)."""
    who = actor()
    if who is None or (st.session_state.get(state.MUST_CHANGE_PASSWORD) and not password_change):
        st.stop()
    return server_inventory().as_actor(who)


VERIFY_MAX_AGE = dt.timedelta(minutes=5)


def chain_verification(inv: certlab.Inventory, expect_head: str | None = None, *,
                       again: bool = False) -> tuple[Verification, dt.datetime]:
    """The audit chain's verification and when it ran: at most once per session while the newest event
    stays the same, for at most ``VERIFY_MAX_AGE`` (walking 100,000 events takes seconds and pages rerun
    on every click). A new session (sign-in, reload) verifies again; ``again`` forces it."""
    newest = next(iter(inv.audit_events(AuditFilter(newest_first=True, limit=1))), None)
    what = (str(inv.path), f"{newest.seq}:{newest.hash}" if newest else "", expect_head or "")
    kept = st.session_state.get(state.VERIFIED)
    now = inv.now()
    if not again and kept is not None and kept[0] == what and now - kept[1] < VERIFY_MAX_AGE:
        return kept[2], kept[1]
    result = inv.verify_audit(expect_head)
    st.session_state[state.VERIFIED] = (what, now, result)
    return result, now


def sign_in(name: str, password: str) -> Actor:
    inv = server_inventory()
    who = inv.authenticate(name.strip(), password)
    user = inv.as_actor(who).user(who.name)
    st.session_state[state.ACTOR] = who
    st.session_state[state.MUST_CHANGE_PASSWORD] = user.must_change_password
    return who


def sign_out() -> None:
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def is_admin() -> bool:
    who = actor()
    return who is not None and who.role is Role.ADMIN


def attempt(action: Callable[[], T], *, where: Any = None) -> T | None:
    """Run one Inventory action; show a CertlabError in place (``where``: a container) and return None."""
    try:
        return action()
    except CertlabError as exc:
        (where or st).error(str(exc), icon=":material/error:")
        return None


def flash(kind: str, text: str) -> None:
    """A message shown once, after the rerun that follows an action."""
    st.session_state[state.FLASH] = (kind, text)


def show_flash() -> None:
    kind, text = st.session_state.pop(state.FLASH, (None, None))
    if text:
        {"success": st.success, "warning": st.warning, "info": st.info}.get(kind or "", st.info)(text)


def role_note(admin_can: str, others: str = "You can review; changes are made by admins.") -> None:
    """What the signed-in user's role may do on this page."""
    who = actor()
    if who is None:
        return
    if who.role is Role.ADMIN:
        st.caption(f":material/shield_person: Signed in as **{who.name}** (admin): {admin_can}")
    else:
        st.caption(f":material/visibility: Signed in as **{who.name}** ({who.role.value}): {others}")
