"""Sign in: every action afterwards runs as this user and is audited under their name."""

import streamlit as st

from dashboard import session

st.title("Sign in to certlab")
st.caption("Certificate and key management for admins, auditors and analysts.")
left, _ = st.columns([2, 3])
with left, st.form("sign_in"):
    name = st.text_input("User name", autocomplete="username")
    password = st.text_input("Password", type="password", autocomplete="current-password")
    submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    if submitted:
        if not name or not password:
            st.error("Enter your user name and password.")
        elif session.attempt(lambda: session.sign_in(name, password)):
            st.rerun()
left.caption("First start? `certlab dashboard` printed one-time passwords for **admin** and **auditor**. "
             "Admins add users with `certlab user add NAME --role admin|auditor|analyst`.")
