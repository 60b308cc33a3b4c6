"""Core commands: init, create, upload-signed, import, export, list, show, delete, credential, audit,
master-key."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from . import add_command, db_path
from . import output as out

KEY_TYPES = ["rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "ed25519"]


def open_inventory(args: argparse.Namespace) -> Any:
    from .. import open as open_inventory_file

    return open_inventory_file(db_path(args))


def add_spec_options(p: argparse.ArgumentParser) -> None:
    """The options of ``create self-signed`` (shared with csr, ca issue and rotate)."""
    p.add_argument("--label", default="", help="display label (default: the name)")
    p.add_argument("--key", default="rsa-2048", choices=KEY_TYPES, help="key type (default rsa-2048)")
    p.add_argument("--days", type=int, default=365, help="validity in days (default 365)")
    p.add_argument("--subject", default="", help='subject, e.g. "CN=api.example.com,O=Acme,C=DE"')
    p.add_argument("--san", action="append", default=[], metavar="VALUE",
                   help="subject alternative name: DNS name, IP, e-mail or URI (repeatable)")
    p.add_argument("--purpose", default="server", choices=["server", "client", "signing", "any"])
    p.add_argument("--exportable", action="store_true", help="allow the private key to be exported")
    p.add_argument("--table", action="store_true", help="print fields even when piped")


def spec_from(args: argparse.Namespace) -> Any:
    from ..certs import CertSpec

    return CertSpec(name=args.name, label=args.label, key_type=args.key, days=args.days, subject=args.subject,
                    sans=tuple(args.san), purpose=args.purpose, exportable=args.exportable)


def register(sub: Any) -> None:
    p = add_command(sub, "init", "Create the inventory (database and key file).", "certlab --db data/certlab.duckdb init")
    p.set_defaults(func=cmd_init)

    create = add_command(sub, "create", "Create a self-signed certificate or a CSR.",
                         "certlab create self-signed payments_mtls --san pay.example.com --purpose client")
    csub = create.add_subparsers(dest="what", metavar="WHAT")
    csub.required = True
    p = add_command(csub, "self-signed", "Create a key and a self-signed certificate.",
                    'certlab create self-signed sso_signing --key ec-p256 --subject "CN=sso,O=Acme" --purpose signing')
    p.add_argument("name", help="unique name: a letter, then letters, digits, underscores")
    add_spec_options(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_create_self_signed)
    p = add_command(csub, "csr", "Create a key and a certificate signing request (pending until signed).",
                    'certlab create csr erp_client --subject "CN=erp.example.com,O=Acme,C=DE" --san erp.example.com')
    p.add_argument("name")
    add_spec_options(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_create_csr)

    p = add_command(sub, "upload-signed", "Upload the CA-signed certificate or chain for a pending CSR.",
                    "certlab upload-signed erp_client signed-chain.p7b")
    p.add_argument("name")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true")
    p.set_defaults(func=cmd_upload_signed)

    p = add_command(sub, "import", "Import certificates, keystores and trusted CAs from files or directories.",
                    "certlab import partner-ca.pem --trusted")
    p.add_argument("files", nargs="+", metavar="FILE_OR_DIR")
    p.add_argument("--password-file", help="password for PKCS#12 files or encrypted keys (first line)")
    p.add_argument("--trusted", action="store_true", help="add CA certificates to the trust store")
    p.add_argument("--name", help="unique name (when the file holds one certificate)")
    p.add_argument("--exportable", action="store_true", help="allow an imported private key to be exported")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_import)

    p = add_command(sub, "export", "Download a certificate, chain or CSR, or export a keystore or key.",
                    "certlab export payments_mtls --format pkcs12 --out pay.p12 --password-file pw.txt")
    p.add_argument("name")
    p.add_argument("--format", required=True, choices=["pem", "der", "chain", "csr", "pkcs12", "key"])
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--password-file", help="password for pkcs12 and key exports (first line)")
    p.add_argument("--legacy", action="store_true", help="pkcs12 with 3DES/SHA-1 for old systems (audited as such)")
    p.set_defaults(func=cmd_export)

    p = add_command(sub, "list", "List the inventory.", "certlab list --expiring-within 90 --kind self_signed")
    p.add_argument("--expiring-within", type=int, metavar="DAYS")
    p.add_argument("--status", choices=["pending", "active", "expiring", "expired", "revoked", "retired"])
    p.add_argument("--kind", choices=["self_signed", "ca_signed", "imported", "trusted_ca", "internal_ca", "discovered"])
    p.add_argument("--search", metavar="TEXT", help="text in name, label, subject, issuer or SANs, part of a serial "
                   "(colons allowed), or a whole SHA-256 fingerprint")
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.add_argument("--table", action="store_true", help="print a table even when piped")
    p.set_defaults(func=cmd_list)

    p = add_command(sub, "show", "Show one certificate.", "certlab show payments_mtls --json")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true", help="print fields even when piped")
    p.set_defaults(func=cmd_show)

    p = add_command(sub, "delete", "Delete a certificate and its key (refused while in use).", "certlab delete old_cert")
    p.add_argument("name")
    p.set_defaults(func=cmd_delete)

    cred = add_command(sub, "credential", "Named credentials: which integration uses which certificate.",
                       "certlab credential add payment_gateway --cert payments_mtls --endpoint https://pay.example.com --purpose mtls")
    csub = cred.add_subparsers(dest="what", metavar="WHAT")
    csub.required = True
    p = add_command(csub, "add", "Record that an integration uses a certificate.",
                    "certlab credential add payment_gateway --cert payments_mtls --endpoint https://pay.example.com --purpose mtls")
    p.add_argument("name")
    p.add_argument("--cert", required=True)
    p.add_argument("--endpoint", required=True, help="URL or HOST:PORT")
    p.add_argument("--purpose", required=True, choices=["mtls", "saml", "jwt", "server"])
    p.add_argument("--owner", default="")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_credential_add)
    p = add_command(csub, "list", "List named credentials.", "certlab credential list --json")
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true")
    p.set_defaults(func=cmd_credential_list)
    p = add_command(csub, "rebind", "Point a named credential at another certificate.",
                    "certlab credential rebind payment_gateway --cert payments_mtls_2027")
    p.add_argument("name")
    p.add_argument("--cert", required=True)
    p.set_defaults(func=cmd_credential_rebind)
    p = add_command(csub, "delete", "Remove a named credential.", "certlab credential delete payment_gateway")
    p.add_argument("name")
    p.set_defaults(func=cmd_credential_delete)

    audit = add_command(sub, "audit", "The audit trail: list events, verify the chain.", "certlab audit verify")
    asub = audit.add_subparsers(dest="what", metavar="WHAT")
    asub.required = True
    p = add_command(asub, "list", "List audit events.", "certlab audit list --action exported --since 2026-01-01")
    p.add_argument("--actor")
    p.add_argument("--action")
    p.add_argument("--object")
    p.add_argument("--outcome", choices=["ok", "denied", "failed"])
    p.add_argument("--since", metavar="DATETIME", help="ISO 8601, UTC")
    p.add_argument("--until", metavar="DATETIME")
    p.add_argument("--limit", type=int)
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true")
    p.set_defaults(func=cmd_audit_list)
    p = add_command(asub, "verify", "Verify the hash chain; prints the head to keep elsewhere.",
                    "certlab audit verify --expect-head 42:3f2a...")
    p.add_argument("--expect-head", metavar="SEQ:HASH", help="a head kept elsewhere: catches removed newest events")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_audit_verify)

    mk = add_command(sub, "master-key", "The master key that wraps every private key's data key.",
                     "certlab master-key rotate")
    msub = mk.add_subparsers(dest="what", metavar="WHAT")
    msub.required = True
    p = add_command(msub, "rotate", "Rewrap every data key under a new master key (pre-restore copies too).",
                    "certlab master-key rotate")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_master_key_rotate)


# --- commands ----------------------------------------------------------------------------------------

def cmd_init(args: argparse.Namespace) -> int:
    from .. import init
    from ..models import Actor

    path = db_path(args)
    existed = path.exists()
    inv = init(path, actor=Actor.from_env())
    out.info(f"inventory {'already exists' if existed else 'created'}: {inv.path} (keys in {inv.key_file.name}, mode 0600)")
    return 0


def print_record(args: argparse.Namespace, record: Any) -> None:
    if wants_doc(args):
        out.print_json(record.to_json())
        return
    doc = record.to_json()
    width = max(len(k) for k in doc)
    for key, value in doc.items():
        if isinstance(value, list):
            value = ", ".join(str(v) if not isinstance(v, dict) else f"{v.get('severity', '')}: {v.get('message', v)}" for v in value) or "-"
        if key == "days_to_expiry":
            value = out.days_text(value)
        sys.stdout.write(f"{key.ljust(width)}  {out._clean(value)}\n")


def wants_doc(args: argparse.Namespace) -> bool:
    return out.wants_json(args)


def cmd_create_self_signed(args: argparse.Namespace) -> int:
    spec = spec_from(args)
    record = open_inventory(args).create_self_signed(spec)
    print_record(args, record)
    return 0


def cmd_create_csr(args: argparse.Namespace) -> int:
    record = open_inventory(args).create_csr(spec_from(args))
    print_record(args, record)
    out.info(f"download the request with: certlab export {record.name} --format csr --out {record.name}.csr")
    return 0


def _read_file(path: str) -> bytes:
    from ..errors import FormatError
    from ..formats import MAX_INPUT_BYTES

    p = Path(path)
    try:
        if p.stat().st_size > MAX_INPUT_BYTES:
            raise FormatError(f"{path}: file is larger than {MAX_INPUT_BYTES // 2**20} MiB")
        return p.read_bytes()
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FormatError(f"{path}: is a directory") from None
    except OSError as exc:
        raise FormatError(f"{path}: cannot be read ({exc.strerror})") from None


def cmd_upload_signed(args: argparse.Namespace) -> int:
    record = open_inventory(args).upload_signed(args.name, _read_file(args.file), args.file)
    print_record(args, record)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    password: Any = None
    if args.password_file:
        password = out.read_password(args.password_file, "import")
    elif sys.stdin.isatty():
        password = out.PasswordPrompt("import")  # asked once, only when a file needs it
    inv = open_inventory(args)
    progress = out.Progress("reading")
    try:
        results = inv.import_files(args.files, password=password, trusted=args.trusted, name=args.name,
                                   exportable=args.exportable, progress=progress)
    finally:
        progress.close()
    if wants_doc(args):
        out.print_json([r.to_json() for r in results])
    else:
        colours = [out.GREEN if r.result == "imported" else out.RED if r.result == "rejected" else out.DIM for r in results]
        out.table(["file", "result", "name", "reason"], [[r.file, r.result, r.name or "", r.reason or ""] for r in results], colours)
    return 1 if any(r.result == "rejected" for r in results) else 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..blob import Blob

    password = None
    if args.format in ("pkcs12", "key"):
        password = out.read_password(args.password_file, f"export of {args.name}", confirm=True)
    blob: Blob = open_inventory(args).export(args.name, args.format, password=password, legacy=args.legacy)
    try:
        blob.write_to_path(args.out)
    except OSError as exc:
        from ..errors import InvalidInputError

        raise InvalidInputError(f"{args.out}: cannot be written ({exc.strerror})") from None
    out.info(f"wrote {args.out} ({len(blob)} bytes, {args.format})")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from ..models import CertFilter

    records = open_inventory(args).list(
        CertFilter(status=args.status, kind=args.kind, expiring_within=args.expiring_within, search=args.search),
        findings=wants_doc(args),  # the JSON document carries each certificate's lint findings; the table does not
    )
    if wants_doc(args):
        out.print_json([r.to_json() for r in records])
        return 0
    if not records:
        out.info("no certificates match (create one with: certlab create self-signed NAME --san HOST)")
        return 0
    rows = [[r.name, r.kind, r.status, r.key_type or "-", r.not_after.strftime("%Y-%m-%d") if r.not_after else "-",
             out.days_text(r.days_to_expiry), ",".join(r.credentials) or "-", r.subject] for r in records]
    out.table(["name", "kind", "status", "key", "not after", "expires", "credentials", "subject"], rows,
              [out.status_colour(r.status) for r in records])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    print_record(args, open_inventory(args).get(args.name))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    open_inventory(args).delete(args.name)
    out.info(f"deleted {args.name}")
    return 0


def cmd_credential_add(args: argparse.Namespace) -> int:
    cred = open_inventory(args).add_credential(args.name, certificate=args.cert, endpoint=args.endpoint,
                                               purpose=args.purpose, owner=args.owner)
    if wants_doc(args):
        out.print_json(cred.to_json())
    else:
        out.info(f"named credential {cred.name} uses {cred.certificate} for {cred.purpose} at {cred.endpoint}")
    return 0


def cmd_credential_list(args: argparse.Namespace) -> int:
    creds = open_inventory(args).credentials()
    if wants_doc(args):
        out.print_json([c.to_json() for c in creds])
    elif not creds:
        out.info("no named credentials (add one with: certlab credential add NAME --cert CERT --endpoint URL --purpose mtls)")
    else:
        out.table(["name", "certificate", "purpose", "endpoint", "owner"],
                  [[c.name, c.certificate, c.purpose, c.endpoint, c.owner] for c in creds])
    return 0


def cmd_credential_rebind(args: argparse.Namespace) -> int:
    cred = open_inventory(args).rebind_credential(args.name, args.cert)
    out.info(f"named credential {cred.name} now uses {cred.certificate}")
    return 0


def cmd_credential_delete(args: argparse.Namespace) -> int:
    open_inventory(args).delete_credential(args.name)
    out.info(f"deleted named credential {args.name}")
    return 0


def parse_time(text: str | None, option: str) -> dt.datetime | None:
    """ISO 8601 (``2027-03-01T00:00:00Z`` or a date) as naive UTC."""
    if text is None:
        return None
    from ..certs import as_naive_utc
    from ..errors import InvalidInputError

    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"{option}: {text!r} is not an ISO 8601 date or time (e.g. 2027-03-01T00:00:00Z)") from None
    return as_naive_utc(value)


def cmd_audit_list(args: argparse.Namespace) -> int:
    from ..models import AuditFilter

    events = open_inventory(args).audit_events(AuditFilter(
        actor=args.actor, action=args.action, object=args.object, outcome=args.outcome,
        since=parse_time(args.since, "--since"), until=parse_time(args.until, "--until"), limit=args.limit,
    ))
    if wants_doc(args):
        out.print_json([e.to_json() for e in events])
    else:
        out.table(["seq", "time (UTC)", "actor", "role", "action", "object", "outcome"],
                  [[e.seq, e.at.isoformat(), e.actor, e.role, e.action, e.object, e.outcome] for e in events],
                  [out.RED if e.outcome != "ok" else None for e in events])
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    result = open_inventory(args).verify_audit(args.expect_head)
    if getattr(args, "json", False):
        out.print_json({"ok": result.ok, "events": result.events, "head": result.head,
                        "first_bad_seq": result.first_bad_seq, "problem": result.problem})
    else:
        sys.stdout.write(result.describe() + "\n")
    return 0 if result.ok else 1


def cmd_master_key_rotate(args: argparse.Namespace) -> int:
    result = open_inventory(args).rotate_master_key()
    if wants_doc(args):
        out.print_json(result.to_json())
    # what happened, on stderr in every mode (stdout carries only the document)
    out.info(f"master key rotated: {result.keys_rewrapped} data keys rewrapped; no certificate changed")
    for copy in result.pre_restore_rewrapped:
        out.info(f"pre-restore copy {copy} rewrapped too: it can still be restored with {copy}.keys, "
                 "which now holds only the new master key")
    for copy, why in result.pre_restore_failed:
        out.info(f"warning: pre-restore copy {copy} could not be rewrapped ({why}): {copy}.keys still holds an old "
                 f"master key; delete {copy} and {copy}.keys once that restore need not be undone")
    return 0
