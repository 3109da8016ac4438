"""Push events of a device connection and their fan-out to subscribers.

The connection's reader must never wait for a slow consumer (that would stall replies to every
other caller), so each subscriber gets a bounded queue: when it is full the oldest event is
dropped and counted. Subscriptions are held weakly, so an ``async for`` loop that is abandoned
without closing its subscription does not leak.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from types import TracebackType
from typing import Any

__all__ = ["Event", "EventHub", "EventKind", "Subscription"]


class EventKind(Enum):
    """What an event reports."""

    STATUS = "status"  # DP values the device pushed (cmd STATUS, or UPDATEDPS results)
    ONLINE = "online"  # sub-device online/offline report from a gateway
    CONNECTED = "connected"  # the connection to the device was (re)opened
    DISCONNECTED = "disconnected"  # the connection was lost; a reconnect follows while subscribed


@dataclass(frozen=True, slots=True)
class Event:
    """One event. ``cid`` names the sub-device (None for the device itself)."""

    kind: EventKind
    device_id: str
    dps: dict[str, Any] = field(default_factory=dict)
    cid: str | None = None
    online: list[str] | None = None
    offline: list[str] | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (what ``tuyagate watch --json`` prints)."""
        out: dict[str, Any] = {"event": self.kind.value, "device": self.device_id}
        if self.cid is not None:
            out["cid"] = self.cid
        if self.kind is EventKind.STATUS:
            out["dps"] = self.dps
        if self.online is not None:
            out["online"] = self.online
            out["offline"] = self.offline or []
        if self.reason:
            out["reason"] = self.reason
        return out


class Subscription:
    """A bounded stream of events; use as ``async with`` and/or ``async for``."""

    __slots__ = ("__weakref__", "_closed", "_hub", "_queue", "_waiter", "cid", "dropped")

    def __init__(self, hub: EventHub, *, maxsize: int, cid: str | None = None) -> None:
        self._hub = hub
        self._queue: deque[Event] = deque(maxlen=maxsize)
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self.cid = cid
        self.dropped = 0

    def _offer(self, event: Event) -> None:
        if self._closed or (self.cid is not None and event.cid != self.cid and event.kind in _PER_CHILD):
            return
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1  # deque(maxlen) drops the oldest on append
        self._queue.append(event)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        """Stop receiving; a pending ``get`` or ``async for`` ends."""
        if not self._closed:
            self._closed = True
            self._hub.discard(self)
            self._wake()

    async def get(self, timeout: float | None = None) -> Event:
        """The next event; StopAsyncIteration once closed, TimeoutError after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while not self._queue:
                if self._closed:
                    raise StopAsyncIteration
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
        return self._queue.popleft()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


_PER_CHILD = frozenset({EventKind.STATUS})


class EventHub:
    """Fan events out to subscribers without ever blocking the publisher."""

    __slots__ = ("_on_change", "_subs")

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._subs: weakref.WeakSet[Subscription] = weakref.WeakSet()
        self._on_change = on_change

    def subscribe(self, *, maxsize: int = 256, cid: str | None = None) -> Subscription:
        """A new subscription (registered at once, so no event after this call is missed)."""
        sub = Subscription(self, maxsize=maxsize, cid=cid)
        self._subs.add(sub)
        if self._on_change is not None:
            self._on_change()
        return sub

    def discard(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def publish(self, event: Event) -> None:
        for sub in list(self._subs):
            sub._offer(event)

    def close_all(self) -> None:
        for sub in list(self._subs):
            sub.close()

    def __len__(self) -> int:
        return len(self._subs)
