"""Overview: the numbers, the next expiries and the integrations they break, the audit chain's state."""

import streamlit as st

from certlab import CertFilter
from dashboard import fmt, session

inv = session.inventory()
st.title("Overview")
session.role_note("you can create, import, export and rotate.", "you can review everything here.")
session.show_flash()

s = inv.summary()
cols = st.columns(8)
cols[0].metric("Certificates", s.total)
cols[1].metric("Active", s.active)
cols[2].metric("Expiring ≤ 30 d", s.expiring_30)
cols[3].metric("Expiring ≤ 60 d", s.expiring_60)
cols[4].metric("Expiring ≤ 90 d", s.expiring_90)
cols[5].metric("Expired", s.expired)
cols[6].metric("Pending CSRs", s.pending)
cols[7].metric("Findings", s.findings if s.linted_at else "—",
               help=(f"Lint errors and warnings as of {fmt.utc_text(s.linted_at)} ({s.findings_errors} errors)."
                     if s.linted_at else "Lint has not run yet: use Check now."))
if st.button("Check now (lint every certificate)", key="lint_now", icon=":material/rule:"):
    with st.spinner("Checking every certificate against the policy..."):
        reports = session.attempt(inv.lint)
    if reports is not None:
        session.flash("info", f"Lint: {len(reports)} certificates have findings.")
        st.rerun()
if s.total == 0:
    st.info("The inventory is empty. Create a certificate on the **Create** page, or import files there.")
    st.stop()

left, right = st.columns([3, 2])
with left:
    st.subheader("Next expiries")
    page = inv.certificate_page(CertFilter(expiring_within=90), page_size=10)
    if not page.records:
        st.success("Nothing expires in the next 90 days.")
    else:
        rows = [{"Certificate": r.name, "Expiry": fmt.expiry_text(r.not_after, s.at), "Not after": fmt.utc_text(r.not_after),
                 "Breaks": ", ".join(r.credentials) or "—"} for r in page.records]
        st.dataframe(rows, hide_index=True, width="stretch")
        if page.total > len(page.records):
            st.caption(f"{page.total - len(page.records)} more expire within 90 days: see **Certificates**.")
with right:
    st.subheader("Integrations at risk")
    creds = inv.credential_states()
    at_risk = [{"Integration": c.name, "Certificate": c.certificate,
                "State": fmt.expiry_text(c.not_after, s.at, c.status), "Endpoint": c.endpoint}
               for c in creds if c.status in ("expired", "revoked", "retired", "pending")
               or (c.days_to_expiry is not None and c.days_to_expiry <= 30)]
    if at_risk:
        st.dataframe(at_risk, hide_index=True, width="stretch")
    elif creds:
        st.success(f"All {len(creds)} named credentials have more than 30 days left.")
    else:
        st.info("No named credentials yet: record which integration uses which certificate on **Named credentials**.")

    st.subheader("Audit chain")
    v, checked = session.chain_verification(inv, again=st.button("Verify again", key="overview_verify",
                                                                  icon=":material/refresh:"))
    if v.ok:
        st.success(f"Verified: {v.events} events, unbroken up to event {v.head_seq}.", icon=":material/verified:")
        st.caption(f"Head `{v.head}` — keep it elsewhere to detect removal of the newest events. "
                   f"Checked {fmt.ago_text(checked, s.at)} ({fmt.utc_text(checked)}).")
    else:
        st.error(f"Broken at event {v.first_bad_seq}: {v.problem}. Events before it are intact.", icon=":material/gpp_bad:")

st.subheader("By kind and key type")
k1, k2 = st.columns(2)
k1.bar_chart({fmt.KIND_LABELS.get(k, k): n for k, n in s.by_kind.items()}, horizontal=True, height=220)
k2.bar_chart(dict(s.by_key_type), horizontal=True, height=220)
