"""Expiry reminders: schedules, recipients, delivery configuration, due reminders, sending, calendar.

Sending is safe to run from cron, twice at once: inside the exclusive write lock a run *claims* each
(certificate, threshold, channel, recipient) it is about to deliver; another run sees the claim and
skips it. Delivery happens outside the lock; then the outcome is recorded and audited. A failed
delivery is recorded as failed (never as sent) and is claimed again by the next run. A claim left by a
run that died is taken over after ``CLAIM_TTL``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..blob import Blob
from ..errors import InvalidInputError
from ..models import Action, Outcome, Role, iso
from ..names import _check_email
from ..store import Tx
from .base import BRIEF_COLUMNS, _whole_days, record_rows
from .rotation import RotationActions

if TYPE_CHECKING:  # certlab.reminders (delivery, iCalendar) loads when a reminder action runs
    from .. import reminders as rem

CLAIM_TTL = dt.timedelta(minutes=15)
ENV_SMTP_PASSWORD = "CERTLAB_SMTP_PASSWORD"
_K_THRESHOLDS = "reminders.default_thresholds"
_K_RECIPIENTS = "reminders.default_recipients"
_K_TEAMS = "reminders.teams"
_K_SMTP = "reminders.smtp"
_K_WEBHOOK = "reminders.webhook"
_TEAM = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_READERS = (Role.ADMIN, Role.AUDITOR, Role.ANALYST)


if TYPE_CHECKING:
    from .results import DeliveryResult, _Schedules

# The result types live in results.py and load on first use (PEP 562): an action that returns
# none of them (reading one certificate, say) does not build them.
_RESULTS = ("DeliveryResult",)


def __getattr__(name: str) -> Any:
    if name in _RESULTS:
        from . import results

        return getattr(results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_recipient(value: str) -> str:
    """An e-mail address, or a team name (letters, digits, ``_ . -``)."""
    text = str(value).strip()
    if "@" in text:
        _check_email(text)
        return text
    if not _TEAM.match(text):
        raise InvalidInputError(f"invalid recipient {value!r}: give an e-mail address or a team name")
    return text


def _check_owner(value: str) -> str:
    text = str(value).strip()
    if len(text) > 200 or any(ord(c) < 32 for c in text):
        raise InvalidInputError("owner is longer than 200 characters or has control characters")
    return text


class ReminderActions(RotationActions):
    """Who hears about an expiry, when, and over which channel; and the record that they did."""

    # --- schedules and recipients --------------------------------------------------------------------

    def set_reminder_schedule(self, thresholds: Sequence[int] | None, *, certificate: str | None = None,
                              owner: str | None = None) -> tuple[int, ...]:
        """Thresholds (days before not_after) for one certificate, for an owner's named credentials, or
        (neither given) the default. ``None`` clears it (the default returns to 90, 60, 30, 7, 0)."""
        from .. import reminders as rem

        if certificate is not None and owner is not None:
            raise InvalidInputError("set a reminder schedule for a certificate or for an owner, not both")
        values = None if thresholds is None else rem.check_thresholds(thresholds)
        obj = certificate or (f"owner:{owner}" if owner is not None else "reminders-default")
        action = Action.UPDATED if certificate else Action.SETTINGS_CHANGED
        self._authorize(action, obj)
        with self.db.write() as tx:
            if certificate is None and owner is None:
                if values is None:
                    tx.execute("DELETE FROM settings WHERE key = ?", [_K_THRESHOLDS])
                else:
                    tx.set_setting(_K_THRESHOLDS, list(values))
            else:
                scope, target = ("certificate", str(self._get_row(tx, certificate)["id"])) if certificate else (
                    "owner", _check_owner(owner or ""))
                tx.execute("DELETE FROM reminder_schedules WHERE scope = ? AND target = ?", [scope, target])
                if values is not None:
                    tx.execute("INSERT INTO reminder_schedules (scope, target, thresholds, updated_at) VALUES (?, ?, ?, ?)",
                               [scope, target, json.dumps(list(values)), self.now()])
            self._audit(tx, action, obj, {"reminder_thresholds": None if values is None else list(values)})
            if certificate is not None:
                return self._thresholds(tx, self._get_row(tx, certificate))[0]
            return values or self._default_thresholds(tx)

    def reminder_schedule(self, certificate: str | None = None) -> tuple[tuple[int, ...], str]:
        """The thresholds in force and where they come from (certificate, owner NAME, default)."""
        with self.db.read() as tx:
            if certificate is None:
                return self._default_thresholds(tx), "default"
            return self._thresholds(tx, self._get_row(tx, certificate))

    def set_reminder_recipients(self, certificate: str | None, recipients: Sequence[str] | None = None, *,
                                owner: str | None = None) -> tuple[str, ...]:
        """Replace a certificate's recipients (and set its owner), or with ``certificate=None`` the default list."""
        values = None if recipients is None else tuple(dict.fromkeys(check_recipient(r) for r in recipients))
        owner = None if owner is None else _check_owner(owner)
        obj = certificate or "reminders-default"
        action = Action.UPDATED if certificate else Action.SETTINGS_CHANGED
        self._authorize(action, obj)
        with self.db.write() as tx:
            if certificate is None:
                if owner is not None:
                    raise InvalidInputError("an owner belongs to a certificate: name the certificate")
                if values is not None:
                    tx.set_setting(_K_RECIPIENTS, list(values))
                self._audit(tx, action, obj, {"default_recipients": list(values or ())})
                return tuple(tx.setting(_K_RECIPIENTS, []))
            row = self._get_row(tx, certificate)
            if values is not None:
                tx.execute("DELETE FROM certificate_recipients WHERE certificate_id = ?", [row["id"]])
                for r in values:
                    tx.execute("INSERT INTO certificate_recipients (certificate_id, recipient) VALUES (?, ?)", [row["id"], r])
            if owner is not None:
                tx.execute("UPDATE certificates SET owner = ?, updated_at = ? WHERE id = ?", [owner, self.now(), row["id"]])
            self._audit(tx, action, certificate, {"recipients": None if values is None else list(values),
                                                  "owner": owner})
            return self._cert_recipients(tx, row["id"])

    def set_team(self, team: str, members: Sequence[str]) -> tuple[str, ...]:
        """A team's e-mail addresses (an empty list removes the team)."""
        if not _TEAM.match(team) or "@" in team:
            raise InvalidInputError(f"invalid team name {team!r}: letters, digits, '_', '.', '-'")
        addresses = tuple(dict.fromkeys(m.strip() for m in members))
        for a in addresses:
            _check_email(a)
        self._authorize(Action.SETTINGS_CHANGED, f"team:{team}")
        with self.db.write() as tx:
            teams = dict(tx.setting(_K_TEAMS, {}))
            if addresses:
                teams[team] = list(addresses)
            else:
                teams.pop(team, None)
            tx.set_setting(_K_TEAMS, teams)
            self._audit(tx, Action.SETTINGS_CHANGED, f"team:{team}", {"members": list(addresses)})
        return addresses

    # --- delivery configuration ----------------------------------------------------------------------

    def configure_reminders(self, *, smtp: rem.SmtpConfig | None = None, smtp_password_file: str | None = None,
                            webhook: rem.WebhookConfig | None = None, clear_smtp: bool = False,
                            clear_webhook: bool = False) -> dict[str, Any]:
        """Set the SMTP server and/or the webhook. The SMTP password is never stored: it is read at send
        time from ``$CERTLAB_SMTP_PASSWORD`` or from the file named here (which must be mode 0600)."""
        if smtp_password_file is not None:
            p = Path(smtp_password_file).expanduser().absolute()
            if not p.is_file():
                raise InvalidInputError(f"SMTP password file {smtp_password_file}: no such file")
            if p.stat().st_mode & 0o077:
                raise InvalidInputError(f"SMTP password file {p} is readable by others; run: chmod 600 {p}")
            smtp_password_file = str(p)
        self._authorize(Action.SETTINGS_CHANGED, "reminders-delivery")
        with self.db.write() as tx:
            if clear_smtp:
                tx.execute("DELETE FROM settings WHERE key = ?", [_K_SMTP])
            if clear_webhook:
                tx.execute("DELETE FROM settings WHERE key = ?", [_K_WEBHOOK])
            if smtp is not None or smtp_password_file is not None:
                doc = dict(tx.setting(_K_SMTP, {}))
                if smtp is not None:
                    doc |= smtp.to_json()
                if smtp_password_file is not None:
                    doc["password_file"] = smtp_password_file
                if not doc.get("host"):
                    raise InvalidInputError("give the SMTP host (--smtp-host) before its password file")
                tx.set_setting(_K_SMTP, doc)
            if webhook is not None:
                tx.set_setting(_K_WEBHOOK, webhook.to_json())
            shown = self._settings_doc(tx)
            self._audit(tx, Action.SETTINGS_CHANGED, "reminders-delivery", shown)
            return shown

    def reminder_settings(self) -> dict[str, Any]:
        """Channels, defaults and teams (no secret: the webhook shows scheme and host only)."""
        with self.db.read() as tx:
            return self._settings_doc(tx)

    def _settings_doc(self, tx: Tx) -> dict[str, Any]:
        from .. import reminders as rem

        smtp = tx.setting(_K_SMTP)
        webhook = tx.setting(_K_WEBHOOK)
        return {
            "smtp": None if not smtp else {k: v for k, v in smtp.items()},
            "webhook": None if not webhook else {"name": webhook["name"], "url": rem._url_host(webhook["url"]) + "/..."},
            "default_thresholds": list(self._default_thresholds(tx)),
            "default_recipients": list(tx.setting(_K_RECIPIENTS, [])),
            "teams": tx.setting(_K_TEAMS, {}),
        }

    # --- what is due ---------------------------------------------------------------------------------

    def reminders_due(self, at: dt.datetime | None = None, *, limit: int | None = None) -> list[rem.Reminder]:
        """Reminders due at ``at`` that have not reached every recipient yet, for the certificates that
        expire (or expired) first; the first ``limit`` only when given (``count_reminders_due``: all)."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise InvalidInputError(f"limit must be a whole number of rows, not {limit!r}")
        self._authorize(Action.QUERIED, "reminders", _READERS)
        with self.db.read() as tx:
            return self._due(tx, at or self.now(), limit)[0]

    def count_reminders_due(self, at: dt.datetime | None = None) -> int:
        """How many reminders ``reminders_due`` lists (counted in DuckDB, not built)."""
        self._authorize(Action.QUERIED, "reminders", _READERS)
        with self.db.read() as tx:
            return self._due(tx, at or self.now(), 0)[1]

    def _due(self, tx: Tx, at: dt.datetime, limit: int | None = None) -> tuple[list[rem.Reminder], int]:
        """The first ``limit`` due reminders (all with ``None``) and how many are due in all.

        No query per certificate and no Python per certificate either: DuckDB finds the candidates
        (pending renewal CSRs; active certificates past a threshold of the default schedule) and counts
        those that no delivery has reached yet, which are due whoever their recipients are. Python
        looks only at the few certificates with a schedule of their own or of an owner, at those
        that some delivery reached (are all their recipients done?), and builds the page it returns."""
        from .. import reminders as rem

        channels = self._channels(tx)
        teams = tx.setting(_K_TEAMS, {})
        default_recipients = tuple(tx.setting(_K_RECIPIENTS, []))
        schedules = self._schedules(tx)
        custom_ids = sorted({int(i) for i in schedules.own if str(i).isdigit()} | {
            cid for cid, owners in schedules.credential_owners.items() if any(o in schedules.by_owner for o in owners)})
        thresholds = sorted(schedules.default)
        bounds = {f"b{i}": at + dt.timedelta(days=t) for i, t in enumerate(thresholds)}
        # The smallest default threshold t with not_after <= at + t days: the one crossed last.
        crossed_sql = ("CASE " + " ".join(f"WHEN c.not_after <= ${k} THEN {t}" for k, t in zip(bounds, thresholds))
                       + " END") if bounds else "CAST(NULL AS INTEGER)"
        params: dict[str, Any] = {**bounds, "latest": max(bounds.values()) if bounds else at, "csr": rem.RENEWAL_CSR,
                                  "custom_ids": custom_ids, "custom_owners": sorted(schedules.by_owner)}
        candidates = (
            "SELECT c.id, c.name, c.status, c.not_after, c.owner, "
            "CASE WHEN c.status = 'pending' THEN 'pending:' || c.id ELSE c.fingerprint_sha256 END AS key, "
            f"CASE WHEN c.status = 'pending' THEN $csr ELSE {crossed_sql} END AS threshold, "
            "(c.status = 'active' AND (c.id IN (SELECT unnest($custom_ids::BIGINT[])) "
            "OR c.owner IN (SELECT unnest($custom_owners::VARCHAR[])))) AS custom "
            "FROM certificates c "
            "WHERE ((c.status = 'active' AND c.not_after IS NOT NULL) OR (c.status = 'pending' AND c.predecessor_id IS NOT NULL)) "
            "AND (c.status = 'pending' OR c.not_after <= $latest OR c.id IN (SELECT unnest($custom_ids::BIGINT[])) "
            "OR c.owner IN (SELECT unnest($custom_owners::VARCHAR[])))")
        reached = ("EXISTS (SELECT 1 FROM reminder_deliveries d WHERE d.status = 'sent' AND d.fingerprint = k.key "
                   "AND d.threshold = k.threshold)")
        plain = f"NOT k.custom AND k.threshold IS NOT NULL AND NOT {reached}"
        order = "ORDER BY k.not_after NULLS FIRST, k.name"
        plain_total = None if limit is None else int(
            tx.scalar(f"SELECT count(*) FROM ({candidates}) k WHERE {plain}", params) or 0)
        page = [] if limit == 0 else tx.rows(
            f"SELECT k.id, k.key, k.threshold, k.not_after, k.name FROM ({candidates}) k WHERE {plain} {order}"
            + ("" if limit is None else f" LIMIT {int(limit)}"), params)
        others = tx.rows(f"SELECT k.id, k.key, k.threshold, k.not_after, k.name, k.owner, k.custom, "
                         f"k.status = 'pending' FROM ({candidates}) k WHERE NOT ({plain}) {order}", params)
        sent: dict[tuple[str, int], set[tuple[str, str]]] = {}
        if others:
            for fingerprint, threshold, channel, recipient in tx.rows(
                    "SELECT fingerprint, threshold, channel, recipient FROM reminder_deliveries "
                    "WHERE status = 'sent' AND fingerprint IN (SELECT unnest(?::VARCHAR[]))",
                    [sorted({str(o[1]) for o in others})]):
                sent.setdefault((fingerprint, int(threshold)), set()).add((channel, recipient))
        ids = {int(r[0]) for r in page} | {int(o[0]) for o in others}
        recipients: dict[int, tuple[str, ...]] = {}
        for cert_id, recipient in tx.rows("SELECT certificate_id, recipient FROM certificate_recipients "
                                          "WHERE certificate_id IN (SELECT unnest(?::BIGINT[])) "
                                          "ORDER BY certificate_id, recipient", [sorted(ids)]) if ids else []:
            recipients[int(cert_id)] = (*recipients.get(int(cert_id), ()), recipient)

        def targets(cert_id: int, owner: str | None) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
            raw = recipients.get(cert_id, ()) or default_recipients
            addresses = _resolve([*raw, *([owner] if owner else []), *schedules.credential_owners.get(cert_id, [])], teams)
            return raw, [(ch, r) for ch in channels for r in (addresses if ch == "email" else [channels[ch]])]

        # (sort key, id, key, threshold, open targets) of every reminder on the page or beyond it.
        due: list[tuple[tuple[Any, ...], int, str, int, tuple[tuple[str, str], ...]]] = []
        extra = 0
        for cert_id, key, threshold, not_after, name, owner, custom, pending in others:
            if custom and not pending:
                threshold = rem.crossed_threshold(schedules.thresholds({"id": cert_id, "owner": owner})[0], not_after, at)
            if threshold is None:
                continue
            all_targets = targets(int(cert_id), owner)[1]
            done = sent.get((key, int(threshold)), set())
            open_targets = tuple(t for t in all_targets if t not in done)
            if not open_targets and (all_targets or done):
                continue
            extra += 1
            due.append((_order(not_after, name), int(cert_id), key, int(threshold), open_targets))
        for cert_id, key, threshold, not_after, name in page:
            due.append((_order(not_after, name), int(cert_id), key, int(threshold), ()))
        due.sort(key=lambda d: d[0])
        total = len(due) if plain_total is None else plain_total + extra
        if limit is not None:
            due = due[:limit]
        full = {r["id"]: r for r in record_rows(tx, "WHERE c.id IN (SELECT unnest(?::BIGINT[]))",
                                                [[d[1] for d in due]], BRIEF_COLUMNS)} if due else {}
        out: list[rem.Reminder] = []
        for _, cert_id, key, threshold, open_targets in due:
            row = full[cert_id]
            raw, all_targets = targets(cert_id, row["owner"])
            days = None if row["not_after"] is None else _whole_days(row["not_after"] - at)
            out.append(rem.Reminder(
                certificate=row["name"], kind="renewal_csr" if threshold == rem.RENEWAL_CSR else "expiry",
                threshold=threshold, not_after=row["not_after"], days_left=days, owner=row["owner"] or "",
                recipients=tuple(raw), credentials=tuple(row["creds"].split(",")) if row["creds"] else (),
                key=key, successor=row["successor"], predecessor=row["predecessor"], subject=row["subject"],
                certificate_id=row["id"], targets=open_targets or tuple(all_targets),
                expired=row["not_after"] is not None and at >= row["not_after"],
            ))
        return out, total

    def _channels(self, tx: Tx) -> dict[str, str]:
        out = {}
        if tx.setting(_K_SMTP):
            out["email"] = "*"
        webhook = tx.setting(_K_WEBHOOK)
        if webhook:
            out["webhook"] = webhook["name"]
        return out

    # --- sending -------------------------------------------------------------------------------------

    def send_reminders(self, at: dt.datetime | None = None) -> list[DeliveryResult]:
        """Deliver what is due; each delivery is claimed first, recorded after, audited either way."""
        from .. import reminders as rem
        from .results import DeliveryResult

        self._authorize(Action.REMINDER_SENT, "reminders")
        when = at or self.now()
        import uuid

        token = uuid.uuid4().hex
        claims: list[tuple[int, rem.Reminder, str, str]] = []
        with self.db.write() as tx:
            smtp_doc = tx.setting(_K_SMTP)
            webhook_doc = tx.setting(_K_WEBHOOK)
            now = self.now()
            due = self._due(tx, when)[0]
            if due and not smtp_doc and not webhook_doc:
                raise InvalidInputError(
                    f"{len(due)} reminder(s) are due but no delivery channel is configured: run "
                    "'certlab reminders configure --smtp-host HOST' or '--webhook-url URL'")
            for r in due:
                for channel, recipient in r.targets:
                    found = tx.one("SELECT id, status, claimed_at FROM reminder_deliveries WHERE fingerprint = ? "
                                   "AND threshold = ? AND channel = ? AND recipient = ?",
                                   [r.key, r.threshold, channel, recipient])
                    if found is None:
                        did = tx.next_id("reminder_deliveries")
                        tx.execute("INSERT INTO reminder_deliveries (id, certificate_id, fingerprint, threshold, channel, "
                                   "recipient, status, claim_token, claimed_at) VALUES (?, ?, ?, ?, ?, ?, 'claimed', ?, ?)",
                                   [did, r.certificate_id, r.key, r.threshold, channel, recipient, token, now])
                    elif found[1] == "failed" or (found[1] == "claimed" and found[2] < now - CLAIM_TTL):
                        did = int(found[0])
                        tx.execute("UPDATE reminder_deliveries SET status = 'claimed', claim_token = ?, claimed_at = ? "
                                   "WHERE id = ?", [token, now, did])
                    else:
                        continue  # sent, or another run holds it now
                    claims.append((did, r, channel, recipient))
        if not claims:
            return []
        smtp = rem.SmtpConfig(**{k: v for k, v in smtp_doc.items() if k != "password_file"}) if smtp_doc else None
        webhook = rem.WebhookConfig(**webhook_doc) if webhook_doc else None
        password, password_error = _smtp_password(smtp_doc)
        results: list[DeliveryResult] = []
        for _did, r, channel, recipient in claims:
            try:
                if channel == "email":
                    assert smtp is not None
                    if password_error:
                        raise rem.DeliveryError(password_error)
                    rem.send_email(smtp, rem.email_message(r, smtp.sender, recipient), password)
                else:
                    assert webhook is not None
                    rem.post_webhook(webhook, rem.webhook_body(r))
                results.append(DeliveryResult(r.certificate, r.threshold, channel, recipient, True))
            except rem.DeliveryError as exc:
                results.append(DeliveryResult(r.certificate, r.threshold, channel, recipient, False, str(exc)))
        with self.db.write() as tx:
            now = self.now()
            for (did, r, _, _), res in zip(claims, results):
                tx.execute("UPDATE reminder_deliveries SET status = ?, sent_at = ?, attempts = attempts + 1, "
                           "last_error = ?, claim_token = NULL WHERE id = ? AND claim_token = ?",
                           ["sent" if res.ok else "failed", now if res.ok else None, res.error, did, token])
                self._audit(tx, Action.REMINDER_SENT if res.ok else Action.REMINDER_FAILED, r.certificate, {
                    "kind": r.kind, "threshold": r.threshold, "channel": res.channel, "recipient": res.recipient,
                    "not_after": iso(r.not_after), **({"error": res.error} if res.error else {}),
                }, Outcome.OK if res.ok else Outcome.FAILED)
        return results

    def reminder_deliveries(self, certificate: str | None = None) -> list[dict[str, Any]]:
        """The delivery record: what was sent (or failed) to whom, and when."""
        with self.db.read() as tx:
            sql = ("SELECT c.name, d.threshold, d.channel, d.recipient, d.status, d.attempts, d.claimed_at, d.sent_at, "
                   "d.last_error FROM reminder_deliveries d LEFT JOIN certificates c ON c.id = d.certificate_id")
            params: list[Any] = []
            if certificate is not None:
                sql += " WHERE c.name = ?"
                params.append(certificate)
            rows = tx.rows(sql + " ORDER BY d.id", params)
        keys = ("certificate", "threshold", "channel", "recipient", "status", "attempts", "claimed_at", "sent_at", "error")
        return [dict(zip(keys, r)) for r in rows]

    # --- calendar ------------------------------------------------------------------------------------

    def expiry_calendar(self, at: dt.datetime | None = None, *, within_days: int = 365) -> Blob:
        """An iCalendar file of expiries and renewal (rotation) dates from ``at`` for ``within_days``."""
        from .. import reminders as rem

        if isinstance(within_days, bool) or not isinstance(within_days, int) or not 1 <= within_days <= 3650:
            raise InvalidInputError(f"calendar window of {within_days!r} days is out of range 1..3650")
        self._authorize(Action.DOWNLOADED, "calendar", _READERS)
        when = at or self.now()
        end = when + dt.timedelta(days=within_days)
        events: list[rem.CalendarEvent] = []
        with self.db.read() as tx:
            rows = record_rows(tx, "WHERE c.status = 'active' "
                            "AND c.not_after IS NOT NULL AND c.not_after >= ? AND c.not_after < ? ORDER BY c.not_after, c.name",
                            [when, end + dt.timedelta(days=3650)])
            for row in rows:
                rec = self._to_record(row, when)
                not_after = row["not_after"]
                creds = ", ".join(rec.credentials) or "none"
                desc = f"{rec.subject}\nKind: {rec.kind}\nOwner: {rec.owner or '-'}\nNamed credentials: {creds}"
                if not_after < end:
                    events.append(rem.CalendarEvent(
                        f"{rec.fingerprint_sha256}-expiry@certlab", not_after.date(),
                        f"Certificate {rec.name} expires", desc, "certlab,expiry"))
                if rec.successor is None and not rec.is_ca and rec.kind in ("self_signed", "ca_signed", "imported"):
                    due = self._policy(tx, rec.id).due_at(rec.not_before or not_after, not_after)
                    if when <= due < end:
                        events.append(rem.CalendarEvent(
                            f"{rec.fingerprint_sha256}-renewal@certlab", due.date(),
                            f"Renew certificate {rec.name} (rotation due)",
                            desc + f"\nRotate with: certlab rotate {rec.name}", "certlab,renewal"))
        events.sort(key=lambda e: (e.day, e.summary))
        return Blob(rem.ics_calendar(events, stamp=self.now()), "certlab.ics", "text/calendar")

    # --- helpers -------------------------------------------------------------------------------------

    def _default_thresholds(self, tx: Tx) -> tuple[int, ...]:
        from .. import reminders as rem

        value = tx.setting(_K_THRESHOLDS)
        return tuple(value) if value else rem.DEFAULT_THRESHOLDS

    def _thresholds(self, tx: Tx, row: dict[str, Any]) -> tuple[tuple[int, ...], str]:
        return self._schedules(tx).thresholds(row)

    def _schedules(self, tx: Tx) -> _Schedules:
        """Every reminder schedule and every credential owner, read once (both tables are small)."""
        from .results import _Schedules

        own: dict[str, tuple[int, ...]] = {}
        by_owner: dict[str, set[int]] = {}
        for scope, target, value in tx.rows("SELECT scope, target, thresholds FROM reminder_schedules"):
            if not value:
                continue
            if scope == "certificate":
                own[str(target)] = tuple(json.loads(value))
            elif scope == "owner":
                by_owner[str(target)] = set(json.loads(value))
        owners: dict[int, list[str]] = {}
        for cert_id, owner in tx.rows("SELECT DISTINCT certificate_id, owner FROM named_credentials WHERE owner <> '' "
                                      "ORDER BY certificate_id, owner"):
            owners.setdefault(int(cert_id), []).append(owner)
        return _Schedules(own, by_owner, owners, self._default_thresholds(tx))

    def _cert_recipients(self, tx: Tx, cert_id: int) -> tuple[str, ...]:
        return tuple(r[0] for r in tx.rows("SELECT recipient FROM certificate_recipients WHERE certificate_id = ? "
                                           "ORDER BY recipient", [cert_id]))


def _order(not_after: dt.datetime | None, name: str) -> tuple[Any, ...]:
    """DuckDB's ``ORDER BY not_after NULLS FIRST, name`` as a Python sort key."""
    return (0, dt.datetime.min, name) if not_after is None else (1, not_after, name)


def _resolve(entries: Sequence[str], teams: dict[str, list[str]]) -> list[str]:
    """E-mail addresses of entries that are addresses or known teams (others are skipped)."""
    out: list[str] = []
    for e in entries:
        for addr in ([e] if "@" in e else teams.get(e, [])):
            if addr not in out:
                out.append(addr)
    return out


def _smtp_password(doc: dict[str, Any] | None) -> tuple[str | None, str]:
    """(password, error): from $CERTLAB_SMTP_PASSWORD, else the configured file's first line."""
    if not doc or not doc.get("username"):
        return None, ""
    if os.environ.get(ENV_SMTP_PASSWORD):
        return os.environ[ENV_SMTP_PASSWORD], ""
    path = doc.get("password_file")
    if not path:
        return None, f"SMTP user {doc['username']} has no password: set ${ENV_SMTP_PASSWORD} or --smtp-password-file"
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline().rstrip("\r\n"), ""
    except OSError as exc:
        return None, f"SMTP password file {path}: cannot be read ({exc.strerror})"


__all__ = ["CLAIM_TTL", "DeliveryResult", "ReminderActions", "check_recipient"]
