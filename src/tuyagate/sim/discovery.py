"""UDP discovery for emulated devices: periodic announcements and answers to REQ_DEVINFO probes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from typing import Any, cast

from tuyagate.errors import ProtocolError
from tuyagate.protocol.discovery import decode_datagram, encode_announcement, encode_devinfo_reply, is_app_probe
from tuyagate.protocol.versions import VersionSpec

__all__ = ["DevInfoResponder", "DiscoveryAnnouncer"]

_LOGGER = logging.getLogger(__name__)
InfoFn = Callable[[], dict[str, Any]]


class DiscoveryAnnouncer:
    """Send the device's broadcast datagram to ``target`` every ``interval`` seconds."""

    def __init__(
        self, info: InfoFn, *, version: str | VersionSpec, target: tuple[str, int], interval: float = 5.0
    ) -> None:
        self._info = info
        self._version = version
        self._target = target
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        # A real device's datagrams come from its own address (scanners such as tinytuya key their
        # table by the sender), so send from the address the announcement names.
        source = str(self._info().get("ip") or "")
        self._transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol,
            remote_addr=self._target,
            local_addr=(source, 0) if source.startswith("127.") else None,
        )
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._transport is not None
        while True:
            iv = os.urandom(12)
            try:
                self._transport.sendto(encode_announcement(self._info(), version=self._version, iv=iv))
            except OSError as exc:  # nobody listening is not our problem; keep announcing
                _LOGGER.debug("announcement not sent: %s", exc)
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._transport:
            self._transport.close()


class _ProbeProtocol(asyncio.DatagramProtocol):
    def __init__(self, info: InfoFn) -> None:
        self._info = info
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            obj = decode_datagram(data)
        except ProtocolError:
            return
        if is_app_probe(obj) and self.transport is not None:
            # Real devices answer on UDP 7000 of the app; we answer where the probe came from so
            # that several probing clients can share the loopback.
            self.transport.sendto(encode_devinfo_reply(self._info(), iv=os.urandom(12)), addr)


class DevInfoResponder:
    """Listen for the app's 3.5 ``REQ_DEVINFO`` probe and answer it with the device's info."""

    def __init__(self, info: InfoFn, *, host: str, port: int) -> None:
        self._info = info
        self._bind = (host, port)
        self._transport: asyncio.DatagramTransport | None = None
        self.port = port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _ProbeProtocol(self._info), local_addr=self._bind, reuse_port=True
        )
        self.port = self._transport.get_extra_info("sockname")[1]

    async def stop(self) -> None:
        if self._transport:
            self._transport.close()
