"""The one event bus: never blocks the publisher, bounded queues, lost markers, filters, listeners."""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass

import pytest

from tuyagate.bus import EventBus


@dataclass(frozen=True)
class Item:
    n: int
    lost: int = 0


def lost_marker(count: int) -> Item:
    return Item(-1, lost=count)


async def test_a_full_queue_drops_the_oldest_and_reports_a_lost_marker_first() -> None:
    bus: EventBus[Item] = EventBus(lost=lost_marker, maxsize=3)
    sub = bus.subscribe()
    for n in range(5):
        bus.publish(Item(n))
    assert sub.dropped == 2
    got = [await sub.get(timeout=0.1) for _ in range(4)]
    assert got == [Item(-1, lost=2), Item(2), Item(3), Item(4)]
    with pytest.raises(TimeoutError):
        await sub.get(timeout=0.02)
    bus.publish(Item(5))  # no further marker once it was reported
    assert await sub.get(timeout=0.1) == Item(5)


async def test_without_a_lost_factory_drops_are_only_counted() -> None:
    bus: EventBus[Item] = EventBus(maxsize=2)
    sub = bus.subscribe()
    for n in range(4):
        bus.publish(Item(n))
    assert sub.dropped == 2
    assert [sub.get_nowait(), sub.get_nowait(), sub.get_nowait()] == [Item(2), Item(3), None]


async def test_a_slow_subscriber_never_slows_another() -> None:
    bus: EventBus[Item] = EventBus(lost=lost_marker, maxsize=2)
    slow, fast = bus.subscribe(), bus.subscribe(maxsize=100)
    for n in range(50):
        bus.publish(Item(n))
    assert (len(fast), fast.dropped) == (50, 0)
    assert (len(slow), slow.dropped) == (2, 48)


async def test_filters_and_per_subscriber_sizes() -> None:
    bus: EventBus[Item] = EventBus()
    evens = bus.subscribe(accept=lambda item: item.n % 2 == 0)
    for n in range(6):
        bus.publish(Item(n))
    assert [evens.get_nowait() for _ in range(4)] == [Item(0), Item(2), Item(4), None]


async def test_closing_ends_a_waiting_reader_after_the_queued_events() -> None:
    bus: EventBus[Item] = EventBus()
    seen: list[int] = []
    closed: list[bool] = []
    sub = bus.subscribe(on_close=lambda: closed.append(True))
    started = asyncio.Event()

    async def consume() -> None:
        started.set()
        async for item in sub:
            seen.append(item.n)

    task = asyncio.create_task(consume())
    await started.wait()
    bus.publish(Item(1))
    bus.publish(Item(2))
    sub.close()
    sub.close()  # idempotent: on_close runs once
    await asyncio.wait_for(task, 1.0)
    assert seen == [1, 2]
    assert closed == [True]
    assert len(bus) == 0


async def test_bus_close_ends_every_subscription_and_drops_listeners() -> None:
    bus: EventBus[Item] = EventBus()
    subs = [bus.subscribe() for _ in range(3)]
    bus.listen(lambda item: None)
    bus.close()
    assert all(s.closed for s in subs)
    assert len(bus) == 0
    with pytest.raises(StopAsyncIteration):
        await subs[0].get(timeout=0.1)


async def test_listeners_run_inside_publish_and_can_stop() -> None:
    changes: list[int] = []
    bus: EventBus[Item] = EventBus(on_change=lambda: changes.append(len(bus)))
    heard: list[int] = []
    stop = bus.listen(lambda item: heard.append(item.n))
    bus.publish(Item(7))
    assert heard == [7]  # synchronous: no task, no queue
    stop()
    stop()  # harmless twice
    bus.publish(Item(8))
    assert heard == [7]
    assert changes == [1, 0]


async def test_abandoned_subscriptions_do_not_leak() -> None:
    bus: EventBus[Item] = EventBus()
    kept = bus.subscribe()
    bus.subscribe()  # never closed, never referenced
    gc.collect()
    assert len(bus) == 1
    kept.close()
