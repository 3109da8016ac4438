"""The emulator's wire quirks, byte by byte: sequence numbering, missing return codes, ACK-only
controls, several clients, and how it records the way clients close."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tuyagate.protocol import payloads
from tuyagate.protocol.commands import Command
from tuyagate.sim.closes import CloseLog
from tuyagate.sim.device import SimDevice
from tuyagate.sim.device_options import SeqMode

from .raw_client import KEY, RawClient

DEV_ID = "bf0123456789abcdef01"


def _control(c: RawClient, dps: dict[str, object]) -> tuple[Command, dict[str, object]]:
    return payloads.control_request(c.spec, DEV_ID, dps, t=int(time.time()))


@pytest.mark.parametrize("version", ["3.5", "3.4", "3.3"])
async def test_device_wide_counter_moves_only_when_the_device_sends(version: str) -> None:
    mode: SeqMode | None = None if version in ("3.4", "3.5") else "device"  # the default for 3.4/3.5; chosen for 3.3
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version=version, seq_mode=mode, seq_start=0x266E) as sim:
        assert sim.seq_mode == "device"
        c = RawClient(version, sim.port)
        await c.connect()
        first = 0x266E
        if c.handshake_answer is not None:  # the handshake answer is the device's first frame
            assert c.handshake_answer.seq == first
            first += 1  # FINISH, which gets no answer, moves nothing
        await c.send(*payloads.query_request(c.spec, DEV_ID, t=1))
        assert (await c.read()).seq == first
        await c.send(*_control(c, {"1": True}))
        ack, status = await c.read(), await c.read()
        assert (ack.seq, ack.is_ack, status.cmd, status.seq) == (first + 1, True, Command.STATUS, first + 2)
        await sim.set_dps({"1": False})  # a push shares the counter
        assert (await c.read()).seq == first + 3
        await c.send(*payloads.heartbeat_request(DEV_ID))
        assert (await c.read()).seq == first + 4
        assert c.seq < 10  # our numbers never influenced the device's
        await c.half_close_and_drain()


@pytest.mark.parametrize("version", ["3.1", "3.3", "3.4"])
async def test_echo_mode_answers_with_the_request_number_and_pushes_with_zero(version: str) -> None:
    mode: SeqMode | None = "echo" if version == "3.4" else None  # the default up to 3.3; chosen for 3.4
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version=version, seq_mode=mode) as sim:
        assert sim.seq_mode == "echo"
        c = RawClient(version, sim.port)
        await c.connect()
        c.seq = 41
        await c.send(*payloads.query_request(c.spec, DEV_ID, t=1))
        assert (await c.read()).seq == 42
        await c.send(*_control(c, {"1": True}))
        ack, status = await c.read(), await c.read()
        assert (ack.seq, status.cmd, status.seq) == (43, Command.STATUS, 0)
        await c.send(*payloads.heartbeat_request(DEV_ID))
        assert (await c.read()).seq == 0  # as captured 3.3 devices answer heartbeats
        await c.half_close_and_drain()


@pytest.mark.parametrize("version", ["3.1", "3.2", "3.3", "3.4", "3.5"])
async def test_answers_without_a_return_code(version: str) -> None:
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version=version, return_codes=False) as sim:
        c = RawClient(version, sim.port)
        await c.connect()
        await c.send(*payloads.heartbeat_request(DEV_ID))
        beat = await c.read()
        assert (beat.retcode, beat.is_ack) == (None, True)
        await c.send(*_control(c, {"1": True}))
        ack, status = await c.read(), await c.read()
        assert (ack.retcode, status.retcode, status.dps) == (None, None, {"1": True})
        await c.half_close_and_drain()


async def test_ack_only_controls_send_no_status() -> None:
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version="3.3", control_reply="ack") as sim:
        c = RawClient("3.3", sim.port)
        await c.connect()
        await c.send(*_control(c, {"1": True}))
        assert (await c.read()).is_ack
        await c.send(*payloads.heartbeat_request(DEV_ID))
        # The next frame is the heartbeat's answer: no STATUS came in between.
        assert (await c.read()).cmd == Command.HEART_BEAT
        assert sim.dps["1"] is True
        await c.half_close_and_drain()


async def test_several_clients_at_once_all_get_pushes() -> None:
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version="3.5", second_client="allow") as sim:
        a, b = RawClient("3.5", sim.port), RawClient("3.5", sim.port)
        await a.connect()
        await b.connect()
        assert sim.clients == 2
        await a.send(*_control(a, {"1": True}))
        assert (await a.read()).is_ack
        pushes = [await a.read(), await b.read()]
        assert [p.dps for p in pushes] == [{"1": True}, {"1": True}]
        assert pushes[1].seq == pushes[0].seq + 1  # one counter for the whole device
        await a.half_close_and_drain()
        await b.half_close_and_drain()


async def test_close_log_tells_clean_closes_from_resets(tmp_path: Path) -> None:
    log = tmp_path / "closes.jsonl"
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version="3.3", close_log=log, idle_timeout=0.3) as sim:
        clean = RawClient("3.3", sim.port)
        await clean.connect()
        await clean.send(*_control(clean, {"1": True}))
        await clean.read()
        await clean.read()  # the STATUS after the ACK
        await clean.half_close_and_drain()

        abrupt = RawClient("3.3", sim.port)
        await abrupt.connect()
        await abrupt.send(*_control(abrupt, {"1": False}))
        await abrupt.read()  # the ACK only: closing now drops the STATUS that follows
        abrupt.close()
        await _records(sim, 2)

        idle = RawClient("3.3", sim.port)
        await idle.connect()
        assert await idle.closed()
        await _records(sim, 3)
    assert sim.closes is not None
    assert [r.how for r in sim.closes.records] == ["clean", "reset", "device"]
    assert "idle" in sim.closes.records[2].reason
    assert (sim.stats.clean_closes, sim.stats.reset_closes) == (1, 1)
    assert CloseLog.read(log) == sim.closes.records  # what another process would read


async def _records(sim: SimDevice, count: int) -> None:
    """Wait (with a deadline) until the device has recorded ``count`` ended connections."""
    assert sim.closes is not None
    await sim.closes.wait(count)
