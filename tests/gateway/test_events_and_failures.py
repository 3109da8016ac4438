"""SSE events from real device pushes, a device that vanishes (502/504 in bounded time, or the cloud
takes over) and recovers, shutdown with open streams."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import BULB, PLUG, SWITCH, Gateway, GatewayFactory, HomeFactory, LiveHome
from tuyagate.device_api import DeviceState
from tuyagate.gateway.events_api import EventStreams, _stream
from tuyagate.gateway.metrics import Metrics

pytestmark = pytest.mark.asyncio(loop_scope="module")


class SSE:
    """Reads an open text/event-stream response line by line (one iterator for its whole life)."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()

    async def comment(self, text: str) -> None:
        async for line in self._lines:
            if line == text:
                return
        raise AssertionError(f"stream ended before {text!r}")

    async def connected(self) -> None:
        await asyncio.wait_for(self.comment(": connected"), 5)

    async def _events(self, count: int) -> list[tuple[str, dict[str, Any]]]:
        events: list[tuple[str, dict[str, Any]]] = []
        name, data = "", ""
        async for line in self._lines:
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and name:
                events.append((name, json.loads(data)))
                name, data = "", ""
                if len(events) == count:
                    break
        return events

    async def events(self, count: int, within: float = 5.0) -> list[tuple[str, dict[str, Any]]]:
        return await asyncio.wait_for(self._events(count), within)


async def test_sse_streams_state_and_online_events(start_home: HomeFactory, start_gateway: GatewayFactory) -> None:
    home = await start_home(cloud=False)
    gateway = await start_gateway(home=home)
    sim = home.sim(PLUG)
    async with gateway.client.stream("GET", "/api/v1/events", params={"device": PLUG}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        sse = SSE(response)
        await sse.connected()
        await sim.set_dps({"19": 456})  # the device reports new power: a STATUS push
        assert (await sse.events(1))[0][1]["dps"] == {"19": 456}
        await sim.stop()  # unplugged
        assert [name for name, _ in await sse.events(1)] == ["offline"]
        await sim.start()  # back on the same address: the connection comes back by itself
        assert [name for name, _ in await sse.events(1, within=10.0)] == ["online"]
    # The push also refreshed what status answers, from the cache.
    status = (await gateway.client.get(f"/api/v1/devices/{PLUG}/status")).json()
    assert (status["route"], status["values"]["cur_power"]) == ("cache", 45.6)


async def test_sse_event_shape_filter_by_device_and_command_event(gateway: Gateway, home: LiveHome) -> None:
    switch = home.sim(SWITCH)
    wanted = not switch.dps["1"]
    async with gateway.client.stream("GET", "/api/v1/events", params={"device": SWITCH}) as response:
        sse = SSE(response)
        await sse.connected()
        await home.sim(PLUG).set_dps({"19": 7})  # another device: filtered out
        r = await gateway.client.post(f"/api/v1/devices/{SWITCH}/commands", json={"dps": {"1": wanted}})
        assert r.status_code == 200
        events = await sse.events(1)
    name, data = events[0]
    assert (name, data["device_id"], data["kind"], data["dps"], data["route"]) == (
        "state",
        home.id(SWITCH),
        "state",
        {"1": wanted},
        "lan",
    )
    assert data["values"] == {"switch_1": wanted}
    assert isinstance(data["at"], float)


async def test_sse_unknown_device_filter_is_404(gateway: Gateway) -> None:
    r = await gateway.client.get("/api/v1/events", params={"device": "nope"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


async def test_sse_two_clients_and_heartbeat(gateway: Gateway, home: LiveHome) -> None:
    bulb = home.sim(BULB)
    async with (
        gateway.client.stream("GET", "/api/v1/events", params={"device": BULB}) as first,
        gateway.client.stream("GET", "/api/v1/events", params={"device": BULB}) as second,
    ):
        a, b = SSE(first), SSE(second)
        await a.connected()
        await b.connected()
        for i in range(20):
            await bulb.set_dps({"22": 100 + i})
        for sse in (a, b):
            events = await sse.events(20)
            assert [e[1]["dps"]["22"] for e in events] == list(range(100, 120))
        await asyncio.wait_for(a.comment(": ping"), 2)
        metrics = (await gateway.client.get("/metrics")).text
        assert "tuyagate_sse_clients 2" in metrics


async def test_slow_reader_loses_only_its_own_oldest_events(home: LiveHome) -> None:
    streams = EventStreams(home.hub, Metrics(), queue_size=4, max_clients=8)
    bulb = home.sim(BULB)
    try:
        slow = _stream(streams, None, heartbeat=10.0)
        fast = _stream(streams, frozenset({home.id(BULB)}), heartbeat=10.0)
        assert await anext(slow) == "retry: 3000\n: connected\n\n"
        assert await anext(fast) == "retry: 3000\n: connected\n\n"
        got_fast = []
        for i in range(20):
            await bulb.set_dps({"22": 200 + i})
            got_fast.append(await asyncio.wait_for(anext(fast), 5))
        assert [json.loads(t.split("data: ")[1])["dps"]["22"] for t in got_fast] == list(range(200, 220))
        lost = await asyncio.wait_for(anext(slow), 1)
        assert "event: lost" in lost
        assert '{"dropped":16}' in lost
        rest = [await asyncio.wait_for(anext(slow), 1) for _ in range(4)]
        assert [json.loads(t.split("data: ")[1])["dps"]["22"] for t in rest] == [216, 217, 218, 219]
        assert streams.metrics.sse_dropped == 16
        await slow.aclose()
        await fast.aclose()
        assert streams.clients == 0
    finally:
        streams.close_streams()


async def test_vanished_device_times_out_then_recovers(start_home: HomeFactory, start_gateway: GatewayFactory) -> None:
    # LAN only: nothing can take over. A connection's own requests (its reconnect) give up after 1 s.
    home = await start_home(cloud=False, timeout=1.0)
    gateway = await start_gateway(home=home, request_timeout=0.5)
    sim = home.sim(PLUG)
    sim.faults.silent = True  # accepts and reads, never answers
    start = time.monotonic()
    r = await gateway.client.get(f"/api/v1/devices/{PLUG}/status", params={"refresh": "true"})
    elapsed = time.monotonic() - start
    assert r.status_code == 504
    assert r.json()["error"]["code"] == "timeout"
    assert "may_be_applied" not in r.json()["error"]  # a read changes nothing
    assert elapsed < gateway.settings.request_timeout + 1.0
    r = await gateway.client.post(f"/api/v1/devices/{PLUG}/commands", json={"dps": {"1": False}})
    assert r.status_code == 504
    detail = (await gateway.client.get(f"/api/v1/devices/{PLUG}")).json()
    assert "did not answer" in detail["routes"][0]["last_error"]
    # Other devices are unaffected meanwhile.
    assert (await gateway.client.get(f"/api/v1/devices/{SWITCH}/status")).status_code == 200
    sim.faults.silent = False
    deadline = time.monotonic() + 10.0
    while True:  # the connection was given up: it comes back after its reconnect wait
        r = await gateway.client.get(f"/api/v1/devices/{PLUG}/status", params={"refresh": "true"})
        if r.status_code == 200 or time.monotonic() > deadline:
            break
    assert (r.status_code, r.json().get("route")) == (200, "lan"), r.text


async def test_a_command_answered_too_late_may_be_applied_and_says_so(
    start_home: HomeFactory, start_gateway: GatewayFactory
) -> None:
    home = await start_home()
    gateway = await start_gateway(home=home, request_timeout=1.0)
    sim = home.sim("Kettle plug")
    assert (
        await gateway.client.get("/api/v1/devices/Kettle plug/status", params={"refresh": "true"})
    ).status_code == 200
    sim.faults.reply_delay = 3.0  # the device reads the command; its answer comes after every deadline
    r = await gateway.client.post("/api/v1/devices/Kettle plug/commands", json={"dps": {"1": True}})
    assert r.status_code == 504
    assert r.json()["error"]["code"] == "timeout"
    assert r.json()["error"]["may_be_applied"] is True
    assert (
        home.emulated.cloud.state.stats["commands"] == 0
    )  # not sent again through the cloud, which could apply it twice


async def test_refused_connection_is_502(start_home: HomeFactory, start_gateway: GatewayFactory) -> None:
    home = await start_home(cloud=False)
    gateway = await start_gateway(home=home, request_timeout=2.0)
    await home.sim(PLUG).stop()  # nothing listens on the device's address any more
    r = await gateway.client.post(f"/api/v1/devices/{PLUG}/commands", json={"dps": {"1": False}})
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "device_unreachable"
    assert "refused" in r.json()["error"]["message"]
    detail = (await gateway.client.get(f"/api/v1/devices/{PLUG}")).json()
    assert detail["online"] is False
    assert detail["routes"][0]["healthy"] is False


async def test_lan_gone_falls_back_to_cloud_and_says_so(start_home: HomeFactory, start_gateway: GatewayFactory) -> None:
    home = await start_home()
    gateway = await start_gateway(home=home)
    await home.sim("Kettle plug").stop()
    started = time.monotonic()
    r = await gateway.client.post("/api/v1/devices/Kettle plug/commands", json={"dps": {"1": True}})
    assert time.monotonic() - started < 5.0
    assert r.status_code == 200
    assert (r.json()["route"], r.json()["fallback"]) == ("cloud", True)
    assert home.sim("Kettle plug").dps["1"] is True  # the emulated cloud shares the device's state
    detail = (await gateway.client.get("/api/v1/devices/Kettle plug")).json()
    assert next(route for route in detail["routes"] if route["name"] == "lan")["healthy"] is False
    metrics = (await gateway.client.get("/metrics")).text
    assert 'tuyagate_route_fallbacks_total{route="cloud"} 1' in metrics


async def test_device_ignoring_its_deadline_still_gets_504(
    start_home: HomeFactory, start_gateway: GatewayFactory
) -> None:
    home = await start_home(cloud=False)
    gateway = await start_gateway(home=home, request_timeout=0.5)
    home.sim(PLUG).faults.silent = True
    plug = home.device(PLUG)
    original = plug.status

    # The real device honours its deadline; to check the gateway's own cut-off, this one call
    # pretends it was given a minute instead (no real part misbehaves this way).
    async def stubborn(*, refresh: bool = True, timeout: float | None = None, deadline: object = None) -> DeviceState:
        return await original(refresh=refresh, timeout=60.0)

    plug.status = stubborn  # type: ignore[method-assign]
    start = time.monotonic()
    r = await gateway.client.get(f"/api/v1/devices/{PLUG}/status", params={"refresh": "true"})
    assert r.status_code == 504
    assert r.json()["error"]["code"] == "timeout"
    assert time.monotonic() - start < 2.0


async def test_stop_ends_open_event_streams_quickly(start_home: HomeFactory, start_gateway: GatewayFactory) -> None:
    home = await start_home(cloud=False)
    gateway = await start_gateway(home=home, manage=True)  # the app owns the hub: stopping closes it
    client = httpx.AsyncClient(base_url=gateway.url, timeout=10.0)
    sim = home.sim(PLUG)
    try:
        async with client.stream("GET", "/api/v1/events") as response:
            await SSE(response).connected()
            start = time.monotonic()
            await gateway.served.stop()
            assert time.monotonic() - start < 3.0
    finally:
        await client.aclose()
    for _ in range(250):  # up to 5 s: the hub closed its device connections, the emulator notices
        if not sim.connected:
            break
        await asyncio.sleep(0.02)
    assert not sim.connected


async def test_a_client_that_leaves_is_unsubscribed(gateway: Gateway) -> None:
    streams = gateway.app.state.gateway.streams
    async with gateway.client.stream("GET", "/api/v1/events") as response:
        await SSE(response).connected()
        assert streams.clients == 1
    # The server notices when its next heartbeat cannot be written.
    for _ in range(int((3 * gateway.settings.sse_heartbeat + 2.0) / 0.05)):
        if not streams.clients:
            break
        await asyncio.sleep(0.05)
    assert streams.clients == 0
