"""The pure CA core: roots, intermediates, path length, name constraints, CSRs and CRLs, without a database."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509

import certlab
from certlab import CA, ChainError, InvalidInputError, NameRules, Revocation
from certlab.ca import parse_reason
from certlab.certs import CertSpec
from certlab.csr import build_csr


def _verify(child: x509.Certificate, parent: x509.Certificate) -> None:
    child.verify_directly_issued_by(parent)


def test_root_intermediate_leaf_chain_links() -> None:
    root = CA("CN=Test Root,O=Acme", key_type="ec-p256")
    assert root.certificate.issuer == root.certificate.subject and root.path_length is None
    inter = root.create_child_ca("CN=Test Issuing", key_type="ec-p256")
    assert inter.path_length == 0 and inter.chain == (root.certificate,)
    leaf = inter.issue_cert("api.example.com", "10.0.0.5")
    assert leaf.chain == (inter.certificate, root.certificate)
    _verify(leaf.certificate, inter.certificate)
    _verify(inter.certificate, root.certificate)
    info = leaf.info
    assert info.sans == ("api.example.com", "10.0.0.5") and not info.is_ca
    eku = leaf.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in eku
    client = inter.issue_cert("svc@example.com", purpose="client")
    eku = client.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]


def test_path_length_refuses_a_ca_too_deep() -> None:
    root = CA(key_type="ec-p256", path_length=1)
    inter = root.create_child_ca(key_type="ec-p256", path_length=0)
    with pytest.raises(ChainError, match="path length 0"):
        inter.create_child_ca(key_type="ec-p256")
    with pytest.raises(ChainError, match="at most 0"):
        root.create_child_ca(key_type="ec-p256", path_length=1)
    with pytest.raises(ChainError, match="unlimited"):
        root.create_child_ca(key_type="ec-p256", path_length=None)
    with pytest.raises(InvalidInputError):
        CA(key_type="ec-p256", path_length=-1)


def test_name_constraints_permit_and_exclude_dns_ip_email() -> None:
    rules = NameRules(permitted_dns=("example.com",), excluded_dns=("secret.example.com",),
                      permitted_ip=("10.0.0.0/8",), excluded_email=("evil.example.com",))
    ca = CA(key_type="ec-p256", name_rules=rules)
    nc = ca.certificate.extensions.get_extension_for_class(x509.NameConstraints)
    assert nc.critical
    assert ca.name_rules.permitted_dns == ("example.com",)
    ca.issue_cert("api.example.com", "10.1.2.3", "ops@example.com")
    ca.issue_cert("*.dev.example.com")
    for bad, why in (("example.org", "outside"), ("x.secret.example.com", "excluded"), ("192.168.1.1", "outside"),
                     ("bob@evil.example.com", "excluded"), ("notexample.com", "outside")):
        with pytest.raises(ChainError, match=why):
            ca.issue_cert(bad)
    # a leaf below an intermediate is held to the root's constraints too
    root = CA(key_type="ec-p256", name_rules=NameRules(excluded_dns=("corp.example",)))
    with pytest.raises(ChainError, match="excluded by the name constraints of certlab Root CA"):
        root.create_child_ca(key_type="ec-p256").issue_cert("db.corp.example")
    with pytest.raises(InvalidInputError):
        NameRules(permitted_ip=("10.0.0.1/8",))
    with pytest.raises(InvalidInputError):
        NameRules(permitted_dns=("bad domain",))


def test_leaf_may_not_outlive_its_ca() -> None:
    ca = CA(key_type="ec-p256", days=30)
    with pytest.raises(InvalidInputError, match="outlive"):
        ca.issue_cert("a.example.com", days=60)
    assert ca.issue_cert("a.example.com", days=20).info.not_after <= ca.info.not_after


def test_sign_csr_copies_sans_only_when_policy_allows() -> None:
    csr, _ = build_csr(CertSpec(name="p", key_type="ec-p256", sans=("p.example.com", "p2.example.com")))
    ca = CA(key_type="ec-p256")
    cert = ca.sign_csr(csr, days=30)
    assert certlab.CertInfo.of(cert).sans == ("p.example.com", "p2.example.com")
    strict = CA(key_type="ec-p256", copy_csr_sans=False)
    assert certlab.CertInfo.of(strict.sign_csr(csr, days=30)).sans == ()
    constrained = CA(key_type="ec-p256", name_rules=NameRules(permitted_dns=("other.org",)))
    with pytest.raises(ChainError, match="outside"):
        constrained.sign_csr(csr)


def test_crl_lists_revoked_serials_with_reasons_and_number() -> None:
    ca = CA(key_type="ec-p256")
    a, b = ca.issue_cert("a.example.com"), ca.issue_cert("b.example.com")
    now = dt.datetime(2027, 1, 1, 12, 0)
    crl = ca.crl([Revocation(a.certificate.serial_number, "keycompromise", now)], number=3, this_update=now)
    assert crl.is_signature_valid(ca.certificate.public_key())  # type: ignore[arg-type]
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 3
    assert crl.last_update_utc.replace(tzinfo=None) == now
    assert crl.next_update_utc is not None and crl.next_update_utc.replace(tzinfo=None) == now + dt.timedelta(days=7)
    entry = crl.get_revoked_certificate_by_serial_number(a.certificate.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    assert crl.get_revoked_certificate_by_serial_number(b.certificate.serial_number) is None
    with pytest.raises(InvalidInputError):
        ca.crl([], number=0)
    with pytest.raises(InvalidInputError, match="unknown revocation reason"):
        parse_reason("lostIt")


def test_load_refuses_a_key_that_is_not_the_cas() -> None:
    ca = CA(key_type="ec-p256")
    other = certlab.generate_key("ec-p256")
    with pytest.raises(ChainError, match="does not belong"):
        CA.load(ca.certificate, other)
    leaf = ca.issue_cert("x.example.com")
    with pytest.raises(ChainError, match="not a CA"):
        CA.load(leaf.certificate, leaf.private_key)
    assert "secret" in repr(ca.private_key_pem)
