"""Choose a new password (required after a one-time password)."""

import streamlit as st

from dashboard import session, state

who = session.actor()
inv = session.inventory(password_change=True)
forced = bool(st.session_state.get(state.MUST_CHANGE_PASSWORD))
st.title("Choose a password" if forced else "Change password")
if forced:
    st.info(f"Welcome, {who.name if who else ''}. You signed in with a one-time password: choose your own "
            "(at least 12 characters) to continue.")
left, _ = st.columns([2, 3])
with left, st.form("change_password", clear_on_submit=True):
    current = st.text_input("Current password", type="password", autocomplete="current-password")
    new = st.text_input("New password", type="password", autocomplete="new-password")
    again = st.text_input("New password again", type="password", autocomplete="new-password")
    if st.form_submit_button("Save password", type="primary"):
        if new != again:
            st.error("The two new passwords differ.")
        elif who is not None and session.attempt(lambda: inv.set_password(who.name, new, current_password=current)):
            st.session_state[state.MUST_CHANGE_PASSWORD] = False
            session.flash("success", "Password changed.")
            st.rerun()
session.show_flash()
