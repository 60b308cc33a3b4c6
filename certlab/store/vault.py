"""The key vault: envelope encryption of private keys, and the key file that never enters the database.

A fresh 256-bit data key encrypts each private key (AES-256-GCM, bound to its row by the associated
data); the master key wraps the data key. Rotating the master key rewraps data keys only. The master
key and the audit key live in a key file beside the database (mode 0600), or the master key comes
from ``$CERTLAB_MASTER_KEY`` (base64 of 32 bytes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import InvalidInputError, PermissionDeniedError, StoreError
from ..keys import PrivateKey, supported_private_key

ENV_MASTER_KEY = "CERTLAB_MASTER_KEY"


def key_id_of(key: bytes) -> str:
    """A public handle for a master key: a prefix of its SHA-256 (reveals nothing useful)."""
    return hashlib.sha256(b"certlab-master-key-id" + key).hexdigest()[:16]


@dataclass(frozen=True)
class Keyring:
    """Master keys by id (the current one wraps new data keys) and the audit HMAC key."""

    master_keys: dict[str, bytes] = field(repr=False)
    current: str
    audit_key: bytes = field(repr=False)
    from_env: bool = False

    @property
    def master_key(self) -> bytes:
        return self.master_keys[self.current]

    def master(self, key_id: str) -> bytes:
        try:
            return self.master_keys[key_id]
        except KeyError:
            raise StoreError(f"master key {key_id} is not available: wrong key file or $CERTLAB_MASTER_KEY") from None


def key_file_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".keys")


def _check_private(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PermissionDeniedError(
            f"{path} is readable by other users (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}"
        )


def key_file_tmp(path: Path) -> Path:
    """Where a key file is written before it atomically replaces the old one."""
    return path.with_name(path.name + ".tmp")


def create_key_file(path: Path) -> None:
    """Write a new key file with fresh master and audit keys, mode 0600. Never overwrites.

    Written whole to a temporary file first and then linked into place, so a crash never leaves a
    half-written key file.
    """
    master = os.urandom(32)
    doc = {
        "version": 1,
        "current": key_id_of(master),
        "master_keys": {key_id_of(master): base64.b64encode(master).decode()},
        "audit_key": base64.b64encode(os.urandom(32)).decode(),
    }
    if path.exists():
        raise FileExistsError(path)
    tmp = path.with_name(f"{path.name}.new.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)  # fails if another process created the key file meanwhile
        _fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_key_file(path: Path, ring: Keyring) -> None:
    """Replace the key file atomically (write a 0600 temporary file, fsync, rename)."""
    doc = {
        "version": 1,
        "current": ring.current,
        "master_keys": {k: base64.b64encode(v).decode() for k, v in ring.master_keys.items()},
        "audit_key": base64.b64encode(ring.audit_key).decode(),
    }
    tmp = key_file_tmp(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a stale temporary file keeps its old mode otherwise
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def load_keyring(path: Path) -> Keyring:
    if not path.exists():
        raise StoreError(f"key file {path} is missing: the inventory's keys cannot be opened")
    _check_private(path)
    try:
        doc = json.loads(path.read_text())
        keys = {str(k): base64.b64decode(v, validate=True) for k, v in doc["master_keys"].items()}
        audit_key = base64.b64decode(doc["audit_key"], validate=True)
        current = str(doc["current"])
        if current not in keys or any(len(k) != 32 for k in keys.values()) or len(audit_key) != 32:
            raise ValueError("inconsistent")
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError):
        raise StoreError(f"key file {path} is damaged") from None
    env = os.environ.get(ENV_MASTER_KEY)
    if env:
        master = _env_master_key(env)
        kid = key_id_of(master)
        return Keyring({**keys, kid: master}, kid, audit_key, from_env=True)
    return Keyring(keys, current, audit_key)


def _env_master_key(value: str) -> bytes:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != 32:
        raise InvalidInputError(f"${ENV_MASTER_KEY} must be the base64 of 32 random bytes")
    return key


@dataclass(frozen=True)
class SealedKey:
    encrypted_key: bytes = field(repr=False)
    wrapped_data_key: bytes = field(repr=False)
    master_key_id: str


def _aad_key(key_id: int, spki_sha256: str) -> bytes:
    return f"certlab-private-key:{key_id}:{spki_sha256}".encode()


def _aad_dek(key_id: int, master_key_id: str) -> bytes:
    return f"certlab-data-key:{key_id}:{master_key_id}".encode()


def seal(ring: Keyring, key_id: int, spki_sha256: str, key: PrivateKey) -> SealedKey:
    """Encrypt a private key for row ``key_id`` under a fresh data key wrapped by the current master key."""
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    data_key = AESGCM.generate_key(bit_length=256)
    n1, n2 = os.urandom(12), os.urandom(12)
    encrypted = n1 + AESGCM(data_key).encrypt(n1, der, _aad_key(key_id, spki_sha256))
    wrapped = n2 + AESGCM(ring.master_key).encrypt(n2, data_key, _aad_dek(key_id, ring.current))
    return SealedKey(encrypted, wrapped, ring.current)


def _unwrap(ring: Keyring, key_id: int, wrapped: bytes, master_key_id: str) -> bytes:
    from cryptography.exceptions import InvalidTag

    try:
        return AESGCM(ring.master(master_key_id)).decrypt(wrapped[:12], wrapped[12:], _aad_dek(key_id, master_key_id))
    except InvalidTag:
        raise StoreError(f"private key {key_id}: data key does not unwrap (wrong master key or damaged row)") from None


def unseal(ring: Keyring, key_id: int, spki_sha256: str, sealed: SealedKey) -> PrivateKey:
    """Decrypt a private key, in memory only."""
    from cryptography.exceptions import InvalidTag

    data_key = _unwrap(ring, key_id, sealed.wrapped_data_key, sealed.master_key_id)
    try:
        der = AESGCM(data_key).decrypt(sealed.encrypted_key[:12], sealed.encrypted_key[12:], _aad_key(key_id, spki_sha256))
    except InvalidTag:
        raise StoreError(f"private key {key_id}: does not decrypt (damaged or moved row)") from None
    return supported_private_key(serialization.load_der_private_key(der, None), f"private key {key_id}")


def rewrap(ring: Keyring, new_master_id: str, key_id: int, sealed: SealedKey) -> bytes:
    """The data key wrapped again under another master key of the ring."""
    data_key = _unwrap(ring, key_id, sealed.wrapped_data_key, sealed.master_key_id)
    nonce = os.urandom(12)
    return nonce + AESGCM(ring.master(new_master_id)).encrypt(nonce, data_key, _aad_dek(key_id, new_master_id))
