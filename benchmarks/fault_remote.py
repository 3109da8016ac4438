"""The rows of the fault matrix beyond the LAN: the Tuya cloud, a reflashed (Tasmota) device, the MQTT broker.

Cloud rows read a cloud-only plug through the gateway while the cloud emulator misbehaves (its
``/_sim/faults`` knobs, driven through its state object); firmware rows read the Tasmota emulator
while it answers HTML or too late; the broker row restarts a real Mosquitto (no persistence: every
retained message is lost) under the MQTT bridge and times how long until a command sent over MQTT is
applied and answered again.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.fault_rig import CLOUD_PLUG, DEADLINE, TASMOTA_PLUG, Answer, Rig, recover
from benchmarks.fault_types import Measured
from tuyagate.sim.cloud_state import CloudState
from tuyagate.sim.http_server import serve_app

__all__ = [
    "broker_restart",
    "cloud_blip",
    "cloud_gone",
    "cloud_slow",
    "rate_limited",
    "server_error",
    "tasmota_html",
    "tasmota_slow",
    "token_expired",
]

RECOVERY_WITHIN = 10.0
MANY = 1_000_000  # "the next N calls" for a fault that lasts until it is cleared


# ---------------------------------------------------------------------------- the cloud


async def _cloud_value(rig: Rig) -> bool:
    """Flip the cloud plug inside the emulated cloud (as someone using the app would)."""
    assert rig.fleet is not None
    device = rig.device(CLOUD_PLUG)
    value = not (await rig.fleet.backend.get_dps(device)).get("1", False)
    await rig.fleet.backend.set_dps(device, {"1": value})
    return value


def _right_cloud(answer: Answer, wanted: bool) -> bool:
    return answer.status == 200 and answer.body.get("route") == "cloud" and answer.body["dps"].get("1") == wanted


async def _cloud_read(rig: Rig) -> Measured:
    wanted = await _cloud_value(rig)
    answer = await rig.read(CLOUD_PLUG)
    return Measured(answer, None, "read", correct=answer.status != 200 or _right_cloud(answer, wanted))


async def _cloud_recovery(rig: Rig) -> float | None:
    wanted = await _cloud_value(rig)
    return await recover(lambda: rig.read(CLOUD_PLUG), lambda a: _right_cloud(a, wanted), within=RECOVERY_WITHIN)


def _cloud(rig: Rig) -> CloudState:
    assert rig.cloud is not None
    return rig.cloud.state


async def token_expired(rig: Rig, target: str) -> Measured:
    """Every access token expires now, long before its announced lifetime (1010 on the next call)."""
    _cloud(rig).expire_all_tokens()
    fault = await _cloud_read(rig)
    return replace(fault, recovery=await _cloud_recovery(rig))


async def rate_limited(rig: Rig, target: str) -> Measured:
    """Every call answers 28841005 ("API ... reached its usage limit") until the limit lifts."""
    _cloud(rig).fail_next(MANY, 28841005)
    fault = await _cloud_read(rig)
    _cloud(rig).reset_faults()
    return replace(fault, recovery=await _cloud_recovery(rig))


async def server_error(rig: Rig, target: str) -> Measured:
    """Every call answers HTTP 503 until the cloud is repaired."""
    _cloud(rig).http_error_next(MANY, 503)
    fault = await _cloud_read(rig)
    _cloud(rig).reset_faults()
    return replace(fault, recovery=await _cloud_recovery(rig))


async def cloud_blip(rig: Rig, target: str) -> Measured:
    """One call answers HTTP 503, the next works: retried within the deadline."""
    _cloud(rig).http_error_next(1, 503)
    fault = await _cloud_read(rig)
    return replace(fault, recovery=await _cloud_recovery(rig))


async def cloud_slow(rig: Rig, target: str) -> Measured:
    """Every answer comes half a second after the request's deadline."""
    _cloud(rig).faults.latency = DEADLINE + 0.5
    fault = await _cloud_read(rig)
    _cloud(rig).faults.latency = 0.0
    return replace(fault, recovery=await _cloud_recovery(rig))


async def cloud_gone(rig: Rig, target: str) -> Measured:
    """The cloud cannot be reached (its address refuses connections), then comes back on it."""
    cloud = rig.cloud
    assert cloud is not None
    port = cloud.port
    await cloud.stop()
    fault = await _cloud_read(rig)
    again = await serve_app(cloud.app, "127.0.0.1", port, websockets=True)
    try:
        return replace(fault, recovery=await _cloud_recovery(rig))
    finally:
        await again.stop()


# ---------------------------------------------------------------------------- a reflashed device


def _tasmota_value(rig: Rig) -> bool:
    """Switch the Tasmota relay by its button, unseen by the gateway."""
    assert rig.tasmota is not None
    emulator = rig.tasmota.emulator
    emulator.power[0] = not emulator.power[0]
    return emulator.power[0]


def _right_tasmota(answer: Answer, wanted: bool) -> bool:
    return answer.status == 200 and answer.body["values"].get("switch_1") is wanted


async def _tasmota_read(rig: Rig) -> Measured:
    wanted = _tasmota_value(rig)
    answer = await rig.read(TASMOTA_PLUG)
    return Measured(answer, None, "read", correct=answer.status != 200 or _right_tasmota(answer, wanted))


async def _tasmota_recovery(rig: Rig) -> float | None:
    wanted = _tasmota_value(rig)
    return await recover(lambda: rig.read(TASMOTA_PLUG), lambda a: _right_tasmota(a, wanted), within=RECOVERY_WITHIN)


async def tasmota_html(rig: Rig, target: str) -> Measured:
    """The firmware answers an HTML page (a captive portal, a web UI) where JSON belongs."""
    assert rig.tasmota is not None
    rig.tasmota.emulator.faults.garbage = True
    fault = await _tasmota_read(rig)
    rig.tasmota.emulator.faults.garbage = False
    return replace(fault, recovery=await _tasmota_recovery(rig))


async def tasmota_slow(rig: Rig, target: str) -> Measured:
    """The firmware answers half a second after the request's deadline."""
    assert rig.tasmota is not None
    rig.tasmota.emulator.faults.delay = DEADLINE + 0.5
    fault = await _tasmota_read(rig)
    rig.tasmota.emulator.faults.delay = 0.0
    return replace(fault, recovery=await _tasmota_recovery(rig))


# ---------------------------------------------------------------------------- the MQTT broker


def broker_available() -> bool:
    from tests.mqtt.broker import MOSQUITTO

    return MOSQUITTO is not None


async def broker_restart(rig: Rig, target: str) -> Measured:
    """The broker restarts (every retained message lost); the bridge must reconnect and take commands again.

    The outcome is the first MQTT command's answer once the broker is back (its ``result`` topic), timed
    from publishing it; recovery runs from the broker's start until that command was applied."""
    from tests.mqtt.broker import MosquittoBroker
    from tests.mqtt.watch import Watcher

    from tuyagate.mqtt.bridge import MqttBridge
    from tuyagate.mqtt.config import parse_mqtt_url

    assert rig.hub is not None
    sim, device_id = rig.sim("3.3"), rig.device(rig.plug("3.3")).id
    broker = MosquittoBroker(Path(rig.directory) / "broker")
    await asyncio.to_thread(broker.start)
    config = parse_mqtt_url(broker.url).with_options(node_id="faults", reconnect_min=0.05, reconnect_max=0.5)
    bridge = MqttBridge(rig.hub, config)
    try:
        await bridge.start()
        await bridge.wait_connected(10.0)
        await asyncio.to_thread(broker.stop)
        await asyncio.to_thread(broker.start)
        back = time.perf_counter()
        wanted = not sim.dps["1"]
        async with Watcher(broker.port, filters=(f"tuyagate/{device_id}/result",)) as mqtt:
            while True:  # until the bridge is subscribed again, a command is lost: send it again
                mark = len(mqtt.history)
                sent = time.perf_counter()
                await mqtt.publish(f"tuyagate/{device_id}/set", {"switch_1": wanted})
                try:
                    seen = await mqtt.next_on(f"tuyagate/{device_id}/result", after=mark, timeout=0.5)
                    break
                except TimeoutError:
                    if time.perf_counter() - back > RECOVERY_WITHIN:
                        raise
        result = json.loads(seen.payload)
        elapsed = time.perf_counter() - sent
        ok = bool(result.get("ok"))
        code = None if ok else str((result.get("error") or {}).get("code"))
        answer = Answer(200 if ok else 502, code, result, elapsed)
        recovery = time.perf_counter() - back if ok and sim.dps["1"] is wanted else None
        return Measured(answer, recovery, "MQTT command", correct=sim.dps["1"] is wanted)
    finally:
        await bridge.close()
        await asyncio.to_thread(broker.stop)
