"""tinytuya (PyPI, written by nobody here) as a client against tuyagate's device emulator.

The emulator runs as the real ``tuyagate sim device`` command where only the command line is
needed, and in-process where a test must change the device's state (pushes, sub-devices).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import tinytuya

from tuyagate.sim.device import SimChild, SimDevice

DEV_ID = "bf0123456789abcdef01"
KEY = "0123456789abcdef"
VERSIONS = ["3.1", "3.2", "3.3", "3.4", "3.5", "device22"]


def _tinytuya_version(version: str) -> float:
    return 3.3 if version == "device22" else float(version)


def _client(version: str, port: int, *, dev_id: str = DEV_ID, persist: bool = False) -> Any:
    dev = tinytuya.OutletDevice(
        dev_id,
        "127.0.0.1",
        KEY,
        version=_tinytuya_version(version),
        connection_timeout=3,
        persist=persist,
        port=port,
        connection_retry_limit=1,
        connection_retry_delay=0,
    )
    dev.set_socketRetryLimit(1)
    dev.set_sendWait(0)
    if version in ("device22", "3.2"):
        dev.set_dpsUsed({"1": None, "2": None, "3": None})
    return dev


@pytest.fixture
def sim_cli(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Start ``tuyagate sim device`` for the test's version; stop it by PID."""
    version = request.param
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tuyagate.cli",
            "sim",
            "device",
            "--version",
            version,
            "--id",
            DEV_ID,
            "--key",
            KEY,
            "--port",
            "0",
            "--dps",
            json.dumps({"1": True, "2": 50, "3": "hello world"}),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        info = json.loads(line)
        info["version_arg"] = version
        yield info
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


@pytest.mark.parametrize("sim_cli", VERSIONS, indirect=True)
def test_status_set_heartbeat_against_cli_emulator(sim_cli: dict[str, Any]) -> None:
    version = sim_cli["version_arg"]
    assert sim_cli["port"] > 0
    assert sim_cli["version"] == version  # "device22" too: the one spelling the CLI reads
    dev = _client(version, sim_cli["port"])

    status = dev.status()
    if version == "device22":
        # tinytuya learns the device22 quirk from the "data unvalid" answer and then asks for DP 1 only.
        assert dev.dev_type == "device22"
        assert status["dps"] == {"1": True}
        dev.set_dpsUsed({"1": None, "2": None, "3": None})
        status = dev.status()
    assert status["dps"] == {"1": True, "2": 50, "3": "hello world"}

    reply = dev.set_value(1, False)
    assert reply["dps"] == {"1": False}
    reply = dev.set_multiple_values({"1": True, "2": 75})
    assert reply["dps"] == {"1": True, "2": 75}
    assert dev.status()["dps"] == {"1": True, "2": 75, "3": "hello world"}

    assert dev.heartbeat() is None  # an empty ACK: tinytuya reports no payload and no error
    dev.close()


@pytest.mark.parametrize("version", VERSIONS)
async def test_push_reaches_a_persistent_tinytuya_socket(version: str) -> None:
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version=version, dps={"1": False, "2": 1}) as sim:
        # Built in a thread: for 3.2 tinytuya's constructor already talks to the device.
        dev = await asyncio.to_thread(_client, version, sim.port, persist=True)
        first = await asyncio.to_thread(dev.status)
        assert first["dps"]["1"] is False
        await sim.set_dps({"1": True, "2": 42})
        pushed = await asyncio.to_thread(dev.receive)
        assert pushed["dps"] == {"1": True, "2": 42}
        dev.close()


@pytest.mark.parametrize("version", ["3.3", "3.4", "3.5"])
async def test_sub_device_query_through_gateway(version: str) -> None:
    children = {"cid_a": SimChild(dps={"1": True, "3": 17}), "cid_b": SimChild(dps={"1": False})}
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version=version, dps={"1": True}, children=children) as sim:

        def run() -> tuple[Any, Any, Any]:
            gateway = tinytuya.Device(
                DEV_ID, "127.0.0.1", KEY, version=float(version), persist=True, port=sim.port, connection_retry_limit=1
            )
            gateway.set_socketRetryLimit(1)
            gateway.set_sendWait(0)
            child_a = tinytuya.OutletDevice("child_a_id", cid="cid_a", parent=gateway)
            child_b = tinytuya.OutletDevice("child_b_id", cid="cid_b", parent=gateway)
            a = child_a.status()
            b = child_b.status()
            set_b = child_b.set_value(1, True)
            gateway.close()
            return a, b, set_b

        a, b, set_b = await asyncio.to_thread(run)
        assert a["dps"] == {"1": True, "3": 17}
        assert b["dps"] == {"1": False}
        assert set_b["dps"] == {"1": True}
        assert sim.children["cid_b"].dps == {"1": True}
        assert sim.stats.connections_accepted == 1  # both children through the gateway's one socket


@pytest.mark.parametrize("version", ["3.4", "3.5"])
async def test_wrong_key_gives_tinytuya_its_key_error(version: str) -> None:
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version=version) as sim:
        dev = tinytuya.OutletDevice(
            DEV_ID,
            "127.0.0.1",
            "fedcba9876543210",
            version=float(version),
            connection_timeout=2,
            port=sim.port,
            connection_retry_limit=1,
        )
        dev.set_socketRetryLimit(1)
        result = await asyncio.to_thread(dev.status)
        assert result["Err"] == "914"  # tinytuya's "Check device key or version"
        assert sim.stats.handshakes == 0


# ----------------------------------------------------------------------------- the emulator's wire quirks


@pytest.mark.parametrize("version", ["3.3", "3.5"])
async def test_tinytuya_against_both_numbering_modes(version: str) -> None:
    """tinytuya matches 3.5 replies by command, not number, so the device counter suits it."""
    for mode in ("device", "echo"):
        async with SimDevice(
            device_id=DEV_ID, local_key=KEY, version=version, dps={"1": False}, seq_mode=mode, seq_start=0x3171
        ) as sim:
            dev = await asyncio.to_thread(_client, version, sim.port, persist=True)
            assert (await asyncio.to_thread(dev.status))["dps"] == {"1": False}
            assert (await asyncio.to_thread(dev.set_value, 1, True))["dps"] == {"1": True}
            assert (await asyncio.to_thread(dev.status))["dps"] == {"1": True}
            dev.close()


async def test_two_tinytuya_clients_at_once_when_the_device_allows_it() -> None:
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version="3.5", dps={"1": True}, second_client="allow") as sim:
        first = await asyncio.to_thread(_client, "3.5", sim.port, persist=True)
        second = await asyncio.to_thread(_client, "3.5", sim.port, persist=True)
        assert (await asyncio.to_thread(first.status))["dps"] == {"1": True}
        assert (await asyncio.to_thread(second.status))["dps"] == {"1": True}
        assert sim.clients == 2
        assert (await asyncio.to_thread(first.set_value, 1, False))["dps"] == {"1": False}
        assert (await asyncio.to_thread(second.receive))["dps"] == {"1": False}  # the other client's push
        first.close()
        second.close()


async def test_tinytuya_against_an_ack_only_device() -> None:
    """tinytuya waits for the STATUS after the ACK; with ``nowait`` it does not, and the value is set."""
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version="3.3", dps={"1": True}, control_reply="ack") as sim:
        dev = await asyncio.to_thread(_client, "3.3", sim.port)
        assert await asyncio.to_thread(dev.set_value, 1, False, True) is None
        for _ in range(200):  # nowait returns once sent: wait (with a deadline) for the device to apply it
            if sim.dps["1"] is False:
                break
            await asyncio.sleep(0.01)
        assert sim.dps["1"] is False
        assert (await asyncio.to_thread(dev.status))["dps"] == {"1": False}


async def test_tinytuya_after_the_device_closed_its_idle_socket() -> None:
    """A persistent tinytuya socket closed by the device's idle timeout: one failed call, then it reconnects."""
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version="3.4", dps={"1": True}, idle_timeout=0.2) as sim:
        dev = await asyncio.to_thread(_client, "3.4", sim.port, persist=True)
        assert (await asyncio.to_thread(dev.status))["dps"] == {"1": True}
        assert sim.closes is None
        for _ in range(200):  # wait (with a deadline) for the device to drop the idle connection
            if not sim.connected:
                break
            await asyncio.sleep(0.01)
        assert not sim.connected
        first = await asyncio.to_thread(dev.status)
        assert "Err" in first  # tinytuya notices the closed socket only by failing once
        assert (await asyncio.to_thread(dev.status))["dps"] == {"1": True}
        assert sim.stats.connections_accepted == 2
        dev.close()


async def test_tinytuya_cannot_read_answers_without_a_return_code() -> None:
    """What the issue reports, kept as a fact: tinytuya strips 4 bytes it should not (tuyagate copes)."""
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version="3.3", dps={"1": True}, return_codes=False) as sim:
        dev = await asyncio.to_thread(_client, "3.3", sim.port)
        assert (await asyncio.to_thread(dev.status))["Err"] == "904"
