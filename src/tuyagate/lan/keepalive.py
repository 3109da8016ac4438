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
from collections.abc import Callable
from typing import Any, Protocol

from tuyagate.errors import TuyaError
from tuyagate.lan.backoff import Pacer
from tuyagate.lan.events import Event, EventKind

__all__ = ["KeepAlive", "KeepAliveHost"]

_LOGGER = logging.getLogger(__name__)


class KeepAliveHost(Protocol):
    """What :class:`KeepAlive` needs from the connection it keeps alive (a DeviceConnection)."""

    device_id: str
    heartbeat_interval: float | None
    closed: bool

    @property
    def name(self) -> str: ...

    @property
    def connected(self) -> bool: ...

    @property
    def busy(self) -> bool:
        """A request holds the connection (or waits for it): that is traffic enough."""
        ...

    @property
    def last_sent(self) -> float:
        """Event-loop time of the last frame sent."""
        ...

    @property
    def wanted(self) -> bool:
        """Someone wants the connection open while idle (event subscribers, ``keep_connected``)."""
        ...

    @property
    def last_status(self) -> dict[str, Any] | None: ...

    async def connect(self) -> bool:
        """Open the connection unless it is open; True when this call opened it."""
        ...

    async def heartbeat(self, *, reconnect: bool = True) -> None: ...

    async def status(self) -> dict[str, Any]: ...


class KeepAlive:
    """The heartbeat timer and the background reconnect task of one connection.

    ``pacer`` is the connection's own backoff state (reconnects wait for it and push it on when
    they fail); ``publish`` hands an event to the connection's subscribers.
    """

    __slots__ = ("_catching", "_handle", "_heartbeat", "_pacer", "_publish", "_reconnect", "conn")

    def __init__(self, conn: KeepAliveHost, pacer: Pacer, publish: Callable[[Event], None]) -> None:
        self.conn = conn
        self._pacer = pacer
        self._publish = publish
        self._handle: asyncio.TimerHandle | None = None  # a timer, not a task, while idle: cheap per device
        self._heartbeat: asyncio.Task[None] | None = None
        self._reconnect: asyncio.Task[None] | None = None
        self._catching: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- heartbeats

    def schedule(self) -> None:
        """Arm the heartbeat timer for one interval after the last frame sent."""
        conn = self.conn
        interval = conn.heartbeat_interval
        if interval and conn.connected and not conn.closed and self._handle is None:
            loop = asyncio.get_running_loop()
            delay = max(0.05, conn.last_sent + interval - loop.time())
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
        if conn.busy:  # a request is in flight: that is traffic; look again an interval later
            self._handle = loop.call_later(conn.heartbeat_interval, self._due)
            return
        if loop.time() - conn.last_sent < conn.heartbeat_interval * 0.95:
            self.schedule()  # other traffic kept the connection alive
            return
        self._heartbeat = loop.create_task(self._beat())

    async def _beat(self) -> None:
        conn = self.conn
        try:
            await conn.heartbeat(reconnect=False)
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
                wait = self._pacer.wait(loop.time())
                if wait > 0:
                    await asyncio.sleep(wait)
                try:
                    await conn.connect()  # the connection asks for a catch-up once it is open (catch_up_soon)
                except TuyaError as exc:
                    _LOGGER.info("%s: reconnect failed: %s", conn.name, exc)
                    self._pacer.pause(loop.time())  # never spin, whatever failed
        finally:
            self._reconnect = None

    def catch_up_soon(self) -> None:
        """After a reconnect, in the background: query once and publish what changed while we were away.

        Run by whoever re-opened the connection (this loop or a request), so no reopening skips it: a
        control whose answer came too late may still have been applied, and its STATUS push went down
        with the old connection.
        """
        if self._catching is None or self._catching.done():
            self._catching = asyncio.get_running_loop().create_task(self._catch_up_logged())

    async def _catch_up_logged(self) -> None:
        try:
            await self._catch_up()
        except TuyaError as exc:
            _LOGGER.info("%s: catching up after a reconnect failed: %s", self.conn.name, exc)

    async def _catch_up(self) -> None:
        """Pushes sent while we were away are lost: query once and publish what changed meanwhile."""
        conn = self.conn
        before = conn.last_status or {}
        now = await conn.status()
        changed = {dp: value for dp, value in now.items() if dp not in before or before[dp] != value}
        if changed:
            self._publish(Event(EventKind.STATUS, conn.device_id, changed))

    # ---------------------------------------------------------------- shutdown

    @property
    def running(self) -> bool:
        """A heartbeat, reconnect or catch-up task exists (one that :meth:`cancel` would stop)."""
        return self._reconnect is not None or self._heartbeat is not None or self._catching is not None

    def cancel(self) -> None:
        self.stop_heartbeat()
        if not self.running:  # the usual case of a one-shot command: no task, no current_task() lookups
            return
        for task in (self._reconnect, self._heartbeat, self._catching):
            if task is not None and task is not asyncio.current_task():
                task.cancel()

    async def wait_stopped(self) -> None:
        if not self.running:
            return
        for task in (self._reconnect, self._heartbeat, self._catching):
            if task is not None and task is not asyncio.current_task():
                with contextlib.suppress(asyncio.CancelledError, TuyaError):
                    await task
