"""The history is written off the event loop: a slow disk never stalls the gateway's answers.

Its write ends in a fsync (``synchronous=FULL``). On the event loop, a busy disk stretched that to
hundreds of milliseconds during which no request was answered, not even the timeouts that were due.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tuyagate.device_api import DeviceEvent
from tuyagate.devices.db import Database
from tuyagate.devices.history import History, HistoryPoint, HistorySettings
from tuyagate.gateway.recorder import RecentEvents, Recorder

SLOW_WRITE = 0.3  # seconds a write takes here: a commit on a busy disk


class SlowDiskHistory(History):
    """A real history in a real database whose writes take as long as on a busy disk."""

    def write(self, ready: Mapping[tuple[str, str], HistoryPoint]) -> int:
        time.sleep(SLOW_WRITE)
        return super().write(ready)


class EventSource:
    """The home's event bus as the recorder sees it: listeners called with each event."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[DeviceEvent], None]] = []

    def listen(self, callback: Callable[[DeviceEvent], None]) -> Callable[[], None]:
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback)

    def publish(self, event: DeviceEvent) -> None:
        for listener in list(self.listeners):
            listener(event)


async def _worst_stall(seconds: float, every: float = 0.01) -> float:
    loop = asyncio.get_running_loop()
    worst, end = 0.0, loop.time() + seconds
    while loop.time() < end:
        due = loop.time() + every
        await asyncio.sleep(every)
        worst = max(worst, loop.time() - due)
    return worst


async def test_history_writes_do_not_stall_the_event_loop(tmp_path: Path) -> None:
    db = Database(tmp_path / "t.db")
    history = SlowDiskHistory(db, HistorySettings(resolution=0.05))
    source = EventSource()
    manager: Any = source
    recorder = Recorder(manager, history, RecentEvents())
    recorder.start()
    try:
        for n in range(5):
            source.publish(DeviceEvent("dev1", "state", {"20": n}, {"cur_power": n}, "lan", at=time.time()))
            stall = await _worst_stall(0.1)
            assert stall < SLOW_WRITE / 3, f"the loop stalled {stall * 1000:.0f} ms while the history was written"
    finally:
        await recorder.stop()
    points = history.points("dev1", "cur_power")
    assert points, "nothing was written"
    assert points[-1].value == 4  # the last value, written by the final flush at the latest
    db.close()
