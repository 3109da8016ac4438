"""The secret vault: local keys, device passwords, cloud secrets and tokens, encrypted at rest.

Secrets live in the ``secrets`` table of the tuyagate database, each as a random 12-byte nonce and an
AES-256-GCM ciphertext whose associated data is the secret's name: a ciphertext moved to another
name fails to decrypt instead of handing out the wrong key. Names look like ``device/<id>/local_key``,
``device/<id>/password``, ``cloud/secret``, ``cloud/access_token``.

The 32-byte master key comes from, in order:

1. ``$TUYAGATE_MASTER_KEY``: 64 hex characters (``openssl rand -hex 32``) or the base64 of 32 bytes
   (``openssl rand -base64 32``);
2. the key file ``<data dir>/master.key`` (the same text format), created with mode 0600 on first use;
3. the operating system's keyring (:mod:`tuyagate.devices.keyring_store`), when the key was moved
   there (``tuyagate devices rotate-key --to-keyring``) and no key file exists.

A ``check`` record encrypted under the master key is stored next to the secrets, so a wrong key is
reported as such (:class:`VaultError`) the moment the vault is opened, even before any secret is read.
:func:`rotate_master_key` re-encrypts everything under a new key in one transaction; with a key file
it writes ``master.key.new`` first and renames it after the commit, and :meth:`Vault.open` finishes
a rotation that a crash cut short.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tuyagate.devices import paths
from tuyagate.devices.db import Database
from tuyagate.errors import ConfigError, NotFoundError

__all__ = [
    "ENV_MASTER_KEY",
    "Vault",
    "VaultError",
    "format_master_key",
    "generate_master_key",
    "move_key_to_keyring",
    "parse_master_key",
    "rotate_master_key",
    "write_key_file",
]

_LOGGER = logging.getLogger(__name__)
ENV_MASTER_KEY = "TUYAGATE_MASTER_KEY"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the GCM standard nonce; random per encryption
_AAD_PREFIX = b"tuyagate-vault-v1\x00"
_CHECK_NAME = "\x00check"  # AAD name of the check record; no secret name can contain NUL
_CHECK_PLAINTEXT = b"tuyagate vault check"
_KEY_FORMAT_HINT = "64 hex characters (openssl rand -hex 32) or the base64 of 32 bytes (openssl rand -base64 32)"
KeySource = Literal["env", "file", "keyring", "explicit"]


class VaultError(ConfigError):
    """The vault cannot be opened or read: missing or wrong master key, or a damaged secret."""


def generate_master_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def format_master_key(key: bytes) -> str:
    """The text form used in the key file and for ``TUYAGATE_MASTER_KEY``: 64 hex characters."""
    return key.hex()


def parse_master_key(text: str, *, origin: str = ENV_MASTER_KEY) -> bytes:
    """A master key from its text form (hex or base64 of 32 bytes). The error never repeats the text."""
    cleaned = text.strip()
    if len(cleaned) == 2 * KEY_BYTES:
        try:
            return bytes.fromhex(cleaned)
        except ValueError:
            pass
    for altchars in (None, b"-_"):  # standard, then URL-safe base64
        try:
            key = base64.b64decode(cleaned.encode("ascii"), altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(key) == KEY_BYTES:
            return key
    raise VaultError(f"{origin} must be {_KEY_FORMAT_HINT}")


def write_key_file(path: str | os.PathLike[str], key: bytes, *, exclusive: bool = True) -> None:
    """Write a key file with mode 0600, durably and all at once. ``exclusive`` refuses to replace an existing file.

    The key goes to a temporary file first, is fsynced, and only then appears under ``path`` (a hard
    link when exclusive, a rename otherwise), and the directory is fsynced: a process killed mid-write
    leaves no empty or partial key file that would stop the vault from opening, and the database never
    commits a vault whose key file a power cut could still take away.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        try:
            os.write(fd, (format_master_key(key) + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if exclusive:
            os.link(tmp, target)  # FileExistsError when a key file is there already
        else:
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(target.parent)


def _read_key_file(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        _LOGGER.warning("master key file %s is readable by others (mode %o); run: chmod 600 %s", path, mode, path)
    return parse_master_key(path.read_text(encoding="ascii"), origin=f"the key file {path}")


class Vault:
    """Encrypted name -> secret storage in a :class:`Database`."""

    def __init__(
        self,
        db: Database,
        master_key: bytes,
        *,
        key_source: KeySource = "explicit",
        key_file: Path | None = None,
        directory: Path | None = None,
    ) -> None:
        """Open the vault with this key; VaultError if the vault was created with another one.

        ``key_file`` is where the key came from when ``key_source`` is ``file`` (rotation replaces it).
        """
        if len(master_key) != KEY_BYTES:
            raise VaultError(f"the master key must be {KEY_BYTES} bytes")
        self.db = db
        self.key_source: KeySource = key_source
        self.key_file = key_file if key_source == "file" else None
        self.directory = directory  # the data directory: names the keyring entry when key_source is keyring
        self._aead = AESGCM(master_key)
        with db.transaction() as conn:
            row = conn.execute("SELECT value FROM vault_meta WHERE key = 'check'").fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO vault_meta (key, value) VALUES ('check', ?)",
                    (self._seal(_CHECK_NAME, _CHECK_PLAINTEXT),),
                )
            elif not self.matches(bytes(row[0])):
                raise VaultError(self._mismatch_message())

    @classmethod
    def open(
        cls, db: Database, directory: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
    ) -> Vault:
        """Open with the master key from ``$TUYAGATE_MASTER_KEY``, the data directory's key file or the OS keyring."""
        environ = os.environ if env is None else env
        if environ.get(ENV_MASTER_KEY):
            return cls(db, parse_master_key(environ[ENV_MASTER_KEY]), key_source="env")
        home = paths.data_dir(directory, env=environ)
        key_file = paths.master_key_path(home)
        pending = key_file.with_name(key_file.name + ".new")
        if key_file.exists():
            try:
                vault = cls(db, _read_key_file(key_file), key_source="file", key_file=key_file)
            except VaultError:
                if not pending.exists():
                    raise
            else:
                pending.unlink(missing_ok=True)  # a rotation that never committed
                return vault
        if pending.exists():
            # a rotation committed but not yet renamed
            vault = cls(db, _read_key_file(pending), key_source="file", key_file=key_file)
            os.replace(pending, key_file)
            _fsync_dir(key_file.parent)
            _LOGGER.info("finished an interrupted master key rotation (%s)", key_file)
            return vault
        with db.read() as conn:
            initialised = conn.execute("SELECT 1 FROM vault_meta WHERE key = 'check'").fetchone() is not None
        if initialised:
            from_keyring = _open_from_keyring(cls, db, home)
            if from_keyring is not None:
                return from_keyring
            raise VaultError(
                f"the vault in {db.path} is encrypted with a master key that is not available: "
                f"{key_file} is missing, {ENV_MASTER_KEY} is not set and the OS keyring holds no key for it"
            )
        key = generate_master_key()
        write_key_file(key_file, key)
        _LOGGER.info("created a new master key file %s (mode 0600)", key_file)
        return cls(db, key, key_source="file", key_file=key_file)

    # ---- secrets ---------------------------------------------------------------------------------

    def put(self, name: str, value: str | bytes) -> None:
        """Store (or replace) a secret."""
        _check_name(name)
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        sealed = self._seal(name, data)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO secrets (name, nonce, ciphertext, updated_at) VALUES (?, ?, ?, ?)",
                (name, sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], time.time()),
            )

    def get_bytes(self, name: str) -> bytes | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT nonce, ciphertext FROM secrets WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        try:
            return self._open(name, bytes(row[0]) + bytes(row[1]))
        except InvalidTag:
            raise VaultError(
                f"the secret {name!r} cannot be decrypted: the vault is damaged or was tampered with"
            ) from None

    def get(self, name: str) -> str | None:
        """A secret as text, or None if there is none by that name."""
        data = self.get_bytes(name)
        return None if data is None else data.decode("utf-8")

    def require(self, name: str) -> str:
        """A secret as text; NotFoundError (naming the secret, not its value) if absent."""
        value = self.get(name)
        if value is None:
            raise NotFoundError(f"no secret {name!r} in the vault")
        return value

    def delete(self, name: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM secrets WHERE name = ?", (name,)).rowcount > 0

    def names(self, prefix: str = "") -> list[str]:
        """Names of the stored secrets (never their values), sorted."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT name FROM secrets WHERE substr(name, 1, ?) = ? ORDER BY name", (len(prefix), prefix)
            ).fetchall()
        return [r[0] for r in rows]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        with self.db.read() as conn:
            return conn.execute("SELECT 1 FROM secrets WHERE name = ?", (name,)).fetchone() is not None

    def rotate(self, new_key: bytes) -> None:
        """Re-encrypt every secret and the check record under ``new_key``, all in one transaction.

        Only the database changes; :func:`rotate_master_key` also replaces the key file.
        """
        if len(new_key) != KEY_BYTES:
            raise VaultError(f"the new master key must be {KEY_BYTES} bytes")
        new = AESGCM(new_key)
        with self.db.transaction() as conn:
            rows = conn.execute("SELECT name, nonce, ciphertext FROM secrets").fetchall()
            for name, nonce, ciphertext in rows:
                try:
                    plain = self._open(name, bytes(nonce) + bytes(ciphertext))
                except InvalidTag:
                    raise VaultError(f"the secret {name!r} cannot be decrypted; nothing was rotated") from None
                sealed = _seal_with(new, name, plain)
                conn.execute(
                    "UPDATE secrets SET nonce = ?, ciphertext = ?, updated_at = ? WHERE name = ?",
                    (sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], time.time(), name),
                )
            conn.execute(
                "INSERT OR REPLACE INTO vault_meta (key, value) VALUES ('check', ?)",
                (_seal_with(new, _CHECK_NAME, _CHECK_PLAINTEXT),),
            )
        self._aead = new

    def matches(self, sealed_check: bytes) -> bool:
        try:
            return self._open(_CHECK_NAME, sealed_check) == _CHECK_PLAINTEXT
        except InvalidTag:
            return False

    def _seal(self, name: str, plain: bytes) -> bytes:
        return _seal_with(self._aead, name, plain)

    def _open(self, name: str, sealed: bytes) -> bytes:
        return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _AAD_PREFIX + name.encode("utf-8"))

    def _mismatch_message(self) -> str:
        where = {
            "env": f"${ENV_MASTER_KEY}",
            "file": "the master key file",
            "keyring": "the OS keyring's key",
            "explicit": "the given key",
        }[self.key_source]
        return (
            f"the master key does not match the vault in {self.db.path}: {where} is not the key this vault was "
            f"encrypted with (set {ENV_MASTER_KEY} to the right key, or restore the data directory's master.key)"
        )

    def __repr__(self) -> str:
        return f"Vault({str(self.db.path)!r}, key from {self.key_source})"


def rotate_master_key(vault: Vault, new_key: bytes | None = None) -> bytes:
    """Rotate to ``new_key`` (a fresh random key by default) and return it.

    With a key file the new key is written to ``master.key.new`` before the database commits and
    renamed over ``master.key`` after, so a crash at any point leaves a key that opens the vault.
    With ``$TUYAGATE_MASTER_KEY`` only the database changes: the caller must show the new key so the
    user can update the variable.
    """
    key = generate_master_key() if new_key is None else new_key
    if vault.key_source == "keyring" and vault.directory is not None:
        from tuyagate.devices import keyring_store

        keyring_store.store(vault.directory, format_master_key(key), pending=True)
        vault.rotate(key)
        keyring_store.store(vault.directory, format_master_key(key))
        keyring_store.delete(vault.directory, pending=True)
        return key
    key_file = vault.key_file
    if key_file is None:
        vault.rotate(key)
        return key
    pending = key_file.with_name(key_file.name + ".new")
    pending.unlink(missing_ok=True)
    write_key_file(pending, key)
    try:
        vault.rotate(key)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    os.replace(pending, key_file)
    _fsync_dir(key_file.parent)
    return key


def move_key_to_keyring(vault: Vault) -> None:
    """Move a key-file vault's master key into the OS keyring, then delete the key file.

    The key is read back from the keyring and checked against the vault before the file goes, so
    a keyring that silently drops what it is given loses nothing.
    """
    from tuyagate.devices import keyring_store

    if vault.key_source != "file" or vault.key_file is None:
        raise VaultError("only a master key kept in the key file can be moved to the keyring")
    key_file = vault.key_file
    text = key_file.read_text(encoding="ascii").strip()
    directory = key_file.parent
    keyring_store.store(directory, text)
    if keyring_store.load(directory) != text:
        raise VaultError("the OS keyring did not keep the master key; the key file stays")
    key_file.unlink()
    _fsync_dir(directory)
    vault.key_source = "keyring"
    vault.key_file = None
    vault.directory = directory


def _open_from_keyring(cls: type[Vault], db: Database, directory: Path) -> Vault | None:
    """The vault opened with the keyring's key for ``directory`` (finishing a rotation), or None."""
    from tuyagate.devices import keyring_store

    text = keyring_store.load(directory)
    if text is None:
        return None
    origin = "the OS keyring"
    try:
        return cls(db, parse_master_key(text, origin=origin), key_source="keyring", directory=directory)
    except VaultError:
        pending = keyring_store.load(directory, pending=True)
        if pending is None:
            raise
    vault = cls(db, parse_master_key(pending, origin=origin), key_source="keyring", directory=directory)
    keyring_store.store(directory, pending)  # a rotation committed but not yet promoted
    keyring_store.delete(directory, pending=True)
    return vault


def _seal_with(aead: AESGCM, name: str, plain: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + aead.encrypt(nonce, plain, _AAD_PREFIX + name.encode("utf-8"))


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or "\x00" in name:
        raise VaultError("a secret name must be a non-empty string without NUL characters")


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
