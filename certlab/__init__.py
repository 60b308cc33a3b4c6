"""certlab: certificate and key management for integration admins, auditors and analysts.

The pure core works without a database::

    import certlab
    issued = certlab.self_signed("api.example.com", key_type="ec-p256")

The Inventory keeps certificates, encrypted keys and the audit trail in one DuckDB file::

    inv = certlab.open("data/certlab.duckdb")
    inv.create_self_signed(certlab.CertSpec(name="payments_mtls", sans=("pay.example.com",)))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from .inventory import ImportSource, Inventory, RotationPolicy, User, init, open
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

# The public names load on first use (PEP 562): ``certlab --help`` and the other CLI commands import only
# what they run, and ``import certlab`` stays cheap. Add a new public name here and in ``__all__``.
_EXPORTS: dict[str, str] = {
    "Blob": ".blob",
    "CA": ".ca",
    "NameRules": ".ca",
    "Revocation": ".ca",
    "CertInfo": ".certs",
    "CertSpec": ".certs",
    "Issued": ".certs",
    "Purpose": ".certs",
    "build_certificate": ".certs",
    "self_signed": ".certs",
    "build_csr": ".csr",
    "load_csr": ".csr",
    "CertlabError": ".errors",
    "ChainError": ".errors",
    "ConflictError": ".errors",
    "EndpointError": ".errors",
    "FormatError": ".errors",
    "InvalidInputError": ".errors",
    "InventoryBusyError": ".errors",
    "NotFoundError": ".errors",
    "PasswordRequiredError": ".errors",
    "PermissionDeniedError": ".errors",
    "StoreError": ".errors",
    "WrongPasswordError": ".errors",
    "Loaded": ".formats",
    "dump_pem": ".formats",
    "dump_pkcs12": ".formats",
    "load_bundle": ".formats",
    "ImportSource": ".inventory",
    "Inventory": ".inventory",
    "User": ".inventory",
    "RotationPolicy": ".inventory",
    "init": ".inventory",
    "open": ".inventory",
    "KeyType": ".keys",
    "generate_key": ".keys",
    "Action": ".models",
    "Actor": ".models",
    "AuditEvent": ".models",
    "AuditFilter": ".models",
    "CertFilter": ".models",
    "CertificateRecord": ".models",
    "Credential": ".models",
    "ImportResult": ".models",
    "Kind": ".models",
    "Outcome": ".models",
    "Role": ".models",
    "Status": ".models",
    "Subject": ".names",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        try:  # a submodule, e.g. certlab.keys
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__version__ = "0.1.0"

__all__ = [
    "CA",
    "Action",
    "Actor",
    "AuditEvent",
    "AuditFilter",
    "Blob",
    "CertFilter",
    "CertInfo",
    "CertSpec",
    "CertificateRecord",
    "CertlabError",
    "ChainError",
    "ConflictError",
    "Credential",
    "EndpointError",
    "FormatError",
    "ImportResult",
    "ImportSource",
    "InvalidInputError",
    "Inventory",
    "InventoryBusyError",
    "Issued",
    "KeyType",
    "Kind",
    "Loaded",
    "NameRules",
    "NotFoundError",
    "Outcome",
    "PasswordRequiredError",
    "PermissionDeniedError",
    "Purpose",
    "Revocation",
    "Role",
    "RotationPolicy",
    "Status",
    "StoreError",
    "Subject",
    "User",
    "WrongPasswordError",
    "__version__",
    "build_certificate",
    "build_csr",
    "dump_pem",
    "dump_pkcs12",
    "generate_key",
    "init",
    "load_bundle",
    "load_csr",
    "open",
    "self_signed",
]
