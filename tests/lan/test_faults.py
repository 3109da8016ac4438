"""Every failure gives its own error type, within the deadline; nothing hangs or wedges the device."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from tuyagate.errors import (
    DeviceError,
    HandshakeError,
    HandshakeTimeoutError,
    KeyMismatchError,
    TuyaConnectionLost,
    TuyaConnectionRefused,
    TuyaError,
    TuyaTimeoutError,
)
from tuyagate.lan import EventKind
from tuyagate.sim.device import SimDevice

from .conftest import DEV_ID, KEY, WRONG_KEY, ClientFactory, SimFactory, until


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_refused_port(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.3")
    device.port = _free_port()  # point the client at a port nobody listens on
    dev = client(device)
    start = time.monotonic()
    with pytest.raises(TuyaConnectionRefused, match="refused the connection"):
        await dev.status()
    assert time.monotonic() - start < 0.3
    with pytest.raises(TuyaConnectionRefused):  # again, after (or instead of) the backoff wait
        await dev.set_dps({"1": False})
    assert time.monotonic() - start < 0.6


@pytest.mark.parametrize("version", ["3.1", "3.3", "device22"])
async def test_silent_device_times_out_within_the_deadline(
    sim: SimFactory, client: ClientFactory, version: str
) -> None:
    device = await sim(version=version)
    device.faults.silent = True
    dev = client(device, timeout=0.4)
    start = time.monotonic()
    with pytest.raises(TuyaTimeoutError, match="did not answer"):
        await dev.status()
    assert 0.35 < time.monotonic() - start < 0.7
    assert device.stats.connections_accepted == 1  # no retry storm on a silent device


@pytest.mark.parametrize("version", ["3.4", "3.5"])
async def test_handshake_without_answer(sim: SimFactory, client: ClientFactory, version: str) -> None:
    device = await sim(version=version)
    device.faults.silent = True
    dev = client(device, timeout=0.4)
    start = time.monotonic()
    with pytest.raises(HandshakeTimeoutError, match=r"did not answer the 3\.[45] handshake") as info:
        await dev.status()
    assert isinstance(info.value, TuyaTimeoutError)
    assert 0.35 < time.monotonic() - start < 0.7


@pytest.mark.parametrize("version", ["3.4", "3.5"])
async def test_wrong_key_answered_with_bad_hmac(sim: SimFactory, client: ClientFactory, version: str) -> None:
    device = await sim(version=version, wrong_key="answer")
    dev = client(device, key=WRONG_KEY)
    start = time.monotonic()
    with pytest.raises(KeyMismatchError, match="local key is wrong") as info:
        await dev.status()
    assert time.monotonic() - start < 0.3
    assert WRONG_KEY not in str(info.value)
    assert KEY not in repr(dev)
    assert WRONG_KEY not in repr(dev)


@pytest.mark.parametrize(("mode", "error"), [("silent", HandshakeTimeoutError), ("close", HandshakeError)])
async def test_wrong_key_silent_or_closed(
    sim: SimFactory, client: ClientFactory, mode: str, error: type[TuyaError]
) -> None:
    device = await sim(version="3.4", wrong_key=mode)
    dev = client(device, key=WRONG_KEY, timeout=0.4)
    with pytest.raises(error, match="handshake") as info:
        await dev.status()
    assert not isinstance(info.value, KeyMismatchError)


async def test_wrong_key_on_a_silent_33_device_is_a_timeout_with_a_hint(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.3", wrong_key="silent")
    dev = client(device, key=WRONG_KEY, timeout=0.3)
    with pytest.raises(TuyaTimeoutError, match="wrong local key or version"):
        await dev.status()


@pytest.mark.parametrize("version", ["3.3", "3.5"])
async def test_reply_after_the_deadline_is_never_taken_for_the_next_answer(
    sim: SimFactory, client: ClientFactory, version: str
) -> None:
    device = await sim(version=version, dps={"1": True, "2": 1})
    dev = client(device, timeout=0.3)
    assert await dev.status() == {"1": True, "2": 1}
    device.faults.reply_delay = 0.8
    start = time.monotonic()
    with pytest.raises(TuyaTimeoutError):
        await dev.status()
    assert 0.25 < time.monotonic() - start < 0.6
    device.faults.reply_delay = 0.0
    device.dps["2"] = 2
    assert await dev.status() == {"1": True, "2": 2}


async def test_garbage_frames_are_skipped(sim: SimFactory, client: ClientFactory) -> None:
    for version in ("3.3", "3.4", "3.5"):
        device = await sim(version=version, dps={"1": True})
        device.faults.garbage = True
        async with client(device) as dev:
            assert await dev.status() == {"1": True}
            await dev.set_dps({"1": False})
            assert await dev.status() == {"1": False}
            assert dev.stats.bad_frames >= 3


@pytest.mark.parametrize("version", ["3.3", "3.5"])
async def test_dropped_query_is_retried_once_on_a_new_connection(
    sim: SimFactory, client: ClientFactory, version: str
) -> None:
    device = await sim(version=version, dps={"1": True})
    handshake_frames = 2 if device.spec.session_key else 0
    device.faults.drop_after_frames = handshake_frames + 1
    dev = client(device)
    assert await dev.status() == {"1": True}
    assert await dev.status() == {"1": True}  # the device drops this one; we retry on a new connection
    assert device.stats.connections_accepted == 2


@pytest.mark.parametrize("version", ["3.3", "3.5"])
async def test_dropped_control_is_not_retried(sim: SimFactory, client: ClientFactory, version: str) -> None:
    device = await sim(version=version, dps={"1": True})
    handshake_frames = 2 if device.spec.session_key else 0
    device.faults.drop_after_frames = handshake_frames + 1
    dev = client(device)
    assert await dev.status() == {"1": True}
    start = time.monotonic()
    with pytest.raises(TuyaConnectionLost, match="closed the connection before answering"):
        await dev.set_dps({"1": False})
    assert time.monotonic() - start < 0.3
    assert device.stats.commands == 0
    assert device.stats.connections_accepted == 1


async def test_second_client_refused_is_a_lost_connection(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.3", second_client="refuse")
    first = client(device)
    await first.status()
    second = client(device)
    with pytest.raises(TuyaConnectionLost, match="another client may hold"):
        await second.status()
    assert await first.status() == {"1": True, "2": 0}


async def test_device_restart_mid_run(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.4", dps={"1": True})
    port = device.port
    dev = client(device, timeout=0.5)
    events = dev.events()
    assert await dev.status() == {"1": True}
    assert (await events.get(timeout=1.0)).kind is EventKind.CONNECTED

    stop = asyncio.Event()
    failures: list[TuyaError] = []
    answers: list[dict[str, object]] = []

    async def poll() -> None:
        while not stop.is_set():
            try:
                answers.append(await dev.status())
            except (TuyaConnectionRefused, TuyaConnectionLost, HandshakeError) as exc:
                failures.append(exc)
                await asyncio.sleep(0.02)

    poller = asyncio.create_task(poll())
    await until(lambda: len(answers) >= 3, what="answers before the power cut")
    await device.stop()  # power cut
    assert (await events.get(timeout=1.0)).kind is EventKind.DISCONNECTED
    await until(lambda: len(failures) >= 3, what="failures while the device is down")
    reborn = await sim(version="3.4", dps={"1": False}, port=port)
    assert (await events.get(timeout=2.0)).kind is EventKind.CONNECTED  # the background reconnect
    await until(lambda: answers[-1] == {"1": False}, what="an answer from the restarted device")
    stop.set()
    await poller
    assert failures  # typed errors while it was down, nothing else
    assert reborn.stats.handshakes >= 1
    await reborn.set_dps({"1": True})
    # After a reconnect the client publishes what changed while it was away ({"1": False}); on a slow
    # machine that catch-up event may still be queued ahead of the push.
    seen = [await events.get(timeout=1.0)]
    if seen[0].dps == {"1": False}:
        seen.append(await events.get(timeout=1.0))
    assert (seen[-1].kind, seen[-1].dps) == (EventKind.STATUS, {"1": True})


async def test_half_open_connection_is_detected_by_heartbeats(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.3")
    dev = client(device, heartbeat_interval=0.1, timeout=0.3)
    events = dev.events()
    await dev.status()
    assert (await events.get(timeout=1.0)).kind is EventKind.CONNECTED
    device.faults.silent = True  # the device is gone but the socket stays open
    start = time.monotonic()
    event = await events.get(timeout=1.5)
    assert event.kind is EventKind.DISCONNECTED
    assert event.reason == "no answer to HEART_BEAT"
    assert time.monotonic() - start < 0.8


async def test_many_callers_against_a_slow_device_all_finish_by_their_deadline(
    sim: SimFactory, client: ClientFactory
) -> None:
    device = await sim(version="3.5")
    device.faults.reply_delay = 0.05
    dev = client(device, timeout=0.6)
    start = time.monotonic()
    results = await asyncio.gather(*(dev.status() for _ in range(100)), return_exceptions=True)
    elapsed = time.monotonic() - start
    ok = [r for r in results if isinstance(r, dict)]
    timeouts = [r for r in results if isinstance(r, TuyaTimeoutError)]
    assert len(ok) + len(timeouts) == 100
    assert 3 <= len(ok) <= 12
    assert elapsed < 0.9
    assert dev.stats.connects <= 2  # at most one re-open, by a caller that got the lock as the deadline hit


async def test_cancelled_caller_does_not_confuse_the_next(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.3", dps={"1": True})
    dev = client(device)
    device.faults.reply_delay = 0.2
    task = asyncio.create_task(dev.status())
    await until(lambda: device.stats.frames_received == 1, what="the query's arrival")  # now waiting for its answer
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    device.faults.reply_delay = 0.0
    device.dps["1"] = False
    assert await dev.status() == {"1": False}


async def test_unknown_child_is_a_device_error(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.4")
    dev = client(device)
    with pytest.raises(DeviceError, match="data unvalid") as info:
        await dev.status(cid="nope")
    assert info.value.code == 1


def test_bad_key_length_is_a_config_error() -> None:
    from tuyagate.errors import ConfigError
    from tuyagate.lan import DeviceConnection

    with pytest.raises(ConfigError, match="exactly 16 characters, got 5"):
        DeviceConnection(DEV_ID, "127.0.0.1", "short", "3.3")


async def test_sim_is_the_real_thing(sim: SimFactory) -> None:
    device = await sim()
    assert isinstance(device, SimDevice)


async def test_keys_never_reach_the_logs(
    sim: SimFactory, client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    device = await sim(version="3.4", wrong_key="answer")
    dev = client(device, key=WRONG_KEY)
    with pytest.raises(KeyMismatchError):
        await dev.status()
    good = client(device, version=None, timeout=2.0)
    await good.status()
    await good.set_dps({"1": False})
    assert caplog.records  # something was logged
    assert KEY not in caplog.text
    assert WRONG_KEY not in caplog.text


async def test_subscriber_yields_to_another_client_then_catches_up(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.3", dps={"1": True, "2": 0})
    watcher = client(device)
    events = watcher.events()
    await watcher.status()
    other = client(device)
    await other.set_dps({"2": 5})  # the device serves one client: the watcher is dropped meanwhile
    await other.close()
    kinds = []
    async with asyncio.timeout(2.0):
        while (event := await events.get()).kind is not EventKind.STATUS:
            kinds.append(event.kind)
    assert event.dps == {"2": 5}  # the push went to the other client; the catch-up query found it
    assert kinds[-2:] == [EventKind.DISCONNECTED, EventKind.CONNECTED]
    assert device.stats.connections_accepted == 3
    assert device.stats.commands == 1


async def test_backoff_never_outlasts_the_deadline(sim: SimFactory, client: ClientFactory) -> None:
    from tuyagate.lan import Backoff

    device = await sim(version="3.3")
    dev = client(device, timeout=0.3, backoff=Backoff(2.0, 2.0))
    await dev.status()
    device.disconnect()  # the device drops us: wait ~2 s before reconnecting, but never past a deadline
    await until(lambda: not dev.connected, what="the client noticing the drop")
    start = time.monotonic()
    with pytest.raises(TuyaConnectionLost, match="next attempt is allowed in"):
        await dev.status()
    assert time.monotonic() - start < 0.1
    assert device.stats.connections_accepted == 1


@pytest.mark.parametrize("version", ["3.3", "3.5"])
async def test_a_control_applied_after_its_deadline_is_caught_up_by_the_next_request(
    version: str, sim: SimFactory, client: ClientFactory
) -> None:
    """The ACK comes too late (timeout), the device applies the control anyway, its STATUS push goes
    down with the dropped connection: whichever reopens the connection (here the next request, not
    the background reconnect) leads to one query that publishes the change."""
    device = await sim(version=version, dps={"1": True, "2": 0}, status_delay=0.0)
    watcher = client(device, timeout=0.3)
    events = watcher.events()
    await watcher.status()
    device.faults.reply_delay = 0.6
    with pytest.raises(TuyaTimeoutError):
        await watcher.set_dps({"2": 7})
    await until(lambda: device.dps["2"] == 7, timeout=2.0, what="the late control to be applied")
    device.faults.reply_delay = 0.0
    await watcher.set_dps({"1": False}, timeout=2.0)
    seen: dict[str, object] = {}
    async with asyncio.timeout(2.0):
        while seen.get("2") != 7:
            event = await events.get()
            if event.kind is EventKind.STATUS:
                seen.update(event.dps)
    assert device.stats.commands == 2
