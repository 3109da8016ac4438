"""Devices added to or removed from the cloud account, applied to the registry and the running home.

The cloud's push services (the message service and the app MQ) announce account changes:
``bindUser`` (a device was paired into the account), ``delete`` (it was removed from it) and
``nameUpdate`` (renamed in the app). :class:`AccountChanges` turns them into what ``tuyagate cloud
sync`` and ``tuyagate devices remove`` would have done, so the gateway serves a new device without
a restart and stops serving a removed one:

* added: a cloud sync (:func:`~tuyagate.devices.cloud_sync.sync_from_cloud`, the one record mapping
  there is) brings the device, its local key and schema into the registry; then the home applies
  the registry (:func:`apply_registry`);
* removed: the record and its secrets leave the registry (a device unbound from the account is
  reset and gets a new key when paired again, so the old one is useless); the home applies it;
* renamed: the registry's name follows the app's, and the running device is rebuilt with it.

Failures (the cloud unreachable during the sync) are logged; the next sync or restart catches up.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from tuyagate.errors import ConfigError, NotFoundError, TuyaError

if TYPE_CHECKING:
    from tuyagate.cloud.messages import CloudMessage
    from tuyagate.devices.cloud_sync import CloudSource
    from tuyagate.devices.hub import Home
    from tuyagate.devices.vault import Vault

__all__ = ["AccountChanges", "apply_registry"]

_LOGGER = logging.getLogger(__name__)
KINDS = ("added", "removed", "name")


async def apply_registry(home: Home) -> bool:
    """Make the running home serve what its registry holds now (:meth:`Home.reload`: new devices
    are added, removed ones removed, renamed ones rebuilt, with ``added``/``removed`` events);
    False when nothing changed or this home cannot change (it was made from ready devices)."""
    try:
        result = await home.reload()
    except ConfigError as exc:
        _LOGGER.info("the registry changed, but this home cannot follow it: %s", exc)
        return False
    for device_id, reason in result.errors.items():
        _LOGGER.warning("%s from the cloud account cannot be served: %s", device_id, reason)
    return bool(result)


class AccountChanges:
    """Apply the account changes among the cloud's messages to ``home`` (its registry) and ``vault``."""

    def __init__(self, home: Home, source: CloudSource | None, vault: Vault | None) -> None:
        self._home = home
        self._source = source
        self._vault = vault
        self._lock = asyncio.Lock()  # one change at a time: a sync and a removal must not interleave
        self.applied = 0

    async def handle(self, message: CloudMessage) -> bool:
        """Apply ``message`` if it is an account change; True when the registry changed."""
        if message.kind not in KINDS:
            return False
        registry = self._home.registry
        if registry is None:
            return False
        async with self._lock:
            try:
                if message.kind == "added":
                    changed = await self._added(message.device_id)
                elif message.kind == "removed":
                    changed = self._removed(message.device_id)
                else:
                    changed = self._renamed(message.device_id, str(message.biz_data.get("name") or ""))
                if changed:
                    await apply_registry(self._home)
            except TuyaError as exc:
                _LOGGER.warning("the cloud account's %s event could not be applied: %s", message.kind, exc)
                return False
        self.applied += int(changed)
        return changed

    async def _added(self, device_id: str) -> bool:
        from tuyagate.devices.cloud_sync import sync_from_cloud

        registry = self._home.registry
        if self._source is None or self._vault is None or registry is None:
            _LOGGER.info("a device was added to the cloud account: `tuyagate cloud sync` brings it in")
            return False
        if device_id in {r.id for r in registry.devices()}:
            return False
        report = await sync_from_cloud(self._source, registry, self._vault)
        if device_id not in report.added:
            _LOGGER.warning("a device added to the cloud account is not in its device list yet")
        return bool(report.added)

    def _removed(self, device_id: str) -> bool:
        registry = self._home.registry
        assert registry is not None
        try:
            record = registry.remove(device_id)
        except NotFoundError:
            return False
        _LOGGER.warning("%s was removed from the cloud account: removed from the registry too", record.name)
        return True

    def _renamed(self, device_id: str, name: str) -> bool:
        registry = self._home.registry
        assert registry is not None
        if not name:
            return False
        try:
            if registry.get(device_id).name == name:
                return False
            registry.update(device_id, name=name)
        except NotFoundError:
            return False
        return True
