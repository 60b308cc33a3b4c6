"""The hash-chained audit trail.

Each event's hash is HMAC-SHA-256 (audit key) over the previous hash and the event's canonical JSON
(the exact text stored in ``body``). Editing, deleting or reordering events breaks the chain at the
first event concerned; deleting the newest events is caught by comparing with a head kept elsewhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from .db import Tx

GENESIS = "0" * 64
_COLUMNS = ("seq", "at", "actor", "role", "action", "object", "details", "outcome")
_BODY_KEYS = "[" + ", ".join(f"'{k}'" for k in sorted(_COLUMNS)) + "]"  # canonical() sorts the keys


def canonical(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def chain_hash(key: bytes, prev_hash: str, body: str) -> str:
    return hmac.digest(key, (prev_hash + "\n" + body).encode("utf-8"), hashlib.sha256).hex()


#: The newest event. max(seq) comes from DuckDB's statistics; a top-N (ORDER BY seq DESC LIMIT 1) read
#: every seq (at a million events, 10 ms of every write action).
HEAD_SQL = "SELECT seq, hash FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)"


def append(
    tx: Tx,
    key: bytes,
    *,
    at: dt.datetime,
    actor: str,
    role: str,
    action: str,
    obj: str,
    details: dict[str, Any],
    outcome: str,
) -> tuple[int, str]:
    """Append one event inside the caller's (exclusive) transaction; returns (seq, hash)."""
    head = tx.one(HEAD_SQL)
    seq, prev = (int(head[0]) + 1, str(head[1])) if head else (1, GENESIS)
    at_text = at.replace(microsecond=0).isoformat()
    details_text = canonical(details)
    body = canonical(
        {"seq": seq, "at": at_text, "actor": actor, "role": role, "action": action, "object": obj,
         "details": details_text, "outcome": outcome}
    )
    digest = chain_hash(key, prev, body)
    tx.execute(
        "INSERT INTO audit_events (seq, occurred_at, actor, role, action, object, details, outcome, body, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [seq, at.replace(microsecond=0), actor, role, action, obj, details_text, outcome, body, prev, digest],
    )
    return seq, digest


def append_many(tx: Tx, key: bytes, events: list[dict[str, Any]]) -> tuple[int, str]:
    """Append events (dicts of at, actor, role, action, object, details, outcome) as one batch insert.

    The same chain as :func:`append`, computed in memory and written with one frame insert; for bulk
    actions that record many events at once. Returns the new head (seq, hash).
    """
    rows = tx.rows(HEAD_SQL)  # rows(): a frame insert
    seq, prev = (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS)  # needs no pending result
    if not events:
        return seq, prev
    cols: dict[str, list[Any]] = {c: [] for c in (
        "seq", "occurred_at", "actor", "role", "action", "object", "details", "outcome", "body", "prev_hash", "hash")}
    for event in events:
        seq += 1
        at = event["at"].replace(microsecond=0)
        details_text = canonical(event["details"])
        body = canonical({"seq": seq, "at": at.isoformat(), "actor": event["actor"], "role": event["role"],
                          "action": event["action"], "object": event["object"], "details": details_text,
                          "outcome": event["outcome"]})
        digest = chain_hash(key, prev, body)
        for col, value in (("seq", seq), ("occurred_at", at), ("actor", event["actor"]), ("role", event["role"]),
                           ("action", event["action"]), ("object", event["object"]), ("details", details_text),
                           ("outcome", event["outcome"]), ("body", body), ("prev_hash", prev), ("hash", digest)):
            cols[col].append(value)
        prev = digest
    tx.insert_rows("audit_events", cols)
    return seq, prev


@dataclass(frozen=True)
class Verification:
    """The result of walking the chain."""

    ok: bool
    events: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str = ""

    @property
    def head(self) -> str:
        return f"{self.head_seq}:{self.head_hash}"

    def describe(self) -> str:
        if self.ok:
            return f"audit chain verified: {self.events} events, head {self.head}"
        return f"audit chain broken at event {self.first_bad_seq}: {self.problem}"


def verify(tx: Tx, key: bytes, expect_head: str | None = None, batch: int = 100_000) -> Verification:
    """Walk every event in order of seq; name the first that was edited, removed or reordered.

    ``expect_head`` (``SEQ:HASH``, kept outside the database) also catches removal of the newest events
    and a rewritten history.
    """
    want_seq, want_hash = _parse_head(expect_head) if expect_head else (0, "")
    seen_want_hash = ""
    prev, expected_seq = GENESIS, 1
    # DuckDB checks, vectorised and in parallel, that each event's stored columns are what its body says
    # (the body is what was hashed): the first event whose body is not a JSON object, and the first whose
    # columns differ. Python walks the order, the links and the HMACs. No JSON is parsed per event in
    # Python: at a million events that parse was most of the time.
    # One parse per body: every field is extracted by one json_extract_string over a list of paths
    # (a call per field parsed the body eight times; at a million events that was most of the scan).
    pairs = (("seq", "CAST(seq AS VARCHAR)"), ("at", "strftime(occurred_at, '%Y-%m-%dT%H:%M:%S')"),
             ("actor", "actor"), ("role", "role"), ("action", "action"), ("object", "object"),
             ("details", "details"), ("outcome", "outcome"))
    paths = "[" + ", ".join(f"'$.{k}'" for k, _ in pairs) + "]"
    fields = " AND ".join(f"j[{i}] IS NOT DISTINCT FROM {col}" for i, (_, col) in enumerate(pairs, 1))
    # CASE, not AND: DuckDB evaluates a CASE branch only for the rows that reach it (a JSON function
    # would fail on a malformed body).
    is_object = "CASE WHEN json_valid(body) THEN json_type(body) = 'OBJECT' ELSE false END"
    found = tx.one(
        "SELECT min(seq) FILTER (WHERE NOT obj), min(seq) FILTER (WHERE obj AND (keys <> "
        f"{_BODY_KEYS} OR NOT ({fields}))) FROM (SELECT *, CASE WHEN obj THEN json_keys(body) END AS keys, "
        f"CASE WHEN obj THEN json_extract_string(body, {paths}) END AS j FROM "
        f"(SELECT *, coalesce({is_object}, false) AS obj FROM audit_events))")
    bad_body, bad_columns = found if found else (None, None)
    first_flagged = min((x for x in (bad_body, bad_columns) if x is not None), default=None)
    copy, same = hmac.new(key, digestmod=hashlib.sha256).copy, hmac.compare_digest  # keyed once, copied per event
    cur = tx.con.execute("SELECT seq, body, prev_hash, hash FROM audit_events ORDER BY seq")
    while True:
        rows = cur.fetchmany(batch)
        if not rows:
            break
        for seq, body, prev_hash, digest in rows:  # the columns are NOT NULL VARCHAR and BIGINT
            if seq == expected_seq and prev_hash == prev:
                mac = copy()
                mac.update(f"{prev}\n{body}".encode())
                if same(mac.hexdigest(), digest) and seq != first_flagged:
                    prev = digest
                    if seq == want_seq:
                        seen_want_hash = digest
                    expected_seq += 1
                    continue
                problem = "hash" if seq == bad_body or not same(mac.hexdigest(), digest) else "columns"
            else:
                problem = "gap" if seq != expected_seq else "link"
            # Every event before this one is good, and they are 1 .. expected_seq - 1.
            bad = expected_seq if problem == "gap" else int(seq)
            return Verification(False, expected_seq - 1, expected_seq - 1, prev, bad, _PROBLEMS[problem])
    count = last_seq = expected_seq - 1
    last_hash = prev
    if expect_head:
        if last_seq < want_seq:
            return Verification(False, count, last_seq, last_hash, last_seq + 1,
                                f"events {last_seq + 1} to {want_seq} are missing (the kept head is {want_seq})")
        if not hmac.compare_digest(seen_want_hash, want_hash):
            return Verification(False, count, last_seq, last_hash, want_seq,
                                "event differs from the kept head: the history was rewritten")
    return Verification(True, count, last_seq, last_hash)


def _parse_head(head: str) -> tuple[int, str]:
    from ..errors import InvalidInputError

    seq_text, _, hash_text = head.strip().partition(":")
    if not seq_text.isdigit() or len(hash_text) != 64 or any(c not in "0123456789abcdef" for c in hash_text):
        raise InvalidInputError(f"expected head {head!r} is not of the form SEQ:HASH (64 hex digits)")
    return int(seq_text), hash_text


_PROBLEMS = {
    "gap": "an event is missing (deleted) before this point",
    "link": "the event does not follow its predecessor (removed or reordered events)",
    "hash": "the event was edited (its hash does not match its content)",
    "columns": "the event's stored columns differ from what was hashed (edited)",
}


def head_hash_at(tx: Tx, seq: int) -> str | None:
    value = tx.scalar("SELECT hash FROM audit_events WHERE seq = ?", [seq])
    return None if value is None else str(value)
