"""Next to a running demo, the README's CLI examples work, through the gateway: the devices keep their
one local connection (the gateway's), and a stale runtime file or a missing token is handled."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tuyagate.cli.demo import DemoWorld
from tuyagate.cli.gateway_link import RUNTIME_FILE, find_gateway, remove_runtime_file, write_runtime_file
from tuyagate.devices.hub import HubOptions

CLI_DEADLINE = 30.0


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[DemoWorld]:
    demo = DemoWorld(
        port=0,
        fleet_ip="127.0.7.1",
        fleet_port=0,
        data_dir=tmp_path / "demo",
        options=HubOptions(timeout=3.0, lan_timeout=1.0),
    )
    (tmp_path / "demo").mkdir()
    await demo.start()
    try:
        yield demo
    finally:
        await demo.stop()


async def _cli(
    data_dir: Path, *argv: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> tuple[int, str, str]:
    """Run ``tuyagate ARGV`` in its own process (the demo keeps serving in this one), ``stdin`` as its input."""
    environ = {k: v for k, v in os.environ.items() if k != "TUYAGATE_TOKEN"}
    environ.update({"TUYAGATE_DATA_DIR": str(data_dir), **(env or {})})
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tuyagate.cli",
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else None,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environ,
    )
    async with asyncio.timeout(CLI_DEADLINE):
        out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _readme_examples() -> list[str]:
    """The named-device CLI lines of the README's registry section (the ones a demo can run)."""
    text = (Path(__file__).parents[2] / "docs" / "sections" / "registry-cli.md").read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        command = line.split("  #")[0].strip()
        if command.startswith(('tuyagate status "', 'tuyagate set "', 'tuyagate watch "')):
            lines.append(command)
    return lines


async def test_the_readme_cli_examples_work_next_to_a_running_demo(world: DemoWorld) -> None:
    import shlex

    assert world.fleet is not None
    assert world.data_dir is not None
    assert world.hub is not None
    data_dir = world.data_dir
    assert find_gateway(data_dir) is not None
    plug = world.hub.device("Desk plug").info.id
    sim = world.fleet.sim_for(plug)
    accepted = sim.stats.connections_accepted

    code, out, err = await _cli(data_dir, "devices", "list")
    assert code == 0, err
    assert "Desk plug" in out
    assert "Bedroom curtain" in out

    examples = _readme_examples()
    assert len(examples) >= 6, examples
    for line in examples:
        argv = shlex.split(line)[1:]
        if argv[0] == "watch":
            argv += ["--count", "1", "--duration", "20"]
            proc_task = asyncio.ensure_future(_cli(data_dir, *argv))
            curtain = world.fleet.sim_for(world.hub.device(argv[1]).info.id)
            # Move the curtain until the watcher has printed its pushed change.
            for step in range(200):
                if proc_task.done():
                    break
                await curtain.set_dps({"2": step % 100})
                await asyncio.wait([proc_task], timeout=0.1)
            code, out, err = await proc_task
            assert code == 0, err
            lines = out.strip().splitlines()
            assert len(lines) == 2, out  # the state, then one pushed change
            assert "state" in lines[1]
            continue
        code, out, err = await _cli(data_dir, *argv)
        if "bright_value_v2=5000" in line:  # the README shows this one refused
            assert code != 0
            assert "between 10 and 1000" in err
            continue
        assert code == 0, f"{line}: {err}"
        if "--json" not in argv:
            assert "through the gateway" in out + err, line
        else:
            body = json.loads(out)
            assert body["route"] == "lan"
            assert body["name"] == "Desk plug"
            assert body["gateway"] == world.url
        if "Cellar plug" in line:
            assert "via cloud" in out
    assert sim.dps["1"] is True  # `set "Desk plug" switch_1=true` reached the device
    # Every command went through the gateway: the plug never saw a second client.
    assert sim.stats.connections_accepted == accepted


async def test_a_runtime_file_whose_process_is_gone_is_ignored(tmp_path: Path) -> None:
    path = write_runtime_file(tmp_path, "http://127.0.0.1:9")
    assert find_gateway(tmp_path) is not None
    gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await gone.wait()
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "pid": gone.pid}))
    assert find_gateway(tmp_path) is None
    path.write_text("{not json")
    assert find_gateway(tmp_path) is None
    remove_runtime_file(tmp_path)  # not ours any more (broken): left alone
    assert path.exists()
    write_runtime_file(tmp_path, "http://127.0.0.1:9")
    remove_runtime_file(tmp_path)
    assert not (tmp_path / RUNTIME_FILE).exists()


async def test_a_gateway_that_requires_a_token_is_told_to_the_user(world: DemoWorld) -> None:
    from tuyagate.gateway.auth import JsonTokenStore, create_token

    assert world.data_dir is not None
    assert world.served is not None
    store = JsonTokenStore(world.data_dir / "api-tokens.json")
    _, token = create_token(store, "cli", "control")
    async with httpx.AsyncClient(base_url=world.url, timeout=5.0) as http:
        loop = asyncio.get_running_loop()
        end = loop.time() + 10.0
        while (await http.get("/api/v1/devices")).status_code != 401:  # the gateway re-reads its tokens
            assert loop.time() < end, "the gateway never asked for the new token"
            await asyncio.sleep(0.05)
    code, _, err = await _cli(world.data_dir, "status", "Desk plug")
    assert code != 0
    assert "TUYAGATE_TOKEN" in err
    assert token not in err
    code, out, err = await _cli(world.data_dir, "status", "Desk plug", env={"TUYAGATE_TOKEN": token})
    assert code == 0, err
    assert "switch_1" in out


async def test_devices_added_and_removed_from_the_shell_are_served_at_once(world: DemoWorld) -> None:
    """`tuyagate devices add/remove` next to a running gateway: it reloads, no restart."""
    from tuyagate.errors import NotFoundError
    from tuyagate.sim.device import SimDevice

    assert world.data_dir is not None
    assert world.hub is not None
    sim = SimDevice(device_id="bfshelladded00000001", local_key="0123456789abcdef", host="127.0.7.200", dps={"1": True})
    await sim.start()
    try:
        code, out, err = await _cli(
            world.data_dir,
            "devices",
            "add",
            *("--id", sim.device_id, "--name", "Shell plug", "--ip", sim.host, "--port", str(sim.port)),
            *("--version", "3.3", "--category", "cz", "--key-stdin"),
            stdin="0123456789abcdef\n",
        )
        assert code == 0, err
        assert f"the gateway at {world.url} serves it now (1 added)" in err
        assert "0123456789abcdef" not in out + err
        assert world.hub.device("Shell plug").info.id == sim.device_id
        async with httpx.AsyncClient(base_url=world.url, timeout=10.0) as http:
            status = (await http.get(f"/api/v1/devices/{sim.device_id}/status", params={"refresh": "true"})).json()
            assert (status["route"], status["values"]["switch_1"]) == ("lan", True)
            code, out, err = await _cli(world.data_dir, "devices", "remove", "Shell plug")
            assert code == 0, err
            assert "(1 removed)" in err
            assert (await http.get(f"/api/v1/devices/{sim.device_id}")).status_code == 404
        with pytest.raises(NotFoundError):
            world.hub.device("Shell plug")
        deadline = asyncio.get_running_loop().time() + 5.0
        while sim.clients:  # the gateway closes its connection to the device
            assert asyncio.get_running_loop().time() < deadline, "the gateway kept its connection"
            await asyncio.sleep(0.02)
    finally:
        await sim.stop()
