"""SAML 2.0 assertion signing: an enveloped XML signature made with signxml.

RSA-SHA256 or ECDSA-SHA256 over SHA-256 digests, exclusive C14N, one reference to the assertion's ID,
the ``ds:Signature`` placed right after ``saml:Issuer`` (where the schema wants it) and the signing
certificate in ``KeyInfo``. Input is parsed without DTDs, entities or network access.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree  # type: ignore[import-untyped]

from ..errors import FormatError, InvalidInputError
from ..keys import PrivateKey

SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
MAX_XML_BYTES = 16 * 2**20


@dataclass(frozen=True)
class SignedAssertion:
    xml: bytes
    assertion_id: str
    issuer: str
    algorithm: str


def parse_xml(data: bytes, source: str) -> etree._Element:
    """Parse untrusted XML: no DTD, no entities, no network, bounded size."""
    if len(data) > MAX_XML_BYTES:
        raise FormatError(f"{source}: larger than {MAX_XML_BYTES // 2**20} MiB")
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise FormatError(f"{source}: a DOCTYPE or entity declaration is not allowed in SAML (entity expansion attacks)")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_blank_text=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise FormatError(f"{source}: malformed XML ({' '.join(str(exc).split())[:160]})") from None
    if root is None:
        raise FormatError(f"{source}: empty XML document")
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise FormatError(f"{source}: a DOCTYPE is not allowed in SAML")
    return root


def signature_method(key: PrivateKey, source: str) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "rsa-sha256"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ecdsa-sha256"
    raise InvalidInputError(f"{source}: a {type(key).__name__.replace('PrivateKey', '').strip('_')} key cannot sign "
                            "SAML assertions: XML signatures here need an RSA or EC key")


def sign_assertion(data: bytes, cert: x509.Certificate, key: PrivateKey, *, source: str = "assertion",
                   signer_name: str = "the certificate") -> SignedAssertion:
    """Sign the first saml:Assertion in ``data`` (the document itself, or one inside a Response)."""
    from signxml import (  # type: ignore[attr-defined]
        CanonicalizationMethod,
        DigestAlgorithm,
        SignatureMethod,
        XMLSigner,
        methods,
    )
    from signxml.exceptions import InvalidInput

    algorithm = signature_method(key, signer_name)
    root = parse_xml(data, source)
    tag = f"{{{SAML_NS}}}Assertion"
    assertion = root if root.tag == tag else root.find(f".//{tag}")
    if assertion is None:
        raise FormatError(f"{source}: no saml:Assertion element ({SAML_NS})")
    assertion_id = assertion.get("ID")
    if not assertion_id:
        raise FormatError(f"{source}: the assertion has no ID attribute")
    if assertion.find(f"{{{DS_NS}}}Signature") is not None:
        raise InvalidInputError(f"{source}: the assertion {assertion_id} is signed already")
    issuer = assertion.find(f"{{{SAML_NS}}}Issuer")
    if issuer is None:
        raise FormatError(f"{source}: the assertion {assertion_id} has no saml:Issuer")
    placeholder = etree.Element(f"{{{DS_NS}}}Signature", {"Id": "placeholder"}, nsmap={"ds": DS_NS})
    issuer.addnext(placeholder)
    signer = XMLSigner(
        method=methods.enveloped,
        signature_algorithm=SignatureMethod.RSA_SHA256 if algorithm == "rsa-sha256" else SignatureMethod.ECDSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    signer.namespaces = {"ds": DS_NS}
    try:
        signed = signer.sign(root, key=key,  # type: ignore[arg-type]  # Ed25519 refused above
                              cert=[cert], reference_uri=assertion_id, id_attribute="ID")
    except InvalidInput as exc:
        raise FormatError(f"{source}: cannot be signed ({exc})") from None
    xml = etree.tostring(signed, xml_declaration=True, encoding="UTF-8")
    return SignedAssertion(xml, assertion_id, (issuer.text or "").strip(), algorithm)
