"""Users: who may sign in, with which role. Admins add users and reset passwords; auditors review."""

import streamlit as st

from certlab.inventory.users import one_time_password
from dashboard import fmt, session

inv = session.inventory()
st.title("Users")
session.role_note("add users, reset passwords, disable accounts.", "you can review who has access.")
session.show_flash()
users = session.attempt(inv.users)
if users is None:
    st.stop()
now = inv.now()
st.dataframe([{"User": u.name, "Role": u.role.value,
               "State": "disabled" if u.disabled else ("locked" if u.locked_until and u.locked_until > now else
                                                      ("must change password" if u.must_change_password else "active")),
               "Last sign-in": fmt.ago_text(u.last_sign_in, now)} for u in users], hide_index=True, width="stretch")
if not session.is_admin():
    st.stop()
left, right = st.columns(2)
with left, st.form("user_add"):
    st.markdown("**Add a user** (gets a one-time password to change at first sign-in)")
    name = st.text_input("User name", key="user_add_name")
    role = st.selectbox("Role", ["auditor", "admin", "analyst"], key="user_add_role")
    if st.form_submit_button("Add user", type="primary"):
        password = one_time_password()
        if session.attempt(lambda: inv.add_user(name.strip(), role, password, must_change_password=True)):
            st.success(f"Added {name.strip()} ({role}). One-time password, shown only now: `{password}`")
with right, st.form("user_manage"):
    st.markdown("**Reset password or disable**")
    who = st.selectbox("User", [u.name for u in users], key="user_manage_name")
    c = st.columns(3)
    reset = c[0].form_submit_button("Reset password")
    disable = c[1].form_submit_button("Disable")
    enable = c[2].form_submit_button("Enable")
    if reset:
        password = one_time_password()
        if session.attempt(lambda: inv.set_password(who, password, must_change_password=True)):
            st.success(f"New one-time password for {who}, shown only now: `{password}`")
    if disable or enable:
        if session.attempt(lambda: inv.set_user_disabled(who, bool(disable))):
            session.flash("success", f"{who} {'disabled' if disable else 'enabled'}.")
            st.rerun()
