"""Which Home Assistant entities a device becomes: the richer platforms first, then one entity per DP left.

A light, cover, climate or fan *claims* the DPs it uses (a light takes ``switch_led``, brightness,
colour temperature, colour and ``work_mode``); every DP nobody claimed becomes a sensor or binary
sensor when read-only, or a switch, number, select or button when writable. Each device also gets a
diagnostic "Route" sensor (the route that last served it), so that every device, even a Zigbee gateway
without DPs of its own, exists in Home Assistant for its sub-devices' ``via_device``.
"""

from __future__ import annotations

from tuyagate.mqtt.discovery.climate import climate_entity
from tuyagate.mqtt.discovery.controls import control_entities
from tuyagate.mqtt.discovery.cover import cover_entity
from tuyagate.mqtt.discovery.entity import Context, Entity
from tuyagate.mqtt.discovery.fan import fan_entity
from tuyagate.mqtt.discovery.light import light_dps, light_entity
from tuyagate.mqtt.discovery.sensors import binary_sensor_entities, route_entity, sensor_entities
from tuyagate.mqtt.discovery.view import DeviceView
from tuyagate.mqtt.topics import Topics

__all__ = ["entities_for"]

_MAIN_SWITCH_CATEGORIES = frozenset({"cz", "pc", "kg", "tdq"})


def entities_for(view: DeviceView, topics: Topics, *, link_topic: str | None = None) -> list[Entity]:
    """Every discovery entry of one device."""
    ctx = Context(topics, view, link_topic=link_topic)
    entities: list[Entity] = []
    claimed: set[str] = set()
    light = light_dps(view)
    if light is not None:
        entities.append(light_entity(ctx, light))
    for build in (cover_entity, climate_entity, fan_entity):
        found = build(ctx, view)
        if found is not None:
            entities.append(found)
    for entity in entities:
        claimed |= entity.codes
    rest = [dp for dp in view if dp.code not in claimed]
    entities += binary_sensor_entities(ctx, rest)
    entities += sensor_entities(ctx, [dp for dp in rest if dp.code not in _codes(entities)])
    entities += control_entities(ctx, [dp for dp in rest if dp.code not in _codes(entities)], main=_main(view, claimed))
    entities.append(route_entity(ctx))
    return entities


def _codes(entities: list[Entity]) -> set[str]:
    return {code for entity in entities for code in entity.codes}


def _main(view: DeviceView, claimed: set[str]) -> str | None:
    """The one switch that *is* the device (a single-outlet plug), named after the device itself."""
    if claimed or view.info.category not in _MAIN_SWITCH_CATEGORIES:
        return None
    switches = [dp for dp in view if dp.kind == "bool" and dp.writable and dp.code.startswith("switch")]
    return switches[0].code if len(switches) == 1 else None
