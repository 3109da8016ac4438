"""The local key of one connection: its bytes, where it is kept, and whether the device took it.

A device is re-paired now and then, and its new key lands in the vault (``tuyagate cloud sync``,
``devices add``) while a connection runs with the old one. So the connection asks the key's source
again before each new link and takes a changed key at once. Whether the device ever answered a
request sealed with the key tells a refused key from a device that merely dropped us.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tuyagate.errors import ConfigError, TuyaError

__all__ = ["LocalKey", "key_bytes"]

_LOGGER = logging.getLogger(__name__)
KeySource = Callable[[], "str | bytes | None"]


def key_bytes(local_key: str | bytes) -> bytes:
    """The 16 bytes of a local key given as text or bytes; a clear error for any other length."""
    key = local_key.encode("latin-1") if isinstance(local_key, str) else bytes(local_key)
    if len(key) != 16:
        raise ConfigError(
            f"the local key must be exactly 16 characters, got {len(key)}; copy it again from the "
            "Tuya cloud (it changes when the device is re-paired) and quote it in the shell"
        )
    return key


class LocalKey:
    """The key in use (``value``), its ``source`` (the hub passes the vault's entry) and ``proven``."""

    __slots__ = ("proven", "source", "value")

    def __init__(self, local_key: str | bytes, source: KeySource | None = None) -> None:
        self.value = key_bytes(local_key)
        self.source = source
        self.proven = False  # the device answered a request sealed with this key once

    def reload(self, name: str) -> bool:
        """Take the key at its source when it differs from the one in use; True when it was replaced."""
        if self.source is None:
            return False
        try:
            fresh = self.source()
        except TuyaError as exc:  # an unreadable vault: keep the key we have
            _LOGGER.warning("%s: cannot read the local key again: %s", name, exc)
            return False
        if not fresh or key_bytes(fresh) == self.value:
            return False
        self.value = key_bytes(fresh)
        self.proven = False
        _LOGGER.info("%s: the local key was replaced; connecting with the new one", name)
        return True
