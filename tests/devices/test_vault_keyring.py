"""The master key in the OS keyring: moved there from the key file, used to open, rotated crash-safely.

The keyring is the real ``keyring`` package with an in-memory backend of its documented plugin API
(no Secret Service runs on a CI machine); everything above the backend is the code users run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from tuyagate.cli.main import run
from tuyagate.devices import keyring_store
from tuyagate.devices.db import Database
from tuyagate.devices.paths import MASTER_KEY_FILENAME
from tuyagate.devices.vault import Vault, VaultError, format_master_key, move_key_to_keyring, rotate_master_key
from tuyagate.errors import ConfigError


class MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username))


@pytest.fixture
def ring() -> Iterator[MemoryKeyring]:
    before = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(before)


def _open(directory: Path) -> tuple[Database, Vault]:
    db = Database.open(directory)
    return db, Vault.open(db, directory, env={})


def test_the_key_moves_to_the_keyring_and_opens_the_vault(tmp_path: Path, ring: MemoryKeyring) -> None:
    db, vault = _open(tmp_path)
    vault.put("device/x/local_key", "0123456789abcdef")
    move_key_to_keyring(vault)
    assert not (tmp_path / MASTER_KEY_FILENAME).exists()
    assert ring.entries[("tuyagate", str(tmp_path.resolve()))]  # the key, not the secrets
    assert "0123456789abcdef" not in str(ring.entries)
    db.close()
    db, reopened = _open(tmp_path)
    assert reopened.key_source == "keyring"
    assert reopened.get("device/x/local_key") == "0123456789abcdef"
    with pytest.raises(VaultError, match="only a master key kept in the key file"):
        move_key_to_keyring(reopened)
    db.close()


def test_rotation_in_the_keyring_survives_a_crash_before_the_promotion(tmp_path: Path, ring: MemoryKeyring) -> None:
    db, vault = _open(tmp_path)
    vault.put("cloud/secret", "s3cret-value")
    move_key_to_keyring(vault)
    old = ring.entries[("tuyagate", str(tmp_path.resolve()))]
    new_key = rotate_master_key(vault)
    assert ring.entries[("tuyagate", str(tmp_path.resolve()))] == format_master_key(new_key) != old
    assert ("tuyagate", str(tmp_path.resolve()) + "#pending") not in ring.entries
    # A second rotation "crashes" after the commit: only the pending entry has the key that opens it.
    ring.entries[("tuyagate", str(tmp_path.resolve()))] = format_master_key(new_key)
    newer = bytes(range(32))
    keyring_store.store(tmp_path, format_master_key(newer), pending=True)
    vault.rotate(newer)
    db.close()
    db, reopened = _open(tmp_path)
    assert reopened.get("cloud/secret") == "s3cret-value"
    assert ring.entries[("tuyagate", str(tmp_path.resolve()))] == format_master_key(newer)
    assert ("tuyagate", str(tmp_path.resolve()) + "#pending") not in ring.entries
    db.close()


def test_a_vault_whose_key_is_nowhere_says_where_it_looked(tmp_path: Path, ring: MemoryKeyring) -> None:
    db, vault = _open(tmp_path)
    move_key_to_keyring(vault)
    ring.entries.clear()
    db.close()
    with pytest.raises(VaultError, match="the OS keyring holds no key"):
        _open(tmp_path)


def test_a_machine_with_no_keyring_backend_gets_the_missing_key_error(tmp_path: Path) -> None:
    """No backend at all (a server, CI) is no key in the keyring, not a keyring failure."""
    from keyring.backends import fail

    db, vault = _open(tmp_path)
    vault.put("cloud/secret", "abc")
    db.close()
    (tmp_path / MASTER_KEY_FILENAME).unlink()
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        with pytest.raises(VaultError, match=r"master\.key is missing"):
            _open(tmp_path)
    finally:
        keyring.set_keyring(before)


def test_without_the_keyring_extra_the_move_says_which_extra(
    tmp_path: Path, ring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, vault = _open(tmp_path)
    monkeypatch.setattr(keyring_store, "_keyring", lambda: None)
    with pytest.raises(ConfigError, match=r"tuyagate\[keyring\]"):
        move_key_to_keyring(vault)
    assert (tmp_path / MASTER_KEY_FILENAME).exists()  # nothing lost
    db.close()


async def test_rotate_key_to_keyring_from_the_cli(
    tmp_path: Path, ring: MemoryKeyring, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path)
    argv = ["devices", "add", "--id", "bfkeyringcli00000001", "--name", "Plug", "--ip", "127.0.0.1"]
    argv += ["--key", "0123456789abcdef", "--data-dir", data]
    assert await asyncio.to_thread(run, argv) == 0
    assert await asyncio.to_thread(run, ["devices", "rotate-key", "--to-keyring", "--data-dir", data]) == 0
    assert "in the OS keyring" in capsys.readouterr().out
    assert not (tmp_path / MASTER_KEY_FILENAME).exists()
    assert await asyncio.to_thread(run, ["devices", "list", "--json", "--data-dir", data]) == 0
    assert "bfkeyringcli00000001" in capsys.readouterr().out
