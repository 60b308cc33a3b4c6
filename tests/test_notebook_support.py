"""The notebooks' demo inventory: varied enough for every analysis the notebooks show."""

from __future__ import annotations

from pathlib import Path

import pytest

from certlab import CertlabError
from certlab.notebook_support import DEMO_ANALYST, demo_inventory


@pytest.mark.slow
def test_demo_inventory_has_what_the_notebooks_analyse(tmp_path: Path) -> None:
    inv = demo_inventory(tmp_path)
    assert inv.path == tmp_path / "certlab.duckdb"
    certs = inv.sql("SELECT name, status, kind, key_type, key_size, signature_hash FROM certificates_v")
    assert {"active", "expiring", "expired", "pending", "revoked"} <= set(certs["status"])
    assert {"self_signed", "ca_signed", "imported", "trusted_ca", "internal_ca"} <= set(certs["kind"])
    assert "sha1" in set(certs["signature_hash"]) and "rsa-1024" in set(certs["key_type"])
    at_risk = inv.sql("SELECT name FROM credentials_v WHERE certificate_days_to_expiry < 90")
    assert len(at_risk) >= 3
    events = inv.sql("SELECT seq, occurred_at, action, outcome, date_diff('day', occurred_at, now()::TIMESTAMP) AS age "
                     "FROM audit_v ORDER BY seq")
    previous, current = events[events["age"] > 30], events[events["age"] <= 30]
    for period in (previous, current):
        assert {"exported", "deleted"} <= set(period["action"])
        assert "denied" in set(period["outcome"])
    assert events["occurred_at"].is_monotonic_increasing  # times follow the chain's order
    findings = inv.sql("SELECT rule FROM findings_v")
    assert {"weak_signature_hash", "weak_rsa_key"} <= set(findings["rule"])
    assert inv.verify_audit().ok
    analyst = inv.as_actor(DEMO_ANALYST)
    assert len(analyst.sql("SELECT * FROM certificates_v")) == len(certs)  # type: ignore[attr-defined]
    with pytest.raises(CertlabError, match="exists already"):
        demo_inventory(tmp_path)
