"""The answer of ``GET /api/v1/discovered``: devices that announce themselves but have no key here.

They come from the hub's discovery follower (:class:`tuyagate.lan.follower.DiscoveryFollower`),
which hears every announcement on the LAN. A device listed here is not controllable -- nothing can
be said to it without its local key -- so each entry carries the hint that makes it one.
"""

from __future__ import annotations

from typing_extensions import TypedDict  # pydantic reads TypedDicts from typing_extensions before 3.12

from tuyagate.device_api import DeviceManager
from tuyagate.devices.hub import Home

__all__ = ["DiscoveredList", "DiscoveredOut", "discovered_out"]

HINT = (
    "discovered, key unknown: `tuyagate cloud sync` (after `tuyagate cloud login`) or the dashboard's cloud sync "
    "fetches its key, or add it by hand with `tuyagate devices add`; the running gateway serves it at once"
)
NOT_LISTENING = "the gateway does not listen for announcements (started with --no-follow, or UDP 6666/6667 taken)"


class DiscoveredOut(TypedDict):
    id: str
    ip: str
    version: str | None
    product_key: str | None
    name: str | None  # the registry's name, when the device is registered without a local key
    key_known: bool
    first_seen: float
    last_seen: float
    announcements: int
    hint: str


class DiscoveredList(TypedDict):
    listening: bool
    devices: list[DiscoveredOut]
    note: str


def discovered_out(manager: DeviceManager) -> DiscoveredList:
    follower = manager.follower if isinstance(manager, Home) else None
    if follower is None or not follower.listening:
        return {"listening": False, "devices": [], "note": NOT_LISTENING}
    names = {d.info.id: d.info.name for d in manager.devices()}
    devices: list[DiscoveredOut] = [
        {
            "id": d.device_id,
            "ip": d.ip,
            "version": d.version,
            "product_key": d.product_key,
            "name": names.get(d.device_id),
            "key_known": False,
            "first_seen": d.first_seen,
            "last_seen": d.last_seen,
            "announcements": d.announcements,
            "hint": HINT,
        }
        for d in follower.discovered
    ]
    return {"listening": True, "devices": devices, "note": "not controllable until their key is known"}
