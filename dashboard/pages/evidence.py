"""Evidence pack for auditors: one zip with the inventory, the period's audit events with the chain
verification and head, the expiry timeline as PNG, and a summary."""

import datetime as dt

import streamlit as st

from certlab import CertFilter
from dashboard import charts, session, state

inv = session.inventory()
st.title("Evidence pack")
session.role_note("make an evidence pack (the export is audited).", "make an evidence pack (the export is audited).")
st.markdown("One download for a compliance review: **inventory.csv**, **audit_events.csv** for the period, "
            "**audit_verification.json** (result and head hash), **expiry_timeline.png** and **summary.md** "
            "(counts, what expired or was rotated in the period).")
today = inv.now().date()
c = st.columns(2)
since = c[0].date_input("Period from (UTC)", today - dt.timedelta(days=90), key="ev_since")
until = c[1].date_input("Period until (UTC, inclusive)", today, key="ev_until")
if st.button("Make the evidence pack", type="primary", key="ev_make"):
    start = dt.datetime.combine(since, dt.time())
    end = dt.datetime.combine(until, dt.time()) + dt.timedelta(days=1)
    with st.spinner("Verifying the audit chain and drawing the timeline..."):
        page = inv.certificate_page(CertFilter(), page_size=charts.MAX_BARS)
        now = inv.now()
        if page.total <= charts.MAX_BARS:
            chart = charts.timeline_chart(charts.timeline_frame(page.records), now)
        else:
            chart = charts.expiry_points_chart(charts.bins_frame(inv.expiry_bins("week")), now)
        blob = session.attempt(lambda: inv.evidence_pack(start, end, attachments={"expiry_timeline.png": charts.to_png(chart)}))
    if blob is not None:
        st.session_state[state.EVIDENCE_PACK] = blob
pack = st.session_state.get(state.EVIDENCE_PACK)
if pack is not None:
    st.success(f"{pack.filename} is ready ({len(pack) // 1024 + 1} KiB).")
    st.download_button(f"Save {pack.filename}", pack.bytes(), file_name=pack.filename, mime=pack.media_type,
                       icon=":material/download:", key="ev_save")
