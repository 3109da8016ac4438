"""What the gateway remembers of the home's events: the history of numeric DPs and each device's recent events.

The dashboard's device page shows how a value went (the :class:`~tuyagate.devices.history.History`,
persistent) and what happened lately (:class:`RecentEvents`, the last few events per device, in memory),
both from before the page was opened. One :class:`Recorder` follows the home's one event bus for both:
as a listener (a call inside the device's publish, no queue) when the manager offers ``listen``, as the
home does, else through a bounded subscription read by one task. It also flushes the history every
``resolution`` seconds and once more when the gateway stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from tuyagate.device_api import DeviceEvent, DeviceManager
from tuyagate.devices.history import History

__all__ = ["RecentEvents", "Recorder"]

log = logging.getLogger(__name__)


@runtime_checkable
class _Listenable(Protocol):
    def listen(self, callback: Callable[[DeviceEvent], None]) -> Callable[[], None]: ...


class RecentEvents:
    """The last ``per_device`` events of each device (state, online, offline, added), newest last."""

    def __init__(self, per_device: int = 50, max_devices: int = 10_000) -> None:
        self.per_device = per_device
        self.max_devices = max_devices
        self._events: dict[str, deque[DeviceEvent]] = {}

    def record(self, event: DeviceEvent) -> None:
        if event.kind == "lost" or not event.device_id:
            return
        if event.kind == "removed":  # forgotten with its device (one added again starts afresh)
            self._events.pop(event.device_id, None)
            return
        ring = self._events.get(event.device_id)
        if ring is None:
            if len(self._events) >= self.max_devices:
                return
            ring = self._events[event.device_id] = deque(maxlen=self.per_device)
        ring.append(event)

    def of(self, device_id: str) -> list[DeviceEvent]:
        return list(self._events.get(device_id, ()))


class Recorder:
    """Feeds the history and the recent events from the manager's events while the gateway runs."""

    def __init__(self, manager: DeviceManager, history: History | None, recent: RecentEvents) -> None:
        self.manager = manager
        self.history = history
        self.recent = recent
        self._stop_listening: Callable[[], None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def _record(self, event: DeviceEvent) -> None:
        try:
            self.recent.record(event)
            if self.history is not None:
                self.history.record(event)
        except Exception:  # a listener must never raise into the device's publish
            log.exception("could not record an event of %s", event.device_id)

    def start(self) -> None:
        if isinstance(self.manager, _Listenable):
            self._stop_listening = self.manager.listen(self._record)
        else:
            self._tasks.append(asyncio.create_task(self._follow(), name="tuyagate-recorder"))
        if self.history is not None:
            self._tasks.append(asyncio.create_task(self._flusher(self.history), name="tuyagate-history-flush"))

    async def stop(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.history is not None:
            await self._flush(self.history)

    async def _follow(self) -> None:
        async with self.manager.events() as events:
            async for event in events:
                self._record(event)

    async def _flusher(self, history: History) -> None:
        while True:
            await asyncio.sleep(history.settings.resolution)
            await self._flush(history)

    @staticmethod
    async def _flush(history: History) -> None:
        """The points are taken here, on the loop that records them, and written off it: the write
        ends in a fsync, which a busy disk can stretch to hundreds of milliseconds."""
        try:
            await asyncio.to_thread(history.write, history.take())
        except Exception as exc:  # noqa: BLE001 - the history must never take the gateway down
            log.warning("could not write the history: %s", exc)
