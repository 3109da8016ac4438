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
