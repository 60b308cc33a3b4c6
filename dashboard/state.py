"""Every session-state key the dashboard uses, in one place."""

ACTOR = "certlab_actor"                  # the signed-in Actor
MUST_CHANGE_PASSWORD = "certlab_must_change_password"
FLASH = "certlab_flash"                  # a message to show once after a rerun: (kind, text)
CERT_FILTERS = "certlab_cert_filters"    # filters shared by Certificates and Expiry timeline
CERT_PAGE = "certlab_cert_page"
SELECTED_CERT = "certlab_selected_cert"
PREPARED_DOWNLOAD = "certlab_prepared_download"  # (certificate name, Blob) ready to save
AUDIT_PAGE = "certlab_audit_page"
EVIDENCE_PACK = "certlab_evidence_pack"
CREATED_CSR = "certlab_created_csr"      # name of the CSR just created, offered for download
VERIFIED = "certlab_verified"        # the last audit-chain verification: (what, when, result)
