"""Keeping a device connection alive: heartbeats while idle, reconnects while someone listens.

A Tuya device closes a connection that stays silent for about 30 s, and a connection can die
without a FIN (Wi-Fi drop, device power cut): a heartbeat that gets no answer within the
deadline drops the connection. While event subscribers exist (or ``keep_connected`` is set), a
background task re-opens it, waiting longer after each failure (exponential backoff with
jitter, capped), so a dead device is never hammered and the loop never spins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from tuyagate.errors import TuyaError
from tuyagate.lan.events import Event, EventKind

if TYPE_CHECKING:
    from tuyagate.lan.connection import DeviceConnection

__all__ = ["KeepAlive"]

_LOGGER = logging.getLogger(__name__)


class KeepAlive:
    """The heartbeat timer and the background reconnect task of one connection."""

    __slots__ = ("_handle", "_heartbeat", "_reconnect", "conn")

    def __init__(self, conn: DeviceConnection) -> None:
        self.conn = conn
        self._handle: asyncio.TimerHandle | None = None  # a timer, not a task, while idle: cheap per device
        self._heartbeat: asyncio.Task[None] | None = None
        self._reconnect: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- heartbeats

    def schedule(self) -> None:
        """Arm the heartbeat timer for one interval after the last frame sent."""
        conn = self.conn
        interval = conn.heartbeat_interval
        if interval and conn.connected and not conn.closed and self._handle is None:
            loop = asyncio.get_running_loop()
            delay = max(0.05, conn._last_tx + interval - loop.time())
            self._handle = loop.call_later(delay, self._due)

    def stop_heartbeat(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _due(self) -> None:
        self._handle = None
        conn = self.conn
        if not conn.connected or conn.closed or self._heartbeat is not None or not conn.heartbeat_interval:
            return
        loop = asyncio.get_running_loop()
        if conn._lock.locked():  # a request is in flight: that is traffic; look again an interval later
            self._handle = loop.call_later(conn.heartbeat_interval, self._due)
            return
        if loop.time() - conn._last_tx < conn.heartbeat_interval * 0.95:
            self.schedule()  # other traffic kept the connection alive
            return
        self._heartbeat = loop.create_task(self._beat())

    async def _beat(self) -> None:
        conn = self.conn
        try:
            await conn._heartbeat(conn._deadline(None), reconnect=False)
        except TuyaError as exc:
            _LOGGER.info("%s: heartbeat failed: %s", conn.name, exc)
        finally:
            self._heartbeat = None
            self.schedule()

    # ---------------------------------------------------------------- reconnects

    def maybe_reconnect(self) -> None:
        """Start the background reconnect if the connection is wanted and none runs."""
        conn = self.conn
        if conn.closed or self._reconnect is not None or not conn.wanted:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._reconnect = loop.create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        conn = self.conn
        loop = asyncio.get_running_loop()
        try:
            while not conn.closed and not conn.connected and conn.wanted:
                wait = conn._next_attempt - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                try:
                    if await conn._reopen() and conn._last_status:
                        await self._catch_up()
                except TuyaError as exc:
                    _LOGGER.info("%s: reconnect failed: %s", conn.name, exc)
                    if conn._next_attempt <= loop.time():  # never spin, whatever failed
                        conn._next_attempt = loop.time() + conn._backoff.failure()
        finally:
            self._reconnect = None

    async def _catch_up(self) -> None:
        """Pushes sent while we were away are lost: query once and publish what changed meanwhile."""
        conn = self.conn
        before = dict(conn._last_status or {})
        now = await conn.status()
        changed = {dp: value for dp, value in now.items() if dp not in before or before[dp] != value}
        if changed:
            conn._publish(Event(EventKind.STATUS, conn.device_id, changed))

    # ---------------------------------------------------------------- shutdown

    def cancel(self) -> None:
        self.stop_heartbeat()
        for task in (self._reconnect, self._heartbeat):
            if task is not None and task is not asyncio.current_task():
                task.cancel()

    async def wait_stopped(self) -> None:
        for task in (self._reconnect, self._heartbeat):
            if task is not None and task is not asyncio.current_task():
                with contextlib.suppress(asyncio.CancelledError, TuyaError):
                    await task
