"""The detail view of one certificate and its actions (each one Inventory call, audited there)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from certlab import CertificateRecord, CertlabError
from certlab.ca import REVOCATION_REASONS

from . import fmt, session, state


def show(inv: Any, r: CertificateRecord, now: dt.datetime) -> None:
    st.subheader(f"{r.label or r.name}")
    st.markdown(f"**{fmt.STATUS_MARKDOWN.get(r.status, r.status)}** · {fmt.KIND_LABELS.get(r.kind, r.kind)} · "
                f"<span title='{fmt.utc_text(r.not_after)}'>{fmt.expiry_text(r.not_after, now, r.status)}</span>",
                unsafe_allow_html=True)
    left, right = st.columns(2)
    with left:
        st.dataframe(_fields(r), hide_index=True, width="stretch")
    with right:
        st.markdown("**Where it is used**")
        if r.credentials:
            for c in r.credentials:
                st.markdown(f"- named credential `{c}`")
        else:
            st.caption("No named credential uses it.")
        st.markdown("**Lineage**")
        st.caption(f"Predecessor: {r.predecessor or '—'} · Successor: {r.successor or '—'}"
                   + (f" · Issued by: {r.issuer_certificate}" if r.issuer_certificate else ""))
        st.markdown("**Chain**")
        if r.status == "pending":
            st.caption("Pending: no certificate yet.")
        else:
            try:
                for i, cert in enumerate(inv.chain(r.name)):
                    st.caption(f"{i}. {cert.subject.rfc4514_string()}  ←  issued by {cert.issuer.rfc4514_string()}")
            except CertlabError as exc:
                st.caption(str(exc))
        st.markdown("**Lint findings**")
        if r.status == "pending":
            st.caption("Checked once the signed certificate is uploaded.")
        else:
            reports = session.attempt(lambda: inv.lint(r.name))
            findings = [f for rep in reports or [] for f in rep.findings]
            for finding in findings:
                st.caption(f"{finding.severity.value}: {finding.message}")
            if reports is not None and not findings:
                st.caption("None: the certificate meets the policy.")
    _actions(inv, r)


def _fields(r: CertificateRecord) -> list[dict[str, str]]:
    doc = r.to_json()
    out = []
    for key, value in doc.items():
        if key in ("findings",):
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value) or "—"
        out.append({"Field": key.replace("_", " "), "Value": "—" if value in (None, "") else str(value)})
    return out


def _actions(inv: Any, r: CertificateRecord) -> None:
    st.markdown("**Actions**")
    admin = session.is_admin()
    tabs = st.tabs(["Download", "Export keystore", "Upload signed chain", "Rotate", "Revoke", "Delete"])
    with tabs[0]:
        formats = ["csr"] if r.status == "pending" else ["pem", "der", "chain"]
        with st.form(f"download_{r.name}"):
            fmt_choice = st.radio("Format", formats, horizontal=True, format_func=lambda x: {
                "pem": "Certificate (PEM)", "der": "Certificate (DER)", "chain": "Chain (PEM)", "csr": "CSR (PEM)"}[x])
            if st.form_submit_button("Prepare download"):
                blob = session.attempt(lambda: inv.export(r.name, fmt_choice))
                if blob is not None:
                    st.session_state[state.PREPARED_DOWNLOAD] = (r.name, blob)
        prepared = st.session_state.get(state.PREPARED_DOWNLOAD)
        if prepared and prepared[0] == r.name and not prepared[1].secret:
            blob = prepared[1]
            st.download_button(f"Save {blob.filename}", blob.bytes(), file_name=blob.filename, mime=blob.media_type,
                               icon=":material/download:", key=f"save_{r.name}")
    with tabs[1]:
        if not r.has_private_key:
            st.caption("No private key in the inventory for this certificate.")
        elif not r.exportable:
            st.caption("The private key is not exportable (set when it was created); an attempt is refused and audited.")
        with st.form(f"export_{r.name}", clear_on_submit=True):
            pw = st.text_input("Keystore password", type="password", help="At least the minimum length; asked twice.")
            pw2 = st.text_input("Password again", type="password")
            if st.form_submit_button("Export PKCS#12", disabled=not r.has_private_key):
                if pw != pw2:
                    st.error("The two passwords differ.")
                else:
                    blob = session.attempt(lambda: inv.export(r.name, "pkcs12", password=pw))
                    if blob is not None:
                        st.session_state[state.PREPARED_DOWNLOAD] = (r.name, blob)
        prepared = st.session_state.get(state.PREPARED_DOWNLOAD)
        if prepared and prepared[0] == r.name and prepared[1].secret:
            blob = prepared[1]
            st.success("Keystore ready (encrypted with your password); the export is in the audit trail.")
            st.download_button(f"Save {blob.filename}", blob.bytes(), file_name=blob.filename, mime=blob.media_type,
                               icon=":material/key:", key=f"save_p12_{r.name}", on_click="ignore")
    with tabs[2]:
        if r.status != "pending":
            st.caption("Only a pending CSR waits for a signed certificate.")
        else:
            with st.form(f"upload_{r.name}"):
                up = st.file_uploader("Signed certificate or chain (PEM, DER or PKCS#7)", key=f"upload_file_{r.name}")
                if st.form_submit_button("Upload", disabled=not admin):
                    if up is None:
                        st.error("Choose the file your CA returned.")
                    elif session.attempt(lambda: inv.upload_signed(r.name, up.getvalue(), up.name)):
                        session.flash("success", f"{r.name} is active: signed certificate uploaded.")
                        st.rerun()
    with tabs[3]:
        st.caption("Rotation makes a successor; the old certificate stays active until you cut over.")
        c = st.columns(2)
        if c[0].button("Rotate now", key=f"rotate_{r.name}", disabled=r.status == "pending"):
            rec = session.attempt(lambda: inv.rotate(r.name))
            if rec is not None:
                session.flash("success", f"Rotated: successor {rec.name} ({rec.status}). Cut over when it is deployed.")
                st.rerun()
        if c[1].button("Cut over to successor", key=f"cutover_{r.name}", disabled=not r.successor):
            rec = session.attempt(lambda: inv.cutover(r.name))
            if rec is not None:
                session.flash("success", f"Cut over: named credentials now use {r.successor}; {r.name} retired.")
                st.rerun()
    with tabs[4], st.form(f"revoke_{r.name}"):
        reason = st.selectbox("Reason (RFC 5280)", list(REVOCATION_REASONS), index=0)
        confirm = st.checkbox(f"Yes, revoke {r.name}")
        if st.form_submit_button("Revoke", type="primary"):
            if not confirm:
                st.error("Tick the confirmation first.")
            elif session.attempt(lambda: inv.revoke(r.name, reason)):
                session.flash("success", f"{r.name} revoked ({reason}).")
                st.rerun()
    with tabs[5]:
        if r.credentials:
            st.warning(f"In use by {', '.join(r.credentials)}: rebind those named credentials first.")
        with st.form(f"delete_{r.name}"):
            confirm = st.text_input(f"Type {r.name} to confirm")
            if st.form_submit_button("Delete certificate and key", type="primary"):
                if confirm != r.name:
                    st.error(f"Type the name {r.name} exactly to confirm.")
                elif session.attempt(lambda: inv.delete(r.name)) is None and _deleted(inv, r.name):
                    st.session_state.pop(state.SELECTED_CERT, None)
                    session.flash("success", f"{r.name} deleted.")
                    st.rerun()


def _deleted(inv: Any, name: str) -> bool:
    try:
        inv.get(name)
        return False
    except CertlabError:
        return True
