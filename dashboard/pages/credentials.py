"""Named credentials: which integration uses which certificate; add, rebind, remove."""

import streamlit as st

from certlab.inventory.core import CREDENTIAL_PURPOSES
from dashboard import fmt, session

inv = session.inventory()
st.title("Named credentials")
session.role_note("add, rebind and remove named credentials.", "you can review which integration uses what.")
session.show_flash()
now = inv.now()
creds = inv.credential_states(at=now)
if creds:
    st.dataframe([{"Integration": c.name, "Purpose": c.purpose, "Endpoint": c.endpoint, "Certificate": c.certificate,
                   "Certificate state": fmt.STATUS_LABELS.get(c.status, c.status),
                   "Expiry": fmt.expiry_text(c.not_after, now, c.status), "Owner": c.owner} for c in creds],
                 hide_index=True, width="stretch")
else:
    st.info("No named credentials yet. Add one below so that expiries show which integrations they break.")

left, right = st.columns(2)
with left, st.form("credential_add", clear_on_submit=False):
    st.markdown("**Add a named credential**")
    name = st.text_input("Name", placeholder="payment_gateway", key="cred_name")
    cert = st.text_input("Certificate (unique name)", placeholder="payments_mtls", key="cred_cert",
                         help="Find it on Certificates; pending, revoked or retired ones cannot be bound.").strip()
    endpoint = st.text_input("Endpoint (URL or HOST:PORT)", placeholder="https://pay.example.com/api", key="cred_endpoint")
    purpose = st.selectbox("Purpose", CREDENTIAL_PURPOSES, key="cred_purpose")
    owner = st.text_input("Owner (team)", key="cred_owner")
    if st.form_submit_button("Add", type="primary"):
        if not cert:
            st.error("Choose the certificate the integration uses.")
        elif session.attempt(lambda: inv.add_credential(name.strip(), certificate=cert, endpoint=endpoint,
                                                        purpose=purpose, owner=owner.strip())):
            session.flash("success", f"Named credential {name.strip()} added.")
            st.rerun()
with right:
    if creds:
        with st.form("credential_rebind"):
            st.markdown("**Rebind to another certificate**")
            which = st.selectbox("Named credential", [c.name for c in creds], key="rebind_name")
            to = st.text_input("New certificate (unique name)", key="rebind_cert").strip()
            if st.form_submit_button("Rebind"):
                if not to:
                    st.error("Choose the new certificate.")
                elif session.attempt(lambda: inv.rebind_credential(which, to)):
                    session.flash("success", f"{which} now uses {to}.")
                    st.rerun()
        with st.form("credential_delete"):
            st.markdown("**Remove**")
            which_del = st.selectbox("Named credential", [c.name for c in creds], key="delete_cred_name")
            if st.form_submit_button("Remove named credential"):
                if session.attempt(lambda: inv.delete_credential(which_del)) is None and \
                        which_del not in {c.name for c in inv.credentials()}:
                    session.flash("success", f"Named credential {which_del} removed.")
                    st.rerun()

if creds:
    st.subheader("Test connection")
    st.caption("A real TLS handshake with the endpoint, presenting the certificate for mTLS credentials. Audited.")
    with st.form("credential_test"):
        which_test = st.selectbox("Named credential", [c.name for c in creds], key="test_cred_name")
        if st.form_submit_button("Test connection", icon=":material/network_check:"):
            with st.spinner(f"Connecting for {which_test}..."):
                report = session.attempt(lambda: inv.test_connection(which_test, timeout=10.0))
            if report is not None:
                if report.connected:
                    st.success(f"Connected to {report.endpoint} ({report.tls_version}); server "
                               f"{'trusted' if report.server_trusted else 'NOT trusted'}"
                               + ("" if report.client_cert_accepted is None else
                                  f"; our certificate {'accepted' if report.client_cert_accepted else 'refused'}"))
                else:
                    st.error(f"Could not connect to {report.endpoint}: {report.reason or report.problem}")
                for note in report.notes:
                    st.caption(note)
