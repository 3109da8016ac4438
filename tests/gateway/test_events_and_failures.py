"""SSE events, a device that vanishes (502/504 in bounded time) and recovers, shutdown with open streams."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from tests.gateway.conftest import Gateway, GatewayFactory
from tests.gateway.memory_devices import BULB_ID, PLUG_ID, STRIP_ID, MemoryDeviceManager
from tuyagate.gateway.events_api import EventStreams, _stream
from tuyagate.gateway.metrics import Metrics


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

    async def events(self, count: int) -> list[tuple[str, dict[str, Any]]]:
        return await asyncio.wait_for(self._events(count), 5)


async def test_sse_streams_state_and_online_events(gateway: Gateway) -> None:
    async with gateway.client.stream("GET", "/api/v1/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        sse = SSE(response)
        await sse.connected()
        plug = gateway.fleet.get(PLUG_ID)
        plug.push({"19": 456})
        plug.vanish()
        plug.recover()
        events = await sse.events(3)
    assert [name for name, _ in events] == ["state", "offline", "online"]
    assert events[0][1]["device_id"] == PLUG_ID
    assert events[0][1]["dps"] == {"19": 456}
    assert events[0][1]["values"] == {"cur_power": 45.6}
    # The push also refreshed what status answers, from the cache.
    status = (await gateway.client.get(f"/api/v1/devices/{PLUG_ID}/status")).json()
    assert status["values"]["cur_power"] == 45.6


async def test_sse_filter_by_device_and_command_event(gateway: Gateway) -> None:
    async with gateway.client.stream("GET", "/api/v1/events", params={"device": "strip"}) as response:
        sse = SSE(response)
        await sse.connected()
        gateway.fleet.get(PLUG_ID).push({"1": False})
        r = await gateway.client.post(f"/api/v1/devices/{STRIP_ID}/commands", json={"dps": {"1": True}})
        assert r.status_code == 200
        events = await sse.events(1)
    assert events == [
        ("state", {**events[0][1], "device_id": STRIP_ID, "kind": "state", "dps": {"1": True}, "route": "lan"})
    ]


async def test_sse_unknown_device_filter_is_404(gateway: Gateway) -> None:
    r = await gateway.client.get("/api/v1/events", params={"device": "nope"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


async def test_sse_two_clients_and_heartbeat(start_gateway: GatewayFactory) -> None:
    gateway = await start_gateway()
    async with (
        gateway.client.stream("GET", "/api/v1/events") as first,
        gateway.client.stream("GET", "/api/v1/events") as second,
    ):
        a, b = SSE(first), SSE(second)
        await a.connected()
        await b.connected()
        bulb = gateway.fleet.get(BULB_ID)
        for i in range(20):
            bulb.push({"22": 100 + i})
            await asyncio.sleep(0.005)
        for sse in (a, b):
            events = await sse.events(20)
            assert [e[1]["dps"]["22"] for e in events] == list(range(100, 120))
        await asyncio.wait_for(a.comment(": ping"), 2)
        metrics = (await gateway.client.get("/metrics")).text
        assert "tuyagate_sse_clients 2" in metrics


async def test_slow_reader_loses_only_its_own_oldest_events(fleet: MemoryDeviceManager) -> None:
    hub = EventStreams(fleet, Metrics(), queue_size=4, max_clients=8)
    try:
        slow = _stream(hub, None, heartbeat=10.0)
        fast = _stream(hub, frozenset({BULB_ID}), heartbeat=10.0)
        assert await anext(slow) == "retry: 3000\n: connected\n\n"
        assert await anext(fast) == "retry: 3000\n: connected\n\n"
        bulb = fleet.get(BULB_ID)
        got_fast = []
        for i in range(20):
            bulb.push({"22": 100 + i})
            got_fast.append(await asyncio.wait_for(anext(fast), 1))
        assert [json.loads(t.split("data: ")[1])["dps"]["22"] for t in got_fast] == list(range(100, 120))
        lost = await asyncio.wait_for(anext(slow), 1)
        assert "event: lost" in lost
        assert '{"dropped":16}' in lost
        rest = [await asyncio.wait_for(anext(slow), 1) for _ in range(4)]
        assert [json.loads(t.split("data: ")[1])["dps"]["22"] for t in rest] == [116, 117, 118, 119]
        assert hub.metrics.sse_dropped == 16
        await slow.aclose()
        await fast.aclose()
        assert hub.clients == 0
    finally:
        hub.close_streams()


async def test_vanished_device_times_out_then_recovers(gateway: Gateway) -> None:
    plug = gateway.fleet.get(PLUG_ID)
    plug.vanish("timeout")
    start = time.monotonic()
    r = await gateway.client.get(f"/api/v1/devices/{PLUG_ID}/status", params={"refresh": "true"})
    elapsed = time.monotonic() - start
    assert r.status_code == 504
    assert r.json()["error"]["code"] == "timeout"
    assert elapsed < gateway.settings.request_timeout + 1.0
    r = await gateway.client.post(f"/api/v1/devices/{PLUG_ID}/commands", json={"dps": {"1": False}})
    assert r.status_code == 504
    detail = (await gateway.client.get(f"/api/v1/devices/{PLUG_ID}")).json()
    assert detail["online"] is False
    assert detail["routes"][0]["healthy"] is False
    # Other devices are unaffected meanwhile.
    assert (await gateway.client.get(f"/api/v1/devices/{STRIP_ID}/status")).status_code == 200
    plug.recover()
    r = await gateway.client.get(f"/api/v1/devices/{PLUG_ID}/status", params={"refresh": "true"})
    assert r.status_code == 200
    assert r.json()["route"] == "lan"


async def test_refused_connection_is_502(gateway: Gateway) -> None:
    gateway.fleet.get(PLUG_ID).vanish("refused")
    r = await gateway.client.post(f"/api/v1/devices/{PLUG_ID}/commands", json={"dps": {"1": False}})
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "device_unreachable"
    assert "refused" in r.json()["error"]["message"]


async def test_device_ignoring_its_deadline_still_gets_504(gateway: Gateway) -> None:
    plug = gateway.fleet.get(PLUG_ID)
    plug.delay = 30.0  # the device's own timeout is 0.5 s, but pretend it ignored it by passing none

    original = plug.status

    async def stubborn(*, refresh: bool = True, timeout: float | None = None, deadline: object = None):
        return await original(refresh=refresh, timeout=60.0)

    plug.status = stubborn  # type: ignore[method-assign]
    start = time.monotonic()
    r = await gateway.client.get(f"/api/v1/devices/{PLUG_ID}/status", params={"refresh": "true"})
    assert r.status_code == 504
    assert r.json()["error"]["code"] == "timeout"
    assert time.monotonic() - start < 2.0


async def test_stop_ends_open_event_streams_quickly(start_gateway: GatewayFactory) -> None:
    gateway = await start_gateway()
    client = httpx.AsyncClient(base_url=gateway.url, timeout=10.0)
    try:
        async with client.stream("GET", "/api/v1/events") as response:
            await SSE(response).connected()
            start = time.monotonic()
            await gateway.served.stop()
            assert time.monotonic() - start < 3.0
    finally:
        await client.aclose()
    assert gateway.fleet.started is False


async def test_a_client_that_leaves_is_unsubscribed(gateway: Gateway) -> None:
    hub = gateway.app.state.gateway.streams
    async with gateway.client.stream("GET", "/api/v1/events") as response:
        await SSE(response).connected()
        assert hub.clients == 1
    # The server notices when its next heartbeat cannot be written.
    for _ in range(int((3 * gateway.settings.sse_heartbeat + 2.0) / 0.05)):
        if not hub.clients:
            break
        await asyncio.sleep(0.05)
    assert hub.clients == 0
