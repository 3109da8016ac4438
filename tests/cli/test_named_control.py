"""`tuyagate status|set|watch DEVICE` by registry name, through the router, on an emulated fleet."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cli.output import printed_lines
from tuyagate.cli.main import run
from tuyagate.sim.fleet import SimFleet


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[tuple[SimFleet, Path]]:
    manifest = SimFleet.demo(first_ip="127.0.7.1", port=0)
    sims = SimFleet(manifest)
    await sims.start()
    path = tmp_path / "fleet.json"
    manifest.save(path)
    data = tmp_path / "data"
    assert await _cli("devices", "import", str(path), "--data-dir", str(data)) == 0
    try:
        yield sims, data
    finally:
        await sims.stop()


async def _cli(*argv: str) -> int:
    return await asyncio.wait_for(asyncio.to_thread(run, list(argv)), 15.0)


async def test_status_by_name_gives_values_by_code(
    fleet: tuple[SimFleet, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, data = fleet
    capsys.readouterr()
    assert await _cli("status", "Desk plug", "--json", "--data-dir", str(data)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["name"] == "Desk plug"
    assert out["route"] == "lan"
    assert out["values"]["cur_voltage"] == 230.1
    assert out["dps"]["20"] == 2301


async def test_set_by_name_with_codes_and_validation(
    fleet: tuple[SimFleet, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    sims, data = fleet
    light = sims.manifest.devices[4]  # Living room light, 3.5
    assert (
        await _cli("set", "Living room light", "switch_led=true", "bright_value_v2=800", "--data-dir", str(data)) == 0
    )
    assert "ok (via lan)" in capsys.readouterr().out
    sim = sims.sim_for(light.id)
    assert (sim.dps["20"], sim.dps["22"]) == (True, 800)
    assert await _cli("set", "Living room light", "bright_value_v2=5000", "--data-dir", str(data)) == 1
    assert "between 10 and 1000" in capsys.readouterr().err
    assert sim.dps["22"] == 800


async def test_set_sub_device_by_name(fleet: tuple[SimFleet, Path], capsys: pytest.CaptureFixture[str]) -> None:
    sims, data = fleet
    child = next(d for d in sims.manifest.devices if d.name == "Garage plug (Zigbee)")
    assert await _cli("set", "Garage plug (Zigbee)", "switch_1=true", "--json", "--data-dir", str(data)) == 0
    assert json.loads(capsys.readouterr().out)["route"] == "lan"
    assert sims.sim_for(child.id).children[child.cid or ""].dps["1"] is True


async def test_watch_by_name_prints_a_push(fleet: tuple[SimFleet, Path], capsys: pytest.CaptureFixture[str]) -> None:
    sims, data = fleet
    curtain = next(d for d in sims.manifest.devices if d.name == "Bedroom curtain")
    sim = sims.sim_for(curtain.id)
    capsys.readouterr()  # what the import printed
    task = asyncio.create_task(
        _cli("watch", "Bedroom curtain", "--count", "1", "--duration", "10", "--json", "--data-dir", str(data))
    )
    head = await printed_lines(capsys)  # the first state is printed once the command follows the device
    await sim.set_dps({"3": 55})
    assert await task == 0
    lines = [json.loads(line) for line in (head + capsys.readouterr().out).splitlines() if line.startswith("{")]
    assert lines[0]["event"] == "state"
    assert {"event": "state", "device": curtain.id, "dps": {"percent_state": 55}, "route": "lan"} in lines


async def test_unknown_name_is_one_line(fleet: tuple[SimFleet, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, data = fleet
    assert await _cli("status", "No such thing", "--data-dir", str(data)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "No such thing" in err[0]
