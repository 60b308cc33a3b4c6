"""Reminders and rotation: what is due, what the rotation policy will do next, what was sent."""

import streamlit as st

from certlab import AuditFilter, RotationPolicy
from dashboard import fmt, session

inv = session.inventory()
st.title("Reminders and rotation")
session.role_note("change the default rotation policy and rotate what is due.",
                  "you can review what is due and what was done.")
session.show_flash()
now = inv.now()

st.subheader("Rotation policy")
policy = inv.rotation_policy()
st.markdown(f"Default: **{policy.describe()}**" + (" (key reuse allowed)" if policy.allow_key_reuse else ""))
if session.is_admin():
    with st.form("rotation_policy"):
        days = st.number_input("Rotate this many days before expiry", 0, 3650, int(policy.days_before or 30))
        if st.form_submit_button("Save default policy"):
            if session.attempt(lambda: inv.set_rotation_policy(None, RotationPolicy(days_before=int(days)))):
                session.flash("success", f"Default rotation policy: {days} days before expiry.")
                st.rerun()

st.subheader("Due")
horizon = st.slider("Look ahead (days)", 0, 365, 90, key="rot_horizon")
due = inv.rotations_due(within_days=horizon)
if due:
    st.dataframe([{"Certificate": d.name, "Kind": fmt.KIND_LABELS.get(d.kind, d.kind), "Due": fmt.utc_text(d.due_at),
                   "Expires": fmt.expiry_text(d.not_after, now), "Policy": d.policy,
                   "Next step": "new certificate" if d.mode == "renew" else "new CSR for the outside CA"}
                  for d in due], hide_index=True, width="stretch")
    due_now = [d for d in due if d.due_at <= now]
    if session.is_admin() and due_now:
        if st.button(f"Rotate the {len(due_now)} due now", type="primary", key="rotate_due"):
            with st.spinner("Rotating..."):
                outcomes = session.attempt(lambda: inv.rotate_due())
            if outcomes is not None:
                st.dataframe([o.to_json() for o in outcomes], hide_index=True, width="stretch")
else:
    st.success(f"Nothing is due for rotation within {horizon} days.")

st.subheader("Done recently")
done = [e for action in ("rotated", "cut_over") for e in inv.audit_events(AuditFilter(action=action, newest_first=True, limit=20))]
if done:
    st.dataframe([{"When (UTC)": fmt.utc_text(e.at), "Action": e.action, "Certificate": e.object, "By": e.actor,
                   "Outcome": e.outcome} for e in sorted(done, key=lambda e: -e.seq)], hide_index=True, width="stretch")
else:
    st.caption("No rotation or cut-over yet.")

st.subheader("Reminders")
reminders = getattr(inv, "reminders", None)
if callable(reminders):
    st.dataframe([r.to_json() if hasattr(r, "to_json") else r for r in reminders()], hide_index=True, width="stretch")
else:
    sent = inv.audit_events(AuditFilter(action="reminder_sent", newest_first=True, limit=20))
    if sent:
        st.dataframe([{"When (UTC)": fmt.utc_text(e.at), "About": e.object, **e.details} for e in sent],
                     hide_index=True, width="stretch")
    else:
        st.info("No expiry reminders are set up in this installation yet: the Overview and the timeline show "
                "what expires; rotation above renews it.")
