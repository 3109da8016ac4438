"""A stock Tuya device behind the one :class:`~tuyagate.device_api.Device` interface.

Its routes are tried in order, LAN first. A request whose LAN attempt fails (refused, timed out,
handshake or key trouble, a broken frame) is sent again through the cloud within the same
deadline, and the answer names the route that served it. A failed LAN route is then skipped
while its retry time grows, and a background probe puts it back in service as soon as the
device answers again. Pushes from the LAN connection keep the cached state fresh and become
events. Values are validated and converted by the schema before any route sees them.

A battery-powered device (``sleepy: true`` in its settings, see :mod:`tuyagate.devices.sleepy`)
is reached over the LAN only while it is awake: while it sleeps, reads are answered from the
values of its last wake-up (``asleep``, ``stale_after``, ``battery`` in the state), commands are
refused with :class:`~tuyagate.errors.DeviceAsleepError`, and sleeping is never "offline".

Online means the device answered: a request served, a push, a 3.4/3.5 key negotiation (which needs
the device and its key). A 3.1-3.3 connection proves nothing when it opens -- anything listening on
the port accepts TCP -- so it counts once the device answers a heartbeat sent at once; a device
that never answers stays offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from tuyagate.bus import EventBus, Subscription
from tuyagate.deadline import Deadline
from tuyagate.device_api import CommandResult, DeviceEvent, DeviceInfo, DeviceState, RouteHealth, command_values
from tuyagate.devices.health import RouteTracker
from tuyagate.devices.registry import DeviceRecord
from tuyagate.devices.routes import CloudRoute, LanRoute, Route
from tuyagate.devices.sleepy import battery_level, sleepy_policy
from tuyagate.errors import (
    DeviceAsleepError,
    DeviceBusyError,
    HandshakeError,
    NotFoundError,
    ProtocolError,
    TuyaAuthError,
    TuyaConnectionError,
    TuyaError,
    TuyaTimeoutError,
    ValidationError,
)
from tuyagate.schema import DpSchema

if TYPE_CHECKING:
    from tuyagate.lan.events import Event

__all__ = ["FALLBACK_ERRORS", "TuyaDevice"]

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")
# Failures of the transport, after which another route may well succeed. A device that answered
# with an error (DeviceError), a bad value (ValidationError) or an unknown code is not retried. A
# refused local key (TuyaAuthError) is: the cloud does not need it.
FALLBACK_ERRORS: tuple[type[TuyaError], ...] = (
    TuyaConnectionError,
    TuyaTimeoutError,
    HandshakeError,
    TuyaAuthError,
    ProtocolError,
)


class TuyaDevice:
    """A Tuya device reached over the LAN and/or the cloud."""

    def __init__(
        self,
        record: DeviceRecord,
        *,
        schema: DpSchema | None = None,
        lan: LanRoute | None = None,
        cloud: CloudRoute | None = None,
        timeout: float = 5.0,
        lan_timeout: float = 2.5,
        cache_ttl: float = 30.0,
        retry_base: float = 1.0,
        retry_cap: float = 30.0,
        clock: Callable[[], float] = time.time,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``on_close`` runs last in :meth:`close`: a device made by ``tuyagate.connect`` closes its own
        connection there (in a home, the home closes the shared connections)."""
        self._record = record
        self._schema = schema if schema is not None else record.schema
        self._lan = lan
        self._cloud = cloud
        self._routes: list[tuple[Route, RouteTracker]] = []
        for route in (lan, cloud):
            if route is not None:
                tracker = RouteTracker(route.name, base=retry_base, cap=retry_cap, clock=clock)
                self._routes.append((route, tracker))
        self.timeout = timeout
        self.lan_timeout = lan_timeout
        self.cache_ttl = cache_ttl
        self._clock = clock
        self._on_close = on_close
        self._dps: dict[str, Any] = dict(record.last_state or {})
        self._values: dict[str, Any] | None = None  # self._dps decoded by the schema, made on first read
        self._updated_at = record.last_seen or 0.0
        # The registry's last state is shown until the device speaks, but never served as fresh: it
        # may predate commands the device took after the last flush (a gateway killed and restarted
        # within ``cache_ttl`` would otherwise answer them as undone). A full read makes it fresh.
        self._confirmed = False
        self._cache_route = "cache"
        self._online = False
        self._bus: EventBus[DeviceEvent] = EventBus(lost=lambda n: DeviceEvent.lost(n, record.id))
        self._stop_lan: Callable[[], None] | None = None
        self._probe: asyncio.Task[None] | None = None
        self._confirm: asyncio.Task[None] | None = None  # the first answer on a new 3.1-3.3 connection
        self._reading: asyncio.Future[tuple[dict[str, Any], str]] | None = None
        self._closed = False
        self._sleepy = sleepy_policy(record) if lan is not None else None
        self.fallbacks = 0  # requests another route served after the preferred one failed

    def __repr__(self) -> str:
        routes = [r.name for r, _ in self._routes]
        return f"TuyaDevice(id={self._record.id!r}, name={self._record.name!r}, routes={routes})"

    # ---------------------------------------------------------------- Device interface: description

    @property
    def info(self) -> DeviceInfo:
        return self._record.info()

    @property
    def online(self) -> bool:
        if self._sleepy is not None and self.asleep:
            # Asleep is not offline: it counts as online while its last wake-up is recent enough.
            return bool(self._updated_at) and self._clock() - self._updated_at <= self._sleepy.stale_after
        return self._online

    @property
    def asleep(self) -> bool:
        """True for a battery-powered device whose connection is closed between wake-ups."""
        return self._sleepy is not None and self._lan is not None and not self._lan.connected

    @property
    def schema(self) -> DpSchema:
        return self._schema

    def routes(self) -> list[RouteHealth]:
        return [tracker.snapshot() for _, tracker in self._routes]

    def schema_dict(self) -> list[dict[str, Any]]:
        return self._schema.describe()

    def cached_state(self) -> DeviceState | None:
        if not self._dps:
            return None
        return self._snapshot(self._cache_route)

    def fresh_state(self) -> DeviceState | None:
        if self._closed or not self._confirmed or self._clock() - self._updated_at > self.cache_ttl:
            return None
        if self.asleep:
            return None  # status() says how old its values are, or that it has none yet
        return self._snapshot("cache")

    def _snapshot(self, route: str) -> DeviceState:
        """The current state as a new DeviceState; the values by code are decoded once per change, not per read."""
        if self._values is None:
            self._values = self._schema.decode(self._dps)
        if self._sleepy is None:
            return DeviceState(self._record.id, dict(self._dps), dict(self._values), route, self._updated_at)
        return DeviceState(
            self._record.id,
            dict(self._dps),
            dict(self._values),
            route,
            self._updated_at,
            asleep=self.asleep,
            stale_after=self._sleepy.stale_after,
            battery=battery_level(self._values),
        )

    def _asleep_error(self, doing: str) -> DeviceAsleepError:
        assert self._sleepy is not None
        every = self._sleepy.wakes_every
        seen = self._updated_at or None
        when = f"last awake {self._clock() - seen:.0f} s ago" if seen else "not seen awake yet"
        return DeviceAsleepError(
            f"{self._record.name} is a battery device and asleep ({when}, wakes about every {every:.0f} s): "
            f"{doing} once it is awake",
            wakes_every=every,
            last_seen=seen,
        )

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Follow the LAN connection's pushes (a listener, no task), which also keeps it re-connecting."""
        if self._lan is not None and self._stop_lan is None and not self._closed:
            self._stop_lan = self._lan.listen(self._on_lan_event)

    async def close(self) -> None:
        self._closed = True
        if self._stop_lan is not None:
            self._stop_lan()
            self._stop_lan = None
        for task in (self._probe, self._confirm):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._probe = self._confirm = None
        self._bus.close()
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            await on_close()

    # ---------------------------------------------------------------- reading and writing

    def _gone(self) -> NotFoundError:
        """What a request to a closed device (one removed from its home) gets instead of an answer."""
        return NotFoundError(f"{self._record.name} ({self._record.id}) was removed")

    async def status(
        self, *, refresh: bool = True, timeout: float | None = None, deadline: Deadline | None = None
    ) -> DeviceState:
        if self._closed:
            raise self._gone()
        if self.asleep:
            if not self._dps:
                raise self._asleep_error("read it")
            return self._snapshot("cache")  # the values of its last wake-up, with their age
        if not refresh and (fresh := self.fresh_state()) is not None:
            return fresh
        # Single flight: callers that ask while a read is under way share its answer, so a burst of
        # readers costs the device one round trip instead of a queue that outlasts their deadlines.
        own = Deadline.resolve(deadline, timeout, self.timeout)
        if self._reading is None or self._reading.done():
            self._reading = asyncio.ensure_future(self._read(own))
            self._reading.add_done_callback(_retrieve)  # no "never retrieved" warning if every reader left
            _, route = await asyncio.shield(self._reading)  # the read runs on this caller's deadline
        else:
            _, route = await self._join_read(self._reading, own)
        return self._snapshot(route)

    async def _join_read(
        self, reading: asyncio.Future[tuple[dict[str, Any], str]], deadline: Deadline
    ) -> tuple[dict[str, Any], str]:
        """Share a read already under way, but stop waiting at this caller's own deadline."""
        try:
            async with deadline.timeout():
                return await asyncio.shield(reading)
        except TuyaTimeoutError:
            raise
        except TimeoutError:
            raise TuyaTimeoutError(f"{self._record.name}: no answer before the deadline") from None

    async def _read(self, deadline: Deadline) -> tuple[dict[str, Any], str]:
        dps, route, _ = await self._attempt(lambda r, d: r.read(deadline=d), deadline)
        self._merge(dps, route, emit=True)
        self._confirmed = True
        return dps, route

    async def set(
        self,
        values: Mapping[str, Any] | None = None,
        /,
        *,
        timeout: float | None = None,
        deadline: Deadline | None = None,
        **by_code: Any,
    ) -> CommandResult:
        if self._closed:
            raise self._gone()
        values = command_values(values, by_code)
        if not values:
            raise ValidationError("no values to set")
        dps = self._schema.encode(values)  # validates every value (range, options, read-only) first
        if self.asleep:
            raise self._asleep_error("send the command")
        own = Deadline.resolve(deadline, timeout, self.timeout)
        held, route, fallback = await self._attempt(lambda r, d: r.write(dps, values, deadline=d), own, write=True)
        self._merge(dps if held is None else held, route, emit=True)  # in the same turn as the answer
        return CommandResult(
            device_id=self._record.id, dps=dps, route=route, fallback=fallback, validated=self._schema.validates
        )

    async def _attempt(
        self, op: Callable[[Route, Deadline], Awaitable[T]], deadline: Deadline, *, write: bool = False
    ) -> tuple[T, str, bool]:
        """Run ``op`` on each route in turn until one serves it, all within ``deadline``.

        A route that is not the last gets at most ``lan_timeout`` of the budget, so the fallback is
        left time to answer; the last route gets whatever remains. A command (``write``) that may have
        reached the device (:attr:`TuyaError.may_be_applied`) is not tried on the next route: that
        could apply it twice, and a 2xx answer promises it was applied once.
        """
        if not self._routes:
            raise TuyaConnectionError(
                f"no route to {self._record.name}: it has no LAN address and local key, and no cloud login is set"
            )
        errors: list[TuyaError] = []
        last = len(self._routes) - 1
        for index, (route, tracker) in enumerate(self._routes):
            if index < last and not tracker.due():
                continue  # known down and not yet due: go straight to the next route
            if deadline.expired():
                break
            budget = deadline.capped(self.lan_timeout) if index < last else deadline
            try:
                result = await op(route, budget)
            except DeviceBusyError as exc:
                # Queued behind other callers past the deadline: the route works, it is just busy.
                errors.append(exc)
                continue
            except FALLBACK_ERRORS as exc:
                if self._closed:  # closed under the request: its connection went with it
                    raise self._gone() from None
                if route is self._lan and self.asleep:
                    raise self._asleep_error("try again") from None  # fell asleep mid-request: not a failure
                tracker.failed(exc)
                errors.append(exc)
                _LOGGER.info("%s: %s route failed: %s", self._record.name, route.name, exc)
                if route is self._lan:
                    self._lan_down()
                if write and exc.may_be_applied:
                    raise
                continue
            tracker.ok()
            self._set_online(True)
            fallback = index > 0
            if fallback:
                self.fallbacks += 1
            return result, route.name, fallback
        if errors:
            raise errors[-1]
        raise TuyaTimeoutError(f"{self._record.name}: no route answered within the deadline")

    # ---------------------------------------------------------------- state and events

    def events(self) -> Subscription[DeviceEvent]:
        sub = self._bus.subscribe()
        if self._closed:
            sub.close()
        return sub

    def listen(self, callback: Callable[[DeviceEvent], None]) -> Callable[[], None]:
        return self._bus.listen(callback)

    def _emit(self, event: DeviceEvent) -> None:
        self._bus.publish(event)

    def _merge(self, dps: Mapping[str, Any], route: str, *, emit: bool) -> None:
        changed = {k: v for k, v in dps.items() if self._dps.get(k, _MISSING) != v}
        self._dps.update(dps)
        if changed:
            self._values = None  # decoded again on the next read
        self._updated_at = self._clock()
        self._cache_route = route
        if changed and emit:
            self._emit(
                DeviceEvent(
                    device_id=self._record.id,
                    kind="state",
                    dps=changed,
                    values=self._schema.decode(changed),
                    route=route,
                    at=self._updated_at,
                )
            )

    def apply_cloud_report(self, status: Iterable[Mapping[str, Any]] = (), *, online: bool | None = None) -> None:
        """Fold a report pushed by the cloud's message service into the cache (route ``cloud``).

        ``status`` is the cloud's ``[{"code", "value"}]``: only DPs whose value differs from the cache
        become a ``state`` event, so the cloud's echo of a change already seen (made by :meth:`set`,
        or pushed on the LAN) emits nothing. While the LAN route works, the LAN is the source of
        truth and cloud reports are not applied: they echo what the LAN pushes, and one arriving
        after a newer LAN push would set the cache back. ``online`` (the cloud's online/offline
        event) is believed only then too (a device cut off from the internet is still on the
        LAN); a status report counts as online.
        """
        if any(t.healthy and t.last_ok is not None for r, t in self._routes if r is self._lan):
            return
        dps = self._schema.dps_from_cloud(status)
        if dps:
            self._merge(dps, "cloud", emit=True)
            online = True if online is None else online  # it reported, so the cloud reaches it
        if online is not None:
            self._set_online(online)

    def _set_online(self, online: bool) -> None:
        if online != self._online:
            self._online = online
            self._emit(DeviceEvent(self._record.id, "online" if online else "offline", at=self._clock()))

    def _cloud_healthy(self) -> bool:
        return any(t.healthy and t.last_ok is not None for r, t in self._routes if r is self._cloud)

    def _lan_down(self) -> None:
        self._set_online(self._cloud_healthy())
        if self._cloud is not None and (self._probe is None or self._probe.done()) and not self._closed:
            self._probe = asyncio.create_task(self._probe_lan(), name=f"tuyagate-probe-{self._record.id}")

    async def _probe_lan(self) -> None:
        """While the LAN route is down, try it again at its retry times; stop once it answers."""
        assert self._lan is not None
        tracker = next(t for r, t in self._routes if r is self._lan)
        while not self._closed and not tracker.healthy:
            await asyncio.sleep(tracker.delay())
            try:
                dps = await self._lan.read(deadline=Deadline.after(self.lan_timeout))
            except FALLBACK_ERRORS as exc:
                tracker.failed(exc)
                continue
            except TuyaError as exc:  # answered, with an error: the route itself works
                _LOGGER.info("%s: LAN probe answered with %s", self._record.name, exc)
            else:
                self._merge(dps, "lan", emit=True)
                self._confirmed = True
            tracker.ok()
            self._set_online(True)
            _LOGGER.info("%s: LAN route is back", self._record.name)

    async def _confirm_lan(self) -> None:
        """Online once the device behind a new 3.1-3.3 connection answers a heartbeat, not at the TCP accept
        (something that accepts and never speaks -- a hung device, another service -- is not a device online)."""
        assert self._lan is not None
        try:
            answered = await self._lan.ping(deadline=Deadline.after(self.lan_timeout))
        except TuyaError as exc:
            _LOGGER.info("%s: connected, but no answer to a heartbeat: %s", self._record.name, exc)
            return
        if answered and not self._closed:
            next(t for r, t in self._routes if r is self._lan).ok()
            self._set_online(True)

    def _on_lan_event(self, event: Event) -> None:
        """Fold one event of the LAN connection into the cache and online state (runs in its reader)."""
        from tuyagate.lan.events import EventKind

        lan = self._lan
        assert lan is not None
        tracker = next(t for r, t in self._routes if r is lan)
        if event.kind is EventKind.STATUS:
            if lan.cid is not None and event.cid != lan.cid:
                return
            self._merge(event.dps, "lan", emit=True)
            tracker.ok()
            self._set_online(True)
        elif event.kind is EventKind.ONLINE and lan.cid is not None:
            if lan.cid in (event.online or []):
                self._set_online(True)
            elif lan.cid in (event.offline or []):
                self._set_online(False)
        elif event.kind is EventKind.CONNECTED:
            if lan.proven_on_connect:
                tracker.ok()
                self._set_online(True)
            elif not self._closed and (self._confirm is None or self._confirm.done()):
                self._confirm = asyncio.create_task(self._confirm_lan(), name=f"tuyagate-confirm-{self._record.id}")
        elif event.kind is EventKind.DISCONNECTED:
            if self._sleepy is not None:
                return  # asleep, which is not offline (see the online property)
            self._set_online(self._cloud_healthy())


_MISSING = object()


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
