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
SHOWN = 500  # rows per table: a browser table of tens of thousands of rows helps nobody and is slow to send

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
due = inv.rotations_due(now, within_days=horizon, limit=SHOWN)
if due:
    total = inv.count_rotations_due(now, within_days=horizon)
    if total > SHOWN:
        st.caption(f"{total:,} certificates are due; the {SHOWN} due first are shown "
                   "(all of them: `certlab rotate --due` rotates them, a policy change reschedules them).")
    st.dataframe([{"Certificate": d.name, "Kind": fmt.KIND_LABELS.get(d.kind, d.kind), "Due": fmt.utc_text(d.due_at),
                   "Expires": fmt.expiry_text(d.not_after, now), "Policy": d.policy,
                   "Next step": "new certificate" if d.mode == "renew" else "new CSR for the outside CA"}
                  for d in due], hide_index=True, width="stretch")
    due_now = inv.count_rotations_due(now)
    if session.is_admin() and due_now:
        if st.button(f"Rotate the {due_now:,} due now", type="primary", key="rotate_due"):
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
settings = inv.reminder_settings()
thresholds, source = inv.reminder_schedule()
channels = [c for c in ("smtp", "webhook") if settings.get(c)]
st.markdown(f"Reminders go out **{', '.join(str(t) for t in thresholds)} days** before expiry ({source} schedule) "
            f"through **{' and '.join(channels) if channels else 'no channel yet'}**.")
if not channels:
    st.info("No reminder channel is configured: set SMTP or a webhook with `certlab reminders configure`, "
            "then reminders are sent by `certlab reminders send` (e.g. from cron).")
due_reminders = inv.reminders_due(now, limit=SHOWN)
st.markdown("**Due now**")
if due_reminders:
    reminders_total = inv.count_reminders_due(now)
    if reminders_total > SHOWN:
        st.caption(f"{reminders_total:,} reminders are due; the {SHOWN} for the certificates that expire (or expired) first are shown "
                   "(all of them: `certlab reminders due --json`).")
    st.dataframe([{"Certificate": r.certificate, "Threshold (days)": r.threshold, "Days left": r.days_left,
                   "Breaks": ", ".join(r.credentials) or "—", "Recipients": ", ".join(r.recipients) or "(none set)",
                   "Kind": r.kind} for r in due_reminders], hide_index=True, width="stretch")
    if session.is_admin() and channels and st.button("Send due reminders now", key="send_reminders"):
        with st.spinner("Sending..."):
            results = session.attempt(inv.send_reminders)
        if results is not None:
            st.dataframe([r.to_json() for r in results], hide_index=True, width="stretch")
else:
    st.success("No reminder is due.")
st.markdown("**Sent**")
deliveries = inv.reminder_deliveries()
if deliveries:
    st.dataframe(list(reversed(deliveries[-200:])), hide_index=True, width="stretch")
else:
    st.caption("Nothing sent yet.")
st.download_button("Expiry calendar (iCalendar)", data=lambda: inv.expiry_calendar().bytes(),
                   file_name="certlab-expiries.ics", mime="text/calendar", on_click="ignore",
                   icon=":material/calendar_month:", key="ics")
