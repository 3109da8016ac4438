"""``tuyagate serve``: the gateway on the registry's devices, as a user starts it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tuyagate.cli.main import run
from tuyagate.sim.fleet import SimFleet


@pytest.fixture
async def registered(tmp_path: Path) -> AsyncIterator[tuple[SimFleet, Path]]:
    manifest = SimFleet.generate(3, versions=["3.3", "3.4", "3.5"], kinds=["plug"], first_ip="127.0.8.1", port=0)
    fleet = SimFleet(manifest)
    await fleet.start()
    manifest.save(tmp_path / "fleet.json")
    data = tmp_path / "data"
    code = await asyncio.to_thread(run, ["devices", "import", str(tmp_path / "fleet.json"), "--data-dir", str(data)])
    assert code == 0
    try:
        yield fleet, data
    finally:
        await fleet.stop()


async def test_serve_answers_for_registered_devices(registered: tuple[SimFleet, Path]) -> None:
    fleet, data = registered
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tuyagate.cli", "serve", "--port", "0", "--data-dir", str(data),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
        assert info["devices"] == 3
        assert info["cloud"] is False
        plug = fleet.manifest.devices[1]
        async with httpx.AsyncClient(base_url=info["url"], timeout=5) as http:
            r = await http.post(f"/api/v1/devices/{plug.name}/commands", json={"dps": {"1": True}})
            assert r.status_code == 200, r.text
            assert r.json()["route"] == "lan"
            assert fleet.sims[plug.id].dps["1"] is True
            r = await http.get("/api/v1/devices")
            assert "local_key" not in r.text
            assert plug.local_key not in r.text
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0


def test_serve_refuses_to_listen_beyond_loopback_without_a_token(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tuyagate.cli",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "TUYAGATE_MASTER_KEY": "11" * 32},
    )
    assert result.returncode == 1
    assert "token" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_serve_cloud_events_without_a_cloud_login_is_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUYAGATE_CLOUD_")}
    result = subprocess.run(
        [sys.executable, "-m", "tuyagate.cli", "serve", "--port", "0", "--data-dir", str(tmp_path), "--cloud-events"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**env, "TUYAGATE_MASTER_KEY": "11" * 32},
    )
    assert result.returncode == 1
    assert "cloud login" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.fixture
async def registered_home(tmp_path: Path) -> AsyncIterator[tuple[SimFleet, Path]]:
    """The demo fleet (with its cloud-only plug), imported into a registry."""
    manifest = SimFleet.demo(first_ip="127.0.8.1", port=0)
    fleet = SimFleet(manifest)
    await fleet.start()
    manifest.save(tmp_path / "fleet.json")
    data = tmp_path / "data"
    code = await asyncio.to_thread(run, ["devices", "import", str(tmp_path / "fleet.json"), "--data-dir", str(data)])
    assert code == 0
    try:
        yield fleet, data
    finally:
        await fleet.stop()


async def test_serve_cloud_events_streams_what_the_cloud_pushes(registered_home: tuple[SimFleet, Path]) -> None:
    from tests.gateway.test_events_and_failures import SSE
    from tests.lan.conftest import until
    from tuyagate.sim.cloud_server import start_cloud_server
    from tuyagate.sim.cloud_state import CloudConfig

    fleet, data = registered_home
    secret = "s" * 32  # a test value
    async with await start_cloud_server(
        CloudConfig("servetest", secret), fleet.manifest, backend=fleet.backend
    ) as cloud:
        env = {
            **os.environ,
            "TUYAGATE_CLOUD_CLIENT_ID": "servetest",
            "TUYAGATE_CLOUD_SECRET": secret,
            "TUYAGATE_CLOUD_BASE_URL": cloud.base_url,
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tuyagate.cli", "serve", "--port", "0", "--data-dir", str(data), "--cloud-events",
            stdout=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            info = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
            assert (info["cloud"], info["cloud_events"]) == (True, True)
            plug = next(d for d in fleet.manifest.devices if not d.lan)  # reachable through the cloud only
            async with httpx.AsyncClient(base_url=info["url"], timeout=5) as http:
                before = (await http.get(f"/api/v1/devices/{plug.id}/status")).json()["values"]["switch_1"]
                # The gateway's consumer connects on its own.
                await until(lambda: cloud.state.pulsar.consumers == 1, timeout=10, what="the consumer connected")
                async with http.stream("GET", "/api/v1/events", params={"device": plug.id}) as response:
                    sse = SSE(response)
                    await sse.connected()
                    cloud.state.pulsar.status_report(plug, {"1": not before})
                    [(kind, event)] = await sse.events(1)
            assert kind == "state"
            assert (event["values"], event["route"]) == ({"switch_1": not before}, "cloud")
        finally:
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 20) == 0
