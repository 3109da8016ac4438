"""FlashedDevice: the common Device interface over each backend, validation, polling and push events."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from tuyagate.device_api import Device, DeviceEvent
from tuyagate.errors import NotFoundError, TuyaConnectionRefused, UnknownDpError, ValidationError
from tuyagate.flashed.device import FlashedDevice, esphome_device, openbeken_device, tasmota_device
from tuyagate.flashed.http_base import HttpOptions
from tuyagate.sim.esphome import Entity

from .conftest import FAST


async def _next(events, kind: str | None = None, timeout: float = 3.0) -> DeviceEvent:
    async with asyncio.timeout(timeout):
        while True:
            event: DeviceEvent = await anext(events)
            if kind is None or event.kind == kind:
                return event


@pytest.mark.parametrize("backend", ["tasmota", "openbeken", "esphome"])
async def test_same_interface_for_every_backend(tasmota, esphome, backend: str) -> None:
    if backend == "esphome":
        sim = await esphome(password="pw")
        dev = esphome_device(sim.url, password="pw", options=FAST, device_id="esp1", name="Kitchen")
    else:
        sim = await tasmota(relays=2, light="rgbct", password="pw", mode=backend)
        make = tasmota_device if backend == "tasmota" else openbeken_device
        dev = make(sim.url, password="pw", options=FAST, device_id="esp1", name="Kitchen")
    try:
        assert isinstance(dev, Device)
        assert dev.cached_state() is None
        assert dev.schema_dict() == []
        was_online = dev.online
        assert not was_online
        state = await dev.status()
        assert state.device_id == "esp1"
        assert state.route == backend
        assert state.values["switch_1"] is False
        assert state.dps["1"] is False
        assert state.dps["22"] == state.values["bright_value"]
        info = dev.info
        assert (info.id, info.name, info.backend, info.ip, info.port) == (
            "esp1",
            "Kitchen",
            backend,
            "127.0.0.1",
            sim.server.port,
        )
        assert info.product_name in ("Tasmota", "OpenBeken", "ESPHome")
        assert [r.name for r in dev.routes()] == [backend]
        assert dev.routes()[0].healthy
        assert dev.online
        rows = {r["code"]: r for r in dev.schema_dict()}
        assert rows["bright_value"]["values"]["max"] == 1000
        assert rows["switch_1"]["dp_id"] == 1

        assert rows["bright_value"]["label"] == "Brightness"
        assert (rows["bright_value"]["min"], rows["bright_value"]["max"], rows["bright_value"]["step"]) == (0, 1000, 1)
        assert rows["switch_1"]["read_only"] is False

        result = await dev.set({"switch_1": True, "22": 300})
        assert (result.device_id, result.route, result.dps) == ("esp1", backend, {"1": True, "22": 300})
        assert result.validated
        cached = dev.cached_state()
        assert cached is not None
        assert cached.route == "cache"
        assert cached.values["switch_1"] is True
        fresh = await dev.status()
        assert fresh.values["switch_1"] is True
        assert abs(fresh.values["bright_value"] - 300) <= 5

        # The same refusals, in the same words, as a stock Tuya device with the same schema.
        with pytest.raises(ValidationError, match=r"^bright_value must be an integer between 0 and 1000 \(step 1\)"):
            await dev.set({"bright_value": 5000})
        with pytest.raises(ValidationError, match=r"^switch_1 must be true or false, got null$"):
            await dev.set({"switch_1": None})
        with pytest.raises(UnknownDpError, match=r'no data point "switch_9" .*known: switch_1 \(1\)') as unknown:
            await dev.set({"switch_9": True})
        assert "switch_1" in unknown.value.known
        with pytest.raises(UnknownDpError, match="no DP id 77"):
            await dev.set({"switch_1": False, "77": 5})
        assert dev.cached_state().values["switch_1"] is True  # type: ignore[union-attr]  # nothing was sent
        with pytest.raises(ValidationError, match="cur_power is read-only"):
            await dev.set({"cur_power": 3})
        assert (await dev.status(refresh=False)).route == "cache"
        assert dev.fresh_state() == await dev.status(refresh=False)
        dev.cache_ttl = 0.0
        assert dev.fresh_state() is None  # past its time to live: a read must ask the device
    finally:
        await dev.close()
    assert dev.fresh_state() is None


async def test_concurrent_reads_share_requests_and_never_overlap(tasmota) -> None:
    sim = await tasmota(relays=2)
    sim.emulator.faults.delay = 0.05
    dev = tasmota_device(sim.url, options=FAST)
    try:
        await dev.status()
        before = len(sim.emulator.commands)
        states = await asyncio.gather(*(dev.status() for _ in range(20)))
        assert all(s.values["switch_1"] is False for s in states)
        reads = len(sim.emulator.commands) - before
        assert 1 <= reads <= 3  # one read in flight plus one shared by everyone who queued behind it
        await asyncio.gather(dev.set({"switch_1": True}), dev.set({"switch_2": True}), dev.status())
        assert sim.emulator.power == [True, True]
    finally:
        await dev.close()


async def test_tasmota_polling_emits_only_changes(tasmota) -> None:
    sim = await tasmota(relays=2, energy=False)
    dev = tasmota_device(sim.url, options=FAST, poll_interval=0.05)
    events = dev.events()
    try:
        await dev.wait_watching()
        sim.emulator.execute("Power2 ON")  # changed behind tuyagate's back: only polling can see it
        event = await _next(events, "state")
        assert (event.kind, event.values, event.dps, event.route) == (
            "state",
            {"switch_2": True},
            {"2": True},
            "tasmota",
        )
        await dev.set({"switch_1": True})
        event = await _next(events, "state")
        assert event.values == {"switch_1": True}
        await asyncio.sleep(0.3)  # several polls, nothing changed: nothing is emitted
        with pytest.raises(TimeoutError):
            await _next(events, timeout=0.2)
    finally:
        await events.aclose()
        await dev.close()


async def test_offline_then_online_when_the_device_comes_back(tasmota) -> None:
    sim = await tasmota(relays=1, energy=False)
    port = sim.server.port
    dev = tasmota_device(sim.url, options=HttpOptions(timeout=0.5, retries=0), poll_interval=0.05)
    events = dev.events()
    try:
        await dev.wait_watching()
        await sim.stop()
        offline = await _next(events)
        assert offline.kind == "offline"
        assert not dev.online
        health = dev.routes()[0]
        assert not health.healthy
        assert health.failures >= 1
        assert "refused" in (health.last_error or "")
        with pytest.raises(TuyaConnectionRefused):
            await dev.status()
        back = await tasmota(port=port, relays=1, energy=False)
        back.emulator.execute("Power ON")
        assert (await _next(events)).kind == "online"
        assert (await _next(events)).values == {"switch_1": True}
    finally:
        await events.aclose()
        await dev.close()


@pytest.mark.parametrize("id_format", ["current", "transition", "legacy"])
async def test_esphome_push_events_and_stream_loss(esphome, id_format: str) -> None:
    sim = await esphome(id_format=id_format)
    dev = esphome_device(sim.url, options=HttpOptions(timeout=0.5, retries=0), poll_interval=0.1, discovery_quiet=0.1)
    events = dev.events()
    try:
        await dev.wait_watching()
        sim.emulator.set_value("binary_sensor", "Button", True)
        event = await _next(events, "state")
        assert event.values == {"binary_sensor_button": True}
        assert event.route == "esphome"
        assert event.dps == {
            str(dev.schema_dict()[[r["code"] for r in dev.schema_dict()].index("binary_sensor_button")]["dp_id"]): True
        }
        started = time.monotonic()
        await sim.stop()
        assert (await _next(events, "offline")).kind == "offline"
        assert time.monotonic() - started < 3.0
        assert not dev.online
    finally:
        await events.aclose()
        await dev.close()


async def test_esphome_silent_stream_counts_as_lost(esphome) -> None:
    sim = await esphome(ping_interval=60.0)  # the device stops talking but keeps the connection open
    dev = esphome_device(sim.url, options=FAST, idle_timeout=0.3, discovery_quiet=0.1, poll_interval=5.0)
    events = dev.events()
    try:
        await dev.wait_watching()
        started = time.monotonic()
        offline = await _next(events, "offline")
        assert offline.route == "esphome"
        assert 0.2 < time.monotonic() - started < 3.0
        assert "sent nothing on its event stream for 0.3 s" in (dev.routes()[0].last_error or "")
    finally:
        await events.aclose()
        await dev.close()


async def test_close_ends_every_subscription(tasmota) -> None:
    sim = await tasmota()
    dev = tasmota_device(sim.url, options=FAST, poll_interval=0.05)
    first, second = dev.events(), dev.events()
    await dev.close()
    for events in (first, second):
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(events), 1)
    with contextlib.suppress(StopAsyncIteration):
        await asyncio.wait_for(anext(dev.events()), 1)
    assert isinstance(dev, FlashedDevice)
    with pytest.raises(NotFoundError, match="is closed"):  # removed from its home: not found, not unreachable
        await dev.status()


async def test_a_device_with_nothing_to_set_refuses_every_key(esphome) -> None:
    # A stock device without schema passes DP ids through; a firmware client has nothing to send them to.
    sim = await esphome(entities=[Entity("fan", "Ceiling fan", False)])  # a domain tuyagate gives no code
    dev = esphome_device(sim.url, options=FAST, discovery_quiet=0.1)
    try:
        await dev.status()
        assert dev.schema_dict() == []
        for key in ("1", "switch_1"):
            with pytest.raises(UnknownDpError, match=f'no data point "{key}" on .*: it shows no values'):
                await dev.set({key: True})
        with pytest.raises(ValidationError, match="no values to set"):
            await dev.set({})
    finally:
        await dev.close()
