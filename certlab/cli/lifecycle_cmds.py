"""Lifecycle commands: ca (create, issue, sign, crl, list, show) and revoke."""

from __future__ import annotations

import argparse
from typing import Any

from . import add_command
from . import output as out
from .core_cmds import KEY_TYPES, _read_file, add_spec_options, open_inventory, print_record, spec_from, wants_doc

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


def _write(blob: Any, path: str) -> None:
    from ..errors import InvalidInputError

    try:
        blob.write_to_path(path)
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot be written ({exc.strerror})") from None
