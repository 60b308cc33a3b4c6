"""Reminder commands: due, send, schedule, recipients, team, configure, deliveries, calendar."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from . import add_command
from . import output as out
from .core_cmds import open_inventory, parse_time, wants_doc


def register(sub: Any) -> None:
    r = add_command(sub, "reminders", "Expiry reminders by e-mail and webhook, sent once each; a calendar export.",
                    "certlab reminders due --at 2027-03-01T00:00:00Z")
    rsub = r.add_subparsers(dest="what", metavar="WHAT")
    rsub.required = True

    p = add_command(rsub, "due", "List the reminders due (certificate, threshold, owner, credentials that break).",
                    "certlab reminders due --at 2027-03-01T00:00:00Z --json")
    p.add_argument("--at", metavar="DATETIME", help="ISO 8601, UTC (default: now)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true")
    p.set_defaults(func=cmd_due)

    p = add_command(rsub, "send", "Deliver the due reminders (safe for cron: nothing is sent twice; failures retry).",
                    "certlab reminders send")
    p.add_argument("--at", metavar="DATETIME", help="ISO 8601, UTC (default: now)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true")
    p.set_defaults(func=cmd_send)

    p = add_command(rsub, "schedule", "Set reminder thresholds (days before expiry) for a certificate, an owner, or "
                    "the default.", "certlab reminders schedule payments_mtls --thresholds 60,30,14,7,1,0")
    p.add_argument("name", nargs="?", help="the certificate")
    p.add_argument("--owner", help="the thresholds for certificates whose named credentials this owner holds")
    p.add_argument("--default", action="store_true", help="the project-wide default (90,60,30,7,0)")
    p.add_argument("--thresholds", metavar="DAYS,...", help="e.g. 90,60,30,7,0")
    p.add_argument("--clear", action="store_true", help="remove it (the next level applies)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_schedule)

    p = add_command(rsub, "recipients", "Set who hears about a certificate (or, with --default, any): e-mail "
                    "addresses or team names.", "certlab reminders recipients payments_mtls --to payments-team "
                    "--to ops@example.com --owner payments-team")
    p.add_argument("name", nargs="?", help="the certificate")
    p.add_argument("--default", action="store_true", help="the default recipients (certificates with none of their own)")
    p.add_argument("--to", action="append", metavar="RECIPIENT", help="e-mail address or team (repeatable; replaces)")
    p.add_argument("--owner", help="the certificate's owner (an e-mail address or a team)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_recipients)

    p = add_command(rsub, "team", "Set a team's e-mail addresses (none removes the team).",
                    "certlab reminders team payments-team --member alice@example.com --member bob@example.com")
    p.add_argument("team")
    p.add_argument("--member", action="append", default=[], metavar="EMAIL")
    p.set_defaults(func=cmd_team)

    p = add_command(rsub, "configure", "Configure delivery: SMTP (the password is never stored) and a webhook.",
                    "certlab reminders configure --smtp-host mail.example.com --smtp-port 587 --starttls "
                    "--smtp-user certlab --smtp-password-file /etc/certlab/smtp.pw --from certlab@example.com")
    p.add_argument("--smtp-host")
    p.add_argument("--smtp-port", type=int)
    p.add_argument("--starttls", action=argparse.BooleanOptionalAction, default=None,
                   help="upgrade the connection with STARTTLS (verifying the server's certificate)")
    p.add_argument("--smtp-user")
    p.add_argument("--smtp-password-file", metavar="FILE",
                   help="file (mode 0600) whose first line is the password; or set $CERTLAB_SMTP_PASSWORD")
    p.add_argument("--smtp-ca-file", metavar="FILE", help="CA certificates to verify the SMTP server with")
    p.add_argument("--from", dest="sender", metavar="ADDRESS", help="sender address")
    p.add_argument("--webhook-url", metavar="URL", help="POST each reminder as JSON here")
    p.add_argument("--webhook-name", default="default", help="name the deliveries record for it (default: default)")
    p.add_argument("--no-smtp", action="store_true", help="remove the SMTP configuration")
    p.add_argument("--no-webhook", action="store_true", help="remove the webhook")
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true")
    p.set_defaults(func=cmd_configure)

    p = add_command(rsub, "deliveries", "The delivery record: what was sent or failed, to whom, when.",
                    "certlab reminders deliveries --json")
    p.add_argument("name", nargs="?", help="only this certificate")
    p.add_argument("--json", action="store_true")
    p.add_argument("--table", action="store_true")
    p.set_defaults(func=cmd_deliveries)

    p = add_command(rsub, "calendar", "Write an iCalendar (.ics) file of upcoming expiries and renewal dates.",
                    "certlab reminders calendar --out certlab.ics --within 365")
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--within", type=int, default=365, metavar="DAYS")
    p.add_argument("--at", metavar="DATETIME", help="start of the window (default: now)")
    p.set_defaults(func=cmd_calendar)


def cmd_due(args: argparse.Namespace) -> int:
    due = open_inventory(args).reminders_due(parse_time(args.at, "--at"))
    if wants_doc(args):
        out.print_json([r.to_json() for r in due])
    elif not due:
        out.info("no reminders are due")
    else:
        out.table(["certificate", "threshold", "not after", "owner", "recipients", "credentials", "summary"],
                  [[r.certificate, "csr" if r.threshold < 0 else f"{r.threshold}d",
                    r.not_after.date().isoformat() if r.not_after else "-", r.owner or "-",
                    ",".join(r.recipients) or "(default)", ",".join(r.credentials) or "-", r.summary] for r in due],
                  [out.RED if r.expired else None for r in due])
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    inv = open_inventory(args)
    at = parse_time(args.at, "--at")
    results = inv.send_reminders(at)
    unreachable = [r.certificate for r in inv.reminders_due(at) if not r.targets]
    if unreachable:
        out.info(f"no recipient for: {', '.join(unreachable)} (certlab reminders recipients NAME --to ADDRESS, "
                 "or --default)")
    if wants_doc(args):
        out.print_json([r.to_json() for r in results])
    elif not results:
        out.info("nothing to send")
    else:
        out.table(["certificate", "threshold", "channel", "recipient", "result"],
                  [[r.certificate, r.threshold, r.channel, r.recipient, "sent" if r.ok else f"FAILED: {r.error}"]
                   for r in results], [None if r.ok else out.RED for r in results])
    failed = [r for r in results if not r.ok]
    if failed:
        out.info(f"{len(failed)} of {len(results)} deliveries failed; they are retried on the next run")
        return 1
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    from ..errors import InvalidInputError
    from ..reminders import parse_thresholds

    targets = sum(bool(x) for x in (args.name, args.owner, args.default))
    if targets != 1:
        raise InvalidInputError("give one of: a certificate NAME, --owner OWNER, --default")
    inv = open_inventory(args)
    if args.clear and args.thresholds:
        raise InvalidInputError("--clear removes the schedule: give no --thresholds with it")
    if args.thresholds or args.clear:
        values = None if args.clear else parse_thresholds(args.thresholds)
        result = inv.set_reminder_schedule(values, certificate=args.name, owner=args.owner)
        source = "set"
    else:
        if args.owner:
            raise InvalidInputError("give --thresholds to set the owner's schedule")
        result, source = inv.reminder_schedule(args.name)
    if wants_doc(args):
        out.print_json({"thresholds": list(result), "source": source})
    else:
        print(f"{args.name or args.owner or 'default'}: {', '.join(map(str, result))} days before expiry ({source})")
    return 0


def cmd_recipients(args: argparse.Namespace) -> int:
    from ..errors import InvalidInputError

    if bool(args.name) == bool(args.default):
        raise InvalidInputError("give a certificate NAME or --default (one of them)")
    result = open_inventory(args).set_reminder_recipients(args.name, args.to, owner=args.owner)
    if wants_doc(args):
        out.print_json({"recipients": list(result)})
    else:
        print(f"{args.name or 'default'}: {', '.join(result) or '(none)'}")
    return 0


def cmd_team(args: argparse.Namespace) -> int:
    members = open_inventory(args).set_team(args.team, args.member)
    out.info(f"team {args.team}: {', '.join(members) if members else 'removed'}")
    return 0


def cmd_configure(args: argparse.Namespace) -> int:
    from ..errors import InvalidInputError
    from ..reminders import SmtpConfig, WebhookConfig

    inv = open_inventory(args)
    smtp = None
    smtp_given = any(v is not None for v in (args.smtp_host, args.smtp_port, args.starttls, args.smtp_user,
                                              args.smtp_ca_file, args.sender))
    if smtp_given:
        current = inv.reminder_settings()["smtp"] or {}
        host = args.smtp_host or current.get("host")
        if not host:
            raise InvalidInputError("give --smtp-host")
        starttls = args.starttls if args.starttls is not None else bool(current.get("starttls", False))
        port = args.smtp_port or current.get("port") or (587 if starttls else 25)
        if not 1 <= port <= 65535:
            raise InvalidInputError(f"--smtp-port {port} is out of range 1..65535")
        sender = args.sender or current.get("sender") or "certlab@localhost"
        from ..names import _check_email

        _check_email(sender)
        smtp = SmtpConfig(host=host, port=port, starttls=starttls,
                          username=args.smtp_user if args.smtp_user is not None else current.get("username", ""),
                          sender=sender, ca_file=args.smtp_ca_file or current.get("ca_file", ""))
    webhook = WebhookConfig(args.webhook_url, args.webhook_name) if args.webhook_url else None
    doc = inv.configure_reminders(smtp=smtp, smtp_password_file=args.smtp_password_file, webhook=webhook,
                                  clear_smtp=args.no_smtp, clear_webhook=args.no_webhook)
    if wants_doc(args):
        out.print_json(doc)
    else:
        for k, v in doc.items():
            sys.stdout.write(f"{k.ljust(18)}  {out._clean(v)}\n")
    return 0


def cmd_deliveries(args: argparse.Namespace) -> int:
    rows = open_inventory(args).reminder_deliveries(args.name)
    if wants_doc(args):
        out.print_json(rows)
    elif not rows:
        out.info("no reminders delivered yet")
    else:
        out.table(["certificate", "threshold", "channel", "recipient", "status", "attempts", "sent at", "error"],
                  [[d["certificate"], d["threshold"], d["channel"], d["recipient"], d["status"], d["attempts"],
                    d["sent_at"] or "-", d["error"]] for d in rows],
                  [out.RED if d["status"] == "failed" else None for d in rows])
    return 0


def cmd_calendar(args: argparse.Namespace) -> int:
    from ..errors import InvalidInputError

    blob = open_inventory(args).expiry_calendar(parse_time(args.at, "--at"), within_days=args.within)
    try:
        blob.write_to_path(args.out)
    except OSError as exc:
        raise InvalidInputError(f"{args.out}: cannot be written ({exc.strerror})") from None
    out.info(f"wrote {args.out} ({blob.bytes().count(b'BEGIN:VEVENT')} events)")
    return 0
