"""`GET /api/v1/discovered`: devices that announce but have no key are listed with a hint, never controllable."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.gateway.conftest import PLUG, GatewayFactory, HomeFactory
from tuyagate.sim.device import SimDevice

pytestmark = pytest.mark.asyncio(loop_scope="module")

STRANGER = "bfstranger0000000001"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_an_unknown_announcing_device_is_listed_and_not_controllable(
    start_home: HomeFactory, start_gateway: GatewayFactory
) -> None:
    listen = _free_udp_port()
    home = await start_home(cloud=False, discovery_listen="127.0.0.1", discovery_ports=(listen,))
    gateway = await start_gateway(home=home)
    stranger = SimDevice(
        device_id=STRANGER,
        local_key="0123456789abcdef",
        version="3.5",
        host="127.0.9.40",
        discovery_to=("127.0.0.1", listen),
        discovery_interval=0.1,
    )
    known = SimDevice(  # announces the registered plug's id and address (from another port)
        device_id=home.id(PLUG),
        local_key="0123456789abcdef",
        host=home.sim(PLUG).host,
        discovery_to=("127.0.0.1", listen),
        discovery_interval=0.1,
    )
    await stranger.start()
    await known.start()
    try:
        body: dict[str, object] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5.0
        while loop.time() < deadline:
            body = (await gateway.client.get("/api/v1/discovered")).json()
            devices = body["devices"]
            assert isinstance(devices, list)
            if devices and devices[-1]["announcements"] >= 3:  # the known plug has announced meanwhile too
                break
            await asyncio.sleep(0.05)
    finally:
        await stranger.stop()
        await known.stop()
    assert body["listening"] is True
    devices = body["devices"]
    assert isinstance(devices, list)
    assert [d["id"] for d in devices] == [STRANGER]  # the known plug is followed, not listed
    entry = devices[0]
    assert entry["ip"] == "127.0.9.40"
    assert entry["version"] == "3.5"
    assert entry["key_known"] is False
    assert "tuyagate cloud sync" in entry["hint"]
    ids = [d["id"] for d in (await gateway.client.get("/api/v1/devices")).json()["devices"]]
    assert STRANGER not in ids
    assert (await gateway.client.get(f"/api/v1/devices/{STRANGER}/status")).status_code == 404


async def test_a_gateway_not_listening_says_so(start_home: HomeFactory, start_gateway: GatewayFactory) -> None:
    home = await start_home(cloud=False, discovery_listen=None)
    gateway = await start_gateway(home=home)
    body = (await gateway.client.get("/api/v1/discovered")).json()
    assert body["listening"] is False
    assert body["devices"] == []
    assert "--no-follow" in body["note"]
