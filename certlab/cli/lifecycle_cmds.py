"""Lifecycle commands: ca (create, issue, sign, crl, list, show), revoke, rotate and rotation-policy."""

from __future__ import annotations

import argparse
from typing import Any

from . import add_command
from . import output as out
from .core_cmds import (
    KEY_TYPES,
    _read_file,
    add_spec_options,
    open_inventory,
    parse_time,
    print_record,
    spec_from,
    wants_doc,
)

REASONS = ["unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
           "cessationOfOperation", "certificateHold", "privilegeWithdrawn"]


def register(sub: Any) -> None:
    ca = add_command(sub, "ca", "Internal certificate authorities: create, issue, sign CSRs, publish CRLs.",
                     "certlab ca create acme_root --subject \"CN=Acme Root CA,O=Acme\"")
    csub = ca.add_subparsers(dest="what", metavar="WHAT")
    csub.required = True

    p = add_command(csub, "create", "Create a root CA, or an intermediate with --parent (key not exportable unless "
                    "--exportable).",
                    "certlab ca create acme_issuing --parent acme_root --path-length 0 --permit-dns example.com")
    p.add_argument("name", help="unique name: a letter, then letters, digits, underscores")
    p.add_argument("--parent", metavar="CA", help="the CA that signs this one (default: a self-signed root)")
    p.add_argument("--label", default="")
    p.add_argument("--key", default="ec-p384", choices=KEY_TYPES, help="key type (default ec-p384)")
    p.add_argument("--subject", default="", help='subject, e.g. "CN=Acme Root CA,O=Acme,C=DE" (default CN: the name)')
    p.add_argument("--days", type=int, help="validity in days (default: 3650 for a root, the parent's end for an "
                   "intermediate)")
    p.add_argument("--path-length", type=int, metavar="N",
                   help="how many CAs may follow below it (default: unlimited for a root, 0 for an intermediate)")
    p.add_argument("--unlimited-path", action="store_true", help="no path length limit (intermediate)")
    for kind, what in (("dns", "a DNS domain, e.g. example.com"), ("ip", "an IP network, e.g. 10.0.0.0/8"),
                       ("email", "an e-mail domain or address")):
        p.add_argument(f"--permit-{kind}", action="append", default=[], metavar="VALUE",
                       help=f"name constraint: permit {what} (repeatable)")
        p.add_argument(f"--exclude-{kind}", action="append", default=[], metavar="VALUE",
                       help=f"name constraint: exclude {what} (repeatable)")
    p.add_argument("--no-csr-sans", action="store_true",
                   help="policy: do not copy SANs from outside CSRs this CA signs")
    p.add_argument("--crl-days", type=int, default=7, help="CRL validity (nextUpdate) in days (default 7)")
    p.add_argument("--exportable", action="store_true", help="allow the CA's private key to be exported (not advised)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true")
    p.set_defaults(func=cmd_ca_create)

    p = add_command(csub, "issue", "Issue a server or client certificate from an internal CA, with the full chain.",
                    "certlab ca issue acme_issuing api_tls --san api.example.com --key ec-p256")
    p.add_argument("ca", metavar="CA")
    p.add_argument("name", help="unique name of the new certificate")
    add_spec_options(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ca_issue)

    p = add_command(csub, "sign", "Sign an outside CSR (SANs copied only when the CA's policy allows).",
                    "certlab ca sign acme_issuing partner.csr --name partner_api --out partner-chain.pem")
    p.add_argument("ca", metavar="CA")
    p.add_argument("csr", metavar="CSRFILE")
    p.add_argument("--name", help="unique name in the inventory (default: from the subject)")
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--purpose", default="server", choices=["server", "client", "signing", "any"])
    p.add_argument("--out", metavar="FILE", help="write the certificate and its chain (PEM) here")
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true")
    p.set_defaults(func=cmd_ca_sign)

    p = add_command(csub, "crl", "Publish a signed CRL of what the CA revoked (the CRL number increases).",
                    "certlab ca crl acme_issuing --out acme_issuing.crl.pem")
    p.add_argument("ca", metavar="CA")
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--der", action="store_true", help="DER instead of PEM")
    p.add_argument("--days", type=int, help="nextUpdate this many days ahead (default: the CA's CRL days)")
    p.set_defaults(func=cmd_ca_crl)

    p = add_command(csub, "list", "List internal CAs.", "certlab ca list --json")
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true")
    p.set_defaults(func=cmd_ca_list)

    p = add_command(csub, "show", "Show an internal CA's policy and counts.", "certlab ca show acme_issuing")
    p.add_argument("ca", metavar="CA")
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true")
    p.set_defaults(func=cmd_ca_show)

    p = add_command(sub, "revoke", "Revoke a certificate an internal CA issued (RFC 5280 reason).",
                    "certlab revoke api_tls --reason keyCompromise")
    p.add_argument("name")
    p.add_argument("--reason", required=True, choices=REASONS, metavar="REASON",
                   help="one of: " + ", ".join(REASONS))
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true")
    p.set_defaults(func=cmd_revoke)

    p = add_command(sub, "rotate", "Rotate a certificate (successor with a new key), cut over, or rotate what is due.",
                    "certlab rotate payments_mtls --key ec-p256   then   certlab rotate payments_mtls --cutover")
    p.add_argument("name", nargs="?", help="the certificate to rotate (or to cut over from)")
    p.add_argument("--key", choices=KEY_TYPES, help="key type of the successor (default: the same as now)")
    p.add_argument("--days", type=int, help="validity of the successor (default: the same lifetime as now)")
    p.add_argument("--reuse-key", action="store_true", help="keep the key (only when the rotation policy allows)")
    p.add_argument("--new-name", metavar="NAME", help="name of the successor (default: NAME_r2, NAME_r3, ...)")
    p.add_argument("--cutover", action="store_true",
                   help="move every named credential to the successor and retire NAME, in one step")
    p.add_argument("--due", action="store_true", help="rotate every certificate its policy says is due")
    p.add_argument("--at", metavar="DATETIME", help="with --due: judge what is due at this time (ISO 8601)")
    p.add_argument("--dry-run", action="store_true", help="with --due: list what is due, change nothing")
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true")
    p.set_defaults(func=cmd_rotate)

    p = add_command(sub, "rotation-policy", "Show or set when a certificate (or, with --default, any) is rotated.",
                    "certlab rotation-policy payments_mtls --days-before 45")
    p.add_argument("name", nargs="?", help="the certificate (omit with --default)")
    p.add_argument("--default", action="store_true", help="the project-wide default policy")
    p.add_argument("--days-before", type=int, metavar="N", help="rotate N days before not_after")
    p.add_argument("--lifetime-share", type=float, metavar="F", help="rotate once this share (0..1) of the lifetime passed")
    p.add_argument("--allow-key-reuse", action="store_true", help="let 'rotate --reuse-key' keep the key")
    p.add_argument("--clear", action="store_true", help="remove the certificate's own policy (the default applies)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rotation_policy)


def cmd_ca_create(args: argparse.Namespace) -> int:
    from ..ca import NameRules
    from ..errors import InvalidInputError

    if args.unlimited_path and args.path_length is not None:
        raise InvalidInputError("give --path-length N or --unlimited-path, not both")
    kw: dict[str, Any] = {}
    if args.unlimited_path:
        kw["path_length"] = None
    elif args.path_length is not None:
        kw["path_length"] = args.path_length
    rules = NameRules(permitted_dns=tuple(args.permit_dns), excluded_dns=tuple(args.exclude_dns),
                      permitted_ip=tuple(args.permit_ip), excluded_ip=tuple(args.exclude_ip),
                      permitted_email=tuple(args.permit_email), excluded_email=tuple(args.exclude_email))
    record = open_inventory(args).create_ca(
        args.name, parent=args.parent, subject=args.subject, key_type=args.key, days=args.days, name_rules=rules,
        copy_csr_sans=not args.no_csr_sans, exportable=args.exportable, label=args.label, crl_days=args.crl_days, **kw)
    print_record(args, record)
    return 0


def cmd_ca_issue(args: argparse.Namespace) -> int:
    record = open_inventory(args).issue(args.ca, spec_from(args))
    print_record(args, record)
    return 0


def cmd_ca_sign(args: argparse.Namespace) -> int:
    inv = open_inventory(args)
    record = inv.sign_csr(args.ca, _read_file(args.csr), name=args.name, days=args.days, purpose=args.purpose,
                          source=args.csr)
    if args.out:
        _write(inv.export(record.name, "chain"), args.out)
    print_record(args, record)
    return 0


def cmd_ca_crl(args: argparse.Namespace) -> int:
    inv = open_inventory(args)
    blob = inv.crl(args.ca, days=args.days, fmt="der" if args.der else "pem")
    _write(blob, args.out)
    status = inv.ca_status(args.ca)
    out.info(f"wrote {args.out}: CRL number {status.crl_number} of {args.ca}, {status.revoked} revoked")
    return 0


def cmd_ca_list(args: argparse.Namespace) -> int:
    cas = open_inventory(args).cas()
    if wants_doc(args):
        out.print_json([c.to_json() for c in cas])
    elif not cas:
        out.info("no internal CAs (create one with: certlab ca create NAME)")
    else:
        out.table(["name", "parent", "status", "path length", "not after", "issued", "revoked", "subject"],
                  [[c.name, c.parent or "-", c.status, "unlimited" if c.path_length is None else c.path_length,
                    c.not_after.date().isoformat() if c.not_after else "-", c.issued, c.revoked, c.subject]
                   for c in cas])
    return 0


def cmd_ca_show(args: argparse.Namespace) -> int:
    status = open_inventory(args).ca_status(args.ca)
    doc = status.to_json()
    if wants_doc(args):
        out.print_json(doc)
    else:
        width = max(len(k) for k in doc)
        for k, v in doc.items():
            print(f"{k.ljust(width)}  {out._clean(v)}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    record = open_inventory(args).revoke(args.name, args.reason)
    print_record(args, record)
    out.info(f"revoked {args.name} ({args.reason}); publish a new CRL with: certlab ca crl "
             f"{record.issuer_certificate} --out {record.issuer_certificate}.crl.pem")
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    from ..errors import InvalidInputError

    inv = open_inventory(args)
    if args.due:
        if args.name or args.cutover or args.reuse_key or args.key or args.days or args.new_name:
            raise InvalidInputError("--due rotates by policy: give no NAME, --cutover, --key, --days, --reuse-key "
                                    "or --new-name with it")
        at = parse_time(args.at, "--at")
        if args.dry_run:
            due = inv.rotations_due(at)
            if wants_doc(args):
                out.print_json([d.to_json() for d in due])
            elif not due:
                out.info("nothing is due for rotation")
            else:
                out.table(["name", "kind", "not after", "due at", "mode", "policy"],
                          [[d.name, d.kind, d.not_after.isoformat(), d.due_at.isoformat(timespec="seconds"), d.mode,
                            d.policy] for d in due])
            return 0
        outcomes = inv.rotate_due(at)
        if wants_doc(args):
            out.print_json([o.to_json() for o in outcomes])
        elif not outcomes:
            out.info("nothing is due for rotation")
        else:
            out.table(["name", "result", "successor", "next step"],
                      [[o.name, o.result, o.successor or "-", o.message] for o in outcomes],
                      [out.RED if o.result == "failed" else None for o in outcomes])
        return 1 if any(o.result == "failed" for o in outcomes) else 0
    if not args.name:
        raise InvalidInputError("give the certificate to rotate (certlab rotate NAME), or --due")
    if args.at or args.dry_run:
        raise InvalidInputError("--at and --dry-run go with --due")
    if args.cutover:
        if args.reuse_key or args.key or args.days or args.new_name:
            raise InvalidInputError("--cutover moves credentials to the existing successor: give no other option")
        record = inv.cutover(args.name)
        print_record(args, record)
        moved = ", ".join(record.credentials) or "no named credentials"
        out.info(f"cut over from {args.name} to {record.name}: {moved}; {args.name} is retired")
        return 0
    record = inv.rotate(args.name, key_type=args.key, days=args.days, reuse_key=args.reuse_key, new_name=args.new_name)
    print_record(args, record)
    if record.stored_status == "pending":
        out.info(f"successor {record.name} waits for its CA: certlab export {record.name} --format csr --out "
                 f"{record.name}.csr, then certlab upload-signed {record.name} FILE")
    else:
        out.info(f"successor {record.name} is ready; move the credentials with: certlab rotate {args.name} --cutover")
    return 0


def cmd_rotation_policy(args: argparse.Namespace) -> int:
    from ..errors import InvalidInputError
    from ..inventory.rotation import RotationPolicy

    if args.default == bool(args.name):
        raise InvalidInputError("give a certificate NAME or --default (one of them)")
    inv = open_inventory(args)
    name = None if args.default else args.name
    changing = args.days_before is not None or args.lifetime_share is not None or args.allow_key_reuse or args.clear
    if args.clear and (args.days_before is not None or args.lifetime_share is not None or args.allow_key_reuse):
        raise InvalidInputError("--clear removes the policy: give no other option with it")
    if changing:
        policy = None if args.clear else RotationPolicy(args.days_before, args.lifetime_share, args.allow_key_reuse)
        result = inv.set_rotation_policy(name, policy)
    else:
        result = inv.rotation_policy(name)
    if wants_doc(args):
        out.print_json(result.to_json())
    else:
        print(f"{args.name or 'default'}: rotate {result.describe()} ({result.source} policy)")
    return 0


def _write(blob: Any, path: str) -> None:
    from ..errors import InvalidInputError

    try:
        blob.write_to_path(path)
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot be written ({exc.strerror})") from None
