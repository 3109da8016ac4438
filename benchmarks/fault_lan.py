"""The LAN rows of the fault matrix: one emulated plug per protocol version, one fault each.

Each function breaks the plug of one version in a started :class:`~benchmarks.fault_rig.Rig`, sends
one request through the gateway while the fault lasts (the outcome), clears the fault and asks
again until the answer is right (the recovery). "Right" is strict: a read must show a value the
device took while the gateway was not looking (changed in the emulator without a push), a command
must have reached the device.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace
from typing import Literal

from benchmarks.fault_rig import DEADLINE, Answer, Rig, recover
from benchmarks.fault_types import Measured
from tuyagate.sim.device import SimDevice

__all__ = [
    "another_client",
    "another_client_silent",
    "bad_integrity",
    "drops_mid_request",
    "flood",
    "garbage",
    "moves",
    "new_key",
    "refuses",
    "replies_late",
    "restarts",
]

RECOVERY_WITHIN = 10.0


def _fresh_value(sim: SimDevice) -> bool:
    """Flip the plug's switch inside the emulator, unseen by the gateway; a right read shows the new value."""
    value = not sim.dps["1"]
    sim.dps["1"] = value
    return value


def _right_read(answer: Answer, wanted: bool) -> bool:
    return answer.status == 200 and answer.body.get("route") == "lan" and answer.body["dps"].get("1") == wanted


async def _fault_read(rig: Rig, version: str, note: str = "") -> Measured:
    """A forced-fresh read while the fault lasts (its values checked when it answers 200), then the fault
    is cleared by the caller through ``Measured``'s recovery."""
    wanted = _fresh_value(rig.sim(version))
    answer = await rig.read(rig.plug(version))
    return Measured(answer, None, "read", note, correct=answer.status != 200 or _right_read(answer, wanted))


async def _read_recovery(rig: Rig, version: str) -> float | None:
    sim, name = rig.sim(version), rig.plug(version)
    wanted = _fresh_value(sim)
    return await recover(lambda: rig.read(name), lambda a: _right_read(a, wanted), within=RECOVERY_WITHIN)


async def _fault_command(rig: Rig, version: str, sim: SimDevice | None = None, note: str = "") -> Measured:
    """A command while the fault lasts: a 200 must have reached the device, an error must have left it alone."""
    sim = sim or rig.sim(version)
    wanted = not sim.dps["1"]
    answer = await rig.command(rig.plug(version), wanted)
    applied = sim.dps["1"] is wanted
    return Measured(answer, None, "command", note, correct=applied == (answer.status == 200))


async def _command_recovery(rig: Rig, version: str, sim: SimDevice | None = None) -> float | None:
    sim = sim or rig.sim(version)
    name = rig.plug(version)
    wanted = not sim.dps["1"]

    def right(answer: Answer) -> bool:
        return answer.status == 200 and sim.dps["1"] is wanted

    return await recover(lambda: rig.command(name, wanted), right, within=RECOVERY_WITHIN)


async def refuses(rig: Rig, version: str) -> Measured:
    """The device's port is closed: every connection attempt is refused (TCP RST)."""
    sim = rig.sim(version)
    await sim.stop()
    fault = await _fault_command(rig, version)
    await sim.start()
    return replace(fault, recovery=await _command_recovery(rig, version))


async def drops_mid_request(rig: Rig, version: str) -> Measured:
    """The device reads the command, then closes the connection without answering.

    On a new connection (the device dropped the old one first), so the command is the first request
    sealed with the key on it: what a device that rejects a wrong key does looks the same on 3.1."""
    sim = rig.sim(version)
    sim.disconnect()
    sim.faults.drop_requests = True
    fault = await _fault_command(rig, version)
    sim.faults.drop_requests = False
    return replace(fault, recovery=await _command_recovery(rig, version))


async def replies_late(rig: Rig, version: str) -> Measured:
    """Every answer comes half a second after the request's deadline."""
    sim = rig.sim(version)
    sim.faults.reply_delay = DEADLINE + 0.5
    fault = await _fault_read(rig, version)
    sim.faults.reply_delay = 0.0
    return replace(fault, recovery=await _read_recovery(rig, version))


async def garbage(rig: Rig, version: str) -> Measured:
    """Line noise and a frame with a bad CRC come before every answer."""
    sim = rig.sim(version)
    sim.faults.garbage = True
    fault = await _fault_read(rig, version)
    sim.faults.garbage = False
    return replace(fault, recovery=await _read_recovery(rig, version))


async def bad_integrity(rig: Rig, version: str) -> Measured:
    """Well-formed answers whose CRC (3.1-3.3), HMAC (3.4) or GCM tag (3.5) is wrong."""
    sim = rig.sim(version)
    sim.faults.corrupt = True
    fault = await _fault_read(rig, version)
    sim.faults.corrupt = False
    return replace(fault, recovery=await _read_recovery(rig, version))


async def restarts(rig: Rig, version: str) -> Measured:
    """The device reboots (connections dropped, port closed, back on the same address); then a command."""
    sim = rig.sim(version)
    await sim.stop()
    await sim.start()
    started = time.perf_counter()
    fault = await _fault_command(rig, version)
    ok = fault.answer.status == 200 and fault.correct
    recovery = time.perf_counter() - started if ok else await _command_recovery(rig, version)
    return replace(fault, recovery=recovery)


async def moves(rig: Rig, version: str) -> Measured:
    """The device comes back on another IP (a new DHCP lease) and broadcasts its UDP announcement."""
    assert rig.discovery_port is not None
    old = rig.sim(version)
    host = rig.new_address(version)
    new = SimDevice(
        device_id=old.device_id,
        local_key=rig.device(rig.plug(version)).local_key,
        version=version,
        host=host,
        port=old.port,
        dps=dict(old.dps),
        discovery_to=("127.0.0.1", rig.discovery_port),
        discovery_interval=0.2,
    )
    await old.stop()
    fault = await _fault_command(rig, version, note="announced every 0.2 s")
    await new.start()
    try:
        return replace(fault, recovery=await _command_recovery(rig, version, new))
    finally:
        await new.stop()


async def new_key(rig: Rig, version: str) -> Measured:
    """The device was re-paired: it has a new local key; the fault clears when the new key reaches the vault."""
    rig.repair(version)
    fault = await _fault_command(rig, version, note="new key put in the vault")
    await rig.sync_keys()
    return replace(fault, recovery=await _command_recovery(rig, version))


async def _held_by_another(rig: Rig, version: str, turn_away: Literal["refuse", "ignore"]) -> Measured:
    """The device serves one client and another one (the Smart Life app, tinytuya) took it first: it
    then turns the gateway away by refusing its connection, or by accepting it and never answering."""
    sim = rig.sim(version)
    # The other client replaces the gateway's connection, then the device turns everyone else away.
    _, writer = await asyncio.open_connection(sim.host, sim.port)
    try:
        await _until(lambda: sim.clients == 1 and sim.stats.connections_accepted > 1)
        sim.second_client = turn_away
        fault = await _fault_command(rig, version)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return replace(fault, recovery=await _command_recovery(rig, version))


async def another_client(rig: Rig, version: str) -> Measured:
    """Another client holds the device, which refuses the gateway's connection."""
    return await _held_by_another(rig, version, "refuse")


async def another_client_silent(rig: Rig, version: str) -> Measured:
    """Another client holds the device, which accepts the gateway's connection and never answers on it."""
    return await _held_by_another(rig, version, "ignore")


async def flood(rig: Rig, version: str) -> Measured:
    """The device pushes 1,000 STATUS frames a second while the gateway is asked to read it."""
    sim = rig.sim(version)
    stop = asyncio.Event()
    pushed = 0

    async def push() -> None:
        nonlocal pushed
        start = time.perf_counter()
        while not stop.is_set():
            due = min(int((time.perf_counter() - start) * 1000), pushed + 50)  # catch up, in bursts of 50 at most
            while pushed < due:
                pushed += 1
                await sim.set_dps({"19": pushed})
            await asyncio.sleep(0.002)

    started = time.perf_counter()
    task = asyncio.create_task(push())
    try:
        await asyncio.sleep(0.3)  # the flood is on before the request goes out
        fault = await _fault_read(rig, version)
    finally:
        stop.set()
        await task
    rate = pushed / (time.perf_counter() - started)
    last, cleared = pushed, time.perf_counter()

    def caught_up(a: Answer) -> bool:
        return a.status == 200 and a.body["dps"].get("19") == last

    # Recovered: the cache shows the last value pushed, and a fresh read answers right.
    cached = await recover(lambda: rig.cached(rig.plug(version)), caught_up, within=RECOVERY_WITHIN, every=0.01)
    recovered = await _read_recovery(rig, version) if cached is not None else None
    recovery = None if recovered is None else time.perf_counter() - cleared
    return replace(fault, recovery=recovery, note=f"{rate:,.0f} pushes/s")


async def _until(condition: object, within: float = 5.0) -> None:
    assert callable(condition)
    deadline = time.perf_counter() + within
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the emulator did not reach the expected state")
        await asyncio.sleep(0.01)
