"""Reading and writing PEM, DER, PKCS#7, PKCS#12 and PKCS#8, and every way a file can be bad."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

import certlab
from certlab import ChainError, FormatError, InvalidInputError, WrongPasswordError, load_bundle
from certlab.formats import (
    check_chain,
    check_export_password,
    dump_der,
    dump_encrypted_private_key,
    dump_pem,
    dump_pkcs12,
    order_chain,
)
from certlab.keys import same_public_key

from . import pki

PW = b"correct horse battery"


@pytest.fixture(scope="module")
def chain() -> tuple[pki.Node, pki.Node, pki.Node]:
    return pki.chain3()


def test_pem_with_many_blocks_keeps_file_order(chain: tuple[pki.Node, ...]) -> None:
    r, i, leaf = chain
    loaded = load_bundle(b"junk before\n" + leaf.pem + b"\n" + i.pem + r.pem + b"trailing text\n", "bundle.pem")
    assert loaded.certificates == (leaf.cert, i.cert, r.cert) and loaded.private_key is None and loaded.kind == "pem"


def test_pem_with_key(chain: tuple[pki.Node, ...]) -> None:
    leaf = chain[2]
    loaded = load_bundle(leaf.key_pem + leaf.pem, "leaf.pem")
    assert loaded.certificates == (leaf.cert,)
    assert loaded.private_key is not None and same_public_key(loaded.private_key.public_key(), leaf.key.public_key())
    assert "private_key" not in repr(loaded)


def test_traditional_pem_keys_are_read(rsa_key: object) -> None:
    issued = certlab.self_signed("t.example.com", key=rsa_key)  # type: ignore[arg-type]
    trad = rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,  # type: ignore[attr-defined]
                                 serialization.NoEncryption())
    assert trad.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert load_bundle(trad + issued.cert_pem.bytes(), "t.pem").private_key is not None


def test_encrypted_pkcs8_key(chain: tuple[pki.Node, ...]) -> None:
    leaf = chain[2]
    enc = dump_encrypted_private_key(leaf.key, PW)
    assert enc.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    data = enc + leaf.pem
    loaded = load_bundle(data, "enc.pem", PW)
    assert loaded.private_key is not None and same_public_key(loaded.private_key.public_key(), leaf.key.public_key())
    with pytest.raises(WrongPasswordError, match=r"^enc\.pem: private key is encrypted and no password was given$"):
        load_bundle(data, "enc.pem")
    with pytest.raises(WrongPasswordError, match=r"^enc\.pem: wrong password for the private key$"):
        load_bundle(data, "enc.pem", b"not the password")


def test_der_certificate(chain: tuple[pki.Node, ...]) -> None:
    leaf = chain[2]
    loaded = load_bundle(leaf.der, "leaf.cer")
    assert loaded.certificates == (leaf.cert,) and loaded.kind == "der"
    assert dump_der(leaf.cert) == leaf.der


def test_pkcs7_pem_and_der(chain: tuple[pki.Node, ...]) -> None:
    certs = [n.cert for n in chain]
    for enc, name in [(serialization.Encoding.PEM, "chain.p7b"), (serialization.Encoding.DER, "chain.p7c")]:
        data = pkcs7.serialize_certificates(certs, enc)
        loaded = load_bundle(data, name)
        assert set(loaded.certificates) == set(certs) and loaded.private_key is None


def test_pkcs12_with_and_without_password(chain: tuple[pki.Node, ...]) -> None:
    r, i, leaf = chain
    p12 = dump_pkcs12("leaf", leaf.key, leaf.cert, [i.cert, r.cert], PW)
    loaded = load_bundle(p12, "leaf.p12", PW)
    assert loaded.kind == "pkcs12" and loaded.certificates[0] == leaf.cert and set(loaded.certificates[1:]) == {i.cert, r.cert}
    assert loaded.private_key is not None and same_public_key(loaded.private_key.public_key(), leaf.key.public_key())
    with pytest.raises(WrongPasswordError, match=r"^leaf\.p12: wrong password for the PKCS#12 keystore"):
        load_bundle(p12, "leaf.p12", b"wrong password!")
    with pytest.raises(WrongPasswordError, match=r"^leaf\.p12: PKCS#12 keystore needs a password \(--password-file\)$"):
        load_bundle(p12, "leaf.p12")
    open_p12 = pkcs12.serialize_key_and_certificates(b"x", leaf.key, leaf.cert, None, serialization.NoEncryption())
    assert load_bundle(open_p12, "open.p12").certificates == (leaf.cert,)


def test_pkcs12_export_uses_pbes2_aes256_and_a_sha256_mac(chain: tuple[pki.Node, ...]) -> None:
    leaf = chain[2]
    p12 = dump_pkcs12("leaf", leaf.key, leaf.cert, [], PW)
    # OIDs in the DER: PBES2, AES-256-CBC, HMAC-SHA256 (PRF) and SHA-256 (MAC digest); no 3DES or RC2.
    assert bytes.fromhex("06092a864886f70d01050d") in p12          # pbes2
    assert bytes.fromhex("060960864801650304012a") in p12          # aes256-CBC
    assert bytes.fromhex("06082a864886f70d0209") in p12            # hmacWithSHA256
    assert bytes.fromhex("0609608648016503040201") in p12          # sha256 (MAC)
    assert bytes.fromhex("060a2a864886f70d010c0103") not in p12    # pbeWithSHAAnd3-KeyTripleDES-CBC
    legacy = dump_pkcs12("leaf", leaf.key, leaf.cert, [], PW, legacy=True)
    assert bytes.fromhex("060a2a864886f70d010c0103") in legacy
    assert load_bundle(legacy, "legacy.p12", PW).certificates == (leaf.cert,)


def test_pkcs12_without_certificate_is_refused(chain: tuple[pki.Node, ...]) -> None:
    p12 = pkcs12.serialize_key_and_certificates(b"k", chain[2].key, None, None, serialization.BestAvailableEncryption(PW))
    with pytest.raises(FormatError, match="holds no certificate"):
        load_bundle(p12, "keyonly.p12", PW)


def test_key_only_files_load_as_a_key(chain: tuple[pki.Node, ...]) -> None:
    leaf = chain[2]
    assert load_bundle(leaf.key_pem, "k.pem").certificates == ()
    der = leaf.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert load_bundle(der, "k.der").private_key is not None


@pytest.mark.parametrize(
    ("data", "match"),
    [(b"", "file is empty"),
     (b"hello, this is a text file\n", "not a certificate file"),
     (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a certificate file"),
     (b"\x30\x82\x01\x00" + b"\x00" * 40, "not a certificate, PKCS#7 or PKCS#12 file"),
     (b"-----BEGIN CERTIFICATE-----\nMIIB\n", "no complete PEM block"),
     (b"-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n", "not valid"),
     (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not valid"),
     (b"-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n", "unsupported PEM block 'FOO'")],
)
def test_bad_files_are_format_errors_naming_the_file(data: bytes, match: str) -> None:
    with pytest.raises(FormatError, match=match) as err:
        load_bundle(data, "in/bad.file")
    assert str(err.value).startswith("in/bad.file: ")
    assert "\n" not in str(err.value)


def test_truncated_pem_and_der(chain: tuple[pki.Node, ...]) -> None:
    r, i, leaf = chain
    pem = leaf.pem + i.pem
    with pytest.raises(FormatError, match="truncated"):
        load_bundle(pem[: len(leaf.pem) + 40], "cut.pem")
    cut_body = leaf.pem.replace(leaf.pem.split(b"\n")[3] + b"\n", b"")  # a line missing from the middle
    with pytest.raises(FormatError, match="cut2.pem"):
        load_bundle(cut_body, "cut2.pem")
    with pytest.raises(FormatError, match="cut.der"):
        load_bundle(leaf.der[:-20], "cut.der")
    p12 = dump_pkcs12("leaf", leaf.key, leaf.cert, [], PW)
    with pytest.raises(FormatError, match="cut.p12"):
        load_bundle(p12[: len(p12) // 2], "cut.p12", PW)


def test_other_pem_types_are_named(chain: tuple[pki.Node, ...]) -> None:
    csr, _ = certlab.build_csr(certlab.CertSpec(name="x", key_type="ec-p256"))  # type: ignore[arg-type]
    with pytest.raises(FormatError, match="is a certificate signing request, not a certificate"):
        load_bundle(csr.public_bytes(serialization.Encoding.PEM), "x.csr")
    pub = chain[2].key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(FormatError, match="is a public key, not a certificate"):
        load_bundle(pub, "x.pub")
    crl = (x509.CertificateRevocationListBuilder().issuer_name(chain[0].cert.subject)
           .last_update(chain[0].cert.not_valid_before_utc).next_update(chain[0].cert.not_valid_after_utc)
           .sign(chain[0].key, certlab.keys.signature_hash_for(chain[0].key)))
    with pytest.raises(FormatError, match="is a CRL, not a certificate"):
        load_bundle(crl.public_bytes(serialization.Encoding.PEM), "x.crl")
    with pytest.raises(FormatError, match="x.crl.der"):
        load_bundle(crl.public_bytes(serialization.Encoding.DER), "x.crl.der")


def test_two_private_keys_are_refused(chain: tuple[pki.Node, ...]) -> None:
    with pytest.raises(FormatError, match="more than one private key"):
        load_bundle(chain[2].key_pem + chain[1].key_pem + chain[2].pem, "two.pem")


def test_unsupported_private_key_type_is_refused() -> None:
    key = dsa.generate_private_key(1024)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(InvalidInputError, match=r"^dsa\.pem: unsupported private key type"):
        load_bundle(pem, "dsa.pem")


@pytest.mark.parametrize("make", [pki.with_duplicate_extension, pki.with_unknown_signature_algorithm,
                                  pki.with_unknown_key_algorithm])
def test_certificates_cryptography_refuses_lazily(make: object, chain: tuple[pki.Node, ...]) -> None:
    der: bytes = make()  # type: ignore[operator]
    with pytest.raises(FormatError, match=r"^odd\.cer: "):
        load_bundle(der, "odd.cer")
    with pytest.raises(FormatError, match=r"^odd\.pem: "):
        load_bundle(chain[2].pem + pki.pem_of(der), "odd.pem")


def test_order_chain_and_check_chain(chain: tuple[pki.Node, ...]) -> None:
    r, i, leaf = chain
    assert order_chain([r.cert, leaf.cert, i.cert]) == [leaf.cert, i.cert, r.cert]
    assert order_chain([i.cert]) == [i.cert]
    check_chain([leaf.cert, i.cert, r.cert], "ok.pem")
    with pytest.raises(ChainError, match=r"^gap\.pem: certificate 1 \(CN=leaf.example.com,O=Test PKI\) is not signed by certificate 2"):
        check_chain([leaf.cert, r.cert], "gap.pem")
    other = pki.root("Test Root CA")  # same name, other key: the signature does not verify
    with pytest.raises(ChainError, match="certificate 2"):
        check_chain([leaf.cert, i.cert, other.cert], "forged.pem")


def test_dump_pem_round_trip(chain: tuple[pki.Node, ...]) -> None:
    certs = [n.cert for n in chain]
    assert load_bundle(dump_pem(certs), "x.pem").certificates == tuple(certs)


def test_export_password_rules() -> None:
    assert check_export_password("twelve chars", "export") == b"twelve chars"
    with pytest.raises(InvalidInputError, match="export of x: a password is required"):
        check_export_password(None, "export of x")
    with pytest.raises(InvalidInputError, match="at least 12 characters"):
        check_export_password(b"short", "export of x")


def test_encrypted_key_export_round_trip(chain: tuple[pki.Node, ...]) -> None:
    pem = dump_encrypted_private_key(chain[2].key, PW)
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(pem, None)
    assert same_public_key(serialization.load_pem_private_key(pem, PW).public_key(), chain[2].key.public_key())
