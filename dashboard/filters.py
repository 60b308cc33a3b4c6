"""The certificate filters shared by the Certificates and Expiry timeline pages."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import streamlit as st

from certlab import CertFilter
from certlab.inventory.reports import ExpiryRange

from . import fmt, state

STATUSES = ("active", "expiring", "expired", "pending", "revoked", "retired")


@dataclass(frozen=True)
class Filters:
    search: str = ""
    kind: str | None = None
    status: str | None = None
    key_type: str | None = None
    issuer: str | None = None
    credential: str | None = None
    expires_from: dt.date | None = None
    expires_to: dt.date | None = None

    def cert_filter(self) -> CertFilter:
        return CertFilter(status=self.status, kind=self.kind, key_type=self.key_type,  # type: ignore[arg-type]
                          issuer=self.issuer, search=self.search or None, credential=self.credential)

    def expiry(self) -> ExpiryRange | None:
        if self.expires_from is None and self.expires_to is None:
            return None
        start = dt.datetime.combine(self.expires_from, dt.time()) if self.expires_from else None
        end = dt.datetime.combine(self.expires_to, dt.time()) + dt.timedelta(days=1) if self.expires_to else None
        return ExpiryRange(start, end)

    def active_count(self) -> int:
        return sum(1 for v in (self.search, self.kind, self.status, self.key_type, self.issuer, self.credential,
                               self.expires_from or self.expires_to) if v)


def current() -> Filters:
    value = st.session_state.get(state.CERT_FILTERS)
    return value if isinstance(value, Filters) else Filters()


def widgets(options: Any, *, key: str) -> Filters:
    """The filter bar; changes are kept in session state so both pages share them."""
    f = current()
    c = st.columns([3, 2, 2, 2])
    search = c[0].text_input("Search", f.search, placeholder="name, subject, SAN, serial, fingerprint",
                             key=f"{key}_search")
    status = c[1].selectbox("Status", STATUSES, index=_index(STATUSES, f.status), placeholder="any",
                            key=f"{key}_status")
    kind = c[2].selectbox("Kind", options.kinds, index=_index(options.kinds, f.kind), placeholder="any",
                          format_func=lambda k: fmt.KIND_LABELS.get(k, k), key=f"{key}_kind")
    key_type = c[3].selectbox("Key type", options.key_types, index=_index(options.key_types, f.key_type),
                              placeholder="any", key=f"{key}_key_type")
    with st.expander("More filters: issuer, credential, expiry range", expanded=bool(f.issuer or f.credential or
                                                                                   f.expires_from or f.expires_to)):
        d = st.columns([3, 2, 2, 2])
        issuer = d[0].selectbox("Issuer", options.issuers, index=_index(options.issuers, f.issuer),
                                placeholder="any", key=f"{key}_issuer")
        credential = d[1].selectbox("Used by credential", options.credentials,
                                    index=_index(options.credentials, f.credential), placeholder="any",
                                    key=f"{key}_credential")
        expires_from = d[2].date_input("Expires from", f.expires_from, key=f"{key}_from")
        expires_to = d[3].date_input("Expires until", f.expires_to, key=f"{key}_to")
    new = replace(f, search=search.strip(), status=status, kind=kind, key_type=key_type, issuer=issuer,
                  credential=credential, expires_from=expires_from or None, expires_to=expires_to or None)
    if new != f:
        st.session_state[state.CERT_FILTERS] = new
        st.session_state[state.CERT_PAGE] = 1
    return new


def _index(values: Any, value: Any) -> int | None:
    try:
        return list(values).index(value) if value is not None else None
    except ValueError:
        return None
