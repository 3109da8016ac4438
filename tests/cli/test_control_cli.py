"""`tuyagate status | set | watch | scan` against emulated devices on loopback.

The CLI runs ``asyncio.run`` itself, so it runs in a worker thread while the emulator serves
from the test's event loop.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cli.output import printed_lines
from tuyagate.cli.control_cmds import parse_assignments
from tuyagate.cli.main import run
from tuyagate.sim.device import SimChild, SimDevice

DEV_ID = "bf12ab34cd56ef78aa01"
KEY = "0123456789abcdef"


@pytest.fixture
async def device() -> AsyncIterator[SimDevice]:
    sim = SimDevice(
        device_id=DEV_ID,
        local_key=KEY,
        version="3.4",
        dps={"1": True, "2": 10, "3": "white"},
        children={"c1": SimChild(dps={"1": False})},
    )
    await sim.start()
    yield sim
    await asyncio.sleep(0.02)
    await sim.stop()


def _adhoc(sim: SimDevice, *extra: str) -> list[str]:
    return ["--id", sim.device_id, "--ip", sim.host, "--port", str(sim.port), "--key", KEY, *extra]


async def _cli(*argv: str) -> int:
    return await asyncio.wait_for(asyncio.to_thread(run, list(argv)), 10.0)


def test_parse_assignments() -> None:
    assert parse_assignments(["1=true", "2=50", "3=white", "4=hello world", '5={"a":1}', "6="]) == {
        "1": True,
        "2": 50,
        "3": "white",
        "4": "hello world",
        "5": {"a": 1},
        "6": "",
    }


async def test_status_json(device: SimDevice, capsys: pytest.CaptureFixture[str]) -> None:
    assert await _cli("status", *_adhoc(device, "--version", "3.4", "--json")) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"device": DEV_ID, "version": "3.4", "dps": {"1": True, "2": 10, "3": "white"}}


async def test_status_text_with_detected_version(device: SimDevice, capsys: pytest.CaptureFixture[str]) -> None:
    assert await _cli("status", *_adhoc(device)) == 0
    assert capsys.readouterr().out.splitlines() == ["1: true", "2: 10", '3: "white"']


async def test_key_from_the_environment(
    device: SimDevice, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUYAGATE_LOCAL_KEY", KEY)
    argv = ["status", "--id", DEV_ID, "--ip", device.host, "--port", str(device.port), "--json"]
    assert await _cli(*argv) == 0
    assert json.loads(capsys.readouterr().out)["dps"]["1"] is True


async def test_set_values(device: SimDevice, capsys: pytest.CaptureFixture[str]) -> None:
    assert await _cli("set", "1=false", "2=50", "3=colour", *_adhoc(device, "--version", "3.4")) == 0
    assert capsys.readouterr().out == "ok\n"
    assert device.dps == {"1": False, "2": 50, "3": "colour"}


async def test_sub_device(device: SimDevice, capsys: pytest.CaptureFixture[str]) -> None:
    assert await _cli("set", "1=true", *_adhoc(device, "--version", "3.4", "--cid", "c1", "--json")) == 0
    assert json.loads(capsys.readouterr().out) == {"device": DEV_ID, "dps": {"1": True}, "ok": True}
    assert device.children["c1"].dps == {"1": True}
    assert await _cli("status", *_adhoc(device, "--version", "3.4", "--cid", "c1", "--json")) == 0
    assert json.loads(capsys.readouterr().out)["dps"] == {"1": True}


async def test_watch_prints_pushes(device: SimDevice, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["watch", *_adhoc(device, "--version", "3.4", "--json", "--count", "2", "--duration", "5")]
    watcher = asyncio.create_task(_cli(*argv))
    head = await printed_lines(capsys)  # the first state is printed once the command is subscribed
    await device.set_dps({"2": 11})
    await device.set_dps({"1": False})
    assert await watcher == 0
    lines = [json.loads(line) for line in (head + capsys.readouterr().out).splitlines()]
    status = [line for line in lines if line["event"] == "status"]
    assert lines[0] == {"event": "state", "device": DEV_ID, "dps": {"1": True, "2": 10, "3": "white"}}
    assert [s["dps"] for s in status] == [{"2": 11}, {"1": False}]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["set", "1=true"], "name a device"),
        (["status", "--id", DEV_ID, "--ip", "127.0.0.1"], "missing --key"),
        (["status", "somename"], "no device with id or name 'somename'"),
        (["status", "--id", DEV_ID, "--ip", "127.0.0.1", "--key", "short"], "exactly 16 characters"),
        (["set", "--id", DEV_ID, "--ip", "127.0.0.1", "--key", KEY, "switch_1=true"], "DP codes need"),
    ],
)
async def test_usage_errors_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUYAGATE_DATA_DIR", str(tmp_path))  # an empty registry, never the user's
    assert await _cli(*argv) == 1
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1
    assert KEY not in err


async def test_refused_port_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    port = str(_free_port())
    argv = ["status", "--id", DEV_ID, "--ip", "127.0.0.1", "--port", port, "--key", KEY, "--version", "3.3"]
    assert await _cli(*argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("tuyagate: error: ")
    assert "refused the connection" in err
    assert len(err.strip().splitlines()) == 1


async def test_wrong_key_exit_code(device: SimDevice, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["status", "--id", DEV_ID, "--ip", device.host, "--port", str(device.port), "--key", "fedcba9876543210"]
    assert await _cli(*argv, "--version", "3.4") == 1
    assert "local key is wrong" in capsys.readouterr().err


async def test_scan_hears_broadcasts_and_probe_answers(capsys: pytest.CaptureFixture[str]) -> None:
    listen = _free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        probe_port = s.getsockname()[1]
    announcer = SimDevice(
        device_id="bfannouncer000000001",
        local_key=KEY,
        version="3.3",
        discovery_to=("127.0.0.1", listen),
        discovery_interval=0.1,
    )
    quiet35 = SimDevice(device_id="bfquiet35000000000002", local_key=KEY, version="3.5", probe_port=probe_port)
    await announcer.start()
    await quiet35.start()
    try:
        argv = ["scan", "--listen", "127.0.0.1", "--ports", str(listen), "--duration", "3", "--json"]
        argv += ["--probe-to", f"127.0.0.1:{probe_port}"]
        argv += ["--id", "bfannouncer000000001", "--id", "bfquiet35000000000002"]
        assert await _cli(*argv) == 0
    finally:
        await announcer.stop()
        await quiet35.stop()
    found = {d["id"]: d for d in json.loads(capsys.readouterr().out)["devices"]}
    assert found["bfannouncer000000001"]["version"] == "3.3"
    assert found["bfquiet35000000000002"]["version"] == "3.5"
    assert found["bfquiet35000000000002"]["ip"] == "127.0.0.1"


async def test_watch_a_sub_device(device: SimDevice, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["watch", *_adhoc(device, "--version", "3.4", "--cid", "c1", "--count", "1", "--duration", "5")]
    watcher = asyncio.create_task(_cli(*argv))
    head = await printed_lines(capsys)
    await device.set_dps({"2": 99})  # the gateway itself: not shown for --cid c1
    await device.set_child_dps("c1", {"1": True})
    assert await watcher == 0
    lines = (head + capsys.readouterr().out).splitlines()
    assert lines[0].endswith(f'{DEV_ID}/c1 state {{"1": false}}')
    assert lines[-1].endswith(f'{DEV_ID}/c1 status {{"1": true}}')
    assert not any("99" in line for line in lines)
