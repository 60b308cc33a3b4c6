"""Audit trail: every action and refusal, filterable; the hash chain's verification shown plainly; CSV."""

import datetime as dt

import streamlit as st

from certlab import AuditFilter
from certlab.csvexport import csv_bytes
from certlab.inventory.reports import AUDIT_CSV_COLUMNS
from dashboard import fmt, session, state

PAGE_SIZE = 100
inv = session.inventory()
st.title("Audit trail")
session.role_note("every action here is recorded under your name.", "every action here is recorded under your name.")

st.subheader("Chain verification")
head = st.text_input("Head kept elsewhere (optional, SEQ:HASH)", key="audit_head",
                     help="From `certlab audit verify` or an earlier evidence pack: also detects removal of the newest events.")
again = st.button("Verify again", key="audit_verify", icon=":material/refresh:")
checked = session.attempt(lambda: session.chain_verification(inv, head.strip() or None, again=again))
if checked is not None:
    v, when = checked
    if v.ok:
        st.success(f"The audit chain is intact: all {v.events} events verified, up to event {v.head_seq}."
                   + (" It matches the head you kept." if head.strip() else ""), icon=":material/verified:")
        st.caption(f"Current head: `{v.head}` · checked {fmt.ago_text(when, inv.now())} ({fmt.utc_text(when)}); "
                   "verified again on each sign-in, each new event and every few minutes.")
    else:
        st.error(f"The audit chain is broken at event {v.first_bad_seq}: {v.problem}. "
                 f"Events 1 to {(v.first_bad_seq or 1) - 1} are intact.", icon=":material/gpp_bad:")

st.subheader("Events")
facets = inv.audit_facets()
c = st.columns([2, 2, 2, 1, 2, 2])
actor = c[0].selectbox("Actor", facets["actor"], index=None, placeholder="anyone", key="audit_actor")
action = c[1].selectbox("Action", facets["action"], index=None, placeholder="any", key="audit_action")
obj = c[2].text_input("Object", key="audit_object", placeholder="exact name, e.g. payments_mtls")
outcome = c[3].selectbox("Outcome", facets["outcome"], index=None, placeholder="any", key="audit_outcome")
since = c[4].date_input("From (UTC)", None, key="audit_since")
until = c[5].date_input("Until (UTC, inclusive)", None, key="audit_until")
filters = AuditFilter(actor=actor, action=action, object=obj.strip() or None, outcome=outcome,
                      since=dt.datetime.combine(since, dt.time()) if since else None,
                      until=dt.datetime.combine(until, dt.time()) + dt.timedelta(days=1) if until else None)
total = inv.audit_count(filters)
pages = max(1, -(-total // PAGE_SIZE))
page = min(int(st.session_state.get(state.AUDIT_PAGE, 1)), pages)
events = inv.audit_events(AuditFilter(**{**filters.__dict__, "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE,
                                         "newest_first": True}))
now = inv.now()
if not events:
    st.info("No event matches these filters.")
else:
    st.caption(f"{fmt.count_text(total, 'event matches', 'events match')} · page {page} of {pages} · newest first")
    st.dataframe([{"#": e.seq, "When": fmt.ago_text(e.at, now), "UTC": fmt.utc_text(e.at), "Actor": e.actor,
                   "Role": e.role, "Action": e.action, "Object": e.object, "Outcome": e.outcome,
                   "Details": ", ".join(f"{k}={v}" for k, v in e.details.items())} for e in events],
                 hide_index=True, width="stretch")
    n = st.columns([1, 1, 6])
    if n[0].button("← Newer", disabled=page <= 1, key="audit_prev"):
        st.session_state[state.AUDIT_PAGE] = page - 1
        st.rerun()
    if n[1].button("Older →", disabled=page >= pages, key="audit_next"):
        st.session_state[state.AUDIT_PAGE] = page + 1
        st.rerun()
st.download_button(
    "Export the matching events as CSV", key="audit_csv", icon=":material/download:", on_click="ignore",
    data=lambda: csv_bytes(AUDIT_CSV_COLUMNS, [e.to_json() for e in inv.audit_events(filters)]),
    file_name="certlab-audit-events.csv", mime="text/csv",
    help="Cells that a spreadsheet would run as formulas are prefixed with an apostrophe.")
