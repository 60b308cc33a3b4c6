"""Integration actions: use a named credential's certificate and key for real (mTLS callouts, connection
tests, SAML and JWT signing), discover endpoints, and lint the inventory.

Every action resolves the credential, checks its certificate's state, decrypts the key in memory only
and audits the use (never the payload, never key material).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from typing import TYPE_CHECKING, Any

from cryptography import x509

from ..errors import ConflictError, EndpointError, InvalidInputError, NotFoundError
from ..integrations.trust import Trust
from ..models import Action, Credential, Kind, Outcome, Status
from ..store import Tx, in_list
from .base import InventoryBase, StoredNames
from .core import READERS

if TYPE_CHECKING:
    import ssl

    from ..integrations import tls

_METHOD = re.compile(r"^[A-Z]{3,10}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
DEFAULT_TIMEOUT = 30.0


if TYPE_CHECKING:
    from .results import LintReport, ScannedCertificate, ScanResult, _Use

# The result types live in results.py and load on first use (PEP 562): an action that returns
# none of them (reading one certificate, say) does not build them.
_RESULTS = ("ScannedCertificate", "ScanResult", "LintReport")


def __getattr__(name: str) -> Any:
    if name in _RESULTS:
        from . import results

        return getattr(results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class IntegrationActions(InventoryBase):
    """Callouts, connection tests and signatures with a named credential; discovery; lint."""

    # --- resolving a credential -------------------------------------------------------------------

    def _credential_row(self, tx: Tx, name: str) -> Credential | None:
        row = tx.one(
            "SELECT n.name, c.name, n.endpoint, n.purpose, n.owner, n.created_at FROM named_credentials n "
            "JOIN certificates c ON c.id = n.certificate_id WHERE n.name = ?", [name])
        if row is None:
            return None
        return Credential(name=row[0], certificate=row[1], endpoint=row[2], purpose=row[3], owner=row[4],
                          created_at=row[5])

    def _resolve(self, tx: Tx, name: str, *, purposes: tuple[str, ...], allow_certificate: bool,
                 allow_expired: bool = False) -> _Use:
        """The credential (or, where allowed, the certificate) called ``name``, ready to use."""
        from .results import _Use

        cred = self._credential_row(tx, name)
        if cred is None:
            if not allow_certificate or not tx.scalar("SELECT 1 FROM certificates WHERE name = ?", [name]):
                also = " and no certificate" if allow_certificate else ""
                raise NotFoundError(f"no named credential{also} called {name!r}")
        elif cred.purpose not in purposes:
            raise InvalidInputError(f"{name} is a {cred.purpose} credential, not {' or '.join(purposes)}")
        cert_name = cred.certificate if cred else name
        row, cert, chain = self._certificate(tx, cert_name)
        what = f"{cert_name} (used by {cred.name})" if cred else cert_name
        if row["status"] == Status.PENDING.value or cert is None:
            raise ConflictError(f"{what} is pending: it has no signed certificate yet")
        if row["status"] != Status.ACTIVE.value:
            raise ConflictError(f"{what} is {row['status']}: it may not be used")
        now = self.now()
        expired = row["not_after"] is not None and row["not_after"] < now
        if expired and not allow_expired:
            raise ConflictError(f"{what} expired on {row['not_after']:%Y-%m-%d %H:%M} UTC: rotate it before using it")
        if row["not_before"] is not None and row["not_before"] > now and not allow_expired:
            raise ConflictError(f"{what} is not valid before {row['not_before']:%Y-%m-%d %H:%M} UTC")
        if row["key_id"] is None:
            raise NotFoundError(f"{what} has no private key in the inventory")
        key = self._load_private_key(tx, int(row["key_id"]))
        return _Use(cred, cert_name, cert, tuple(chain), key, expired)

    def _trust_anchors(self, tx: Tx) -> list[x509.Certificate]:
        """The inventory's trust store: active trusted and internal CA certificates."""
        rows = tx.rows("SELECT der FROM certificates WHERE kind IN ('trusted_ca', 'internal_ca') "
                       "AND status = 'active' AND der IS NOT NULL ORDER BY id")
        return [x509.load_der_x509_certificate(bytes(r[0])) for r in rows]

    @staticmethod
    def _endpoint_of(cred: Credential) -> tls.Endpoint:
        from ..integrations import tls

        return tls.Endpoint.parse(cred.endpoint)

    # --- mutual TLS -------------------------------------------------------------------------------

    def ssl_context(self, credential: str, *, trust: str | Trust = Trust.INVENTORY) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` that presents the credential's certificate, chain and key (loaded from
        memory) and trusts the inventory's trust store (``trust="system"`` or ``"both"`` when asked)."""
        from ..integrations import tls

        trust = Trust.parse(trust)
        self._authorize(Action.KEY_USED, credential)
        with self.db.read() as tx:
            use = self._resolve(tx, credential, purposes=("mtls",), allow_certificate=False)
            anchors = self._trust_anchors(tx)
        ctx = tls.client_context(identity=(use.cert, use.chain, use.key), trusted=anchors, trust=trust)
        with self.db.write() as tx:
            self._audit(tx, Action.KEY_USED, credential, {**use.details(), "use": "mtls_context", "trust": trust.value})
        return ctx

    def request(
        self,
        credential: str,
        method: str = "GET",
        url: str | None = None,
        *,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        trust: str | Trust = Trust.INVENTORY,
    ) -> tls.Response:
        """An HTTPS callout with mutual TLS to the credential's endpoint. ``url`` is a path (``/v1/pay``)
        or a full URL on that endpoint's host and port; certlab sends a certificate only to its endpoint.
        Audited with the credential, endpoint, method and status; never the payload."""
        from ..integrations import tls

        trust = Trust.parse(trust)
        verb = str(method).strip().upper()
        if not _METHOD.match(verb):
            raise InvalidInputError(f"invalid HTTP method {method!r}")
        for hname, hvalue in (headers or {}).items():
            if not _HEADER_NAME.match(str(hname)) or any(c in str(hvalue) for c in "\r\n\0"):
                raise InvalidInputError(f"invalid HTTP header {str(hname)[:60]!r}: a token name and a one-line value")
        self._authorize(Action.CALLOUT, credential)
        with self.db.read() as tx:
            use = self._resolve(tx, credential, purposes=("mtls",), allow_certificate=False)
            anchors = self._trust_anchors(tx)
        assert use.credential is not None
        endpoint, path = _callout_target(use.credential, url)
        data = body.encode("utf-8") if isinstance(body, str) else body
        ctx = tls.client_context(identity=(use.cert, use.chain, use.key), trusted=anchors, trust=trust)
        where = f"https://{endpoint.authority}{path.split('?', 1)[0]}"
        details = {**use.details(), "method": verb, "endpoint": where, "trust": trust.value}
        try:
            resp = tls.https_request(endpoint, ctx, verb, path, body=data, headers=headers, timeout=timeout,
                                     now=self.now(), trust=trust, client_cert=use.cert)
        except tls.ConnectFailure as fail:
            self._record_outcome(Action.CALLOUT, credential, {**details, "problem": fail.problem, "reason": fail.reason},
                                 Outcome.FAILED)
            raise EndpointError(f"callout {credential} to {where} failed: {fail.reason}") from None
        with self.db.write() as tx:
            self._audit(tx, Action.CALLOUT, credential, {**details, "status": resp.status,
                                                         "bytes_sent": len(data or b""), "bytes_received": len(resp.body)})
        return resp

    def test_connection(self, credential: str, *, trust: str | Trust = Trust.INVENTORY,
                        timeout: float = 10.0, send_certificate: bool = True) -> tls.HandshakeReport:
        """A real TLS handshake with the credential's endpoint: connected or not, the server's chain and
        its expiry, whether the server asked for and accepted our certificate, and why not. Audited."""
        from ..integrations import tls

        trust = Trust.parse(trust)
        self._authorize(Action.CONNECTION_TESTED, credential)
        with self.db.read() as tx:
            cred = self._credential_row(tx, credential)
            if cred is None:
                raise NotFoundError(f"no named credential called {credential!r}")
            use: _Use | None = None
            if send_certificate and cred.purpose == "mtls":
                use = self._resolve(tx, credential, purposes=("mtls",), allow_certificate=False, allow_expired=True)
            anchors = self._trust_anchors(tx)
        endpoint = self._endpoint_of(cred)
        identity = (use.cert, use.chain, use.key) if use else None
        ctx = tls.client_context(identity=identity, trusted=anchors, trust=trust)
        report = tls.probe(endpoint, ctx, timeout=timeout, now=self.now(), trust=trust,
                           client_cert=use.cert if use else None)
        if use is not None and use.expired:
            expired_note = f"our certificate {use.certificate} expired on {use.cert.not_valid_after_utc:%Y-%m-%d}"
            report = _with_note(report, expired_note)
        details: dict[str, Any] = {"certificate": cred.certificate, "endpoint": str(endpoint), "connected": report.connected,
                                   "trust": trust.value, "client_cert_sent": report.client_cert_sent}
        if report.server_chain:
            details["server_fingerprint_sha256"] = report.server_chain[0].fingerprint_sha256
        if report.problem:
            details["problem"] = report.problem
        with self.db.write() as tx:
            self._audit(tx, Action.CONNECTION_TESTED, credential, details,
                        Outcome.OK if report.connected else Outcome.FAILED)
        return report


    # --- discovery ------------------------------------------------------------------------------------

    def scan(self, targets: list[str] | tuple[str, ...], *, timeout: float = 5.0, workers: int = 8,
             progress: Any = None) -> list[ScanResult]:
        """Fetch the chain each endpoint serves (validated or not) and record it: new certificates as kind
        ``discovered``, known ones get the endpoint; a chain that changed since the last scan is flagged.
        Endpoints that refuse or time out are reported, never fatal for the others."""
        from ..integrations import scan as scan_mod

        endpoints = scan_mod.parse_targets(list(targets))
        self._authorize(Action.SCANNED, endpoints[0].authority if len(endpoints) == 1 else f"{len(endpoints)} endpoints")
        fetched = scan_mod.fetch_all(endpoints, timeout=timeout, workers=workers, progress=progress)
        with self.db.write() as tx:
            return [self._record_scan(tx, f) for f in fetched]

    def _record_scan(self, tx: Tx, fetched: Any) -> ScanResult:
        import json

        from ..certs import CertInfo
        from ..formats import dump_pem
        from .results import ScannedCertificate, ScanResult
        ep = fetched.endpoint
        key = ep.authority
        now = self.now()
        row = tx.one("SELECT id, chain_fingerprints FROM endpoints WHERE endpoint = ?", [key])
        if fetched.served is None:
            if row is None:
                tx.execute("INSERT INTO endpoints (id, endpoint, host, port, last_scanned, last_error) "
                           "VALUES (?, ?, ?, ?, ?, ?)", [tx.next_id("endpoints"), key, ep.host, ep.port, now, fetched.reason])
            else:
                tx.execute("UPDATE endpoints SET last_scanned = ?, last_error = ? WHERE id = ?", [now, fetched.reason, row[0]])
            self._audit(tx, Action.SCANNED, key, {"problem": fetched.problem, "reason": fetched.reason}, Outcome.FAILED)
            return ScanResult(key, False, problem=fetched.problem, reason=fetched.reason)
        certs = list(fetched.served.certificates)
        infos = [CertInfo.of(c, f"certificate served at {key}") for c in certs]
        fingerprints = [i.fingerprint_sha256 for i in infos]
        previous = json.loads(row[1]) if row is not None else []
        changed = bool(previous) and previous != fingerprints
        previous_leaf = None
        if changed:
            previous_leaf = tx.scalar("SELECT name FROM certificates WHERE fingerprint_sha256 = ?", [previous[0]]) or previous[0]
        if row is None:
            endpoint_id = tx.next_id("endpoints")
            tx.execute("INSERT INTO endpoints (id, endpoint, host, port, chain_fingerprints, tls_version, first_seen, "
                       "last_seen, last_scanned, last_error, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                       [endpoint_id, key, ep.host, ep.port, json.dumps(fingerprints), fetched.served.tls_version, now, now, now])
        else:
            endpoint_id = int(row[0])
            tx.execute("UPDATE endpoints SET chain_fingerprints = ?, tls_version = ?, first_seen = coalesce(first_seen, ?), "
                       "last_seen = ?, last_scanned = ?, last_error = NULL, changed_at = CASE WHEN ? THEN ? ELSE changed_at END "
                       "WHERE id = ?", [json.dumps(fingerprints), fetched.served.tls_version, now, now, now, changed, now,
                                       endpoint_id])
        tx.execute("UPDATE endpoint_certificates SET current = FALSE WHERE endpoint_id = ?", [endpoint_id])
        taken = StoredNames(tx)
        chain: list[ScannedCertificate] = []
        for pos, (cert, info) in enumerate(zip(certs, infos)):
            found = tx.one("SELECT id, name FROM certificates WHERE fingerprint_sha256 = ?", [info.fingerprint_sha256])
            new = found is None
            if found is None:
                name = _discovered_name(cert, info, taken)
                cert_id = self._insert_certificate(tx, {
                    "name": name, "label": name, "kind": Kind.DISCOVERED.value, "status": Status.ACTIVE.value,
                    "purpose": None, "chain_pem": dump_pem(certs[pos + 1:]).decode(), "key_id": None,
                    "exportable": False, "owner": "", "tags": "[]", **self._info_columns(info),
                })
            else:
                cert_id, name = int(found[0]), str(found[1])
            link = tx.one("SELECT 1 FROM endpoint_certificates WHERE endpoint_id = ? AND certificate_id = ?", [endpoint_id, cert_id])
            if link is None:
                tx.execute("INSERT INTO endpoint_certificates (endpoint_id, certificate_id, position, current, first_seen, "
                           "last_seen) VALUES (?, ?, ?, TRUE, ?, ?)", [endpoint_id, cert_id, pos, now, now])
            else:
                tx.execute("UPDATE endpoint_certificates SET position = ?, current = TRUE, last_seen = ? "
                           "WHERE endpoint_id = ? AND certificate_id = ?", [pos, now, endpoint_id, cert_id])
            chain.append(ScannedCertificate(name, info.subject, info.fingerprint_sha256, info.not_after, new))
        details: dict[str, Any] = {"leaf_fingerprint_sha256": fingerprints[0], "chain_length": len(certs),
                                   "new": [c.name for c in chain if c.new], "tls_version": fetched.served.tls_version}
        if changed:
            details |= {"changed": True, "previous_leaf": previous_leaf}
        self._audit(tx, Action.SCANNED, key, details)
        return ScanResult(key, True, tuple(chain), fetched.served.tls_version, changed, previous_leaf)

    def endpoints(self, certificate: str | None = None) -> list[dict[str, Any]]:
        """Scanned endpoints (all, or those serving ``certificate``), newest scan first."""
        self._authorize(Action.QUERIED, "endpoints", READERS)
        sql = ("SELECT e.endpoint, e.tls_version, e.first_seen, e.last_seen, e.last_scanned, e.last_error, e.changed_at, "
               "(SELECT c.name FROM endpoint_certificates ec JOIN certificates c ON c.id = ec.certificate_id "
               " WHERE ec.endpoint_id = e.id AND ec.position = 0 AND ec.current) AS leaf FROM endpoints e")
        params: list[Any] = []
        if certificate is not None:
            sql += (" WHERE EXISTS (SELECT 1 FROM endpoint_certificates ec JOIN certificates c ON c.id = ec.certificate_id "
                    "WHERE ec.endpoint_id = e.id AND c.name = ?)")
            params.append(certificate)
        with self.db.read() as tx:
            return tx.dicts(sql + " ORDER BY e.last_scanned DESC, e.endpoint", params)

    # --- lint -----------------------------------------------------------------------------------------

    def lint(self, name: str | None = None, *, min_severity: str = "info") -> list[LintReport]:
        """Policy findings for one certificate or the whole inventory (certificates with findings only,
        most severe first). A whole-inventory run also refreshes the analysts' ``findings_v``."""
        import json

        from .. import lint as lint_mod
        from .results import LintReport

        floor = lint_mod.Severity.parse(min_severity)
        self._authorize(Action.QUERIED, name or "lint", READERS)
        now = self.now()
        with self.db.read() as tx:
            if name is not None:
                rows = [self._get_row(tx, name)]
            else:
                from .base import record_rows

                rows = record_rows(tx, "WHERE c.der IS NOT NULL ORDER BY c.name")
            records = [self._to_record(r, now) for r in rows]
            found = self._lint_records(tx, records, now)
        reports = []
        for rec in records:
            fs = tuple(f for f in found.get(rec.id, []) if f.severity.rank <= floor.rank)
            if fs or name is not None:
                reports.append(LintReport(rec.name, rec.kind, rec.status, fs))
        if name is None:
            with self.db.write() as tx:
                tx.execute("DELETE FROM lint_findings")
                by_id = {r.id: r.name for r in records}
                rows_out = [{"certificate_id": cert_id, "certificate": by_id[cert_id], "rule": f.rule,
                             "severity": f.severity.value, "message": f.message,
                             "integrations": json.dumps(list(f.integrations)), "linted_at": now}
                            for cert_id, cert_findings in found.items() for f in cert_findings]
                tx.insert_rows("lint_findings", rows_out)
        reports.sort(key=lambda r: (min((f.severity.rank for f in r.findings), default=9), r.certificate))
        return reports

    def _delete_related(self, tx: Tx, row: dict[str, Any]) -> None:
        """What endpoint scans and lint recorded about a deleted certificate goes with it."""
        super()._delete_related(tx, row)
        tx.execute("DELETE FROM endpoint_certificates WHERE certificate_id = ?", [row["id"]])
        tx.execute("DELETE FROM lint_findings WHERE certificate_id = ?", [row["id"]])

    def _with_findings(self, tx: Tx, records: list[Any], at: dt.datetime, *, new: bool = False,
                       lint_rows: list[tuple[Any, ...]] | None = None) -> list[Any]:
        if not records:
            return records
        found = self._lint_records(tx, records, at, new=new, rows=lint_rows)
        for r in records:
            if found.get(r.id):
                # The records were built by this call and nobody holds them yet: fill the field in place
                # rather than copying thousands of frozen records.
                object.__setattr__(r, "findings", tuple(f.to_json() for f in found[r.id]))
        return records

    def _lint_records(self, tx: Tx, records: list[Any], now: dt.datetime, *, new: bool = False,
                      rows: list[tuple[Any, ...]] | None = None) -> dict[int, list[Any]]:
        """Lint findings per certificate id, with the chain, credentials, shared keys and endpoints around.

        ``new``: certificates this transaction inserted with freshly generated keys (see ``_get_record``):
        nothing shares their key, uses them or serves them yet, so only their chain is looked up.
        ``rows``: the records' LINT_FIELDS (those with a certificate), when the caller read them already."""
        from .. import lint as lint_mod
        from .base import LINT_FIELDS

        ids = [r.id for r in records if r.fingerprint_sha256]
        if not ids:
            return {}
        if rows is None:
            where, params = in_list("c.id", ids)
            rows = tx.rows(f"SELECT {', '.join('c.' + f for f in LINT_FIELDS)} FROM certificates c "
                           f"WHERE {where} AND c.der IS NOT NULL", params)
        cas = _cas_above(tx, {str(r[4]) for r in rows if r[4]})
        shared, usages, served = ({}, {}, {}) if new else self._lint_context(tx, ids, rows)
        by_id = {r.id: r for r in records}
        chain_cache: dict[str, list[x509.Certificate]] = {}
        above_cache: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        out: dict[int, list[Any]] = {}
        for cert_id, der, chain_pem, spki, aki, purpose in rows:
            rec = by_id[cert_id]
            raw = bytes(der)
            facts = lint_mod.facts_for(rec.fingerprint_sha256, functools.partial(x509.load_der_x509_certificate, raw))
            above_key = (aki, chain_pem, rec.subject == rec.issuer)
            above = above_cache.get(above_key)
            if above is None:
                if chain_pem and chain_pem not in chain_cache:
                    try:
                        chain_cache[chain_pem] = x509.load_pem_x509_certificates(chain_pem.encode())
                    except ValueError:
                        chain_cache[chain_pem] = []
                cert = x509.load_der_x509_certificate(raw)
                found_chain = _issuers_above(cert, aki, chain_cache.get(chain_pem, []) if chain_pem else [], cas)
                above = tuple(lint_mod.facts_of(c) for c in found_chain)
                above_cache[above_key] = above
            subject = lint_mod.LintSubject(
                name=rec.name, kind=rec.kind, purpose=purpose, chain=above, facts=facts,
                usages=tuple(usages.get(cert_id, ())), served_as_leaf_at=tuple(served.get(cert_id, ())),
                **_same_key(shared.get(spki), rec.name),
            )
            out[cert_id] = lint_mod.lint(subject, now=now, warning_days=self.warning_days)
        return out

    @staticmethod
    def _lint_context(tx: Tx, ids: list[int], rows: list[tuple[Any, ...]]) -> tuple[
            dict[str, tuple[int, list[str]]], dict[int, list[Any]], dict[int, list[str]]]:
        """Who else holds these certificates' keys (per key: how many, the first names), which credentials
        use them and where they are served as the leaf: one statement (each costs a few ms on a freshly
        attached file), plus one grouped pass for the keys when there are many."""
        from .. import lint as lint_mod

        shared: dict[str, tuple[int, list[str]]] = {}
        usages: dict[int, list[Any]] = {}
        served: dict[int, list[str]] = {}

        # Per key only what lint shows: how many certificates hold it, counted up to _SHARED_COUNTED others,
        # and the names of the first holders in the file's order (the finding shows the first few by name).
        # A few keys (a certificate's page): each key's holders up to the cap, so a key in thousands of
        # certificates stops the read there (~12 ms at a million, against ~75 ms counting all ~3,900).
        # Many keys (a whole listing): one grouped pass, the same answer.
        keys = sorted({str(r[3]) for r in rows if r[3]})
        cap = _SHARED_COUNTED + 2  # the certificate itself, the counted others and one more
        # (part, certificate id, credential name, purpose, endpoint or holder's name, key)
        parts = [
            "(SELECT 'credential', certificate_id, name, purpose, endpoint, NULL FROM named_credentials "
            "WHERE certificate_id IN (SELECT unnest($ids::BIGINT[])))",
            "(SELECT 'served', ec.certificate_id, NULL, NULL, e.endpoint, NULL FROM endpoint_certificates ec "
            "JOIN endpoints e ON e.id = ec.endpoint_id WHERE ec.position = 0 AND ec.current "
            "AND ec.certificate_id IN (SELECT unnest($ids::BIGINT[])))",
        ]
        params: dict[str, Any] = {"ids": ids}
        few = len(keys) <= _SHARED_ONE_BY_ONE
        if few:
            # No ORDER BY: it would make DuckDB scan the table rather than the index for a key of one
            # holder (70 ms, not 5); DuckDB keeps the file's order, so these are the first holders.
            for i, key in enumerate(keys):
                parts.append(f"(SELECT 'holder', NULL, NULL, NULL, name, $k{i} FROM certificates "
                             f"WHERE spki_sha256 = $k{i} AND der IS NOT NULL LIMIT {cap})")
                params[f"k{i}"] = key
        found: dict[str, list[str]] = {}
        for part, cert_id, cname, purpose, text, key in tx.rows(
                " UNION ALL ".join(parts) + " ORDER BY 1, 2, 3, 5", params):
            if part == "credential":
                try:
                    external = _endpoint(text).is_external
                except InvalidInputError:
                    external = False
                usages.setdefault(int(cert_id), []).append(lint_mod.Usage(cname, purpose, text, external))
            elif part == "served":
                served.setdefault(int(cert_id), []).append(str(text))
            else:
                found.setdefault(key, []).append(text)
        if few:
            shared = {k: (len(v), v) for k, v in found.items() if len(v) > 1}
        else:
            where, values = in_list("spki_sha256", keys, "VARCHAR")
            for spki, count, first in tx.rows(
                    f"SELECT spki_sha256, count(*), list(name ORDER BY rowid)[1:{cap}] FROM certificates "
                    f"WHERE {where} AND der IS NOT NULL GROUP BY spki_sha256 HAVING count(*) > 1", values):
                shared[spki] = (int(count), list(first))
        return shared, usages, served

    # --- signing --------------------------------------------------------------------------------------

    def sign_saml(self, name: str, xml: bytes, *, source: str = "assertion") -> bytes:
        """Sign a SAML 2.0 assertion with a saml credential (or a certificate named directly): an
        enveloped RSA-SHA256 / ECDSA-SHA256 signature after the Issuer, certificate in KeyInfo. Audited."""
        from ..integrations import saml

        self._authorize(Action.SIGNED, name)
        saml.parse_xml(xml, source)  # refuse bad input before the key is touched
        with self.db.read() as tx:
            use = self._resolve(tx, name, purposes=("saml",), allow_certificate=True)
        signed = saml.sign_assertion(xml, use.cert, use.key, source=source, signer_name=use.certificate)
        with self.db.write() as tx:
            self._audit(tx, Action.SIGNED, use.subject, {
                **use.details(), "format": "saml", "algorithm": signed.algorithm,
                "assertion_id": signed.assertion_id[:200], "issuer": signed.issuer[:200],
                "signed_sha256": hashlib.sha256(signed.xml).hexdigest(),
            })
        return signed.xml

    def jwt_bearer(self, name: str, *, issuer: str, subject: str, audience: str, lifetime: int = 300) -> str:
        """A JWT bearer assertion (RFC 7523) signed with a jwt credential (or a certificate named directly):
        RS256 / ES256 / ES384 with the certificate's x5t#S256 in the header. Audited without the token."""
        from ..integrations import jwt as jwt_mod

        self._authorize(Action.SIGNED, name)
        with self.db.read() as tx:
            use = self._resolve(tx, name, purposes=("jwt",), allow_certificate=True)
        bearer = jwt_mod.bearer_token(use.cert, use.key, issuer=issuer, subject=subject, audience=audience,
                                      lifetime=lifetime, now=self.now(), signer_name=use.certificate)
        with self.db.write() as tx:
            self._audit(tx, Action.SIGNED, use.subject, {
                **use.details(), "format": "jwt", "algorithm": bearer.algorithm, "iss": bearer.claims["iss"][:200],
                "sub": bearer.claims["sub"][:200], "aud": bearer.claims["aud"][:200], "jti": bearer.claims["jti"],
                "exp": bearer.claims["exp"],
            })
        return bearer.token


def _discovered_name(cert: x509.Certificate, info: Any, taken: StoredNames) -> str:
    """A unique name for a discovered certificate: from its first DNS name, else its CN."""
    from cryptography.x509.oid import NameOID

    from ..certs import is_ip

    base = next((s for s in info.sans if "@" not in s and "://" not in s and not is_ip(s)), "")
    if not base:
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        base = str(cns[0].value) if cns else info.subject
    base = re.sub(r"[^A-Za-z0-9_]+", "_", base.replace("*.", "wildcard_")).strip("_") or "discovered"
    if not base[0].isalpha():
        base = "c_" + base
    base = base[:72]
    name, n = base, 2
    while name in taken:
        name = f"{base}_{n}"
        n += 1
    taken.add(name)
    return name


_SHARED_SHOWN = 5  # names of other certificates with the same key that a finding shows
_SHARED_COUNTED = 100  # other holders of a key counted exactly; past that a finding says "or more"
_SHARED_ONE_BY_ONE = 8  # up to this many keys, each key's holders are read up to the cap


def _same_key(found: tuple[int, list[str]] | None, name: str) -> dict[str, Any]:
    """LintSubject's shared-key fields from (holders, the first holders' names in file order)."""
    if found is None:
        return {}
    holders, first = found  # holders counts the certificate itself (at least _SHARED_COUNTED + 2 when capped)
    others = sorted(n for n in first if n != name)
    total = holders - 1
    return {"same_key_as": tuple(others[:_SHARED_SHOWN]), "same_key_total": min(total, _SHARED_COUNTED + 1),
            "same_key_more": total > _SHARED_COUNTED}


def _cas_above(tx: Tx, akis: set[str]) -> dict[str, x509.Certificate]:
    """The inventory's CA certificates (by subject key identifier) reachable from ``akis`` going up.

    The newest CA wins where two share a key identifier. Each level up is one lookup through the ski
    index; only the CAs on the way are read and parsed (reading every CA row to lint one certificate
    was most of ``get`` at a million certificates)."""
    cas: dict[str, x509.Certificate] = {}
    asked: set[str] = set()
    want = {a for a in akis if a}
    for _ in range(8):  # as deep as _issuers_above goes
        todo = sorted(want - asked)
        if not todo:
            break
        asked |= set(todo)
        want = set()
        # ski alone in the WHERE clause: DuckDB uses the index only for a bare comparison.
        found = tx.rows(f"SELECT ski, der, is_ca, not_after, id FROM certificates WHERE ski IN "
                        f"({', '.join('?' for _ in todo)})", todo)
        newest: dict[str, tuple[Any, ...]] = {}
        for ski, der, is_ca, not_after, cert_id in found:
            if is_ca and der is not None:
                key = (not_after is not None, not_after or dt.datetime.min, cert_id)
                if ski not in newest or key > newest[ski][0]:
                    newest[ski] = (key, der)
        for ski, (_, der) in newest.items():
            cert = cas[str(ski)] = x509.load_der_x509_certificate(bytes(der))
            try:
                above = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
            except (x509.ExtensionNotFound, ValueError):
                continue
            if above:
                want.add(above.hex())
    return cas


def _issuers_above(cert: x509.Certificate, aki: str | None, stored: list[x509.Certificate],
                   cas: dict[str, x509.Certificate]) -> list[x509.Certificate]:
    """The CA certificates above ``cert``: its stored chain, then the inventory's CAs by key identifier."""
    from cryptography.hazmat.primitives import serialization

    der = cert.public_bytes(serialization.Encoding.DER)
    seen = {der}
    out: list[x509.Certificate] = []
    for c in stored:
        d = c.public_bytes(serialization.Encoding.DER)
        if d not in seen:
            seen.add(d)
            out.append(c)
    current, key_id = cert, aki
    for _ in range(8):
        if not key_id or current.subject == current.issuer and current is not cert:
            break
        parent = cas.get(key_id)
        if parent is None:
            break
        d = parent.public_bytes(serialization.Encoding.DER)
        if d in seen:
            if d == der:
                break
        else:
            seen.add(d)
            out.append(parent)
        try:
            ext = parent.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        except (x509.ExtensionNotFound, ValueError):
            break
        next_id = ext.hex() if ext else None
        if next_id == key_id:
            break
        current, key_id = parent, next_id
    return out


def _with_note(report: tls.HandshakeReport, note: str) -> tls.HandshakeReport:
    from dataclasses import replace

    return replace(report, notes=(note, *report.notes))


def _endpoint(text: str) -> tls.Endpoint:
    from ..integrations import tls

    return tls.Endpoint.parse(text)


def _callout_target(cred: Credential, url: str | None) -> tuple[tls.Endpoint, str]:
    base = _endpoint(cred.endpoint)
    if base.scheme not in ("https", "tls"):
        raise InvalidInputError(f"{cred.name}: endpoint {cred.endpoint} is not an https endpoint")
    if url is None:
        return base, base.path
    if url.startswith("/"):
        return base, url
    target = _endpoint(url)
    if target.scheme != "https":
        raise InvalidInputError(f"{url}: callouts use https")
    if (target.host.lower(), target.port) != (base.host.lower(), base.port):
        raise InvalidInputError(f"{url} is not at the endpoint of {cred.name} ({base.authority}): certlab sends a "
                                f"credential's certificate only to its own endpoint")
    return base, target.path
