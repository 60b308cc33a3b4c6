"""Expiry reminders without a database: thresholds, the message, delivery (SMTP, webhook) and iCalendar.

The Inventory decides what is due and records each delivery; this module only knows how a reminder
reads and how it travels. The iCalendar file is written with the standard library: RFC 5545's few
rules that matter here (CRLF, escaping, folding at 75 octets, all-day events) are short, and a
dependency for them would be larger than the code.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # smtplib, ssl, urllib and email load only when a reminder is sent (not on every CLI run)
    from email.message import EmailMessage

from .errors import CertlabError, InvalidInputError
from .models import iso

DEFAULT_THRESHOLDS = (90, 60, 30, 7, 0)
MAX_THRESHOLD = 3650
RENEWAL_CSR = -1  # the "threshold" of a reminder that a renewal CSR waits for its CA


class DeliveryError(CertlabError):
    """A reminder could not be delivered (the receiver is down, refused it, or timed out)."""


def check_thresholds(values: Iterable[int | str]) -> tuple[int, ...]:
    """Whole days before not_after, 0..3650, largest first; a negative one is refused."""
    out: set[int] = set()
    for v in values:
        text = str(v).strip()
        try:
            n = int(text)
        except ValueError:
            raise InvalidInputError(f"reminder threshold {text!r} is not a whole number of days") from None
        if n < 0:
            raise InvalidInputError(f"reminder threshold {n} is negative: give days before expiry, 0 for the day itself")
        if n > MAX_THRESHOLD:
            raise InvalidInputError(f"reminder threshold {n} is more than {MAX_THRESHOLD} days")
        out.add(n)
    if not out:
        raise InvalidInputError("give at least one reminder threshold (days before expiry)")
    return tuple(sorted(out, reverse=True))


def parse_thresholds(text: str) -> tuple[int, ...]:
    """``"90,60,30,7,0"`` as thresholds."""
    return check_thresholds(p for p in text.split(",") if p.strip())


def crossed_threshold(thresholds: Sequence[int], not_after: dt.datetime, at: dt.datetime) -> int | None:
    """The most urgent threshold ``at`` has reached (so a late start sends one reminder, not five)."""
    crossed = [t for t in thresholds if at >= not_after - dt.timedelta(days=t)]
    return min(crossed) if crossed else None


@dataclass(frozen=True)
class Reminder:
    """One reminder: a certificate at a threshold, who hears about it and what will break."""

    certificate: str
    kind: str  # expiry | renewal_csr
    threshold: int
    not_after: dt.datetime | None
    days_left: int | None
    owner: str
    recipients: tuple[str, ...]
    credentials: tuple[str, ...]
    key: str = field(repr=False, default="")  # what deliveries are counted against (the fingerprint)
    successor: str | None = None
    predecessor: str | None = None
    subject: str = ""
    certificate_id: int = 0
    targets: tuple[tuple[str, str], ...] = ()  # (channel, recipient) not yet delivered
    expired: bool = False

    @property
    def summary(self) -> str:
        if self.kind == "renewal_csr":
            return f"renewal CSR {self.certificate} (for {self.predecessor}) waits to be signed by its CA"
        day = self.not_after.date().isoformat() if self.not_after else "?"
        if self.expired:
            return f"{self.certificate} expired on {day}"
        if not self.days_left:
            return f"{self.certificate} expires within a day ({day})"
        return f"{self.certificate} expires in {self.days_left} days ({day})"

    def to_json(self) -> dict[str, Any]:
        return {
            "certificate": self.certificate, "kind": self.kind, "threshold": self.threshold,
            "not_after": iso(self.not_after), "days_left": self.days_left, "owner": self.owner,
            "recipients": list(self.recipients), "credentials": list(self.credentials),
            "successor": self.successor, "predecessor": self.predecessor, "subject": self.subject,
            "expired": self.expired, "summary": self.summary, "pending": [{"channel": c, "recipient": r} for c, r in self.targets],
        }


def message_text(r: Reminder) -> str:
    lines = [r.summary + ".", ""]
    if r.subject:
        lines.append(f"Subject:      {r.subject}")
    if r.owner:
        lines.append(f"Owner:        {r.owner}")
    lines.append("Breaks:       " + (", ".join(r.credentials) if r.credentials else "no named credential uses it"))
    if r.kind == "renewal_csr":
        lines += ["", f"Download the request:  certlab export {r.certificate} --format csr --out {r.certificate}.csr",
                  f"Upload what the CA returns:  certlab upload-signed {r.certificate} FILE",
                  f"Then cut over:  certlab rotate {r.predecessor} --cutover"]
    elif r.successor:
        lines += ["", f"Its successor {r.successor} exists: certlab rotate {r.certificate} --cutover"]
    else:
        lines += ["", f"Rotate it:  certlab rotate {r.certificate}"]
    if r.threshold >= 0:
        lines += ["", f"Reminder threshold: {r.threshold} days before expiry"]
    lines += ["", "-- certlab"]
    return "\n".join(lines) + "\n"


def email_message(r: Reminder, sender: str, to: str) -> EmailMessage:
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    msg = EmailMessage()
    msg["Subject"] = f"[certlab] {r.summary}"
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "certlab.invalid")
    msg["X-Certlab-Certificate"] = r.certificate
    msg["X-Certlab-Threshold"] = str(r.threshold)
    msg.set_content(message_text(r))
    return msg


def webhook_body(r: Reminder) -> dict[str, Any]:
    doc = r.to_json()
    doc.pop("pending", None)
    return {"event": "certlab.reminder", **doc}


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    starttls: bool = False
    username: str = ""
    sender: str = "certlab@localhost"
    ca_file: str = ""
    timeout: float = 15.0

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "starttls": self.starttls, "username": self.username,
                "sender": self.sender, "ca_file": self.ca_file, "timeout": self.timeout}


def send_email(cfg: SmtpConfig, msg: EmailMessage, password: str | None) -> None:
    """Hand one message to the SMTP server; STARTTLS verifies the server's certificate."""
    import smtplib
    import ssl

    try:
        with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout) as smtp:
            smtp.ehlo()
            if cfg.starttls:
                context = ssl.create_default_context(cafile=cfg.ca_file or None)
                smtp.starttls(context=context)
                smtp.ehlo()
            if cfg.username:
                if password is None:
                    raise DeliveryError(f"SMTP {cfg.host}:{cfg.port}: user {cfg.username} is configured but no "
                                        "password (set $CERTLAB_SMTP_PASSWORD or --smtp-password-file)")
                smtp.login(cfg.username, password)
            refused = smtp.send_message(msg)
            if refused:
                raise DeliveryError(f"SMTP {cfg.host}:{cfg.port} refused {', '.join(refused)}")
    except DeliveryError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"SMTP {cfg.host}:{cfg.port}: login as {cfg.username} refused ({exc.smtp_code})") from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"SMTP {cfg.host}:{cfg.port}: {_short(exc)}") from None


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    name: str = "default"
    timeout: float = 15.0

    def __post_init__(self) -> None:
        if not (self.url.startswith("https://") or self.url.startswith("http://")) or any(c.isspace() for c in self.url):
            raise InvalidInputError(f"invalid webhook URL {self.url!r}: give an http:// or https:// URL")

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "name": self.name, "timeout": self.timeout}


def post_webhook(cfg: WebhookConfig, body: dict[str, Any]) -> None:
    """POST the reminder as JSON; any status other than 2xx is a failed delivery."""
    import urllib.error
    import urllib.request

    data = json.dumps(body, default=str).encode()
    req = urllib.request.Request(cfg.url, data=data, method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": "certlab"})
    where = _url_host(cfg.url)
    try:
        with urllib.request.urlopen(req, timeout=cfg.timeout) as resp:
            status = resp.status
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"webhook '{cfg.name}' ({where}) answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"webhook '{cfg.name}' ({where}): {_short(reason)}") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"webhook '{cfg.name}' ({where}) answered HTTP {status}")


def _url_host(url: str) -> str:
    """Scheme and host only: webhook paths often carry a token."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}"


def _short(exc: object) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


# --- iCalendar ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    day: dt.date
    summary: str
    description: str
    categories: str  # comma-separated, each plain (letters, digits, '-')


def ics_calendar(events: Sequence[CalendarEvent], *, stamp: dt.datetime) -> bytes:
    """An RFC 5545 calendar of all-day events (one alarm a day ahead), CRLF-terminated and folded."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//certlab//certificate lifecycle//EN", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", "X-WR-CALNAME:certlab expiries and renewals"]
    stamp_text = stamp.strftime("%Y%m%dT%H%M%SZ")
    for e in events:
        lines += [
            "BEGIN:VEVENT", f"UID:{_escape(e.uid)}", f"DTSTAMP:{stamp_text}",
            f"DTSTART;VALUE=DATE:{e.day.strftime('%Y%m%d')}",
            f"DTEND;VALUE=DATE:{(e.day + dt.timedelta(days=1)).strftime('%Y%m%d')}",
            f"SUMMARY:{_escape(e.summary)}", f"DESCRIPTION:{_escape(e.description)}",
            f"CATEGORIES:{e.categories}", "TRANSP:TRANSPARENT",
            "BEGIN:VALARM", "ACTION:DISPLAY", f"DESCRIPTION:{_escape(e.summary)}", "TRIGGER:-P1D", "END:VALARM",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return b"".join(_fold(line) + b"\r\n" for line in lines)


def _escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n")
            .replace("\n", "\\n").replace("\r", "\\n"))


def _fold(line: str) -> bytes:
    """Fold at 75 octets without splitting a UTF-8 character (RFC 5545 section 3.1)."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return data
    out, chunk, limit = [], b"", 75
    for ch in line:
        b = ch.encode("utf-8")
        if len(chunk) + len(b) > limit:
            out.append(chunk)
            chunk, limit = b"", 74  # continuation lines start with one space
        chunk += b
    out.append(chunk)
    return b"\r\n ".join(out)


__all__ = ["DEFAULT_THRESHOLDS", "CalendarEvent", "DeliveryError", "Reminder", "SmtpConfig", "WebhookConfig",
           "check_thresholds", "crossed_threshold", "email_message", "ics_calendar", "message_text",
           "parse_thresholds", "post_webhook", "send_email", "webhook_body"]
