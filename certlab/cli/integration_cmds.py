"""Integration commands: credential test / call, sign saml / jwt, scan, lint."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from . import add_command
from . import output as out
from .core_cmds import open_inventory


def _subparsers_of(parser: argparse.ArgumentParser) -> Any:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError("command group without subcommands")  # pragma: no cover


def register(sub: Any) -> None:
    cred = _subparsers_of(sub.choices["credential"])
    p = add_command(cred, "test", "Do a real TLS handshake with a credential's endpoint and say what happened.",
                    "certlab credential test payment_gateway")
    p.add_argument("name")
    p.add_argument("--trust", choices=["inventory", "system", "both"], default="inventory",
                   help="CAs trusted for the server (default: the inventory's trust store)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS")
    p.add_argument("--without-cert", action="store_true", help="do not present the client certificate")
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true", help="print the report even when piped")
    p.set_defaults(func=cmd_credential_test)

    p = add_command(cred, "call", "Make an HTTPS callout with a credential's certificate (mutual TLS).",
                    "certlab credential call payment_gateway /v1/status --method GET")
    p.add_argument("name")
    p.add_argument("path", nargs="?", help="path or URL on the credential's endpoint (default: the endpoint's)")
    p.add_argument("--method", default="GET")
    p.add_argument("--data-file", metavar="FILE", help="request body from FILE ('-' for stdin)")
    p.add_argument("--header", action="append", default=[], metavar="NAME:VALUE")
    p.add_argument("--trust", choices=["inventory", "system", "both"], default="inventory")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS")
    p.set_defaults(func=cmd_credential_call)


    sign = add_command(sub, "sign", "Sign a SAML assertion or a JWT bearer assertion with a credential.",
                       "certlab sign saml sso_signing assertion.xml --out signed.xml")
    ssub = sign.add_subparsers(dest="what", metavar="WHAT")
    ssub.required = True
    p = add_command(ssub, "saml", "Sign a SAML 2.0 assertion (enveloped XML signature after the Issuer).",
                    "certlab sign saml hospital_sso assertion.xml --out signed.xml")
    p.add_argument("name", help="a saml named credential, or a certificate's unique name")
    p.add_argument("file", metavar="IN.xml")
    p.add_argument("--out", required=True, metavar="OUT.xml", help="where to write the signed XML ('-' for stdout)")
    p.set_defaults(func=cmd_sign_saml)
    p = add_command(ssub, "jwt", "Sign a JWT bearer assertion (RFC 7523) and print the token.",
                    "certlab sign jwt erp_jwt --iss 3MVG9.client --sub integration@acme.example --aud https://login.erp.example")
    p.add_argument("name", help="a jwt named credential, or a certificate's unique name")
    p.add_argument("--iss", required=True, help="issuer: usually the OAuth client id")
    p.add_argument("--sub", required=True, help="subject: the user or service the token stands for")
    p.add_argument("--aud", required=True, help="audience: the authorisation server")
    p.add_argument("--lifetime", type=int, default=300, metavar="SECONDS", help="validity in seconds (default 300)")
    p.set_defaults(func=cmd_sign_jwt)

    _register_scan(sub)

    p = add_command(sub, "lint", "Policy findings per certificate, with severities and the integrations at risk.",
                    "certlab lint --severity warning")
    p.add_argument("name", nargs="?", help="one certificate (default: the whole inventory)")
    p.add_argument("--severity", choices=["error", "warning", "info"], default="info", help="show this and worse")
    p.add_argument("--fail-on", choices=["error", "warning", "never"], default="never",
                   help="exit 1 when a finding this severe or worse exists (for CI)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true", help="print a table even when piped")
    p.set_defaults(func=cmd_lint)


def _register_scan(sub: Any) -> None:
    p = add_command(sub, "scan", "Fetch the certificate chain endpoints serve and record it (kind discovered).",
                    "certlab scan pay.partner.example:443 10.20.0.5:8443 --timeout 3")
    p.add_argument("targets", nargs="*", metavar="HOST:PORT", help="endpoints to scan (URLs work too)")
    p.add_argument("--credentials", action="store_true", help="also scan every named credential's endpoint")
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS", help="per endpoint (default 5)")
    p.add_argument("--workers", type=int, default=8, metavar="N", help="connections at once (default 8)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true", help="print a table even when piped")
    p.set_defaults(func=cmd_scan)

    p = add_command(sub, "endpoints", "List scanned endpoints: what each serves, when it was last seen, errors.",
                    "certlab endpoints --cert api_internal_test")
    p.add_argument("--cert", metavar="NAME", help="only endpoints that served this certificate")
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true", help="print a table even when piped")
    p.set_defaults(func=cmd_endpoints)


def cmd_scan(args: argparse.Namespace) -> int:
    from ..errors import InvalidInputError

    inv = open_inventory(args)
    targets = list(args.targets)
    if args.credentials:
        targets += [c.endpoint for c in inv.credentials()]
    if not targets:
        raise InvalidInputError("give endpoints to scan (HOST:PORT ...) or --credentials")
    progress = out.Progress("scanning")
    try:
        results = inv.scan(targets, timeout=args.timeout, workers=args.workers, progress=progress)
    finally:
        progress.close()
    if out.wants_json(args):
        out.print_json([r.to_json() for r in results])
    else:
        rows: list[list[str]] = []
        colours: list[str | None] = []
        for r in results:
            if not r.ok:
                rows.append([r.endpoint, "failed", "-", "-", "-", r.reason or r.problem or ""])
                colours.append(out.RED)
                continue
            leaf = r.chain[0]
            state = "changed" if r.changed else "new" if leaf.new else "known"
            note = f"was {r.previous_leaf}" if r.changed else f"{len(r.new_certificates)} new in chain of {len(r.chain)}"
            rows.append([r.endpoint, state, leaf.name, f"{leaf.not_after:%Y-%m-%d}", r.tls_version or "-", note])
            colours.append(out.YELLOW if r.changed else out.GREEN if leaf.new else None)
        out.table(["endpoint", "result", "certificate", "not after", "tls", "note"], rows, colours)
    return 0 if all(r.ok for r in results) else 1


def cmd_lint(args: argparse.Namespace) -> int:
    reports = open_inventory(args).lint(args.name, min_severity=args.severity)
    if out.wants_json(args):
        out.print_json([r.to_json() for r in reports])
    else:
        rows, colours = [], []
        for r in reports:
            for f in r.findings:
                rows.append([r.certificate, f.severity.value, f.rule, f.message])
                colours.append(out.RED if f.severity.value == "error" else out.YELLOW if f.severity.value == "warning" else None)
        if rows:
            out.table(["certificate", "severity", "rule", "finding"], rows, colours)
        else:
            out.info("no findings" + (f" for {args.name}" if args.name else ""))
    ranks = {"error": 0, "warning": 1, "info": 2, "never": -1}
    worst = min((ranks[f.severity.value] for r in reports for f in r.findings), default=9)
    return 1 if worst <= ranks[args.fail_on] else 0


def cmd_endpoints(args: argparse.Namespace) -> int:
    from ..models import iso

    rows = open_inventory(args).endpoints(args.cert)
    if out.wants_json(args):
        out.print_json([{k: iso(v) if hasattr(v, "isoformat") else v for k, v in r.items()} for r in rows])
    elif not rows:
        out.info("no scanned endpoints (scan some with: certlab scan HOST:PORT ...)")
    else:
        out.table(["endpoint", "certificate", "tls", "last seen", "changed", "last error"],
                  [[r["endpoint"], r["leaf"] or "-", r["tls_version"] or "-",
                    r["last_seen"].strftime("%Y-%m-%d %H:%M") if r["last_seen"] else "never",
                    r["changed_at"].strftime("%Y-%m-%d") if r["changed_at"] else "-", r["last_error"] or ""]
                   for r in rows],
                  [out.RED if r["last_error"] else None for r in rows])
    return 0


def cmd_sign_saml(args: argparse.Namespace) -> int:
    from ..errors import InvalidInputError
    from .core_cmds import _read_file

    signed = open_inventory(args).sign_saml(args.name, _read_file(args.file), source=args.file)
    if args.out == "-":
        sys.stdout.buffer.write(signed)
        sys.stdout.flush()
        return 0
    try:
        with open(args.out, "wb") as fh:
            fh.write(signed)
    except OSError as exc:
        raise InvalidInputError(f"{args.out}: cannot be written ({exc.strerror})") from None
    out.info(f"wrote {args.out} ({len(signed)} bytes, signed with {args.name})")
    return 0


def cmd_sign_jwt(args: argparse.Namespace) -> int:
    token = open_inventory(args).jwt_bearer(args.name, issuer=args.iss, subject=args.sub, audience=args.aud,
                                            lifetime=args.lifetime)
    sys.stdout.write(token + "\n")
    return 0


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else "yes" if value else "no"


def cmd_credential_test(args: argparse.Namespace) -> int:
    report = open_inventory(args).test_connection(args.name, trust=args.trust, timeout=args.timeout,
                                                  send_certificate=not args.without_cert)
    if out.wants_json(args):
        out.print_json({"credential": args.name, **report.to_json()})
        return 0 if report.connected else 1
    w = sys.stdout.write
    colour = out.use_colour()
    verdict = "connected" if report.connected else "NOT connected"
    if colour:
        verdict = (out.GREEN if report.connected else out.RED) + verdict + out.RESET
    w(f"{args.name}: {verdict} to {report.endpoint}\n")
    if report.tls_version:
        w(f"  TLS            {report.tls_version}{' ' + report.cipher if report.cipher else ''}\n")
    w(f"  server trusted {_yes_no(report.server_trusted)}\n")
    w(f"  asked for a client certificate  {_yes_no(report.client_cert_requested)}\n")
    w(f"  sent ours      {_yes_no(report.client_cert_sent)}; accepted {_yes_no(report.client_cert_accepted)}\n")
    if report.http_status is not None:
        w(f"  HTTP status    {report.http_status}\n")
    for i, c in enumerate(report.server_chain):
        w(f"  chain[{i}]       {out._clean(c.subject)}  (issuer {out._clean(c.issuer)}; expires "
          f"{c.not_after:%Y-%m-%d}, {out.days_text(c.days_left)})\n")
    if report.reason:
        w(f"  reason         {out._clean(report.reason)}\n")
    for note in report.notes:
        w(f"  note           {out._clean(note)}\n")
    return 0 if report.connected else 1


def cmd_credential_call(args: argparse.Namespace) -> int:
    from ..errors import InvalidInputError
    from .core_cmds import _read_file

    body = None
    if args.data_file == "-":
        body = sys.stdin.buffer.read()
    elif args.data_file:
        body = _read_file(args.data_file)
    headers = {}
    for h in args.header:
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            raise InvalidInputError(f"--header {h!r}: give NAME:VALUE")
        headers[name.strip()] = value.strip()
    resp = open_inventory(args).request(args.name, args.method, args.path, body=body, headers=headers,
                                        timeout=args.timeout, trust=args.trust)
    out.info(f"{resp.status} {resp.reason} from {resp.url}")
    sys.stdout.buffer.write(resp.body)
    sys.stdout.flush()
    return 0 if resp.status < 400 else 1
