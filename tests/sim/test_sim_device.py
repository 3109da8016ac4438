"""The emulator's own behaviour: one client at a time, idle close, faults, discovery, probes."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import pytest

from tests.lan.conftest import until
from tuyagate.errors import KeyMismatchError
from tuyagate.protocol import payloads
from tuyagate.protocol.commands import Command
from tuyagate.protocol.discovery import decode_datagram, encode_devinfo_request
from tuyagate.sim import device as sim_device
from tuyagate.sim.device import SimChild, SimDevice

from .raw_client import RawClient

DEV_ID = "bf0123456789abcdef01"
KEY = "0123456789abcdef"


@pytest.mark.parametrize("version", ["3.1", "3.3", "3.4", "3.5"])
async def test_control_acks_then_pushes(version: str) -> None:
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version=version, dps={"1": False, "2": 3}) as sim:
        c = RawClient(version, sim.port)
        await c.connect()
        cmd, body = payloads.control_request(c.spec, DEV_ID, {"1": True, "2": "wrong type"}, t=int(time.time()))
        await c.send(cmd, body)
        ack = await c.read()
        assert (ack.cmd, ack.is_ack, ack.retcode) == (cmd, True, 0)
        push = await c.read()
        assert push.cmd == Command.STATUS
        assert push.dps == {"1": True}  # the DP with a value of the wrong type is ignored, like real firmware
        assert sim.dps == {"1": True, "2": 3}
        c.close()


async def test_applied_logs_each_command_once_and_not_button_presses() -> None:
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version="3.4", dps={"1": False, "2": 3}) as sim:
        c = RawClient("3.4", sim.port)
        await c.connect()
        for value in (7, 8):
            await c.send(*payloads.control_request(c.spec, DEV_ID, {"2": value, "1": "wrong type"}, t=int(time.time())))
            assert (await c.read()).is_ack
            assert (await c.read()).cmd == Command.STATUS
        await sim.set_dps({"2": 9})  # someone pressed a button: not a command
        assert [(a.dps, a.cid) for a in sim.applied] == [({"2": 7}, None), ({"2": 8}, None)]
        assert sim.applied[0].at <= sim.applied[1].at
        c.close()


async def test_the_applied_log_keeps_the_newest_entries_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """An emulator that runs for days (the demo) must not grow its log without bound."""
    monkeypatch.setattr(sim_device, "APPLIED_KEPT", 2)
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version="3.3", dps={"2": 0}) as sim:
        c = RawClient("3.3", sim.port)
        await c.connect()
        for value in (7, 8, 9):
            await c.send(*payloads.control_request(c.spec, DEV_ID, {"2": value}, t=int(time.time())))
            assert (await c.read()).is_ack
            assert (await c.read()).cmd == Command.STATUS
        assert [a.dps for a in sim.applied] == [{"2": 8}, {"2": 9}]
        c.close()


async def test_second_client_refused_keeps_the_first() -> None:
    async with SimDevice(device_id=DEV_ID, local_key=KEY, second_client="refuse") as sim:
        first, second = RawClient("3.3", sim.port), RawClient("3.3", sim.port)
        await first.connect()
        await second.connect()
        assert await second.closed()
        await first.send(*payloads.heartbeat_request(DEV_ID))
        assert (await first.read()).cmd == Command.HEART_BEAT
        assert sim.stats.connections_refused == 1
        first.close()


async def test_second_client_replaces_the_first() -> None:
    async with SimDevice(device_id=DEV_ID, local_key=KEY, second_client="replace") as sim:
        first, second = RawClient("3.3", sim.port), RawClient("3.3", sim.port)
        await first.connect()
        await second.connect()
        await second.send(*payloads.heartbeat_request(DEV_ID))
        assert (await second.read()).cmd == Command.HEART_BEAT
        assert await first.closed()
        second.close()


async def test_second_client_ignored_gets_silence() -> None:
    async with SimDevice(device_id=DEV_ID, local_key=KEY, second_client="ignore") as sim:
        first, second = RawClient("3.3", sim.port), RawClient("3.3", sim.port)
        await first.connect()
        await second.connect()
        await second.send(*payloads.heartbeat_request(DEV_ID))
        with pytest.raises(TimeoutError):
            await second.read(timeout=0.3)
        first.close()
        second.close()


async def test_idle_connection_is_closed() -> None:
    async with SimDevice(device_id=DEV_ID, local_key=KEY, idle_timeout=0.3) as sim:
        c = RawClient("3.3", sim.port)
        await c.connect()
        start = time.monotonic()
        assert await c.closed(timeout=2.0)
        assert 0.25 <= time.monotonic() - start < 1.5


async def test_a_busy_connection_stays_and_closes_once_silent_for_the_idle_timeout() -> None:
    """The idle deadline runs from the last frame heard, whatever came before (one timer per connection)."""
    async with SimDevice(device_id=DEV_ID, local_key=KEY, idle_timeout=0.3) as sim:
        c = RawClient("3.3", sim.port)
        await c.connect()
        for _ in range(8):  # 0.8 s of heartbeats 0.1 s apart: longer than the timeout, each pause shorter
            await c.send(*payloads.heartbeat_request(DEV_ID))
            assert (await c.read()).cmd == Command.HEART_BEAT
            await asyncio.sleep(0.1)  # the client's pace, not a synchronisation
        last = time.monotonic()
        assert await c.closed(timeout=2.0)
        assert 0.15 <= time.monotonic() - last < 1.5  # 0.3 s after the last frame, less the pause above


async def test_refuse_and_drop_after_frames() -> None:
    async with SimDevice(device_id=DEV_ID, local_key=KEY) as sim:
        sim.faults.refuse = True
        c = RawClient("3.3", sim.port)
        await c.connect()
        assert await c.closed()
        sim.faults.refuse = False
        sim.faults.drop_after_frames = 1
        c = RawClient("3.3", sim.port)
        await c.connect()
        await c.send(*payloads.heartbeat_request(DEV_ID))
        assert (await c.read()).cmd == Command.HEART_BEAT
        await c.send(*payloads.heartbeat_request(DEV_ID))
        assert await c.closed()


async def test_stopping_while_an_answer_is_delayed_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    sim = SimDevice(device_id=DEV_ID, local_key=KEY)
    await sim.start()
    sim.faults.reply_delay = 30.0  # the connection task sleeps before its answer: stop() must cancel it
    c = RawClient("3.3", sim.port)
    await c.connect()
    await c.send(*payloads.heartbeat_request(DEV_ID))
    await until(lambda: sim.stats.frames_received, what="the request to arrive")
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        await sim.stop()
        await asyncio.sleep(0)  # the stream's done-callback runs on the next turn of the loop
    assert [r.getMessage() for r in caplog.records] == []
    c.close()


async def test_reply_delay_and_garbage() -> None:
    async with SimDevice(device_id=DEV_ID, local_key=KEY) as sim:
        sim.faults.reply_delay = 0.3
        sim.faults.garbage = True
        c = RawClient("3.3", sim.port)
        await c.connect()
        start = time.monotonic()
        await c.send(*payloads.heartbeat_request(DEV_ID))
        msg = await c.read()
        assert msg.cmd == Command.HEART_BEAT
        assert time.monotonic() - start >= 0.29
        assert c.bad == 1  # the corrupt frame was rejected; the noise before it was skipped


@pytest.mark.parametrize("version", ["3.4", "3.5"])
async def test_wrong_key_answer_is_detected_as_key_mismatch(version: str) -> None:
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version=version) as sim:
        c = RawClient(version, sim.port, key="fedcba9876543210")
        with pytest.raises(KeyMismatchError, match="local key is wrong"):
            await c.connect()
        assert sim.stats.handshakes == 0


async def test_gateway_subdevice_online_report() -> None:
    children = {"a": SimChild(dps={"1": True}), "b": SimChild(dps={"1": False}, online=False)}
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version="3.4", children=children) as sim:
        c = RawClient("3.4", sim.port)
        await c.connect()
        await c.send(*payloads.subdev_online_query())
        msg = await c.read()
        assert msg.cmd == Command.LAN_EXT_STREAM
        assert msg.data == {"reqType": "subdev_online_stat_report", "data": {"online": ["a"], "offline": ["b"]}}
        await sim.set_child_dps("a", {"1": False})
        push = await c.read()
        assert (push.cid, push.dps) == ("a", {"1": False})


@pytest.mark.parametrize("version", ["3.1", "3.3", "3.5"])
async def test_discovery_announcements(version: str) -> None:
    loop = asyncio.get_running_loop()
    received: asyncio.Queue[bytes] = asyncio.Queue()

    class Listener(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            received.put_nowait(data)

    transport, _ = await loop.create_datagram_endpoint(Listener, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    try:
        async with SimDevice(
            device_id=DEV_ID, local_key=KEY, version=version, discovery_to=("127.0.0.1", port), discovery_interval=0.1
        ):
            info = decode_datagram(await asyncio.wait_for(received.get(), 2.0))
        assert info["gwId"] == DEV_ID
        assert info["version"] == version
        assert info["ip"] == "127.0.0.1"
    finally:
        transport.close()


async def test_req_devinfo_probe_is_answered() -> None:
    loop = asyncio.get_running_loop()
    answers: asyncio.Queue[bytes] = asyncio.Queue()

    class Prober(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            answers.put_nowait(data)

    async with SimDevice(device_id=DEV_ID, local_key=KEY, version="3.5", probe_port=0) as sim:
        assert sim._responder is not None
        transport, _ = await loop.create_datagram_endpoint(Prober, remote_addr=("127.0.0.1", sim._responder.port))
        try:
            transport.sendto(encode_devinfo_request("127.0.0.1", iv=os.urandom(12)))
            info = decode_datagram(await asyncio.wait_for(answers.get(), 2.0))
        finally:
            transport.close()
    assert (info["gwId"], info["version"]) == (DEV_ID, "3.5")
