"""Follow devices that change address, from their UDP discovery broadcasts.

Routers hand out new DHCP leases and devices come back on another IP; a gateway that only knows the
old address would fail until someone edits its configuration. Devices announce themselves every few
seconds (UDP 6666 for 3.1, 6667 for 3.2-3.5), so a passive listener is enough: when a known device
id announces a new IP, the connection is pointed there (the next connect uses it) and the owner is
told, to save it. It only listens: it never sends a datagram.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tuyagate.errors import ProtocolError
from tuyagate.protocol.discovery import decode_datagram, is_app_probe

if TYPE_CHECKING:
    from tuyagate.lan.connection import DeviceConnection

__all__ = ["DiscoveryFollower"]

_LOGGER = logging.getLogger(__name__)
BROADCAST_PORTS = (6666, 6667)
Moved = Callable[[str, str], None]  # (device id, new ip)


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
        self._follower.seen(device_id, str(obj.get("ip") or addr[0]))


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

    def seen(self, device_id: str, ip: str) -> None:
        """A device announced itself at ``ip``."""
        connection = self._connections.get(device_id)
        if connection is None or connection.host == ip:
            return
        _LOGGER.info("%s moved from %s to %s", connection.name, connection.host, ip)
        connection.host = ip
        self.moves += 1
        if self._on_moved is not None:
            self._on_moved(device_id, ip)
