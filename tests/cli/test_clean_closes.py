"""`tuyagate status`, `set`, `watch` and the gateway's shutdown close their device connections cleanly.

Each emulated device records how its connections ended (tuyagate.sim.closes). A client that closes
on the ACK of a control, with the STATUS that follows still on its way, makes the kernel answer
that STATUS with a reset, which cheap firmware does not survive: the emulator records it as
``reset`` and these tests fail.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.emulated_home import emulated_home, registry_with
from tests.gateway.conftest import make_settings
from tuyagate.cli.main import run
from tuyagate.devices.hub import HubOptions, build_hub
from tuyagate.gateway.app import create_app
from tuyagate.gateway.server import serve_app
from tuyagate.sim.closes import CloseLog
from tuyagate.sim.device import SimDevice

DEV_ID = "bf12ab34cd56ef78aa01"
KEY = "0123456789abcdef"


@pytest.fixture(params=["3.3", "3.5"])
async def device(request: pytest.FixtureRequest) -> AsyncIterator[SimDevice]:
    # The STATUS follows the ACK after 50 ms, as on slow real devices: a close on the ACK resets.
    sim = SimDevice(
        device_id=DEV_ID,
        local_key=KEY,
        version=request.param,
        dps={"1": True, "2": 10},
        record_closes=True,
        status_delay=0.05,
    )
    await sim.start()
    yield sim
    await sim.stop()


def _adhoc(sim: SimDevice, *extra: str) -> list[str]:
    ids = ["--id", sim.device_id, "--ip", sim.host, "--port", str(sim.port), "--key", KEY]
    return [*ids, "--version", sim.spec.name, *extra]


async def _cli(*argv: str) -> int:
    return await asyncio.wait_for(asyncio.to_thread(run, list(argv)), 10.0)


def _hows(sim: SimDevice) -> list[str]:
    assert sim.closes is not None
    return [r.how for r in sim.closes.records]


async def test_status_closes_cleanly(device: SimDevice, capsys: pytest.CaptureFixture[str]) -> None:
    assert await _cli("status", *_adhoc(device, "--json")) == 0
    assert json.loads(capsys.readouterr().out)["dps"] == {"1": True, "2": 10}
    assert device.closes is not None
    await device.closes.wait(1)
    assert _hows(device) == ["clean"]


async def test_set_closes_cleanly(device: SimDevice, capsys: pytest.CaptureFixture[str]) -> None:
    assert await _cli("set", "1=false", "2=20", *_adhoc(device)) == 0
    assert capsys.readouterr().out.strip() == "ok"
    assert device.dps == {"1": False, "2": 20}
    assert device.closes is not None
    await device.closes.wait(1)
    assert _hows(device) == ["clean"]


async def test_watch_closes_cleanly(device: SimDevice, capsys: pytest.CaptureFixture[str]) -> None:
    watching = asyncio.create_task(_cli("watch", *_adhoc(device, "--json", "--count", "1")))
    # Wait (with a deadline) until the watcher has read the state, then press a "button".
    for _ in range(500):
        if device.stats.frames_sent >= (2 if device.spec.session_key else 1) or watching.done():
            break
        await asyncio.sleep(0.01)
    await device.set_dps({"2": 33})
    assert await watching == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["dps"] == {"1": True, "2": 10}
    assert lines[-1]["dps"] == {"2": 33}
    assert device.closes is not None
    await device.closes.wait(1)
    assert _hows(device) == ["clean"]


async def test_gateway_shutdown_closes_every_device_cleanly(tmp_path: Path) -> None:
    async with emulated_home("127.0.5.1", "cleanclose", "c" * 32) as home:
        for sim in home.fleet.sims.values():
            sim.closes = CloseLog()
        registry, vault = registry_with(home.manifest, tmp_path)
        hub = build_hub(registry, vault, options=HubOptions(timeout=5.0, lan_timeout=4.0, heartbeat_interval=5.0))
        served = await serve_app(create_app(make_settings(tmp_path / "gw", request_timeout=6.0), hub), "127.0.0.1", 0)
        try:
            async with httpx.AsyncClient(base_url=served.url, timeout=10.0) as http:
                r = await http.post(
                    "/api/v1/devices/Kettle plug/commands", json={"commands": [{"code": "switch_1", "value": True}]}
                )
                assert r.status_code == 200, r.text
                r = await http.get("/api/v1/devices/Desk plug/status", params={"refresh": "true"})
                assert r.json()["route"] == "lan"
        finally:
            await served.stop()  # closes the hub, and with it every device connection
            registry.close()
        used = [sim for sim in home.fleet.sims.values() if sim.stats.connections_accepted]
        assert len(used) >= 2
        for sim in used:
            assert sim.closes is not None
            records = await sim.closes.wait(sim.stats.connections_accepted)
            assert [r.how for r in records] == ["clean"] * len(records), (sim, records)


@pytest.mark.parametrize("version", ["3.1", "3.3", "3.4", "3.5"])
async def test_status_and_set_against_a_device_without_return_codes(
    version: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with SimDevice(
        device_id=DEV_ID, local_key=KEY, version=version, dps={"1": True}, return_codes=False, record_closes=True
    ) as sim:
        assert await _cli("status", *_adhoc(sim, "--json")) == 0
        assert json.loads(capsys.readouterr().out)["dps"] == {"1": True}
        assert await _cli("set", "1=false", *_adhoc(sim)) == 0
        assert sim.dps == {"1": False}
        assert sim.closes is not None
        assert [r.how for r in await sim.closes.wait(2)] == ["clean", "clean"]
