"""One deadline per request, from every front end: the LAN is down, the cloud is slow, and the answer
is a timeout at the caller's deadline (within 100 ms), not after the cloud client's own timeouts and
retries (10 s x 4 tries before the deadline was passed down)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

import tuyagate
from tests.emulated_home import EmulatedHome, emulated_home, registry_with
from tuyagate.cli.main import run
from tuyagate.cloud.credentials import CloudCredentials
from tuyagate.devices.cloud_login import save_cloud_login
from tuyagate.gateway.app import create_app
from tuyagate.gateway.server import serve_app
from tuyagate.gateway.settings import GatewaySettings

CLIENT_ID, SECRET = "deadlinetest", "d" * 32
DEADLINE = 1.0
SLACK = 0.1
DEVICE = "Heater plug"  # protocol 3.5, with a cloud route


@pytest.fixture
async def broken(tmp_path: Path) -> AsyncIterator[tuple[EmulatedHome, Path]]:
    """The device's LAN is gone (nothing listens) and the cloud answers only after 5 s."""
    async with emulated_home("127.0.10.1", CLIENT_ID, SECRET) as world:
        registry, vault = registry_with(world.manifest, tmp_path)
        save_cloud_login(registry, vault, CloudCredentials(CLIENT_ID, SECRET, base_url=world.cloud.base_url))
        device_id = registry.get(DEVICE).id
        registry.close()
        await world.fleet.sim_for(device_id).stop()
        world.cloud.state.faults.latency = 5.0
        yield world, tmp_path


def _assert_on_time(elapsed: float) -> None:
    assert DEADLINE - SLACK <= elapsed <= DEADLINE + SLACK, f"answered after {elapsed:.3f} s"


async def test_library_times_out_at_the_deadline(broken: tuple[EmulatedHome, Path]) -> None:
    _, data = broken
    async with tuyagate.open_home(data, devices=[DEVICE], timeout=DEADLINE) as home:
        device = home.device(DEVICE)
        for call in (lambda: device.status(), lambda: device.set(switch_1=True)):
            started = time.monotonic()
            with pytest.raises(tuyagate.TuyaTimeoutError):
                await call()
            _assert_on_time(time.monotonic() - started)
        # an explicit deadline object wins over the home's default
        started = time.monotonic()
        with pytest.raises(tuyagate.TuyaTimeoutError):
            await device.status(deadline=tuyagate.Deadline.after(DEADLINE / 2))
        elapsed = time.monotonic() - started
        assert DEADLINE / 2 - SLACK <= elapsed <= DEADLINE / 2 + SLACK


async def test_cli_times_out_at_the_deadline(
    broken: tuple[EmulatedHome, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, data = broken
    started = time.monotonic()
    code = await asyncio.wait_for(
        asyncio.to_thread(run, ["status", DEVICE, "--timeout", str(DEADLINE), "--data-dir", str(data)]), 15
    )
    elapsed = time.monotonic() - started
    assert code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "deadline" in err[0] or "did not answer" in err[0]
    # the command also opens the registry and the vault: allow for that, but not for a second try
    assert DEADLINE - SLACK <= elapsed <= DEADLINE + 3 * SLACK, f"answered after {elapsed:.3f} s"


async def test_gateway_answers_504_at_the_deadline(broken: tuple[EmulatedHome, Path]) -> None:
    _, data = broken
    settings = GatewaySettings(data_dir=data / "gw", request_timeout=DEADLINE)
    async with tuyagate.open_home(data, timeout=30.0) as home:  # the gateway's deadline must win
        served = await serve_app(create_app(settings, home, manage_manager=False), "127.0.0.1", 0)
        try:
            async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
                started = time.monotonic()
                r = await client.get(f"/api/v1/devices/{DEVICE}/status", params={"refresh": "true"})
                _assert_on_time(time.monotonic() - started)
                assert (r.status_code, r.json()["error"]["code"]) == (504, "timeout")
                started = time.monotonic()
                r = await client.post(f"/api/v1/devices/{DEVICE}/commands", json={"dps": {"1": True}})
                _assert_on_time(time.monotonic() - started)
                assert r.status_code == 504
        finally:
            await served.stop()
