"""The key vault: no private key in clear in the database, the key file, master-key rotation."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import duckdb
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import certlab
from certlab import CertSpec, InvalidInputError, PermissionDeniedError, StoreError
from certlab.keys import same_public_key
from certlab.store import Database, vault

from .conftest import make_cert, run_cli

PW = b"a long export password"


def _exported_key(inv: certlab.Inventory, name: str) -> certlab.keys.PrivateKey:
    pem = inv.export(name, "key", password=PW).bytes()
    return serialization.load_pem_private_key(pem, PW)  # type: ignore[return-value]


def _secret_forms(key: certlab.keys.PrivateKey) -> dict[str, bytes]:
    """Every form in which a private key could leak, down to its raw private numbers."""
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    forms = {
        "pkcs8 der": pkcs8,
        "pkcs8 pem body": base64.b64encode(pkcs8)[:48],
        "pem header": b"PRIVATE KEY-----",
    }
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        for label, value in [("d", n.d), ("p", n.p), ("q", n.q)]:
            forms[f"rsa {label}"] = value.to_bytes((value.bit_length() + 7) // 8, "big")
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        d = key.private_numbers().private_value
        forms["ec private value"] = d.to_bytes((key.curve.key_size + 7) // 8, "big")
        forms["ec private value (le)"] = forms["ec private value"][::-1]
    else:
        forms["raw"] = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                         serialization.NoEncryption())
    return forms


def _database_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    wal = path.with_name(path.name + ".wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


@pytest.mark.parametrize("key_type", ["rsa-2048", "ec-p256", "ed25519"])
def test_the_database_file_holds_no_private_key_in_clear(inv: certlab.Inventory, key_type: str) -> None:
    make_cert(inv, "target", key_type=key_type, exportable=True)
    inv.create_csr(CertSpec(name="pending", key_type="ec-p384", exportable=True))  # type: ignore[arg-type]
    keys = {"target": _exported_key(inv, "target"), "pending": _exported_key(inv, "pending")}
    data = _database_bytes(inv.path)
    assert len(data) > 10_000
    for name, key in keys.items():
        for form, secret in _secret_forms(key).items():
            assert secret not in data, f"{name}: {form} found in the database file"
    # ... and the public key is there (the search would find a key if it were there).
    spki = keys["target"].public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert spki in data


def test_imported_keys_are_not_in_clear_either(inv: certlab.Inventory, tmp_path: Path) -> None:
    issued = certlab.self_signed("imp.example.com", key_type="ec-p256")
    f = tmp_path / "imp.pem"
    f.write_bytes(issued.private_key_pem.bytes() + issued.cert_pem.bytes())
    assert inv.import_files([f])[0].result == "imported"
    data = _database_bytes(inv.path)
    for form, secret in _secret_forms(issued.private_key).items():
        assert secret not in data, form


def test_key_file_is_created_owner_only_and_beside_the_database(inv: certlab.Inventory) -> None:
    assert inv.key_file == inv.path.with_name("certlab.duckdb.keys")
    assert stat.S_IMODE(inv.key_file.stat().st_mode) == 0o600
    ring = vault.load_keyring(inv.key_file)
    assert len(ring.master_key) == 32 and len(ring.audit_key) == 32 and ring.current in ring.master_keys
    assert base64.b64encode(ring.master_key).decode() not in repr(ring) and repr(ring.master_key) not in repr(ring)
    # The master key never enters the database.
    data = _database_bytes(inv.path)
    assert ring.master_key not in data and base64.b64encode(ring.master_key) not in data
    assert ring.audit_key not in data


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_readable_by_others_is_refused(inv: certlab.Inventory, db_path: Path, mode: int) -> None:
    make_cert(inv, "x")
    os.chmod(inv.key_file, mode)
    with pytest.raises(PermissionDeniedError, match=rf"readable by other users \(mode {mode:o}\); run: chmod 600"):
        certlab.open(db_path)
    with pytest.raises(PermissionDeniedError, match="chmod 600"):
        make_cert(inv, "y")
    with pytest.raises(PermissionDeniedError):
        certlab.init(db_path)
    proc = run_cli("list", db=db_path)
    assert proc.returncode == 1 and "chmod 600" in proc.stderr and "Traceback" not in proc.stderr
    os.chmod(inv.key_file, 0o600)
    assert [r.name for r in certlab.open(db_path).list()] == ["x"]


def test_missing_or_damaged_key_file(inv: certlab.Inventory, db_path: Path) -> None:
    make_cert(inv, "x")
    saved = inv.key_file.read_bytes()
    inv.key_file.write_text('{"version": 1, "current": "nope"}')
    with pytest.raises(StoreError, match="is damaged"):
        certlab.open(db_path)
    inv.key_file.unlink()
    with pytest.raises(StoreError, match="is missing"):
        certlab.open(db_path)
    with pytest.raises(StoreError, match="key file .* is missing"):
        certlab.init(db_path)
    fd = os.open(inv.key_file, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, saved)
    os.close(fd)
    assert certlab.open(db_path).get("x").name == "x"


def test_master_key_rotation_rewraps_and_everything_still_decrypts(inv: certlab.Inventory) -> None:
    for i, kt in enumerate(["ec-p256", "ed25519", "ec-p384"]):
        make_cert(inv, f"c{i}", key_type=kt, exportable=True)
    inv.create_csr(CertSpec(name="pend", key_type="ec-p256", exportable=True))  # type: ignore[arg-type]
    before_keys = {n: _exported_key(inv, n) for n in ("c0", "c1", "c2", "pend")}
    old_ring = vault.load_keyring(inv.key_file)

    def snapshot() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        con = duckdb.connect(str(inv.path), read_only=True)
        try:
            certs = con.execute("SELECT * FROM certificates ORDER BY id").fetchall()
            keys = con.execute("SELECT id, encrypted_key, wrapped_data_key, master_key_id FROM private_keys ORDER BY id").fetchall()
            return certs, keys
        finally:
            con.close()

    certs_before, keys_before = snapshot()
    assert inv.rotate_master_key().keys_rewrapped == 4
    certs_after, keys_after = snapshot()
    new_ring = vault.load_keyring(inv.key_file)
    assert certs_after == certs_before, "rotation must not touch any certificate"
    assert new_ring.current != old_ring.current and list(new_ring.master_keys) == [new_ring.current]
    assert new_ring.audit_key == old_ring.audit_key
    for (kid, enc_b, wrap_b, mk_b), (kid2, enc_a, wrap_a, mk_a) in zip(keys_before, keys_after):
        assert kid == kid2 and enc_a == enc_b  # the data key is the same: the key is not re-encrypted
        assert wrap_a != wrap_b and mk_b == old_ring.current and mk_a == new_ring.current
    assert stat.S_IMODE(inv.key_file.stat().st_mode) == 0o600
    for name, key in before_keys.items():
        assert same_public_key(_exported_key(inv, name).public_key(), key.public_key()), name
    assert inv.verify_audit().ok
    event = inv.audit_events(certlab.AuditFilter(action="master_key_rotated"))[-1]
    assert event.details["keys_rewrapped"] == 4 and old_ring.master_key.hex() not in str(event.details)
    # The old master key is gone: a copy of the old key file no longer opens the keys.
    assert old_ring.current not in new_ring.master_keys


def test_rotation_by_cli_and_keys_still_export(cli_db: Path, tmp_path: Path) -> None:
    run_cli("create", "self-signed", "a", "--key", "ec-p256", "--exportable", db=cli_db, check=True)
    pw = tmp_path / "pw"
    pw.write_text(PW.decode() + "\n")
    proc = run_cli("master-key", "rotate", db=cli_db)
    assert proc.returncode == 0 and "1 data keys rewrapped" in proc.stderr
    out = tmp_path / "a.key"
    run_cli("export", "a", "--format", "key", "--out", str(out), "--password-file", str(pw), db=cli_db, check=True)
    assert serialization.load_pem_private_key(out.read_bytes(), PW) is not None


def test_only_admins_rotate(inv: certlab.Inventory) -> None:
    auditor = inv.as_actor(certlab.Actor("carol", certlab.Role.AUDITOR))
    with pytest.raises(PermissionDeniedError):
        auditor.rotate_master_key()  # type: ignore[attr-defined]
    assert inv.audit_events()[-1].outcome == "denied"


def test_master_key_from_the_environment(inv: certlab.Inventory, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_key = os.urandom(32)
    monkeypatch.setenv("CERTLAB_MASTER_KEY", base64.b64encode(env_key).decode())
    make_cert(inv, "env_sealed", exportable=True)
    with duckdb.connect(str(db_path), read_only=True) as con:
        mk = con.execute("SELECT master_key_id FROM private_keys").fetchone()[0]  # type: ignore[index]
    assert mk == vault.key_id_of(env_key)
    assert _exported_key(inv, "env_sealed") is not None
    with pytest.raises(InvalidInputError, match="CERTLAB_MASTER_KEY"):
        inv.rotate_master_key()
    monkeypatch.delenv("CERTLAB_MASTER_KEY")
    with pytest.raises(StoreError, match="master key .* is not available"):
        inv.export("env_sealed", "key", password=PW)
    monkeypatch.setenv("CERTLAB_MASTER_KEY", "too-short")
    with pytest.raises(InvalidInputError, match="base64 of 32 random bytes"):
        inv.get("env_sealed") and certlab.open(db_path)


def test_sealed_keys_are_bound_to_their_row() -> None:
    ring = vault.Keyring({"k1": os.urandom(32)}, "k1", os.urandom(32))
    key = certlab.generate_key("ec-p256")
    sealed = vault.seal(ring, 7, "spki7", key)
    assert same_public_key(vault.unseal(ring, 7, "spki7", sealed).public_key(), key.public_key())
    assert repr(sealed.encrypted_key) not in repr(sealed) and repr(sealed.wrapped_data_key) not in repr(sealed)
    with pytest.raises(StoreError, match="private key 8"):
        vault.unseal(ring, 8, "spki7", sealed)  # moved to another row
    with pytest.raises(StoreError, match="does not decrypt"):
        vault.unseal(ring, 7, "other", sealed)
    other = vault.Keyring({"k1": os.urandom(32)}, "k1", os.urandom(32))
    with pytest.raises(StoreError, match="wrong master key"):
        vault.unseal(other, 7, "spki7", sealed)


def test_seal_uses_a_fresh_data_key_each_time() -> None:
    ring = vault.Keyring({"k1": os.urandom(32)}, "k1", os.urandom(32))
    key = certlab.generate_key("ec-p256")
    a, b = vault.seal(ring, 1, "s", key), vault.seal(ring, 1, "s", key)
    assert a.encrypted_key != b.encrypted_key and a.wrapped_data_key != b.wrapped_data_key


def test_database_class_never_sees_the_key_file(inv: certlab.Inventory) -> None:
    assert isinstance(inv.db, Database)
    assert inv.db.path.name == "certlab.duckdb" and inv.key_file.parent == inv.db.path.parent
