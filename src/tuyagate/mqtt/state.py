"""What the state topics say, and how often: a per-device value cache and a coalescer for bursts.

A device's state topic carries one retained JSON object: its values by code (scaled, as the HTTP API
gives them), ``"online"``, the ``"route"`` that last served it and, for a sub-device, its
``"gateway"``. The cache folds each bus event's changed values into the device's last known values,
so a message is built from memory without asking the device; after a ``lost`` marker (the bridge
fell behind the bus) it re-reads every device's cached state, so nothing published is stale.

The :class:`Coalescer` keeps bursts off the broker: the first change of a quiet device goes out at
once, further changes within ``interval`` are folded into one message sent when it ends. Because the
message is built when it is sent, the last value always goes out.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tuyagate.device_api import Device, DeviceEvent
from tuyagate.schema.colour import decode_colour

__all__ = ["Coalescer", "StateCache"]

# One encoder for every state message (json.dumps with options builds a new one per call).
_ENCODE = json.JSONEncoder(separators=(",", ":"), default=str, allow_nan=False).encode


class StateCache:
    """The last known values of each device, and the state payload built from them."""

    def __init__(self, devices: Iterable[Device], colour_codes: Mapping[str, frozenset[str]] | None = None) -> None:
        self._devices = {d.info.id: d for d in devices}
        self._colours = dict(colour_codes or {})
        self._values: dict[str, dict[str, Any]] = {}
        self._routes: dict[str, str | None] = {}
        self.reload()

    def add(self, device: Device) -> None:
        """Follow one more device (added to the home while it runs), starting from its cached state."""
        self._devices[device.info.id] = device
        self.reload([device.info.id])

    def forget(self, device_id: str) -> None:
        """Stop following a device (removed from the home)."""
        for table in (self._devices, self._colours, self._values, self._routes):
            table.pop(device_id, None)

    def set_colour_codes(self, device_id: str, codes: frozenset[str]) -> None:
        """Colour DPs are always shown as ``{"h", "s", "v"}``, whatever form the device reported."""
        self._colours[device_id] = codes
        values = self._values.get(device_id)
        if values:
            self._normalise(device_id, values)

    def reload(self, device_ids: Iterable[str] | None = None) -> None:
        """Re-read the devices' cached states (all of them by default)."""
        for device_id in self._devices if device_ids is None else device_ids:
            device = self._devices.get(device_id)
            state = device.cached_state() if device is not None else None
            values = dict(state.values) if state is not None else {}
            self._normalise(device_id, values)
            self._values[device_id] = values
            self._routes[device_id] = state.route if state is not None else None

    def fold(self, event: DeviceEvent) -> bool:
        """Fold a state event in; True when it carried a code not seen before (the schema may have grown)."""
        values = self._values.setdefault(event.device_id, {})
        new = any(code not in values for code in event.values)
        changed = dict(event.values)
        self._normalise(event.device_id, changed)
        values.update(changed)
        if event.route is not None:
            self._routes[event.device_id] = event.route
        return new

    def values(self, device_id: str) -> dict[str, Any]:
        return self._values.get(device_id, {})

    def payload(self, device_id: str) -> bytes:
        device = self._devices.get(device_id)
        body = dict(self._values.get(device_id, {}))
        body["online"] = bool(device.online) if device is not None else False
        body["route"] = self._routes.get(device_id)
        if device is not None and device.info.parent_id:
            body["gateway"] = device.info.parent_id
        return _ENCODE(body).encode()

    def _normalise(self, device_id: str, values: dict[str, Any]) -> None:
        for code in self._colours.get(device_id, ()):
            if code in values:
                decoded = decode_colour(values[code])
                if decoded is not None:
                    values[code] = decoded
        for code, value in values.items():
            if isinstance(value, float) and not math.isfinite(value):
                values[code] = None  # JSON has no NaN; a broken reading must not stop the message


class Coalescer:
    """At most one flush per key per ``interval`` seconds; a key touched meanwhile is flushed once at its end."""

    def __init__(self, interval: float, flush: Callable[[str], None]) -> None:
        self.interval = interval
        self._flush = flush
        self._last: dict[str, float] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._loop = asyncio.get_running_loop()

    def touch(self, key: str) -> None:
        if key in self._timers:
            return  # already due at the end of its interval, with whatever is newest then
        now = self._loop.time()
        due = self._last.get(key, -math.inf) + self.interval
        if now >= due:
            self._last[key] = now
            self._flush(key)
        else:
            self._timers[key] = self._loop.call_at(due, self._fire, key)

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self._last[key] = self._loop.time()
        self._flush(key)

    def forget(self, key: str) -> None:
        """Drop ``key``'s pending flush and its last time (its device was removed)."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._last.pop(key, None)

    def pending(self) -> int:
        return len(self._timers)

    def cancel(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
