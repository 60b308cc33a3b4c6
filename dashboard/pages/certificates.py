"""Certificates: a searchable, filterable, paginated table; a detail view with every field, the chain,
where it is used, lineage and its audit history; the actions the signed-in role may take."""

import streamlit as st

from certlab import AuditFilter
from dashboard import certificate_detail, filters, fmt, session, state

inv = session.inventory()
st.title("Certificates")
session.role_note("download, export keystores, upload signed chains, rotate, cut over, revoke, delete.",
                  "you can review every field and download certificates; changes are made by admins.")
session.show_flash()

options = inv.filter_options()
f = filters.widgets(options, key="certs")
page_size = 50
current_page = int(st.session_state.get(state.CERT_PAGE, 1))
page = inv.certificate_page(f.cert_filter(), expiry=f.expiry(), page=current_page, page_size=page_size)
now = inv.now()
if page.total == 0:
    st.info("No certificate matches. Clear the filters above, or create or import one on **Create**."
            if f.active_count() else "The inventory is empty: create or import a certificate on **Create**.")
    st.stop()

st.caption(f"{fmt.count_text(page.total, 'certificate matches', 'certificates match')} · page {page.page} of {page.pages} · soonest expiry first")
st.dataframe(fmt.records_frame(page.records, now), hide_index=True, width="stretch",
             column_config={"Not after (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})
nav = st.columns([1, 1, 6])
if nav[0].button("← Previous", disabled=page.page <= 1, key="certs_prev"):
    st.session_state[state.CERT_PAGE] = page.page - 1
    st.rerun()
if nav[1].button("Next →", disabled=page.page >= page.pages, key="certs_next"):
    st.session_state[state.CERT_PAGE] = page.page + 1
    st.rerun()

st.divider()
names = [r.name for r in page.records]
selected = st.session_state.get(state.SELECTED_CERT)
chosen = st.selectbox("Open a certificate", names, index=names.index(selected) if selected in names else None,
                      placeholder="choose one from this page", key="certs_open")
if chosen:
    st.session_state[state.SELECTED_CERT] = chosen
    record = session.attempt(lambda: inv.get(chosen))
    if record is not None:
        certificate_detail.show(inv, record, now)
        st.subheader("Audit history")
        events = inv.audit_events(AuditFilter(object=chosen, newest_first=True, limit=50))
        st.dataframe([{"#": e.seq, "When (UTC)": fmt.utc_text(e.at), "Actor": f"{e.actor} ({e.role})",
                       "Action": e.action, "Outcome": e.outcome} for e in events], hide_index=True, width="stretch")
