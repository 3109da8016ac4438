"""The vault's master key in the operating system's keyring, instead of a key file or the environment.

A key file next to the database protects the secrets from a copied database but not from a copied
data directory. Moving the key into the keyring (Secret Service / GNOME Keyring / KWallet on Linux,
the macOS Keychain, Windows Credential Locker, through the maintained ``keyring`` package, the
``keyring`` extra) keeps it with the user's login instead: ``tuyagate devices rotate-key --to-keyring``.

One keyring entry per data directory: service ``tuyagate``, account the directory's absolute path.
A rotation stores the new key under the same account with ``#pending`` appended before the database
commits, and promotes it after, so a crash in between leaves a key that opens the vault (as the
key file's ``master.key.new`` does). ``keyring`` is imported only when the key is looked up there,
which happens only when no key file exists.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tuyagate.errors import ConfigError

__all__ = ["SERVICE", "available", "delete", "load", "store"]

SERVICE = "tuyagate"
PENDING = "#pending"


def _keyring() -> Any | None:
    try:
        import keyring
    except ImportError:
        return None
    return keyring


def available() -> bool:
    """Whether the ``keyring`` package is installed (it may still have no usable backend)."""
    return _keyring() is not None


def account(directory: str | os.PathLike[str]) -> str:
    return str(Path(directory).resolve())


def load(directory: str | os.PathLike[str], *, pending: bool = False) -> str | None:
    """The master key text stored for ``directory`` (None when there is none or no keyring)."""
    ring = _keyring()
    if ring is None:
        return None
    from keyring.errors import NoKeyringError

    try:
        value = ring.get_password(SERVICE, account(directory) + (PENDING if pending else ""))
    except NoKeyringError:
        # No backend on this machine (a server, CI): nothing can be stored there, so nothing is. The
        # caller then names the key sources that are missing, instead of blaming the keyring.
        return None
    except Exception as exc:  # noqa: BLE001 - a backend that fails (locked, D-Bus down) is worth saying
        raise ConfigError(f"the OS keyring could not be read ({type(exc).__name__})") from None
    return str(value) if value else None


def store(directory: str | os.PathLike[str], text: str, *, pending: bool = False) -> None:
    ring = _keyring()
    if ring is None:
        raise ConfigError("the OS keyring needs the keyring extra: pip install 'tuyagate[keyring]'")
    try:
        ring.set_password(SERVICE, account(directory) + (PENDING if pending else ""), text)
    except Exception as exc:  # noqa: BLE001 - a backend that cannot store (none configured, locked)
        raise ConfigError(f"the OS keyring refused to store the master key ({type(exc).__name__}: {exc})") from None


def delete(directory: str | os.PathLike[str], *, pending: bool = False) -> None:
    ring = _keyring()
    if ring is None:
        return
    try:
        ring.delete_password(SERVICE, account(directory) + (PENDING if pending else ""))
    except Exception:  # noqa: BLE001 - nothing stored is fine
        pass
