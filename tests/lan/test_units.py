"""Backoff and the event fan-out, without sockets."""

from __future__ import annotations

import asyncio
import gc

import pytest

from tuyagate.lan import Backoff, Event, EventKind
from tuyagate.lan.events import EventHub


def test_backoff_grows_caps_and_resets() -> None:
    backoff = Backoff(0.1, 1.0, factor=2.0, jitter=0.2, rand=lambda: 0.5)  # 0.5 = no jitter
    assert [round(backoff.failure(), 3) for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    backoff.reset()
    assert backoff.failure() == pytest.approx(0.1)


def test_backoff_jitter_bounds() -> None:
    assert Backoff(1.0, 1.0, jitter=0.2, rand=lambda: 0.0).failure() == pytest.approx(0.8)
    assert Backoff(1.0, 1.0, jitter=0.2, rand=lambda: 1.0).failure() == pytest.approx(1.2)
    with pytest.raises(ValueError, match="backoff"):
        Backoff(0.0, 1.0)


def _status(n: int, cid: str | None = None) -> Event:
    return Event(EventKind.STATUS, "dev", {"1": n}, cid=cid)


async def test_full_queue_drops_the_oldest_and_counts() -> None:
    hub = EventHub()
    sub = hub.subscribe(maxsize=3)
    for n in range(5):
        hub.publish(_status(n))
    assert sub.dropped == 2
    assert [(await sub.get(timeout=0.1)).dps["1"] for _ in range(3)] == [2, 3, 4]
    with pytest.raises(TimeoutError):
        await sub.get(timeout=0.05)


async def test_closing_ends_the_iteration() -> None:
    hub = EventHub()
    seen: list[int] = []
    async with hub.subscribe() as sub:

        async def consume() -> None:
            async for event in sub:
                seen.append(event.dps["1"])

        task = asyncio.create_task(consume())
        hub.publish(_status(1))
        await asyncio.sleep(0.01)
        sub.close()
        await asyncio.wait_for(task, 1.0)
    assert seen == [1]
    assert len(hub) == 0


async def test_child_filter_and_abandoned_subscriptions() -> None:
    hub = EventHub()
    child = hub.subscribe(cid="c1")
    hub.publish(_status(1, cid="c2"))
    hub.publish(_status(2, cid="c1"))
    hub.publish(Event(EventKind.DISCONNECTED, "dev"))
    assert (await child.get(timeout=0.1)).dps == {"1": 2}
    assert (await child.get(timeout=0.1)).kind is EventKind.DISCONNECTED
    hub.subscribe()  # never closed, never referenced
    gc.collect()
    assert len(hub) == 1


def test_event_as_dict() -> None:
    assert _status(3, cid="c").as_dict() == {"event": "status", "device": "dev", "cid": "c", "dps": {"1": 3}}
    online = Event(EventKind.ONLINE, "gw", online=["a"], offline=["b"])
    assert online.as_dict() == {"event": "online", "device": "gw", "online": ["a"], "offline": ["b"]}


def test_connection_from_discovery() -> None:
    from tuyagate.lan import DeviceConnection, DiscoveredDevice

    found = DiscoveredDevice("bf12ab34cd56ef78aa01", "127.0.0.1", "3.5", "keyabc")
    conn = DeviceConnection.from_discovery(found, "0123456789abcdef", port=1234)
    assert (conn.device_id, conn.host, conn.port, conn.version) == ("bf12ab34cd56ef78aa01", "127.0.0.1", 1234, "3.5")
    odd = DiscoveredDevice("x", "127.0.0.1", "9.9", None)
    assert DeviceConnection.from_discovery(odd, "0123456789abcdef").version is None  # detected on first use
