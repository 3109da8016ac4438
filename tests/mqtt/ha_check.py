"""Check one discovery payload field by field against the table in :mod:`tests.mqtt.ha_schema`."""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tests.mqtt.ha_schema import (
    AVAILABILITY_ENTRY_KEYS,
    AVAILABILITY_MODES,
    CLIMATE_PRECISIONS,
    DEVICE_KEYS,
    ENTITY_CATEGORIES,
    HVAC_MODES,
    ORIGIN_KEYS,
    PLATFORMS,
    SENSOR_STATE_CLASSES,
    SENSOR_UNITS,
    STATE_CLASSES,
)

# Home Assistant's templates run in a sandbox like this one (its own environment adds filters on top).
JINJA = ImmutableSandboxedEnvironment()


def _topic_ok(topic: Any, *, publish: bool) -> bool:
    if not isinstance(topic, str) or not topic or "\x00" in topic:
        return False
    return not (publish and ("+" in topic or "#" in topic))


def problems(component: str, config: dict[str, Any]) -> list[str]:
    """Everything Home Assistant would reject, ignore or misread in this payload (empty = accepted)."""
    found: list[str] = []
    platform = PLATFORMS.get(component)
    if platform is None:
        return [f"unknown component {component!r}"]
    found += [f"missing required key {k!r}" for k in sorted(platform.required - set(config))]
    found += [f"key {k!r} is not in the {component} schema" for k in sorted(config) if not platform.accepts(k)]
    if not isinstance(config.get("unique_id"), str) or not config["unique_id"]:
        found.append("no unique_id")
    if "name" in config and config["name"] is not None and not isinstance(config["name"], str):
        found.append("name must be a string or null")
    device = config.get("device")
    if not isinstance(device, dict):
        found.append("no device block")
    else:
        found += [f"device key {k!r} is invalid" for k in sorted(set(device) - DEVICE_KEYS)]
        if not device.get("identifiers") and not device.get("connections"):
            found.append("device needs identifiers or connections")
        found += [
            f"device {k} must be a string" for k, v in device.items() if k != "identifiers" and not isinstance(v, str)
        ]
    origin = config.get("origin")
    if not isinstance(origin, dict) or not isinstance(origin.get("name"), str) or set(origin) - ORIGIN_KEYS:
        found.append(f"origin must be {{'name': ...}} with keys from {sorted(ORIGIN_KEYS)}")
    availability = config.get("availability")
    if availability is not None:
        if not isinstance(availability, list) or not all(
            isinstance(a, dict) and _topic_ok(a.get("topic"), publish=False) for a in availability
        ):
            found.append("availability must be a list of {'topic': ...}")
        elif any(set(a) - AVAILABILITY_ENTRY_KEYS for a in availability):
            found.append(f"availability entries take only {sorted(AVAILABILITY_ENTRY_KEYS)}")
        if config.get("availability_mode", "latest") not in AVAILABILITY_MODES:
            found.append("bad availability_mode")
    if config.get("entity_category") not in (None, *ENTITY_CATEGORIES):
        found.append(f"entity_category {config['entity_category']!r}")
    for key, value in config.items():
        if key.endswith("_topic") and not _topic_ok(value, publish="command" in key or key == "set_position_topic"):
            found.append(f"{key} is not a valid topic: {value!r}")
        if key in platform.templates or key == "value_template":
            try:
                JINJA.parse(value)
            except (TemplateSyntaxError, TypeError) as exc:
                found.append(f"{key} is not a valid template: {exc}")
    device_class = config.get("device_class")
    if device_class is not None and device_class not in platform.device_classes:
        found.append(f"device_class {device_class!r} is not a {component} class")
    found += _platform_rules(component, config, device_class)
    return found


def _platform_rules(component: str, config: dict[str, Any], device_class: str | None) -> list[str]:
    found: list[str] = []
    if component == "sensor":
        unit = config.get("unit_of_measurement")
        state_class = config.get("state_class")
        if state_class is not None and state_class not in STATE_CLASSES:
            found.append(f"state_class {state_class!r}")
        if device_class is not None:
            if unit not in SENSOR_UNITS.get(device_class, frozenset()):
                found.append(f"unit {unit!r} is not valid for device_class {device_class!r}")
            if state_class is not None and state_class not in SENSOR_STATE_CLASSES.get(device_class, frozenset()):
                found.append(f"state_class {state_class!r} is not valid for device_class {device_class!r}")
            if device_class == "enum" and (not config.get("options") or state_class is not None):
                found.append("an enum sensor needs options and no state_class")
    if component == "number":
        low, high, step = config.get("min", 1), config.get("max", 100), config.get("step", 1)
        if not (isinstance(step, (int, float)) and step > 0 and low < high):
            found.append(f"number range {low}..{high} step {step}")
        if device_class is not None and config.get("unit_of_measurement") not in SENSOR_UNITS.get(device_class, ()):
            found.append(f"unit {config.get('unit_of_measurement')!r} is not valid for number class {device_class!r}")
    if component == "select":
        options = config.get("options")
        if not isinstance(options, list) or not options or not all(isinstance(o, str) for o in options):
            found.append("select options must be a non-empty list of strings")
    if component == "climate":
        if config.get("precision", 0.1) not in CLIMATE_PRECISIONS:
            found.append(f"precision {config['precision']!r}")
        if config.get("temperature_unit", "C") not in ("C", "F"):
            found.append("temperature_unit must be C or F")
        if not set(config.get("modes", ["off"])) <= HVAC_MODES:
            found.append(f"modes {config.get('modes')!r}")
        if "none" in config.get("preset_modes", []):
            found.append("preset_modes must not include 'none'")
        if ("preset_modes" in config) != ("preset_mode_command_topic" in config):
            found.append("preset_modes and preset_mode_command_topic go together")
        if config.get("min_temp", 7) >= config.get("max_temp", 35):
            found.append("min_temp must be below max_temp")
    if component == "light":
        if config.get("schema", "basic") != "basic":
            found.append("tuyagate lights use the default (basic) schema")
        scale = config.get("brightness_scale", 255)
        if not isinstance(scale, int) or scale < 1:
            found.append("brightness_scale must be a positive integer")
        if config.get("min_mireds", 153) >= config.get("max_mireds", 500):
            found.append("min_mireds must be below max_mireds")
    if component == "cover" and config.get("position_open", 100) <= config.get("position_closed", 0):
        found.append("position_open must be above position_closed")
    if component == "fan":
        low, high = config.get("speed_range_min", 1), config.get("speed_range_max", 100)
        if not 1 <= low <= high:
            found.append(f"speed range {low}..{high}")
    return found
