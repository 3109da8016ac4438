"""The bridge's outgoing messages on one connection: a queue drained by a few concurrent publishers.

Messages queued while the publishers are idle wait a few milliseconds (``window``) for company: a
handful written back to back costs far less CPU per message than each alone (a lone small write on the
socket wakes the broker's process every time; BENCHMARKS.md, MQTT bridge).

State is published at QoS 0, which waits for nothing, so it is written at once, without a publisher task.
Each QoS 1 publish waits for the broker's acknowledgement, so one publisher alone would be held to one
round trip per message; ``publishers`` of them keep that many messages in flight. State and
availability are queued by device, not by value: a device queued twice is sent once, and its payload
is built when it is sent, so the broker always gets the newest state and never a backlog of old ones.
A payload equal to the last one sent on this connection is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuyagate.mqtt.errors import LinkError

if TYPE_CHECKING:
    from tuyagate.mqtt.link import MqttLink

__all__ = ["Outbox", "Stats"]

_LOGGER = logging.getLogger(__name__)
STATE, AVAILABILITY = "state", "availability"


@dataclass(slots=True)
class Stats:
    """Counters of a bridge (read by tests, the benchmark and logs)."""

    connections: int = 0
    state_messages: int = 0
    availability_messages: int = 0
    discovery_messages: int = 0
    commands: int = 0
    results: int = 0
    publish_errors: int = 0


@dataclass(frozen=True, slots=True)
class _Raw:
    topic: str
    payload: bytes
    retain: bool


class Outbox:
    """Queue of what to publish on ``link``; ``build`` makes the payload of a device's state or availability."""

    def __init__(
        self,
        link: MqttLink,
        *,
        publishers: int,
        topic_for: Callable[[str, str], str],
        build: Callable[[str, str], bytes],
        stats: Stats,
        window: float = 0.0,
    ) -> None:
        self._link = link
        self._topic_for = topic_for
        self._build = build
        self._stats = stats
        self._window = window
        self._queue: asyncio.Queue[tuple[str, str] | _Raw] = asyncio.Queue()  # wakes one publisher per item
        self._waiting: deque[tuple[str, str] | _Raw] = deque()  # held for the batching window
        self._queued: set[tuple[str, str]] = set()
        self._sent: dict[tuple[str, str], bytes] = {}
        self._opening: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        self._workers = [
            asyncio.create_task(self._work(), name=f"tuyagate-mqtt-publish-{i}") for i in range(publishers)
        ]
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.failed: asyncio.Future[None] = self._loop.create_future()

    def state(self, device_id: str) -> None:
        self._keyed((STATE, device_id))

    def availability(self, device_id: str) -> None:
        self._keyed((AVAILABILITY, device_id))

    def raw(self, topic: str, payload: bytes | str, *, retain: bool) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        self._add(_Raw(topic, data, retain))

    def _keyed(self, key: tuple[str, str]) -> None:
        if key in self._queued:
            return
        self._queued.add(key)
        self._add(key)

    def _add(self, item: tuple[str, str] | _Raw) -> None:
        """Queue an item: at once while the publishers are busy, else after the batching window, so a quiet
        moment's messages go out together (far less CPU per message than one by one)."""
        self._idle.clear()
        if self._window <= 0 or self._busy or self._queue.qsize():
            self._dispatch(item)
            self._check_idle()
            return
        self._waiting.append(item)
        if self._opening is None:
            self._opening = self._loop.call_later(self._window, self._release)

    def _release(self) -> None:
        self._opening = None
        while self._waiting:
            self._dispatch(self._waiting.popleft())
        self._check_idle()

    def _dispatch(self, item: tuple[str, str] | _Raw) -> None:
        if isinstance(item, tuple) and item[0] == STATE:
            self._send_state(item)
        else:
            self._queue.put_nowait(item)  # wakes a publisher

    def _check_idle(self) -> None:
        if not self._busy and self._queue.empty() and not self._waiting:
            self._idle.set()

    def _failed(self, exc: LinkError) -> None:
        self._stats.publish_errors += 1
        if not self.failed.done():
            self.failed.set_result(None)
        _LOGGER.info("MQTT publish failed: %s", exc)

    async def drained(self) -> None:
        """Wait until everything queued so far has been published (or the connection failed)."""
        while not self._idle.is_set():
            await self._idle.wait()

    async def _work(self) -> None:
        while True:
            item = await self._queue.get()
            self._busy += 1
            try:
                await self._send(item)
            except LinkError as exc:
                self._failed(exc)
            finally:
                self._busy -= 1
                self._check_idle()

    async def _send(self, item: tuple[str, str] | _Raw) -> None:
        if isinstance(item, _Raw):
            await self._link.publish(item.topic, item.payload, qos=1, retain=item.retain)
            return
        self._queued.discard(item)
        payload = self._build(AVAILABILITY, item[1])
        if self._sent.get(item) == payload:
            return
        await self._link.publish(self._topic_for(AVAILABILITY, item[1]), payload, qos=1, retain=True)
        self._sent[item] = payload
        self._stats.availability_messages += 1

    def _send_state(self, key: tuple[str, str]) -> None:
        """State is QoS 0: it is retained, superseded by the next message, and everything is published
        again after a reconnect, so an acknowledgement per message would buy nothing but CPU."""
        self._queued.discard(key)
        try:
            payload = self._build(STATE, key[1])
        except (TypeError, ValueError) as exc:  # sent from the bus reader: one bad value must not stop it
            _LOGGER.warning("MQTT: the state of %s cannot be published: %s", key[1], exc)
            return
        if self._sent.get(key) == payload:
            return
        try:
            self._link.send(self._topic_for(STATE, key[1]), payload, retain=True)
        except LinkError as exc:
            self._failed(exc)
            return
        self._sent[key] = payload
        self._stats.state_messages += 1

    async def close(self) -> None:
        if self._opening is not None:
            self._opening.cancel()
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._idle.set()
