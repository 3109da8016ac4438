"""An in-memory DeviceManager for gateway tests and benchmarks.

It implements the ``Device``/``DeviceManager`` interface of ``tuyagate.device_api`` the way the
router will: one lock per device stands for its one TCP connection (every uncached read and every
command goes through it, so concurrency can be checked), values are validated against the schema,
pushes update the cache and become events, and knobs make a device slow or vanish.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection, Mapping
from typing import Any

from tuyagate.bus import EventBus, Subscription
from tuyagate.device_api import CommandResult, Device, DeviceEvent, DeviceInfo, DeviceState, RouteHealth
from tuyagate.errors import NotFoundError, TuyaConnectionRefused, TuyaTimeoutError, ValidationError

CACHE_MAX_AGE = 30.0


def boolean(dp: int, code: str, mode: str = "rw") -> dict[str, Any]:
    return {"dp_id": dp, "code": code, "type": "Boolean", "values": {}, "mode": mode}


def integer(dp: int, code: str, lo: int, hi: int, *, scale: int = 0, step: int = 1, unit: str = "", mode: str = "rw"):
    values = {"min": lo, "max": hi, "scale": scale, "step": step, "unit": unit}
    return {"dp_id": dp, "code": code, "type": "Integer", "values": values, "mode": mode}


def enum(dp: int, code: str, options: list[str], mode: str = "rw") -> dict[str, Any]:
    return {"dp_id": dp, "code": code, "type": "Enum", "values": {"range": options}, "mode": mode}


def json_dp(dp: int, code: str, mode: str = "rw") -> dict[str, Any]:
    return {"dp_id": dp, "code": code, "type": "Json", "values": {}, "mode": mode}


class MemoryDevice:
    """One emulated device (no sockets): schema, state, events, and failure knobs."""

    def __init__(
        self,
        info: DeviceInfo,
        schema: list[dict[str, Any]],
        dps: dict[str, Any],
        *,
        delay: float = 0.0,
    ) -> None:
        self._info = info
        self._schema = schema
        self._by_code = {e["code"]: e for e in schema}
        self._by_dp = {str(e["dp_id"]): e for e in schema}
        self._dps = dict(dps)
        self._updated = time.time()
        self._cache_fresh = True
        self._online = True
        self.delay = delay
        # "timeout": calls hang until the deadline; "refused": calls fail at once.
        self.failure: str | None = None
        self.connection = asyncio.Lock()  # the one connection: a device answers one request at a time
        self.in_flight = 0
        self.max_in_flight = 0
        self.device_calls = 0
        self.commands: list[dict[str, Any]] = []
        self._listeners: set[asyncio.Queue[DeviceEvent | None]] = set()
        self._manager_sink: Any = None

    # -- the Device interface -------------------------------------------------------------------
    @property
    def info(self) -> DeviceInfo:
        return self._info

    @property
    def online(self) -> bool:
        return self._online

    def routes(self) -> list[RouteHealth]:
        healthy = self.failure is None
        error = None if healthy else f"lan: {self.failure}"
        return [RouteHealth(name="lan", healthy=healthy, last_ok=self._updated, last_error=error)]

    def schema_dict(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self._schema]

    def cached_state(self) -> DeviceState | None:
        return self._state("cache")

    async def status(self, *, refresh: bool = True, timeout: float | None = None, deadline: Any = None) -> DeviceState:
        if not refresh and self._cache_fresh and time.time() - self._updated < CACHE_MAX_AGE:
            return self._state("cache")
        await self._talk(timeout)
        self._cache_fresh = True
        return self._state("lan")

    async def set(
        self, values: Any = None, /, *, timeout: float | None = None, deadline: Any = None, **by_code: Any
    ) -> CommandResult:
        values = {**(values or {}), **by_code}
        dps = {dp: raw for dp, raw in (self._encode(key, value) for key, value in values.items())}
        await self._talk(timeout)
        self.commands.append(dps)
        self.push(dps)
        return CommandResult(device_id=self._info.id, dps=dps, route="lan")

    async def events(self) -> AsyncIterator[DeviceEvent]:
        queue: asyncio.Queue[DeviceEvent | None] = asyncio.Queue()
        self._listeners.add(queue)
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            self._listeners.discard(queue)

    def listen(self, callback: Any) -> Any:
        raise NotImplementedError

    async def close(self) -> None:
        for queue in self._listeners:
            queue.put_nowait(None)

    # -- knobs for tests ------------------------------------------------------------------------
    def push(self, dps: Mapping[str, Any]) -> None:
        """The device reports new values (as a STATUS push would)."""
        self._dps.update(dps)
        self._updated = time.time()
        self._emit(DeviceEvent(self._info.id, "state", dict(dps), self._values(dps), "lan", self._updated))

    def vanish(self, how: str = "timeout") -> None:
        self.failure = how
        self._cache_fresh = False
        self._online = False
        self._emit(DeviceEvent(self._info.id, "offline", route="lan", at=time.time()))

    def recover(self) -> None:
        self.failure = None
        self._online = True
        self._emit(DeviceEvent(self._info.id, "online", route="lan", at=time.time()))

    # -- internals ------------------------------------------------------------------------------
    def _emit(self, event: DeviceEvent) -> None:
        for queue in self._listeners:
            queue.put_nowait(event)
        if self._manager_sink is not None:
            self._manager_sink(event)

    async def _talk(self, timeout: float | None) -> None:
        limit = 5.0 if timeout is None else timeout
        try:
            async with asyncio.timeout(limit), self.connection:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    self.device_calls += 1
                    if self.failure == "refused":
                        raise TuyaConnectionRefused(f"device {self._info.id} refused the connection")
                    if self.failure == "timeout":
                        await asyncio.sleep(3600)
                    if self.delay:
                        await asyncio.sleep(self.delay)
                finally:
                    self.in_flight -= 1
        except TimeoutError:
            raise TuyaTimeoutError(f"device {self._info.id} did not answer within {limit} s") from None

    def _state(self, route: str) -> DeviceState:
        return DeviceState(self._info.id, dict(self._dps), self._values(self._dps), route, self._updated)

    def _values(self, dps: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for dp, raw in dps.items():
            entry = self._by_dp.get(dp)
            if entry is None:
                continue
            scale = int(entry["values"].get("scale", 0)) if entry["type"] == "Integer" else 0
            out[entry["code"]] = raw / 10**scale if scale else raw
        return out

    def _encode(self, key: str, value: Any) -> tuple[str, Any]:
        """(dp id, raw value) for a value keyed by code (converted) or DP id (raw); validates."""
        entry = self._by_code.get(key) or self._by_dp.get(key)
        if entry is None:
            raise NotFoundError(f"device {self._info.id} has no DP {key!r}")
        by_code = key in self._by_code
        code, kind, spec = entry["code"], entry["type"], entry["values"]
        if "w" not in entry["mode"]:
            raise ValidationError(f"{code} is read-only")
        if kind == "Boolean":
            if not isinstance(value, bool):
                raise ValidationError(f"{code} takes true or false, not {value!r}")
            raw: Any = value
        elif kind == "Integer":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValidationError(f"{code} takes a number, not {value!r}")
            scale = int(spec.get("scale", 0))
            raw = round(value * 10**scale) if by_code else value
            if not isinstance(raw, int) or not spec["min"] <= raw <= spec["max"]:
                lo, hi = spec["min"] / 10**scale, spec["max"] / 10**scale
                raise ValidationError(f"{code} must be between {lo:g} and {hi:g}, not {value!r}")
        elif kind == "Enum":
            if value not in spec["range"]:
                raise ValidationError(f"{code} must be one of {', '.join(spec['range'])}, not {value!r}")
            raw = value
        else:
            if not isinstance(value, str | dict):
                raise ValidationError(f"{code} takes a string or object, not {value!r}")
            raw = value
        return str(entry["dp_id"]), raw


class MemoryDeviceManager:
    """A DeviceManager over MemoryDevices, on the real event bus."""

    def __init__(self, devices: list[MemoryDevice]) -> None:
        self.devices = {d.info.id: d for d in devices}
        self._bus: EventBus[DeviceEvent] = EventBus(lost=DeviceEvent.lost, maxsize=1024)
        for device in devices:
            device._manager_sink = self._bus.publish
        self.started = False

    def list(self) -> list[Device]:
        return list(self.devices.values())

    def get(self, id_or_name: str) -> MemoryDevice:
        device = self.devices.get(id_or_name)
        if device is None:
            device = next((d for d in self.devices.values() if d.info.name == id_or_name), None)
        if device is None:
            raise NotFoundError(f"no device with id or name {id_or_name!r}")
        return device

    def events(
        self, *, devices: Collection[str] | None = None, maxsize: int | None = None
    ) -> Subscription[DeviceEvent]:
        wanted = frozenset(devices) if devices is not None else None
        accept = None if wanted is None else (lambda e: e.device_id in wanted or e.kind == "lost")
        return self._bus.subscribe(accept=accept, maxsize=maxsize)

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.started = False
        self._bus.close()
        for device in self.devices.values():
            await device.close()


PLUG_ID = "bf00000000000000plug"
STRIP_ID = "bf0000000000000strip"
BULB_ID = "bf00000000000000bulb"


def make_fleet(extra: int = 0) -> MemoryDeviceManager:
    """Three typical devices (a metering plug, a 3-gang strip, an RGBCW bulb) plus ``extra`` plugs."""
    plug_schema = [
        boolean(1, "switch_1"),
        integer(9, "countdown_1", 0, 86400, unit="s"),
        integer(19, "cur_power", 0, 99999, scale=1, unit="W", mode="ro"),
        integer(20, "cur_voltage", 0, 5000, scale=1, unit="V", mode="ro"),
    ]
    strip_schema = [boolean(1, "switch_1"), boolean(2, "switch_2"), boolean(3, "switch_3")]
    bulb_schema = [
        boolean(20, "switch_led"),
        enum(21, "work_mode", ["white", "colour", "scene", "music"]),
        integer(22, "bright_value_v2", 10, 1000),
        integer(23, "temp_value_v2", 0, 1000),
        json_dp(24, "colour_data_v2"),
    ]
    devices = [
        MemoryDevice(
            DeviceInfo(PLUG_ID, "plug", "tuya-lan", "cz", "Smart Plug", "3.3", "127.0.0.11", 6668),
            plug_schema,
            {"1": True, "9": 0, "19": 123, "20": 2301},
        ),
        MemoryDevice(
            DeviceInfo(STRIP_ID, "strip", "tuya-lan", "pc", "Power Strip", "3.4", "127.0.0.12", 6668),
            strip_schema,
            {"1": False, "2": True, "3": False},
        ),
        MemoryDevice(
            DeviceInfo(BULB_ID, "bulb", "tuya-lan", "dj", "RGBCW Bulb", "3.5", "127.0.0.13", 6668),
            bulb_schema,
            {"20": True, "21": "white", "22": 1000, "23": 500, "24": '{"h":0,"s":1000,"v":1000}'},
        ),
    ]
    for i in range(extra):
        devices.append(
            MemoryDevice(
                DeviceInfo(f"bf{i:018d}", f"plug-{i}", "tuya-lan", "cz", "Smart Plug", "3.3", None, None),
                plug_schema,
                {"1": False, "9": 0, "19": 0, "20": 2300},
            )
        )
    return MemoryDeviceManager(devices)
