"""What every Home Assistant entity of a device shares: its device block, origin, availability and ids.

One Home Assistant device per Tuya device (identifiers ``tuyagate_<device_id>``; a sub-device names its
gateway in ``via_device``). Every entity is available only while both the device and the bridge say
``online`` (``availability_mode: all``), so a gateway that dies greys out all its devices through its
last will. Unique ids are ``tuyagate_<device_id>_<key>``: stable across restarts, node ids and
hosts, and unique because device ids are.

Values reach Home Assistant through the one retained state topic of a device and a template per
entity; commands go to the one set topic as the same JSON a person would send (``{"switch_1": true}``),
so Home Assistant's commands are validated by the same code as every other command. Templates use
only plain Jinja, which Home Assistant's template engine is a superset of.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tuyagate import __version__
from tuyagate.mqtt.discovery.view import DeviceView
from tuyagate.mqtt.topics import Topics, object_id

__all__ = ["ORIGIN", "Context", "Entity", "command", "value"]

ORIGIN: dict[str, str] = {"name": "tuyagate", "sw_version": __version__}
_MANUFACTURERS = {"tuya-lan": "Tuya", "tuya-cloud": "Tuya", "tasmota": "Tasmota", "esphome": "ESPHome"}
_MANUFACTURERS["openbeken"] = "OpenBeken"


@dataclass(frozen=True, slots=True)
class Entity:
    """One discovery entry: ``<discovery_prefix>/<component>/<node_id>/<object_id>/config`` -> ``config``."""

    component: str
    object_id: str
    config: dict[str, Any]
    codes: frozenset[str] = field(default_factory=frozenset)  # the DPs it reads or writes


def value(code: str) -> str:
    """The Jinja expression of a DP's value in the state JSON."""
    return f"value_json[{json.dumps(code)}]"


def command(pairs: dict[str, str]) -> str:
    """A JSON command whose values are Jinja expressions: ``{"bright_value_v2": {{ value }}}``."""
    inner = ", ".join(f"{json.dumps(code)}: {expr}" for code, expr in pairs.items())
    return "{" + inner + "}"


def literal(values: dict[str, Any]) -> str:
    """A fixed JSON command (``payload_on`` and the like)."""
    return json.dumps(values, separators=(",", ":"))


class Context:
    """Builds the shared part of each entity of one device."""

    def __init__(self, topics: Topics, view: DeviceView, *, link_topic: str | None = None) -> None:
        self.topics = topics
        self.view = view
        info = view.info
        self.state_topic = topics.state(info.id)
        self.command_topic = topics.set(info.id)
        self.device = self._device_block()
        self.availability: list[dict[str, str]] = [
            {"topic": topics.bridge_availability},
            {"topic": topics.availability(info.id)},
        ]
        if link_topic:  # a bridged site broker's link to this broker (Mosquitto notifications say 1 or 0)
            self.availability.append({"topic": link_topic, "payload_available": "1", "payload_not_available": "0"})

    def _device_block(self) -> dict[str, Any]:
        info = self.view.info
        block: dict[str, Any] = {
            "identifiers": [f"tuyagate_{info.id}"],
            "name": info.name or info.id,
            "manufacturer": _MANUFACTURERS.get(info.backend, "Tuya"),
            "model": info.product_name or (f"Tuya category {info.category}" if info.category else info.backend),
        }
        if info.version:
            tuya = info.backend.startswith("tuya")
            block["sw_version"] = f"Tuya protocol {info.version}" if tuya else info.version
        if info.parent_id:
            block["via_device"] = f"tuyagate_{info.parent_id}"
        return block

    def entity(self, component: str, key: str, name: str | None, codes: frozenset[str], **config: Any) -> Entity:
        """An entity with the shared keys; ``name`` None makes it the device's main entity (named after it)."""
        info = self.view.info
        full: dict[str, Any] = {
            "name": name,
            "unique_id": f"tuyagate_{info.id}_{key}",
            "device": self.device,
            "origin": ORIGIN,
            "availability": self.availability,
            "availability_mode": "all",
            "qos": 1,
        }
        full.update(config)
        return Entity(component, object_id(info.id, key), full, codes)
