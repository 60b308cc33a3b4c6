"""certlab: certificate and key management for integration admins, auditors and analysts.

The pure core works without a database::

    import certlab
    issued = certlab.self_signed("api.example.com", key_type="ec-p256")

The Inventory keeps certificates, encrypted keys and the audit trail in one DuckDB file::

    inv = certlab.open("data/certlab.duckdb")
    inv.create_self_signed(certlab.CertSpec(name="payments_mtls", sans=("pay.example.com",)))
"""

from __future__ import annotations

from .blob import Blob
from .ca import CA, NameRules, Revocation
from .certs import CertInfo, CertSpec, Issued, Purpose, build_certificate, self_signed
from .csr import build_csr, load_csr
from .errors import (
    CertlabError,
    ChainError,
    ConflictError,
    EndpointError,
    FormatError,
    InvalidInputError,
    InventoryBusyError,
    NotFoundError,
    PasswordRequiredError,
    PermissionDeniedError,
    StoreError,
    WrongPasswordError,
)
from .formats import Loaded, dump_pem, dump_pkcs12, load_bundle
from .inventory import ImportSource, Inventory, RotationPolicy, init, open
from .keys import KeyType, generate_key
from .models import (
    Action,
    Actor,
    AuditEvent,
    AuditFilter,
    CertFilter,
    CertificateRecord,
    Credential,
    ImportResult,
    Kind,
    Outcome,
    Role,
    Status,
)
from .names import Subject

__version__ = "0.1.0"

__all__ = [
    "Action", "Actor", "CA", "NameRules", "Revocation", "AuditEvent", "AuditFilter", "Blob", "CertFilter", "CertInfo", "CertSpec",
    "CertificateRecord", "CertlabError", "ChainError", "ConflictError", "Credential", "EndpointError", "FormatError",
    "ImportResult", "ImportSource", "InvalidInputError", "Inventory", "InventoryBusyError", "Issued", "KeyType",
    "Kind", "Loaded", "RotationPolicy", "NotFoundError", "Outcome", "PasswordRequiredError", "PermissionDeniedError", "Purpose", "Role", "Status",
    "StoreError", "Subject", "WrongPasswordError", "__version__", "build_certificate", "build_csr",
    "dump_pem", "dump_pkcs12", "generate_key", "init", "load_bundle", "load_csr", "open", "self_signed",
]
