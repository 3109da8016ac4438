"""The emulated fleet: layouts, one device per loopback address, cloud and LAN sharing state."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sim.raw_client import RawClient
from tuyagate.cloud.client import TuyaCloudClient
from tuyagate.errors import ConfigError
from tuyagate.protocol import payloads
from tuyagate.protocol.commands import Command
from tuyagate.sim.cloud_server import start_cloud_server
from tuyagate.sim.cloud_state import CloudConfig
from tuyagate.sim.fleet import SimFleet
from tuyagate.sim.manifest import FleetManifest


def test_generate_lays_devices_on_consecutive_loopback_addresses() -> None:
    manifest = SimFleet.generate(6, versions=["3.3", "3.5"], first_ip="127.0.1.250")
    assert [d.ip for d in manifest.devices] == [
        "127.0.1.250",
        "127.0.1.251",
        "127.0.1.252",
        "127.0.1.253",
        "127.0.1.254",
        "127.0.1.255",
    ]
    assert [d.version for d in manifest.devices] == ["3.3", "3.5"] * 3
    assert len({d.id for d in manifest.devices}) == 6
    assert all(len(d.local_key) == 16 and len(d.id) == 20 for d in manifest.devices)
    with pytest.raises(ConfigError, match=r"127\.0\.0\.0/8"):
        SimFleet.generate(3, first_ip="127.255.255.254")


def test_demo_fleet_shape() -> None:
    manifest = SimFleet.demo()
    kinds = {d.category for d in manifest.devices}
    assert {"cz", "dj", "cl", "wk", "wg2", "wsdcg"} <= kinds
    assert {d.version for d in manifest.devices} == {"3.1", "3.3", "3.4", "3.5"}
    children = [d for d in manifest.devices if d.parent_id]
    assert len(children) == 2
    assert all(d.cid for d in children)
    assert [d.name for d in manifest.devices if not d.lan] == ["Cellar plug (cloud only)"]


def test_manifest_round_trip_is_private(tmp_path: Path) -> None:
    manifest = SimFleet.demo()
    path = tmp_path / "fleet.json"
    manifest.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert FleetManifest.load(path).to_dict() == manifest.to_dict()


async def test_cloud_command_reaches_the_lan_device_as_a_push() -> None:
    manifest = SimFleet.generate(3, versions=["3.3", "3.4", "3.5"], kinds=["plug"], port=0)
    async with SimFleet(manifest) as fleet:
        target = manifest.devices[2]  # the 3.5 plug
        lan = RawClient("3.5", target.port, key=target.local_key)
        await asyncio.wait_for(_connect(lan, target.ip), 3)
        config = CloudConfig(client_id="fleettest", secret="s" * 32)
        cloud = await start_cloud_server(config, manifest, backend=fleet.backend)
        async with cloud, TuyaCloudClient("fleettest", "s" * 32, base_url=cloud.base_url) as client:
            await client.send_commands(target.id, [{"code": "switch_1", "value": True}])
            status = {item.code: item.value for item in await client.status(target.id)}
        push = await lan.read()
        assert push.cmd == Command.STATUS
        assert push.dps == {"1": True}
        assert status["switch_1"] is True
        assert fleet.sims[target.id].dps["1"] is True
        lan.close()


async def _connect(client: RawClient, host: str) -> None:
    # RawClient connects to 127.0.0.1; the fleet device listens on its own address.
    client.reader, client.writer = await asyncio.open_connection(host, client.port)
    if client.spec.session_key:
        from tuyagate.protocol.handshake import ClientHandshake

        hs = ClientHandshake(client.codec, os.urandom(16))
        client.seq += 1
        client.writer.write(hs.start(seq=client.seq, iv=client.iv()))
        resp = await client.read()
        client.seq += 1
        client.writer.write(hs.receive(resp, seq=client.seq, iv=client.iv()))


async def test_every_fleet_device_answers_on_its_own_address() -> None:
    manifest = SimFleet.generate(8, port=0)
    async with SimFleet(manifest) as fleet:
        assert len(fleet.sims) == 8
        for dev in manifest.devices:
            c = RawClient(dev.version, dev.port, key=dev.local_key)
            await asyncio.wait_for(_connect(c, dev.ip), 3)
            cmd, body = payloads.query_request(c.spec, dev.id, t=int(time.time()))
            await c.send(cmd, body)
            reply = await c.read()
            assert reply.dps == dev.status
            c.close()


def test_sim_fleet_cli_writes_manifest_and_serves(tmp_path: Path) -> None:
    path = tmp_path / "fleet.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tuyagate.cli",
            "sim",
            "fleet",
            "--count",
            "4",
            "--port",
            "0",
            "--first-ip",
            "127.0.3.1",
            "--manifest",
            str(path),
            "--cloud-port",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["devices"] == 4
        assert info["cloud"]["base_url"].startswith("http://127.0.0.1:")
        assert len(info["cloud"]["secret"]) == 32
        manifest = FleetManifest.load(path)
        assert [d.ip for d in manifest.devices] == ["127.0.3.1", "127.0.3.2", "127.0.3.3", "127.0.3.4"]
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
