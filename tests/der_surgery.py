"""A few lines of DER, to make the malformed certificates no well-behaved library will build.

Certificates with duplicate extensions, negative or zero serials, unknown signature algorithms or
names that are not valid UTF-8 are what broken or hostile CAs hand out; the hostile-input tests feed
them to every parser.
"""

from __future__ import annotations


def read_tlvs(data: bytes) -> list[tuple[int, bytes]]:
    """The (tag, content) items at one level of a DER encoding."""
    out, i = [], 0
    while i < len(data):
        tag = data[i]
        length = data[i + 1]
        i += 2
        if length & 0x80:
            n = length & 0x7F
            length = int.from_bytes(data[i:i + n], "big")
            i += n
        out.append((tag, data[i:i + length]))
        i += length
    return out


def tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def encode(items: list[tuple[int, bytes]]) -> bytes:
    return b"".join(tlv(t, c) for t, c in items)


def _cert_parts(der: bytes) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
    (tag, body), = read_tlvs(der)
    outer = read_tlvs(body)
    return outer, read_tlvs(outer[0][1])


def _rebuild(outer: list[tuple[int, bytes]], tbs: list[tuple[int, bytes]]) -> bytes:
    outer = [(0x30, encode(tbs))] + outer[1:]
    return tlv(0x30, encode(outer))


def with_serial(der: bytes, serial_content: bytes) -> bytes:
    """The certificate with its serial INTEGER's content bytes replaced (b"\\xff" is -1, b"\\x00" is 0)."""
    outer, tbs = _cert_parts(der)
    idx = 1 if tbs[0][0] == 0xA0 else 0
    tbs[idx] = (0x02, serial_content)
    return _rebuild(outer, tbs)


def with_duplicate_extension(der: bytes) -> bytes:
    """The certificate with its first extension repeated."""
    outer, tbs = _cert_parts(der)
    for i, (tag, content) in enumerate(tbs):
        if tag == 0xA3:
            (seq_tag, seq), = read_tlvs(content)
            exts = read_tlvs(seq)
            exts.append(exts[0])
            tbs[i] = (0xA3, tlv(0x30, encode(exts)))
            return _rebuild(outer, tbs)
    raise ValueError("certificate has no extensions")


def with_signature_oid(der: bytes, oid_content: bytes) -> bytes:
    """The certificate with both signature AlgorithmIdentifiers set to an OID (content bytes)."""
    outer, tbs = _cert_parts(der)
    alg = tlv(0x06, oid_content)
    idx = 2 if tbs[0][0] == 0xA0 else 1
    tbs[idx] = (0x30, alg)
    outer[1] = (0x30, alg)
    return _rebuild(outer, tbs)


def with_raw_subject_value(der: bytes, string_tag: int, value: bytes) -> bytes:
    """The certificate whose subject is one CN of the given string type and raw bytes (not re-checked)."""
    outer, tbs = _cert_parts(der)
    idx = 5 if tbs[0][0] == 0xA0 else 4
    cn_oid = tlv(0x06, bytes([0x55, 0x04, 0x03]))
    rdn = tlv(0x31, tlv(0x30, cn_oid + tlv(string_tag, value)))
    tbs[idx] = (0x30, rdn)
    return _rebuild(outer, tbs)
