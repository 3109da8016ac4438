"""Follow devices that change address, from their UDP discovery broadcasts.

Routers hand out new DHCP leases and devices come back on another IP; a gateway that only knows the
old address would fail until someone edits its configuration. Devices announce themselves every few
seconds (UDP 6666 for 3.1, 6667 for 3.2-3.5), so a passive listener is enough: when a known device
id announces a new IP, the connection is pointed there (the next connect uses it) and the owner is
told, to save it. It only listens: it never sends a datagram.

Devices it has no connection for are remembered in :attr:`DiscoveryFollower.discovered` ("discovered,
key unknown"): a user who plugs in a new device sees it in the gateway's API with a hint to sync or
add its key, instead of wondering whether the gateway sees it at all. They are never made
controllable: without the local key nothing can be said to them. The table is bounded, so a flood
of forged broadcasts cannot grow it without end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuyagate.errors import ProtocolError
from tuyagate.protocol.discovery import decode_datagram, is_app_probe

if TYPE_CHECKING:
    from tuyagate.lan.connection import DeviceConnection

__all__ = ["DiscoveryFollower", "UnknownDevice"]

_LOGGER = logging.getLogger(__name__)
BROADCAST_PORTS = (6666, 6667)
Moved = Callable[[str, str], None]  # (device id, new ip)
MAX_UNKNOWN = 1024


@dataclass(frozen=True, slots=True)
class UnknownDevice:
    """A device that announces itself but that we have no connection (no local key) for."""

    device_id: str
    ip: str
    version: str | None
    product_key: str | None
    first_seen: float  # unix time
    last_seen: float
    announcements: int


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, follower: DiscoveryFollower) -> None:
        self._follower = follower

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            obj = decode_datagram(data)
        except ProtocolError:
            return
        device_id = obj.get("gwId") or obj.get("devId")
        if is_app_probe(obj) or not isinstance(device_id, str):
            return
        version, product = obj.get("version"), obj.get("productKey")
        self._follower.seen(
            device_id,
            str(obj.get("ip") or addr[0]),
            version=str(version) if version else None,
            product_key=str(product) if product else None,
        )


class DiscoveryFollower:
    """Listen on the broadcast ports; repoint connections whose device announced a new IP."""

    def __init__(
        self,
        connections: Mapping[str, DeviceConnection],
        *,
        listen_host: str = "0.0.0.0",
        ports: Iterable[int] = BROADCAST_PORTS,
        on_moved: Moved | None = None,
    ) -> None:
        self._connections = connections
        self.listen_host = listen_host
        self.ports = tuple(ports)
        self._on_moved = on_moved
        self._transports: list[asyncio.DatagramTransport] = []
        self.moves = 0
        self._unknown: dict[str, UnknownDevice] = {}

    async def start(self) -> None:
        """Listen on every port that is free; a taken port is skipped with a warning."""
        loop = asyncio.get_running_loop()
        for port in self.ports:
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Protocol(self), local_addr=(self.listen_host, port), reuse_port=True
                )
            except OSError as exc:
                _LOGGER.warning("not following address changes on UDP %s: %s", port, exc.strerror or exc)
                continue
            self._transports.append(transport)

    async def close(self) -> None:
        for transport in self._transports:
            transport.close()
        self._transports.clear()

    @property
    def listening(self) -> bool:
        return bool(self._transports)

    @property
    def discovered(self) -> list[UnknownDevice]:
        """Devices heard that have no connection here, most recently heard first."""
        return sorted(self._unknown.values(), key=lambda d: d.last_seen, reverse=True)

    def forget(self, device_id: str) -> None:
        """Drop a device from :attr:`discovered` (it has a connection now: its key became known)."""
        self._unknown.pop(device_id, None)

    def seen(self, device_id: str, ip: str, *, version: str | None = None, product_key: str | None = None) -> None:
        """A device announced itself at ``ip``."""
        connection = self._connections.get(device_id)
        if connection is None:
            self._remember(device_id, ip, version, product_key)
            return
        if connection.host == ip:
            return
        _LOGGER.info("%s moved from %s to %s", connection.name, connection.host, ip)
        connection.host = ip
        self.moves += 1
        if self._on_moved is not None:
            self._on_moved(device_id, ip)

    def _remember(self, device_id: str, ip: str, version: str | None, product_key: str | None) -> None:
        now = time.time()
        old = self._unknown.get(device_id)
        if old is None:
            if len(self._unknown) >= MAX_UNKNOWN:
                stalest = min(self._unknown.values(), key=lambda d: d.last_seen)
                del self._unknown[stalest.device_id]
            _LOGGER.info("discovered %s at %s (no local key: sync or add it)", device_id, ip)
        self._unknown[device_id] = UnknownDevice(
            device_id,
            ip,
            version,
            product_key,
            old.first_seen if old else now,
            now,
            (old.announcements if old else 0) + 1,
        )
