"""A device that has never answered is not online: not when nothing listens at its address, and not when
something accepts the TCP connection but never speaks (a hung device, another service on the port)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.devices.waiting import until
from tuyagate.devices.hub import HubOptions, build_hub
from tuyagate.devices.registry import DeviceRecord, Registry, secret_name
from tuyagate.devices.vault import Vault
from tuyagate.errors import TuyaError
from tuyagate.sim.device import SimDevice

HOST = "127.0.10.20"
OPTIONS = HubOptions(timeout=0.5, lan_timeout=0.5, retry_base=0.1, retry_cap=0.2, heartbeat_interval=0.2)


class Mute:
    """A TCP server that accepts connections and never sends a byte."""

    def __init__(self) -> None:
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.accepted += 1
            self._writers.append(writer)

        self._server = await asyncio.start_server(accept, HOST, 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def _refusing_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
    return port  # closed again: nothing listens there


@pytest.fixture
async def mute() -> AsyncIterator[Mute]:
    server = Mute()
    yield server
    await server.stop()


@pytest.mark.parametrize("version", ["3.1", "3.3"])
async def test_a_device_that_accepts_tcp_but_never_answers_is_offline(tmp_path: Path, mute: Mute, version: str) -> None:
    port = await mute.start()
    refused = _refusing_port()
    registry = Registry.open(tmp_path)
    vault = Vault.open(registry.db, tmp_path, env={})
    for n, p in ((1, port), (2, refused)):
        registry.add(DeviceRecord(id=f"bfsilent{n:012d}", name=f"Silent {n}", address=HOST, port=p, version=version))
        vault.put(secret_name(f"bfsilent{n:012d}"), "0123456789abcdef")
    home = build_hub(registry, vault, options=OPTIONS)
    await home.start()
    try:
        mute_device, refused_device = home.device("Silent 1"), home.device("Silent 2")
        await until(lambda: mute.accepted, what="a connection")  # the home connects in the background
        await until(lambda: mute.accepted > 1, what="a reconnect")  # a heartbeat went unanswered: connect again
        assert mute_device.online is False
        assert refused_device.online is False
        for device in (mute_device, refused_device):
            with pytest.raises(TuyaError):
                await device.status()
            assert device.online is False
            assert not any(r.healthy and r.last_ok for r in device.routes())
    finally:
        await home.close()
        registry.close()


async def test_a_device_that_answers_is_online_and_offline_once_it_goes(tmp_path: Path) -> None:
    sim = SimDevice(device_id="bfspeaks000000000001", local_key="0123456789abcdef", host=HOST, dps={"1": True})
    await sim.start()
    registry = Registry.open(tmp_path)
    vault = Vault.open(registry.db, tmp_path, env={})
    registry.add(DeviceRecord(id=sim.device_id, name="Speaks", address=HOST, port=sim.port, version="3.3"))
    vault.put(secret_name(sim.device_id), "0123456789abcdef")
    home = build_hub(registry, vault, options=OPTIONS)
    await home.start()
    try:
        device = home.device("Speaks")
        await until(lambda: device.online, what="online")  # no request: the connection's first answer is enough
        await sim.stop()
        await until(lambda: not device.online, what="offline")
    finally:
        await home.close()
        await sim.stop()
        registry.close()
