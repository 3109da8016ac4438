"""``tuyagate serve --mqtt`` with the broker password kept in the vault (``tuyagate mqtt password``)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.emulated_home import emulated_home, registry_with
from tests.mqtt.broker import MOSQUITTO, MosquittoBroker
from tests.mqtt.conftest import SKIP_REASON
from tests.mqtt.watch import Watcher

PASSWORD = "correct-horse-battery"


def _tuyagate(*args: str, data: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TUYAGATE_DATA_DIR": str(data)}
    return subprocess.run(
        [sys.executable, "-m", "tuyagate.cli", *args], input=stdin, capture_output=True, text=True, env=env, timeout=60
    )


@pytest.mark.skipif(MOSQUITTO is None, reason=SKIP_REASON)
async def test_serve_bridges_the_registry_with_the_password_from_the_vault(tmp_path: Path) -> None:
    data = tmp_path / "data"
    stored = _tuyagate("mqtt", "password", data=data, stdin=PASSWORD + "\n")
    assert stored.returncode == 0, stored.stderr
    assert PASSWORD not in stored.stdout + stored.stderr
    with MosquittoBroker(tmp_path / "broker", users={"gateway": PASSWORD, "watcher": "w"}) as broker:
        async with emulated_home("127.0.24.1", "clitest", "c" * 32) as world:
            registry, _ = registry_with(world.manifest, data)
            registry.close()
            url = f"mqtt://gateway@127.0.0.1:{broker.port}?node_id=cli"
            command = ["-m", "tuyagate.cli", "-v", "serve", "--port", "0", "--no-follow", "--mqtt", url]
            env = {**os.environ, "TUYAGATE_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1"}
            process = await asyncio.create_subprocess_exec(
                sys.executable, *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
            )
            try:
                assert process.stdout is not None
                async with asyncio.timeout(60):
                    ready = json.loads(await process.stdout.readline())
                assert ready["mqtt"] == {"broker": f"mqtt://gateway:***@127.0.0.1:{broker.port}", "node_id": "cli"}
                plug = next(d.id for d in world.manifest.devices if d.name == "Desk plug")
                async with Watcher(broker.port, ("tuyagate/#",), user="watcher", password="w") as mqtt:
                    assert await mqtt.wait("tuyagate/bridge/cli/availability") == b"online"
                    state = await mqtt.wait_json(f"tuyagate/{plug}/state", lambda s: "switch_1" in s)
                    assert state["cur_voltage"] == 230.1
            finally:
                process.send_signal(signal.SIGTERM)
                async with asyncio.timeout(30):
                    _, err = await process.communicate()
            assert process.returncode == 0
            assert PASSWORD not in err.decode()
    deleted = _tuyagate("mqtt", "password", "--delete", data=data)
    assert "removed" in deleted.stdout
