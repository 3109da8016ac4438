"""Vault: secrets never in the clear on disk, names bound to ciphertexts, wrong keys, rotation, key files."""

from __future__ import annotations

import base64
import sqlite3
import stat
from pathlib import Path

import pytest

from tuyagate.devices.db import Database
from tuyagate.devices.paths import DB_FILENAME, MASTER_KEY_FILENAME
from tuyagate.devices.registry import Registry
from tuyagate.devices.vault import (
    ENV_MASTER_KEY,
    Vault,
    VaultError,
    format_master_key,
    parse_master_key,
    rotate_master_key,
    write_key_file,
)
from tuyagate.errors import ConfigError, NotFoundError

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
SECRETS = {
    "device/bf01/local_key": "0123456789abcdef",
    "device/bf02/local_key": "q1w2e3r4t5y6u7i8",
    "device/bf03/password": "correct horse battery staple",
    "cloud/secret": "a8c1f0b2d3e4f5a6b7c8d9e0f1a2b3c4",
    "cloud/access_token": "tok_Zx9VqLmN3pRsTuVwXyZ0123456789",
}


def disk_bytes(directory: Path) -> bytes:
    """The database and its WAL and shared-memory files, as bytes."""
    out = b""
    for suffix in ("", "-wal", "-shm"):
        path = directory / (DB_FILENAME + suffix)
        if path.exists():
            out += path.read_bytes()
    return out


def assert_no_plaintext(blob: bytes) -> None:
    for value in SECRETS.values():
        raw = value.encode()
        for form in (raw, raw.hex().encode(), base64.b64encode(raw), raw[:10]):
            assert form not in blob


def test_secrets_are_never_in_the_files(tmp_path: Path) -> None:
    db = Database.open(tmp_path)
    vault = Vault(db, KEY_A)
    for name, value in SECRETS.items():
        vault.put(name, value)
    assert (tmp_path / (DB_FILENAME + "-wal")).stat().st_size > 0  # the WAL holds the writes right now
    assert_no_plaintext(disk_bytes(tmp_path))
    for name, value in SECRETS.items():
        assert vault.get(name) == value
    vault.rotate(KEY_B)
    assert_no_plaintext(disk_bytes(tmp_path))
    db.close()
    blob = disk_bytes(tmp_path)
    assert b"device/bf01/local_key" in blob  # names are not secret, and prove we looked at the right file
    assert_no_plaintext(blob)


def test_put_get_delete_names(tmp_path: Path) -> None:
    with Database.open(tmp_path) as db:
        vault = Vault(db, KEY_A)
        assert vault.get("device/x/local_key") is None
        vault.put("device/x/local_key", "0123456789abcdef")
        vault.put("device/x/local_key", "fedcba9876543210")
        vault.put("blob", b"\x00\xff")
        vault.put("cloud/secret", "s")
        assert vault.get("device/x/local_key") == "fedcba9876543210"
        assert vault.get_bytes("blob") == b"\x00\xff"
        assert vault.names() == ["blob", "cloud/secret", "device/x/local_key"]
        assert vault.names("device/") == ["device/x/local_key"]
        assert "cloud/secret" in vault
        assert "cloud/nothing" not in vault
        assert vault.delete("blob")
        assert not vault.delete("blob")
        with pytest.raises(NotFoundError, match="no secret 'cloud/access_token' in the vault"):
            vault.require("cloud/access_token")
        with pytest.raises(VaultError, match="non-empty string"):
            vault.put("", "x")


def test_ciphertexts_are_bound_to_their_names(tmp_path: Path) -> None:
    with Database.open(tmp_path) as db:
        vault = Vault(db, KEY_A)
        vault.put("device/a/local_key", "aaaaaaaaaaaaaaaa")
        vault.put("device/b/local_key", "bbbbbbbbbbbbbbbb")
    raw = sqlite3.connect(tmp_path / DB_FILENAME)
    rows = {n: bytes(nonce) + bytes(ct) for n, nonce, ct in raw.execute("SELECT name, nonce, ciphertext FROM secrets")}
    a, b = rows["device/a/local_key"], rows["device/b/local_key"]
    raw.execute("UPDATE secrets SET nonce = ?, ciphertext = ? WHERE name = 'device/a/local_key'", (b[:12], b[12:]))
    raw.commit()
    raw.close()
    with Database.open(tmp_path) as db:
        vault = Vault(db, KEY_A)
        with pytest.raises(VaultError, match="'device/a/local_key' cannot be decrypted") as info:
            vault.get("device/a/local_key")
        assert "bbbb" not in str(info.value)
        assert vault.get("device/b/local_key") == "bbbbbbbbbbbbbbbb"
        assert a != b


def test_wrong_master_key_is_a_clear_error(tmp_path: Path) -> None:
    with Database.open(tmp_path) as db:
        Vault(db, KEY_A).put("cloud/secret", "s3cr3t-value")
    with Database.open(tmp_path) as db:
        with pytest.raises(VaultError, match="the master key does not match the vault") as info:
            Vault(db, KEY_B)
        assert isinstance(info.value, ConfigError)
        assert KEY_B.hex() not in str(info.value)
        assert KEY_A.hex() not in str(info.value)
        with pytest.raises(VaultError, match=r"\$TUYAGATE_MASTER_KEY is not the key"):
            Vault.open(db, tmp_path, env={ENV_MASTER_KEY: KEY_B.hex()})
        assert Vault.open(db, tmp_path, env={ENV_MASTER_KEY: KEY_A.hex()}).get("cloud/secret") == "s3cr3t-value"


def test_master_key_formats() -> None:
    assert parse_master_key(KEY_A.hex()) == KEY_A
    assert parse_master_key(KEY_A.hex().upper() + "\n") == KEY_A
    assert parse_master_key(base64.b64encode(KEY_B).decode()) == KEY_B
    assert parse_master_key(base64.urlsafe_b64encode(b"\xff" * 32).decode()) == b"\xff" * 32
    assert format_master_key(KEY_A) == KEY_A.hex()
    for bad in ("", "abcd", "zz" * 32, base64.b64encode(b"short").decode(), "ünïcode"):
        with pytest.raises(VaultError, match="must be 64 hex characters") as info:
            parse_master_key(bad)
        assert bad not in str(info.value) or bad == ""


def test_key_file_created_0600_and_reused(tmp_path: Path) -> None:
    with Database.open(tmp_path) as db:
        vault = Vault.open(db, tmp_path, env={})
        assert vault.key_source == "file"
        vault.put("cloud/secret", "abc")
        key_file = tmp_path / MASTER_KEY_FILENAME
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert len(parse_master_key(key_file.read_text())) == 32
    with Database.open(tmp_path) as db:
        assert Vault.open(db, tmp_path, env={}).get("cloud/secret") == "abc"
    (tmp_path / MASTER_KEY_FILENAME).unlink()
    with Database.open(tmp_path) as db, pytest.raises(VaultError, match=r"master\.key is missing"):
        Vault.open(db, tmp_path, env={})


def test_rotation_with_key_file(tmp_path: Path) -> None:
    with Database.open(tmp_path) as db:
        vault = Vault.open(db, tmp_path, env={})
        for name, value in SECRETS.items():
            vault.put(name, value)
        old = parse_master_key((tmp_path / MASTER_KEY_FILENAME).read_text())
        new = rotate_master_key(vault)
        assert new != old
        assert parse_master_key((tmp_path / MASTER_KEY_FILENAME).read_text()) == new
        assert stat.S_IMODE((tmp_path / MASTER_KEY_FILENAME).stat().st_mode) == 0o600
        assert not (tmp_path / (MASTER_KEY_FILENAME + ".new")).exists()
        assert {n: vault.get(n) for n in SECRETS} == SECRETS
    with Database.open(tmp_path) as db:
        with pytest.raises(VaultError, match="does not match"):
            Vault(db, old)
        reopened = Vault.open(db, tmp_path, env={})
        assert {n: reopened.get(n) for n in SECRETS} == SECRETS


def test_rotation_with_env_key_returns_the_new_key(tmp_path: Path) -> None:
    with Database.open(tmp_path) as db:
        vault = Vault.open(db, tmp_path, env={ENV_MASTER_KEY: KEY_A.hex()})
        vault.put("cloud/secret", "abc")
        assert rotate_master_key(vault, KEY_B) == KEY_B
        assert not (tmp_path / MASTER_KEY_FILENAME).exists()
        assert Vault.open(db, tmp_path, env={ENV_MASTER_KEY: KEY_B.hex()}).get("cloud/secret") == "abc"


def test_open_finishes_an_interrupted_rotation(tmp_path: Path) -> None:
    key_file = tmp_path / MASTER_KEY_FILENAME
    pending = tmp_path / (MASTER_KEY_FILENAME + ".new")
    with Database.open(tmp_path) as db:
        vault = Vault.open(db, tmp_path, env={})
        vault.put("cloud/secret", "abc")
        write_key_file(pending, KEY_B)  # crash after the database committed, before the rename
        vault.rotate(KEY_B)
    with Database.open(tmp_path) as db:
        assert Vault.open(db, tmp_path, env={}).get("cloud/secret") == "abc"
    assert parse_master_key(key_file.read_text()) == KEY_B
    assert not pending.exists()
    write_key_file(pending, KEY_A)  # crash before the database committed: the old key still opens it
    with Database.open(tmp_path) as db:
        assert Vault.open(db, tmp_path, env={}).get("cloud/secret") == "abc"
    assert parse_master_key(key_file.read_text()) == KEY_B
    assert not pending.exists()


def test_vault_and_registry_share_the_file(tmp_path: Path) -> None:
    with Registry.open(tmp_path) as registry:
        vault = Vault(registry.db, KEY_A)
        vault.put("device/p/local_key", "0123456789abcdef")
        assert "KEY" not in repr(vault)
        assert KEY_A.hex() not in repr(vault)
        assert vault.names() == ["device/p/local_key"]


def test_key_file_follows_the_data_dir_of_the_given_environment(tmp_path: Path) -> None:
    env = {"TUYAGATE_DATA_DIR": str(tmp_path / "data")}
    with Database.open(tmp_path / "data") as db:
        vault = Vault.open(db, None, env=env)
        assert vault.key_file == tmp_path / "data" / MASTER_KEY_FILENAME
        assert vault.key_file.exists()
        assert Vault(db, parse_master_key(vault.key_file.read_text())).key_file is None


def test_a_key_file_appears_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / MASTER_KEY_FILENAME

    def killed_mid_write(fd: int, data: bytes) -> int:
        raise OSError("the process died here")

    monkeypatch.setattr("tuyagate.devices.vault.os.write", killed_mid_write)
    with pytest.raises(OSError, match="died"):
        write_key_file(key_file, KEY_A)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []  # no empty master.key that would stop the vault from opening
    write_key_file(key_file, KEY_A)
    assert parse_master_key(key_file.read_text()) == KEY_A
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        write_key_file(key_file, KEY_B)  # exclusive: an existing key is never replaced
    write_key_file(key_file, KEY_B, exclusive=False)
    assert parse_master_key(key_file.read_text()) == KEY_B
    assert [p.name for p in tmp_path.iterdir()] == [MASTER_KEY_FILENAME]
