"""A device that comes back on another IP is followed from its UDP broadcast, and the move is saved."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from tuyagate.devices.hub import HubOptions, build_hub
from tuyagate.devices.registry import DeviceRecord, Registry, secret_name
from tuyagate.devices.vault import Vault
from tuyagate.errors import TuyaError
from tuyagate.sim.device import SimDevice

DEV_ID, KEY = "bfmoving000000000001", "0123456789abcdef"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _free_tcp_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
    return port


async def test_connection_follows_a_device_to_its_new_address(tmp_path: Path) -> None:
    listen = _free_udp_port()
    port = _free_tcp_port("127.0.9.1")
    registry = Registry.open(tmp_path)
    vault = Vault.open(registry.db, tmp_path, env={})
    registry.add(
        DeviceRecord(id=DEV_ID, name="Roaming plug", address="127.0.9.1", port=port, version="3.4", category="cz")
    )
    vault.put(secret_name(DEV_ID), KEY)
    options = HubOptions(timeout=1.0, discovery_listen="127.0.0.1", discovery_ports=(listen,), flush_interval=0.1)
    hub = build_hub(registry, vault, options=options)
    old = SimDevice(device_id=DEV_ID, local_key=KEY, version="3.4", host="127.0.9.1", port=port, dps={"1": True})
    new = SimDevice(
        device_id=DEV_ID,
        local_key=KEY,
        version="3.4",
        host="127.0.9.2",
        port=port,
        dps={"1": False},
        discovery_to=("127.0.0.1", listen),
        discovery_interval=0.1,
    )
    await old.start()
    await hub.start()
    try:
        device = hub.device("Roaming plug")
        assert (await device.status()).values["switch_1"] is True
        await old.stop()  # the plug reboots and gets another DHCP lease
        await new.start()
        state = None
        for _ in range(50):
            try:
                state = await device.status(timeout=0.5)
                break
            except TuyaError:
                await asyncio.sleep(0.1)
        assert state is not None
        assert state.values["switch_1"] is False  # the new one answered
        assert hub.follower is not None
        assert hub.follower.moves == 1
        assert registry.get(DEV_ID).address == "127.0.9.2"
    finally:
        await hub.close()
        await new.stop()
        await old.stop()
        registry.close()
