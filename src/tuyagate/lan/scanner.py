"""Find devices on the LAN: listen for UDP discovery broadcasts and solicit the 3.5 ones.

Devices announce themselves every few seconds on UDP 6666 (3.1) and 6667 (3.2-3.5); newer 3.5
devices stay quiet until the app's ``REQ_DEVINFO`` probe (UDP 7000) and then answer it. One
listener per port feeds a shared table keyed by device id. A port that is already taken (Home
Assistant often holds 6666/6667) is skipped with a warning instead of failing the scan, and the
scan ends as soon as every wanted id has been seen.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from tuyagate.errors import ProtocolError, TuyaConnectionError
from tuyagate.protocol.discovery import decode_datagram, encode_devinfo_request, is_app_probe

__all__ = ["DiscoveredDevice", "scan"]

_LOGGER = logging.getLogger(__name__)
DEFAULT_PORTS = (6666, 6667, 7000)


@dataclass(frozen=True, slots=True)
class DiscoveredDevice:
    """One device as its broadcast describes it (the local key is never in a broadcast)."""

    device_id: str
    ip: str
    version: str | None
    product_key: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.device_id, "ip": self.ip, "version": self.version, "product_key": self.product_key}


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, found: dict[str, DiscoveredDevice], wanted: set[str], done: asyncio.Event) -> None:
        self.found = found
        self.wanted = wanted
        self.done = done
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.DatagramTransport", transport)  # 3.11's does not subclass it

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            obj = decode_datagram(data)
        except ProtocolError:
            return
        dev_id = obj.get("gwId") or obj.get("devId")
        if is_app_probe(obj) or not isinstance(dev_id, str):
            return
        ip = str(obj.get("ip") or addr[0])
        version = obj.get("version")
        product = obj.get("productKey")
        self.found[dev_id] = DiscoveredDevice(
            dev_id, ip, str(version) if version else None, str(product) if product else None, obj
        )
        if self.wanted and self.wanted <= self.found.keys():
            self.done.set()


async def scan(
    duration: float,
    *,
    listen_host: str = "0.0.0.0",
    ports: Iterable[int] = DEFAULT_PORTS,
    probe_to: Iterable[tuple[str, int]] = (("255.255.255.255", 7000),),
    probe_interval: float = 2.0,
    want_ids: Iterable[str] = (),
) -> list[DiscoveredDevice]:
    """Listen for ``duration`` seconds (less once every id in ``want_ids`` is seen)."""
    loop = asyncio.get_running_loop()
    found: dict[str, DiscoveredDevice] = {}
    done = asyncio.Event()
    wanted = set(want_ids)
    transports: list[asyncio.DatagramTransport] = []
    for port in ports:
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Listener(found, wanted, done),
                local_addr=(listen_host, port),
                reuse_port=True,
                allow_broadcast=True,
            )
        except OSError as exc:
            _LOGGER.warning("cannot listen on UDP %s:%s (%s); skipping that port", listen_host, port, exc.strerror)
            continue
        transports.append(transport)
    if not transports:
        raise TuyaConnectionError(f"could not listen on any UDP port of {listen_host}: all are taken or forbidden")
    targets = list(probe_to)
    try:
        end = loop.time() + duration
        while not done.is_set() and loop.time() < end:
            if targets:
                for target in targets:
                    try:
                        probe = encode_devinfo_request(_local_ip_for(target, listen_host), iv=os.urandom(12))
                        transports[0].sendto(probe, target)
                    except OSError as exc:
                        _LOGGER.warning("cannot send the discovery probe to %s:%s: %s", *target, exc)
            try:
                await asyncio.wait_for(done.wait(), min(probe_interval, max(0.0, end - loop.time())))
            except TimeoutError:
                pass
    finally:
        for transport in transports:
            transport.close()
    return sorted(found.values(), key=lambda d: (d.ip, d.device_id))


def _local_ip_for(target: tuple[str, int], listen_host: str) -> str:
    """Our address on the route to ``target`` (the probe carries it); a UDP connect sends nothing."""
    if listen_host not in ("0.0.0.0", ""):
        return listen_host
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.connect(target)
            return str(sock.getsockname()[0])
        except OSError:
            return "0.0.0.0"
