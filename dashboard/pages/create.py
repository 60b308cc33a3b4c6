"""Create: a self-signed certificate, a CSR for an outside CA (signed chain uploaded later), or import
files (PEM, DER, PKCS#7, PKCS#12) and trusted CAs. Fields are checked as they are typed."""

from typing import Any

import streamlit as st

from certlab import CertlabError, CertSpec, ImportSource
from dashboard import session, state

KEY_TYPES = ["ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519"]
PURPOSES = {"server": "TLS server", "client": "TLS client (mTLS)", "signing": "Signing (SAML, JWT)", "any": "Server and client"}

inv = session.inventory()
st.title("Create")
session.role_note("create self-signed certificates and CSRs, and import files.",
                  "only admins create or import; your attempts are refused and audited.")
session.show_flash()


def spec_fields(prefix: str) -> dict[str, Any]:
    c = st.columns(2)
    label = c[0].text_input("Label", key=f"{prefix}_label", placeholder="Payment gateway client")
    name = c[1].text_input("Unique name", key=f"{prefix}_name", placeholder="payments_mtls",
                           help="A letter, then letters, digits or underscores: how scripts and the CLI refer to it.")
    subject = st.text_input("Subject", key=f"{prefix}_subject", placeholder="CN=pay.example.com,O=Acme,C=DE",
                            help="Optional; CN defaults to the first SAN.")
    sans = st.text_area("Subject alternative names (one per line)", key=f"{prefix}_sans", height=80,
                        placeholder="pay.example.com\n10.0.0.5\nops@example.com")
    c = st.columns(4)
    key_type = c[0].selectbox("Key type", KEY_TYPES, key=f"{prefix}_key")
    days = c[1].number_input("Validity (days)", 1, 10950, 365, key=f"{prefix}_days")
    purpose = c[2].selectbox("Purpose", list(PURPOSES), format_func=PURPOSES.__getitem__, key=f"{prefix}_purpose")
    exportable = c[3].checkbox("Exportable private key", key=f"{prefix}_exportable",
                               help="Allow exporting the key in a keystore later. Cannot be changed afterwards.")
    return {"name": name.strip(), "label": label.strip(), "subject": subject.strip(),
            "sans": tuple(s.strip() for s in sans.splitlines() if s.strip()), "key_type": key_type,
            "days": int(days), "purpose": purpose, "exportable": exportable}


def live_spec(fields: dict[str, Any]) -> CertSpec | None:
    """The spec if the fields are valid; otherwise the problem is shown under the fields."""
    if not fields["name"]:
        st.caption("Give a unique name to continue.")
        return None
    try:
        return CertSpec(**fields)
    except CertlabError as exc:
        st.error(str(exc), icon=":material/edit:")
        return None


self_tab, csr_tab, import_tab = st.tabs(["Self-signed", "CA-signed (CSR)", "Import"])
with self_tab:
    fields = spec_fields("ss")
    spec = live_spec(fields)
    if st.button("Create self-signed certificate", type="primary", disabled=spec is None, key="ss_create"):
        with st.spinner("Generating the key and certificate..."):
            rec = session.attempt(lambda: inv.create_self_signed(spec))
        if rec is not None:
            st.session_state[state.SELECTED_CERT] = rec.name
            session.flash("success", f"Created {rec.name}: expires {rec.not_after:%Y-%m-%d}. Find it on **Certificates**.")
            st.rerun()

with csr_tab:
    st.caption("certlab keeps the new private key (encrypted); you send the CSR to your CA and upload what it "
               "returns on **Certificates**.")
    fields = spec_fields("csr")
    spec = live_spec(fields)
    if st.button("Create key and CSR", type="primary", disabled=spec is None, key="csr_create"):
        with st.spinner("Generating the key and request..."):
            rec = session.attempt(lambda: inv.create_csr(spec))
        if rec is not None:
            st.session_state[state.CREATED_CSR] = rec.name
            st.session_state[state.SELECTED_CERT] = rec.name
    made = st.session_state.get(state.CREATED_CSR)
    if made:
        st.success(f"{made} is pending: download the CSR and send it to your CA.")
        blob = session.attempt(lambda: inv.export(made, "csr")) if st.button("Prepare CSR download", key="csr_prepare") else None
        if blob is not None:
            st.download_button(f"Save {blob.filename}", blob.bytes(), file_name=blob.filename, mime=blob.media_type,
                               icon=":material/download:", key="csr_save")

with import_tab:
    with st.form("import", clear_on_submit=False):
        files = st.file_uploader("Certificates, chains or keystores (PEM, DER, P7B, P12/PFX)", accept_multiple_files=True,
                                 key="import_files")
        c = st.columns(3)
        password = c[0].text_input("Keystore password (if any)", type="password", key="import_password")
        trusted = c[1].checkbox("Trusted CA (add to the trust store)", key="import_trusted")
        exportable = c[2].checkbox("Imported private keys exportable", key="import_exportable")
        submitted = st.form_submit_button("Import", type="primary")
    if submitted:
        if not files:
            st.error("Choose one or more files to import.")
        else:
            sources = [ImportSource(f.name, f.getvalue()) for f in files]
            bar = st.progress(0.0, text="Reading files...")
            results = session.attempt(lambda: inv.import_sources(
                sources, password=password.encode() if password else None, trusted=trusted, exportable=exportable,
                progress=lambda done, total: bar.progress(done / max(total, 1), text=f"Read {done} of {total}")))
            bar.empty()
            if results is not None:
                ok = sum(1 for r in results if r.result == "imported")
                (st.success if ok == len(results) else st.warning)(
                    f"Imported {ok} of {len(results)} files.")
                st.dataframe([{"File": r.file, "Result": r.result, "Name": r.name or "", "Reason": r.reason or ""}
                              for r in results], hide_index=True, width="stretch")
