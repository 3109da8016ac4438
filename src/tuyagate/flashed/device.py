"""Reflashed devices as :class:`tuyagate.device_api.Device`: one adapter over any firmware client.

:class:`FlashedDevice` gives a Tasmota, OpenBeken or ESPHome client (``backend.py``) what every front end
expects of a device: a schema (learned from the device on first contact), validation before sending,
a cache, route health, and events. Events come from the firmware's push channel when it has one
(ESPHome's ``/events``) and otherwise from polling every ``poll_interval`` seconds; either way only
changes are emitted, plus ``offline``/``online`` when the device stops or starts answering. The watcher
runs only while someone iterates :meth:`FlashedDevice.events`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from tuyagate.bus import EventBus, Subscription
from tuyagate.deadline import Deadline
from tuyagate.device_api import CommandResult, DeviceEvent, DeviceInfo, DeviceState, RouteHealth, command_values
from tuyagate.errors import (
    ConfigError,
    NotFoundError,
    TuyaConnectionError,
    TuyaError,
    TuyaTimeoutError,
    UnknownDpError,
    ValidationError,
)
from tuyagate.flashed.backend import Description, FlashedBackend
from tuyagate.flashed.http_base import HttpOptions
from tuyagate.schema import DpMode, DpSchema
from tuyagate.schema.quote import json_quote

__all__ = ["BACKENDS", "FlashedDevice", "esphome_device", "make_device", "openbeken_device", "tasmota_device"]

_LOG = logging.getLogger(__name__)


class FlashedDevice:
    """A reflashed device behind the common Device interface."""

    def __init__(
        self,
        backend: FlashedBackend,
        *,
        device_id: str | None = None,
        name: str | None = None,
        category: str = "",
        poll_interval: float = 5.0,
        cache_ttl: float = 1.0,
        queue_size: int = 256,
        timeout: float = 5.0,
    ) -> None:
        self.backend = backend
        self.timeout = timeout  # default deadline of one request, waiting for the device's turn included
        self.poll_interval = poll_interval
        self.cache_ttl = cache_ttl
        host, port = backend.transport.host, backend.transport.port
        self._id = device_id or f"{backend.kind}-{host}-{port}"
        self._name = name
        self._category = category
        self._queue_size = queue_size
        self._description: Description | None = None
        self._schema = DpSchema()
        self._values: dict[str, Any] | None = None
        self._updated_at = 0.0
        self._online = False
        self._last_ok: float | None = None
        self._last_error: str | None = None
        self._failures = 0
        # The watcher runs while anyone follows the device's events (a subscription or a listener).
        self._bus: EventBus[DeviceEvent] = EventBus(
            lost=lambda n: DeviceEvent.lost(n, self._id), maxsize=queue_size, on_change=self._followers_changed
        )
        self._watcher: asyncio.Task[None] | None = None
        self._watching = asyncio.Event()  # set once the watcher has seen the device (first poll or push)
        # One request at a time per device: the firmware's web server is single-threaded (the event
        # stream has its own connection and is not counted).
        self._io = asyncio.Lock()
        self._read_started = float("-inf")  # when the last completed read began (monotonic)
        self._closed = False

    # -- Device: identity and health ------------------------------------------------------------

    @property
    def info(self) -> DeviceInfo:
        desc = self._description
        return DeviceInfo(
            id=self._id,
            name=self._name or (desc.name if desc and desc.name else self._id),
            backend=self.backend.kind,
            category=self._category,
            product_name=desc.product if desc else "",
            version=desc.firmware if desc else None,
            ip=self.backend.transport.host,
            port=self.backend.transport.port,
        )

    @property
    def online(self) -> bool:
        return self._online

    def routes(self) -> list[RouteHealth]:
        return [
            RouteHealth(
                name=self.backend.kind,
                healthy=self._online,
                last_ok=self._last_ok,
                last_error=self._last_error,
                failures=self._failures,
                next_retry=None,
            )
        ]

    @property
    def schema(self) -> DpSchema:
        """The synthetic schema learnt from the firmware on first contact (empty before it)."""
        return self._schema

    def schema_dict(self) -> list[dict[str, Any]]:
        return self._schema.describe()

    def cached_state(self) -> DeviceState | None:
        if self._values is None:
            return None
        return self._state("cache")

    def fresh_state(self) -> DeviceState | None:
        if self._closed or self._values is None or time.time() - self._updated_at >= self.cache_ttl:
            return None
        return self._state("cache")

    # -- Device: reading and writing ------------------------------------------------------------

    async def describe(self, *, timeout: float | None = None) -> Description:
        """Ask the device what it has (done once, on first use); the schema follows from it."""
        async with self._io:
            return await self._describe_locked(timeout)

    async def _describe_locked(self, timeout: float | None) -> Description:
        if self._description is None:
            desc = await self._call(self.backend.describe(timeout=timeout))
            self._schema = desc.schema
            self._description = desc
            self._apply(desc.state)
            self._read_started = time.monotonic()
        return self._description

    def _check_open(self) -> None:
        if self._closed:
            raise NotFoundError(f"{self._id} is closed (removed from its home)")

    async def status(
        self, *, refresh: bool = True, timeout: float | None = None, deadline: Deadline | None = None
    ) -> DeviceState:
        """Read the device; callers that ask while a read is queued share the next one."""
        self._check_open()
        if not refresh and (fresh := self.fresh_state()) is not None:
            return fresh
        own = Deadline.resolve(deadline, timeout, self.timeout)
        asked = time.monotonic()
        async with self._turn(own):
            if self._description is None:
                await self._describe_locked(own.remaining())
            elif self._read_started < asked:  # no read began since we asked: do one
                started = time.monotonic()
                self._apply(await self._call(self.backend.status(timeout=own.remaining())))
                self._read_started = started
        return self._state(self.backend.kind)

    @contextlib.asynccontextmanager
    async def _turn(self, deadline: Deadline) -> AsyncIterator[None]:
        """The device's one request slot, held at most until ``deadline`` (waiting for it included)."""
        try:
            async with deadline.timeout(), self._io:
                yield
        except TuyaTimeoutError:
            raise
        except TimeoutError:
            raise TuyaTimeoutError(f"{self.info.name} did not answer before the deadline") from None

    async def set(
        self,
        values: Mapping[str, Any] | None = None,
        /,
        *,
        timeout: float | None = None,
        deadline: Deadline | None = None,
        **by_code: Any,
    ) -> CommandResult:
        """Validate like every device (codes or DP ids, user values), then send by code to the firmware."""
        values = command_values(values, by_code)
        self._check_open()
        if not values:
            raise ValidationError("no values to set")
        own = Deadline.resolve(deadline, timeout, self.timeout)
        async with self._turn(own):
            await self._describe_locked(own.remaining())
            if not self._schema.validates:  # the firmware client can set only the values it described
                key = str(next(iter(values)))
                raise UnknownDpError(f"no data point {json_quote(key)} on {self._id}: it shows no values", key=key)
            dps = self._schema.encode(values)  # UnknownDpError / ValidationError before anything is sent
            resolved = self._schema.decode(dps)  # the firmware clients take user values by code
            confirmed = await self._call(self.backend.set(resolved, timeout=own.remaining()))
            writes = {c: v for c, v in resolved.items() if self._schema.dp(c).mode is DpMode.RW}
            self._apply(writes | confirmed)
        return CommandResult(device_id=self._id, dps=dps, route=self.backend.kind)

    async def _call(self, coro: Any) -> Any:
        """Await a backend call, keeping route health and online/offline events up to date."""
        try:
            result = await coro
        except (TuyaConnectionError, TuyaTimeoutError) as exc:
            if self._closed:  # closed under the request (removed from its home)
                raise NotFoundError(f"{self._id} is closed (removed from its home)") from None
            self._failed(exc)
            raise
        except TuyaError as exc:
            self._last_error = str(exc).splitlines()[0][:200]
            raise
        self._succeeded()
        return result

    def _succeeded(self) -> None:
        self._last_ok = time.time()
        self._failures = 0
        if not self._online:
            self._online = True
            if self._last_error is not None or self._values is not None:
                self._publish(DeviceEvent(self._id, "online", route=self.backend.kind, at=time.time()))

    def _failed(self, exc: BaseException) -> None:
        self._failures += 1
        self._last_error = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        if self._online:
            self._online = False
            self._publish(DeviceEvent(self._id, "offline", route=self.backend.kind, at=time.time()))

    def _apply(self, values: Mapping[str, Any]) -> None:
        """Merge new values into the cache; publish the ones that changed (none on the first read)."""
        known = {c: v for c, v in values.items() if c in self._schema}
        first = self._values is None
        current = self._values or {}
        changed = {c: v for c, v in known.items() if current.get(c) != v}
        self._values = current | known
        self._updated_at = time.time()
        if changed and not first:
            self._publish(
                DeviceEvent(
                    self._id,
                    "state",
                    dps=self._schema.dps_of(changed),
                    values=changed,
                    route=self.backend.kind,
                    at=self._updated_at,
                )
            )

    def _state(self, route: str) -> DeviceState:
        values = dict(self._values or {})
        return DeviceState(self._id, self._schema.dps_of(values), values, route, self._updated_at)

    # -- Device: events -------------------------------------------------------------------------

    def events(self) -> Subscription[DeviceEvent]:
        sub = self._bus.subscribe()
        if self._closed:
            sub.close()
        return sub

    def listen(self, callback: Callable[[DeviceEvent], None]) -> Callable[[], None]:
        return self._bus.listen(callback)

    def _followers_changed(self) -> None:
        if len(self._bus) and not self._closed:
            if self._watcher is None or self._watcher.done():
                self._watcher = asyncio.create_task(self._watch(), name=f"tuyagate-watch-{self._id}")
        elif not len(self._bus) and self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
            self._watching.clear()

    async def wait_watching(self, timeout: float = 5.0) -> None:
        """Wait until the events watcher has its first poll or push in (tests use it before acting)."""
        async with asyncio.timeout(timeout):
            await self._watching.wait()

    def _publish(self, event: DeviceEvent) -> None:
        self._bus.publish(event)  # a slow subscriber loses its oldest events, then reads a lost marker

    async def _watch(self) -> None:
        """Follow the device while anyone listens: its push stream if it has one, else polling."""
        delay = min(self.poll_interval, 0.5)
        while True:
            streaming = False
            try:
                if self._description is None:
                    await self.describe()
                stream = self.backend.watch()
                if stream is None:
                    await self.status()
                    self._watching.set()
                    await asyncio.sleep(self.poll_interval)
                    continue
                streaming = True
                try:
                    async for values in stream:
                        self._succeeded()
                        self._apply(values)
                        self._watching.set()
                        delay = min(self.poll_interval, 0.5)
                finally:
                    with contextlib.suppress(Exception):
                        await stream.aclose()  # type: ignore[attr-defined]
                raise TuyaConnectionError(f"{self.backend.transport.where} closed its event stream")
            except TuyaError as exc:
                if streaming and isinstance(exc, TuyaConnectionError | TuyaTimeoutError):
                    self._failed(exc)  # polling failures are recorded by status() itself
                _LOG.debug("watching %s: %s", self._id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max(self.poll_interval, 0.5))

    async def close(self) -> None:
        self._closed = True
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
        self._bus.close()
        await self.backend.close()


def tasmota_device(
    url: str,
    *,
    user: str | None = "admin",
    password: str | None = None,
    options: HttpOptions | None = None,
    **kwargs: Any,
) -> FlashedDevice:
    """A Tasmota device at ``url`` as a Device (``kwargs``: device_id, name, poll_interval, ...)."""
    from tuyagate.flashed.tasmota import TasmotaClient

    return FlashedDevice(TasmotaClient(url, user=user, password=password, options=options), **kwargs)


def openbeken_device(
    url: str, *, password: str | None = None, options: HttpOptions | None = None, **kwargs: Any
) -> FlashedDevice:
    """An OpenBeken device at ``url`` as a Device."""
    from tuyagate.flashed.openbeken import OpenBekenClient

    return FlashedDevice(OpenBekenClient(url, password=password, options=options), **kwargs)


def esphome_device(
    url: str,
    *,
    user: str | None = None,
    password: str | None = None,
    options: HttpOptions | None = None,
    entities: list[str] | None = None,
    discovery_quiet: float = 0.5,
    idle_timeout: float = 35.0,
    **kwargs: Any,
) -> FlashedDevice:
    """An ESPHome device (``web_server`` component) at ``url`` as a Device.

    ``entities`` (``["switch/Relay", "sensor/Power"]``) skips discovery over ``/events``; otherwise the
    entity list is the first event dump, which ends after ``discovery_quiet`` seconds without news. An
    event stream silent for ``idle_timeout`` seconds (ESPHome pings every 10 s) counts as a lost device.
    """
    from tuyagate.flashed.esphome import EspHomeClient

    client = EspHomeClient(
        url,
        user=user,
        password=password,
        options=options,
        entities=entities,
        discovery_quiet=discovery_quiet,
        idle_timeout=idle_timeout,
    )
    return FlashedDevice(client, **kwargs)


BACKENDS = ("tasmota", "openbeken", "esphome")


def make_device(
    backend: str, url: str, *, user: str | None = None, password: str | None = None, **kwargs: Any
) -> FlashedDevice:
    """The one factory the registry needs: a flashed device of ``backend`` ("tasmota", "openbeken", "esphome").

    ``kwargs`` go to the backend's function above (options, entities) and to FlashedDevice (device_id, name,
    category, poll_interval, cache_ttl).
    """
    if backend == "tasmota":
        return tasmota_device(url, user=user or "admin", password=password, **kwargs)
    if backend == "openbeken":
        return openbeken_device(url, password=password, **kwargs)
    if backend == "esphome":
        return esphome_device(url, user=user, password=password, **kwargs)
    raise ConfigError(f"unknown flashed backend {backend!r} (expected one of {', '.join(BACKENDS)})")
