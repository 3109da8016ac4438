"""The one event bus: a publisher that never waits, and bounded per-subscriber queues.

Every stream of events in tuyagate goes through an :class:`EventBus`: a LAN connection's pushes to
the devices behind it, and every device's changes to the hub's subscribers (SSE clients, the registry
flush, MQTT, the dashboard). A publisher is a device's reader or a poller: it must never wait for a
slow consumer, because that would stall replies to every other caller. So:

- :meth:`EventBus.publish` is synchronous and O(subscribers); it only appends to queues.
- Each :class:`Subscription` holds at most ``maxsize`` events. When a slow subscriber's queue is
  full, its *oldest* event is dropped (the newest state is the one worth having) and counted; the
  subscriber's next read gets a *lost marker* first (built by the bus's ``lost`` factory, e.g. a
  ``DeviceEvent(kind="lost", dropped=n)``), so it knows to re-read state instead of trusting a gap.
- A subscription is an async iterator consumed by its own reader; the bus starts no task, so there
  is at most one task per subscriber (the consumer's).
- Listeners (:meth:`EventBus.listen`) are plain callbacks run inside ``publish``, for consumers that
  only fold events into memory (a device's cache, a registry write-behind buffer): no queue at all.

Subscriptions are held weakly, so an ``async for`` loop that is abandoned without closing its
subscription does not leak. Standard library only.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

__all__ = ["DEFAULT_QUEUE", "EventBus", "Subscription"]

T = TypeVar("T")
DEFAULT_QUEUE = 256


class Subscription(Generic[T]):
    """One subscriber's bounded stream; use as ``async for`` and/or ``async with``."""

    __slots__ = ("__weakref__", "_accept", "_bus", "_closed", "_lost", "_on_close", "_queue", "_waiter", "dropped")

    def __init__(
        self,
        bus: EventBus[T],
        *,
        maxsize: int,
        accept: Callable[[T], bool] | None,
        on_close: Callable[[], None] | None,
    ) -> None:
        self._bus = bus
        self._queue: deque[T] = deque(maxlen=maxsize)
        self._accept = accept
        self._on_close = on_close
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._lost = 0  # dropped since the last read: reported by a marker before the next event
        self.dropped = 0  # dropped since subscribing

    @property
    def closed(self) -> bool:
        return self._closed

    def offer(self, event: T) -> None:
        """Queue ``event`` without waiting (the bus calls this; so may a producer that owns the subscription)."""
        if self._closed or (self._accept is not None and not self._accept(event)):
            return
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1  # deque(maxlen) drops the oldest on append
            self._lost += 1
        self._queue.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        """Stop receiving; a pending read ends (events already queued are still delivered)."""
        if self._closed:
            return
        self._closed = True
        self._bus.discard(self)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._on_close is not None:
            self._on_close()

    def get_nowait(self) -> T | None:
        """The next event if one is queued (a lost marker first after an overflow), else None."""
        if self._lost and self._bus.lost is not None:
            lost, self._lost = self._lost, 0
            return self._bus.lost(lost)
        if self._queue:
            return self._queue.popleft()
        return None

    async def get(self, timeout: float | None = None) -> T:
        """The next event; StopAsyncIteration once closed and drained, TimeoutError after ``timeout`` seconds."""
        found = self.get_nowait()
        if found is not None:
            return found
        async with asyncio.timeout(timeout):
            while True:
                if self._closed:
                    raise StopAsyncIteration
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
                found = self.get_nowait()
                if found is not None:
                    return found

    def __len__(self) -> int:
        return len(self._queue)

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T:
        return await self.get()

    async def aclose(self) -> None:
        """Async-generator style close, so ``contextlib.aclosing`` and similar helpers work."""
        self.close()

    async def __aenter__(self) -> Subscription[T]:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class EventBus(Generic[T]):
    """Fan events out to subscribers and listeners without ever blocking the publisher."""

    __slots__ = ("_listeners", "_on_change", "_subs", "lost", "maxsize")

    def __init__(
        self,
        *,
        lost: Callable[[int], T] | None = None,
        maxsize: int = DEFAULT_QUEUE,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        # Made on the first subscription: most buses (one per device connection) only ever have
        # listeners, and an empty WeakSet is ~0.7 KB.
        self._subs: weakref.WeakSet[Subscription[T]] | None = None
        self._listeners: list[Callable[[T], None]] = []
        self._on_change = on_change
        self.lost = lost
        self.maxsize = maxsize

    def subscribe(
        self,
        *,
        accept: Callable[[T], bool] | None = None,
        maxsize: int | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> Subscription[T]:
        """A new subscription, registered at once, so no event published after this call is missed.

        ``accept`` filters (e.g. one device's events); ``on_close`` runs once when it is closed.
        """
        sub = Subscription(self, maxsize=maxsize or self.maxsize, accept=accept, on_close=on_close)
        if self._subs is None:
            self._subs = weakref.WeakSet()
        self._subs.add(sub)
        if self._on_change is not None:
            self._on_change()
        return sub

    def listen(self, callback: Callable[[T], None]) -> Callable[[], None]:
        """Call ``callback(event)`` inside every publish; returns the function that stops it.

        A listener must be quick and must not raise: it runs on the publisher's time.
        """
        self._listeners.append(callback)
        if self._on_change is not None:
            self._on_change()

        def stop() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)
                if self._on_change is not None:
                    self._on_change()

        return stop

    def discard(self, sub: Subscription[T]) -> None:
        """Forget a subscription (its ``close`` calls this)."""
        if self._subs is not None and sub in self._subs:
            self._subs.discard(sub)
            if self._on_change is not None:
                self._on_change()

    def publish(self, event: T) -> None:
        if self._listeners:
            for listener in tuple(self._listeners):
                listener(event)
        if self._subs:  # iterating a WeakSet costs ~6 calls even when it is empty
            for sub in tuple(self._subs):
                sub.offer(event)

    def close(self) -> None:
        """End every subscription (queued events are still delivered) and drop the listeners."""
        for sub in tuple(self._subs or ()):
            sub.close()
        self._listeners.clear()

    def __len__(self) -> int:
        """Subscribers plus listeners: how many consumers would see the next event."""
        return len(self._subs or ()) + len(self._listeners)
