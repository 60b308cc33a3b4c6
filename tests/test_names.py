"""Unique names, subjects and identities whose type is detected."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from certlab import InvalidInputError, Subject
from certlab.names import (
    check_label,
    check_unique_name,
    common_name,
    general_name_text,
    name_text,
    parse_identities,
    parse_identity,
)


@pytest.mark.parametrize("name", ["a", "payments_mtls", "A1_b2", "x" * 80, "Z_"])
def test_valid_unique_names(name: str) -> None:
    assert check_unique_name(name) == name


@pytest.mark.parametrize("name", ["", "1abc", "_abc", "has-dash", "has space", "x" * 81, "ünïcode", "a.b", "a\n"])
def test_invalid_unique_names_are_refused_with_the_rule(name: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid unique name") as err:
        check_unique_name(name)
    assert "\n" not in str(err.value)
    assert "letter" in str(err.value) and "80" in str(err.value)


def test_labels() -> None:
    assert check_label("Payments (prod)") == "Payments (prod)"
    with pytest.raises(InvalidInputError, match="longer than 200"):
        check_label("x" * 201)
    with pytest.raises(InvalidInputError, match="control characters"):
        check_label("bad\x1b[31m")


def test_subject_parses_every_form_field_in_order() -> None:
    s = Subject.parse("CN=api.example.com, O=Acme, OU=Ops, L=Berlin, ST=Berlin, C=de, emailAddress=ops@example.com")
    assert s.fields == (("CN", "api.example.com"), ("O", "Acme"), ("OU", "Ops"), ("L", "Berlin"),
                        ("ST", "Berlin"), ("C", "DE"), ("emailAddress", "ops@example.com"))
    name = s.to_x509()
    # Encoded in the order openssl and CAs use (C, ST, L, O, OU, CN, emailAddress), shown most specific first.
    assert name_text(name) == "emailAddress=ops@example.com,CN=api.example.com,OU=Ops,O=Acme,L=Berlin,ST=Berlin,C=DE"
    assert name_text(Subject.parse("C=DE,CN=x,O=Acme").to_x509()) == "CN=x,O=Acme,C=DE"
    assert name_text(Subject.parse("OU=b,CN=x,OU=a").to_x509()) == "CN=x,OU=a,OU=b"
    assert name.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "DE"
    assert name.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)[0].value == "ops@example.com"
    assert [a.oid for a in name][0] == NameOID.COUNTRY_NAME and [a.oid for a in name][-1] == NameOID.EMAIL_ADDRESS
    assert str(s) == "CN=api.example.com,O=Acme,OU=Ops,L=Berlin,ST=Berlin,C=DE,emailAddress=ops@example.com"


def test_subject_aliases_escapes_and_empty() -> None:
    assert Subject.parse("cn=a,e=x@example.com").fields == (("CN", "a"), ("emailAddress", "x@example.com"))
    assert Subject.parse(r"CN=a,O=Acme\, Inc.").get("O") == "Acme, Inc."
    assert str(Subject.parse(r"O=Acme\, Inc.")) == r"O=Acme\, Inc."
    assert Subject.parse("").fields == () and Subject.parse(None).fields == ()
    assert Subject.of(CN="x", O=None, C="us").fields == (("CN", "x"), ("C", "US"))
    assert Subject.parse("O=Acme").with_default_cn("host").get("CN") == "host"
    assert Subject.parse("CN=keep").with_default_cn("host").get("CN") == "keep"


@pytest.mark.parametrize(
    ("text", "match"),
    [("CN", "not of the form KEY=VALUE"), ("XX=1", "unknown subject field 'XX'"), ("CN=", "subject field CN is empty"),
     ("C=DEU", "country code 'DEU' must be two letters"), ("C=1A", "two letters"), ("CN=" + "a" * 65, "longer than 64"),
     ("O=a\x00b", "control characters"), ("emailAddress=not-an-email", "invalid e-mail"),
     ("emailAddress=a@-bad-.com", "invalid e-mail")],
)
def test_subject_refuses_bad_fields(text: str, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        Subject.parse(text)


def test_subject_of_refuses_unknown_keyword() -> None:
    with pytest.raises(InvalidInputError, match="unknown subject field 'street'"):
        Subject.of(street="Main St")


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [("api.example.com", x509.DNSName, "api.example.com"),
     ("API.Example.COM.", x509.DNSName, "api.example.com"),
     ("*.example.com", x509.DNSName, "*.example.com"),
     ("localhost", x509.DNSName, "localhost"),
     ("bücher.example", x509.DNSName, "xn--bcher-kva.example"),
     ("10.0.0.5", x509.IPAddress, ipaddress.ip_address("10.0.0.5")),
     ("2001:db8::1", x509.IPAddress, ipaddress.ip_address("2001:db8::1")),
     ("ops@example.com", x509.RFC822Name, "ops@example.com"),
     ("ops@bücher.example", x509.RFC822Name, "ops@xn--bcher-kva.example"),
     ("0@¡", x509.RFC822Name, "0@xn--7a"),
     ("https://example.com/x?y=1", x509.UniformResourceIdentifier, "https://example.com/x?y=1"),
     ("spiffe://acme/payments", x509.UniformResourceIdentifier, "spiffe://acme/payments")],
)
def test_identity_type_is_detected(text: str, kind: type, value: object) -> None:
    gn = parse_identity(text)
    assert isinstance(gn, kind) and gn.value == value


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "has space.com", "-bad.example.com", "bad-.example.com", "a..b", "under_score.com",
     "*.com", "a.*.example.com", "x" * 64 + ".com", "ops@", "@example.com", "a@b@", "1://x", "tab\there",
     "10.0.0.0/33", "a/b", "a://¡", "https://bücher.example/", "ü@example.com", ("a" * 60 + ".") * 5 + "com"],
)
def test_invalid_identities_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid") as err:
        parse_identity(bad)
    assert "\n" not in str(err.value)


def test_identities_are_deduplicated_in_order() -> None:
    gns = parse_identities(["b.example.com", "10.0.0.1", "B.example.com", "10.0.0.1"])
    assert [general_name_text(g) for g in gns] == ["b.example.com", "10.0.0.1"]


def test_subject_email_domain_is_stored_as_punycode() -> None:
    assert Subject.parse("CN=a,emailAddress=ops@bücher.example").get("emailAddress") == "ops@xn--bcher-kva.example"


def test_common_name_and_name_text() -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "one"), x509.NameAttribute(NameOID.COMMON_NAME, "two")])
    assert common_name(name) == "two"
    assert common_name(x509.Name([])) is None
    assert name_text(x509.Name([x509.NameAttribute(NameOID.EMAIL_ADDRESS, "a@b.example")])) == "emailAddress=a@b.example"
