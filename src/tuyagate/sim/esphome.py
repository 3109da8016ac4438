"""An emulated ESPHome device: its entities, their state JSON and the ``web_server`` actions.

The JSON follows ESPHome's ``web_server`` component: ``{"id": ..., "value": ..., "state": ...}`` per
entity, more fields with ``?detail=all`` (and in the first ``/events`` dump). Entity ids come in three
generations (``id_format``): ``current`` (2026.8.0+: ``id`` is ``domain/Name``, URLs use the name),
``transition`` (2026.1.3..2026.8.0: ``id`` is the legacy ``domain-object_id``, ``name_id`` the new form,
URLs take either) and ``legacy`` (before: only ``domain-object_id`` and object-id URLs).
esphome_app.py serves it over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from tuyagate.sim.http_server import Faults

__all__ = ["Entity", "EspHomeConfig", "EspHomeEmulator", "Faults", "default_entities", "object_id"]

IdFormat = Literal["current", "transition", "legacy"]


def object_id(name: str) -> str:
    """ESPHome's object id of a name: snake case, only ``[a-z0-9_-]``."""
    return re.sub(r"[^a-z0-9_-]", "_", name.strip().lower().replace(" ", "_"))


@dataclass(slots=True)
class Entity:
    """One entity and its state. ``value`` is the domain's natural state (see ``state_json``)."""

    domain: str  # switch, light, sensor, binary_sensor, text_sensor, cover, select, number, button
    name: str
    value: Any = None
    uom: str = ""
    accuracy: int = 1
    options: list[str] = field(default_factory=list)  # select
    min_value: float = 0.0  # number
    max_value: float = 100.0
    step: float = 1.0
    brightness: int = 255  # light
    rgb: tuple[int, int, int] = (255, 255, 255)
    color_temp: int = 300
    derived: str = ""  # sensors computed from the switches: "power", "current", "energy"

    def __post_init__(self) -> None:
        if self.value is None:
            defaults: dict[str, Any] = {
                "switch": False,
                "binary_sensor": False,
                "light": False,
                "sensor": 0.0,
                "text_sensor": "",
                "cover": 0.0,
                "number": self.min_value,
            }
            self.value = self.options[0] if self.domain == "select" and self.options else defaults.get(self.domain)

    @property
    def object_id(self) -> str:
        return object_id(self.name)


def default_entities() -> list[Entity]:
    """A plug with a relay, energy sensors and a colour light, plus one entity of each other domain."""
    return [
        Entity("switch", "Relay", False),
        Entity("light", "Light", False),
        Entity("sensor", "Power", 0.0, uom="W", derived="power"),
        Entity("sensor", "Voltage", 230.0, uom="V"),
        Entity("sensor", "Current", 0.0, uom="A", accuracy=3, derived="current"),
        Entity("sensor", "Energy", 0.0, uom="kWh", accuracy=3, derived="energy"),
        Entity("sensor", "Temperature", 21.5, uom="°C"),
        Entity("binary_sensor", "Button", False),
        Entity("cover", "Blind", 1.0),
        Entity("select", "Mode", "eco", options=["eco", "comfort", "boost"]),
        Entity("number", "Target", 20.0, uom="°C", min_value=5, max_value=30, step=0.5),
        Entity("button", "Restart"),
    ]


@dataclass(slots=True)
class EspHomeConfig:
    entities: list[Entity] = field(default_factory=default_entities)
    user: str = "admin"
    password: str | None = None
    id_format: IdFormat = "current"
    name: str = "esphome-sim"
    ping_interval: float = 10.0
    load_watts: float = 60.0  # drawn by each switch or light that is on


@dataclass(slots=True)
class EspHomeEmulator:
    """The entities and their behaviour; listeners get every state change as JSON."""

    config: EspHomeConfig = field(default_factory=EspHomeConfig)
    faults: Faults = field(default_factory=Faults)
    listeners: set[asyncio.Queue[dict[str, Any] | None]] = field(default_factory=set)
    started: float = field(default_factory=time.monotonic)
    _energy_at: float = field(default_factory=time.monotonic)

    @property
    def entities(self) -> list[Entity]:
        return self.config.entities

    def find(self, domain: str, key: str) -> Entity | None:
        """The entity a URL segment names: by name and/or object id, as the id format allows."""
        fmt = self.config.id_format
        for entity in self.entities:
            if entity.domain != domain:
                continue
            if fmt != "legacy" and key == entity.name:
                return entity
            if fmt != "current" and key == entity.object_id:
                return entity
        return None

    # -- JSON -----------------------------------------------------------------------------------

    def _ids(self, e: Entity) -> dict[str, str]:
        new, legacy = f"{e.domain}/{e.name}", f"{e.domain}-{e.object_id}"
        fmt = self.config.id_format
        if fmt == "current":
            return {"id": new}
        if fmt == "transition":
            return {"name_id": new, "id": legacy}
        return {"id": legacy}

    def state_json(self, e: Entity, *, detail: bool = False) -> dict[str, Any]:
        self._derive()
        doc: dict[str, Any] = self._ids(e)
        if detail:
            doc |= {"name": e.name, "icon": "", "entity_category": 0}
            if self.config.id_format != "legacy":
                doc["domain"] = e.domain
        d = e.domain
        if d in ("switch", "binary_sensor"):
            doc |= {"value": bool(e.value), "state": "ON" if e.value else "OFF"}
            if detail and d == "switch":
                doc["assumed_state"] = False
        elif d == "sensor":
            number = float(e.value)
            text = "NA" if math.isnan(number) else f"{number:.{e.accuracy}f}" + (f" {e.uom}" if e.uom else "")
            doc |= {"value": number, "state": text}
            if detail and e.uom:
                doc["uom"] = e.uom
        elif d == "text_sensor":
            doc |= {"value": str(e.value), "state": str(e.value)}
        elif d == "light":
            r, g, b = e.rgb
            doc |= {
                "color_mode": "rgbct",
                "state": "ON" if e.value else "OFF",
                "brightness": e.brightness,
                "color": {"r": r, "g": g, "b": b},
                "color_temp": e.color_temp,
            }
            if detail:
                doc["effects"] = ["None"]
        elif d == "cover":
            pos = float(e.value)
            doc |= {
                "value": pos,
                "state": "CLOSED" if pos <= 0 else "OPEN",
                "current_operation": "IDLE",
                "position": pos,
            }
        elif d == "select":
            doc |= {"value": e.value, "state": e.value}
            if detail:
                doc["option"] = list(e.options)
        elif d == "number":
            digits = max(0, -math.floor(math.log10(e.step))) if e.step < 1 else 0
            doc |= {"value": float(e.value), "state": f"{float(e.value):.{digits}f}" + (f" {e.uom}" if e.uom else "")}
            if detail:
                doc |= {
                    "min_value": f"{e.min_value:.{digits}f}",
                    "max_value": f"{e.max_value:.{digits}f}",
                    "step": f"{e.step:.{digits}f}",
                    "mode": 0,
                }
                if e.uom:
                    doc["uom"] = e.uom
        return doc

    def config_json(self) -> dict[str, Any]:
        return {
            "title": self.config.name,
            "comment": "",
            "ota": False,
            "log": True,
            "lang": "en",
            "uptime": int(time.monotonic() - self.started),
        }

    # -- behaviour ------------------------------------------------------------------------------

    def _watts(self) -> float:
        on = sum(1 for e in self.entities if e.domain in ("switch", "light") and e.value)
        return self.config.load_watts * on

    def _derive(self) -> None:
        now = time.monotonic()
        watts = self._watts()
        volts = next((float(e.value) for e in self.entities if e.domain == "sensor" and e.uom == "V"), 230.0)
        for e in self.entities:
            if e.derived == "power":
                e.value = watts
            elif e.derived == "current":
                e.value = round(watts / volts, 3) if volts else 0.0
            elif e.derived == "energy":
                e.value = float(e.value) + watts * (now - self._energy_at) / 3_600_000
        self._energy_at = now

    def act(self, e: Entity, action: str, params: dict[str, str]) -> int:
        """Run a POSTed action; the HTTP status the firmware answers (200, 404, 409)."""
        before = self._watts()
        status = self._act(e, action, params)
        if status == 200:
            self.changed(e)
            if self._watts() != before:
                for s in self.entities:
                    if s.derived:
                        self.changed(s)
        return status

    def _act(self, e: Entity, action: str, p: dict[str, str]) -> int:
        d = e.domain
        try:
            if d == "switch" and action in ("turn_on", "turn_off", "toggle"):
                self._derive()
                e.value = (not e.value) if action == "toggle" else action == "turn_on"
            elif d == "light" and action in ("turn_on", "turn_off", "toggle"):
                self._derive()
                if action == "toggle":
                    e.value = not e.value
                elif action == "turn_off":
                    e.value = False
                else:
                    e.value = True
                    if "brightness" in p:
                        e.brightness = max(0, min(255, round(float(p["brightness"]))))
                    if any(k in p for k in ("r", "g", "b")):
                        r, g, b = (
                            max(0, min(255, round(float(p.get(k, c))))) for k, c in zip("rgb", e.rgb, strict=True)
                        )
                        e.rgb = (r, g, b)
                    if "color_temp" in p:
                        e.color_temp = max(153, min(500, round(float(p["color_temp"]))))
            elif d == "cover" and action in ("open", "close", "stop", "toggle", "set"):
                if "tilt" in p:
                    return 409  # this cover does not tilt
                if action == "open" or (action == "toggle" and float(e.value) <= 0):
                    e.value = 1.0
                elif action in ("close", "toggle"):
                    e.value = 0.0
                elif action == "set" and "position" in p:
                    e.value = max(0.0, min(1.0, float(p["position"])))
            elif d == "select" and action == "set":
                if p.get("option") in e.options:
                    e.value = p["option"]
            elif d == "number" and action == "set":
                value = float(p.get("value", "nan"))
                if e.min_value <= value <= e.max_value:
                    e.value = value
            elif d == "button" and action == "press":
                pass
            else:
                return 404
        except ValueError:
            return 200  # the firmware ignores a parameter it cannot parse
        return 200

    def set_value(self, domain: str, name: str, value: Any) -> None:
        """Change an entity as if the device did it (a button press, a sensor reading): pushes an event."""
        for e in self.entities:
            if e.domain == domain and e.name == name:
                self._derive()
                e.value = value
                self.changed(e)
                return
        raise KeyError(f"{domain}/{name}")

    def changed(self, e: Entity) -> None:
        doc = self.state_json(e)
        for queue in list(self.listeners):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(doc)

    def close_streams(self) -> None:
        for queue in list(self.listeners):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
