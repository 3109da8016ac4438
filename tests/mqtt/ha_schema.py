"""Home Assistant's MQTT discovery schema, written down as a table the discovery tests check against.

Facts from Home Assistant's MQTT integration (``homeassistant/components/mqtt/*.py``: each platform's
``DISCOVERY_SCHEMA``; ``schemas.py``: the device and origin blocks) and its entity constants
(``components/sensor/const.py``: ``DEVICE_CLASS_UNITS`` and ``DEVICE_CLASS_STATE_CLASSES``; the device
classes of binary_sensor, cover, switch, button and number), as documented on home-assistant.io
(MQTT discovery, and the page of each MQTT platform). Only keys valid from Home Assistant 2023.8 on
(entity ``name`` may be null) to today are listed, so a payload that passes runs on every release in
that range. Home Assistant drops unknown top-level keys silently, which is exactly why the test
rejects them: a misspelt key would fail without a word.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "COMMON_KEYS",
    "DEVICE_KEYS",
    "HVAC_MODES",
    "ORIGIN_KEYS",
    "PLATFORMS",
    "SENSOR_STATE_CLASSES",
    "SENSOR_UNITS",
    "Platform",
]

# MQTT_ENTITY_COMMON_SCHEMA + MQTT_AVAILABILITY_SCHEMA: keys every platform accepts.
COMMON_KEYS = frozenset(
    {
        "availability",
        "availability_mode",
        "availability_template",
        "availability_topic",
        "payload_available",
        "payload_not_available",
        "device",
        "enabled_by_default",
        "encoding",
        "entity_category",
        "entity_picture",
        "icon",
        "json_attributes_template",
        "json_attributes_topic",
        "name",
        "object_id",
        "unique_id",
        "qos",
        "origin",
    }
)
# MQTT_ENTITY_DEVICE_INFO_SCHEMA: Home Assistant rejects any other key inside ``device``.
DEVICE_KEYS = frozenset(
    {
        "identifiers",
        "connections",
        "manufacturer",
        "model",
        "name",
        "hw_version",
        "serial_number",
        "sw_version",
        "via_device",
        "suggested_area",
        "configuration_url",
    }
)
ORIGIN_KEYS = frozenset({"name", "sw_version", "support_url"})  # name required
AVAILABILITY_MODES = frozenset({"all", "any", "latest"})
AVAILABILITY_ENTRY_KEYS = frozenset({"topic", "payload_available", "payload_not_available", "value_template"})
ENTITY_CATEGORIES = frozenset({"config", "diagnostic"})
HVAC_MODES = frozenset({"auto", "off", "cool", "heat", "dry", "fan_only", "heat_cool"})
CLIMATE_PRECISIONS = frozenset({0.1, 0.5, 1.0})
_RO = frozenset({"state_topic", "value_template"})
_RW = _RO | {"command_topic", "retain", "optimistic"}

# sensor/const.py DEVICE_CLASS_UNITS (the classes tuyagate can emit, with every unit valid for them).
SENSOR_UNITS: dict[str, frozenset[str | None]] = {
    "apparent_power": frozenset({"VA"}),
    "battery": frozenset({"%"}),
    "carbon_dioxide": frozenset({"ppm"}),
    "carbon_monoxide": frozenset({"ppm"}),
    "current": frozenset({"A", "mA"}),
    "duration": frozenset({"d", "h", "min", "s", "ms"}),
    "energy": frozenset({"Wh", "kWh", "MWh", "GWh", "TWh", "MJ", "GJ"}),
    "enum": frozenset({None}),
    "frequency": frozenset({"Hz", "kHz", "MHz", "GHz"}),
    "humidity": frozenset({"%"}),
    "illuminance": frozenset({"lx"}),
    "moisture": frozenset({"%"}),
    "pm25": frozenset({"µg/m³"}),
    "power": frozenset({"W", "kW", "MW", "GW", "TW"}),
    "power_factor": frozenset({"%", None}),
    "pressure": frozenset({"Pa", "hPa", "kPa", "bar", "cbar", "mbar", "mmHg", "inHg", "psi"}),
    "signal_strength": frozenset({"dB", "dBm"}),
    "temperature": frozenset({"°C", "°F", "K"}),
    "voltage": frozenset({"V", "mV"}),
}
# sensor/const.py DEVICE_CLASS_STATE_CLASSES for those classes.
SENSOR_STATE_CLASSES: dict[str, frozenset[str]] = {
    "apparent_power": frozenset({"measurement"}),
    "battery": frozenset({"measurement"}),
    "carbon_dioxide": frozenset({"measurement"}),
    "carbon_monoxide": frozenset({"measurement"}),
    "current": frozenset({"measurement"}),
    "duration": frozenset({"measurement", "total", "total_increasing"}),
    "energy": frozenset({"total", "total_increasing"}),
    "enum": frozenset(),
    "frequency": frozenset({"measurement"}),
    "humidity": frozenset({"measurement"}),
    "illuminance": frozenset({"measurement"}),
    "moisture": frozenset({"measurement"}),
    "pm25": frozenset({"measurement"}),
    "power": frozenset({"measurement"}),
    "power_factor": frozenset({"measurement"}),
    "pressure": frozenset({"measurement"}),
    "signal_strength": frozenset({"measurement"}),
    "temperature": frozenset({"measurement"}),
    "voltage": frozenset({"measurement"}),
}
STATE_CLASSES = frozenset({"measurement", "total", "total_increasing"})
BINARY_SENSOR_CLASSES = frozenset(
    {
        "battery",
        "battery_charging",
        "carbon_monoxide",
        "cold",
        "connectivity",
        "door",
        "garage_door",
        "gas",
        "heat",
        "light",
        "lock",
        "moisture",
        "motion",
        "moving",
        "occupancy",
        "opening",
        "plug",
        "power",
        "presence",
        "problem",
        "running",
        "safety",
        "smoke",
        "sound",
        "tamper",
        "update",
        "vibration",
        "window",
    }
)
COVER_CLASSES = frozenset(
    {"awning", "blind", "curtain", "damper", "door", "garage", "gate", "shade", "shutter", "window"}
)
# NumberDeviceClass mirrors the numeric sensor classes; the units rule is the same table.
NUMBER_CLASSES = frozenset(SENSOR_UNITS) - {"enum"}


@dataclass(frozen=True)
class Platform:
    """One row of the table: a platform's required keys, every key it accepts, and its device classes."""

    name: str
    required: frozenset[str]
    keys: frozenset[str]
    device_classes: frozenset[str] = frozenset()
    templates: frozenset[str] = field(default_factory=frozenset)  # keys holding Jinja templates

    def accepts(self, key: str) -> bool:
        return key in self.keys or key in COMMON_KEYS


def _templates(keys: frozenset[str]) -> frozenset[str]:
    return frozenset(k for k in keys if k.endswith("_template"))


def _row(
    name: str, required: set[str], keys: set[str] | frozenset[str], classes: frozenset[str] = frozenset()
) -> Platform:
    every = frozenset(keys) | frozenset(required)
    return Platform(name, frozenset(required), every, classes, _templates(every))


PLATFORMS: dict[str, Platform] = {
    "sensor": _row(
        "sensor",
        {"state_topic"},
        _RO
        | {
            "device_class",
            "state_class",
            "unit_of_measurement",
            "suggested_display_precision",
            "expire_after",
            "force_update",
            "last_reset_value_template",
            "options",
        },
        frozenset(SENSOR_UNITS),
    ),
    "binary_sensor": _row(
        "binary_sensor",
        {"state_topic"},
        _RO | {"device_class", "payload_on", "payload_off", "expire_after", "force_update", "off_delay"},
        BINARY_SENSOR_CLASSES,
    ),
    "switch": _row(
        "switch",
        {"command_topic"},
        _RW | {"payload_on", "payload_off", "state_on", "state_off", "device_class"},
        frozenset({"outlet", "switch"}),
    ),
    "button": _row(
        "button",
        {"command_topic"},
        {"command_topic", "command_template", "payload_press", "retain", "device_class"},
        frozenset({"identify", "restart", "update"}),
    ),
    "number": _row(
        "number",
        {"command_topic"},
        _RW
        | {"command_template", "min", "max", "step", "mode", "unit_of_measurement", "device_class", "payload_reset"},
        NUMBER_CLASSES,
    ),
    "select": _row("select", {"command_topic", "options"}, _RW | {"command_template", "options"}),
    "light": _row(
        "light",
        {"command_topic"},
        _RW
        | {
            "schema",
            "state_value_template",
            "payload_on",
            "payload_off",
            "on_command_type",
            "brightness_command_topic",
            "brightness_command_template",
            "brightness_scale",
            "brightness_state_topic",
            "brightness_value_template",
            "color_mode_state_topic",
            "color_mode_value_template",
            "color_temp_command_topic",
            "color_temp_command_template",
            "color_temp_state_topic",
            "color_temp_value_template",
            "effect_command_topic",
            "effect_command_template",
            "effect_list",
            "effect_state_topic",
            "effect_value_template",
            "hs_command_topic",
            "hs_command_template",
            "hs_state_topic",
            "hs_value_template",
            "rgb_command_topic",
            "rgb_command_template",
            "rgb_state_topic",
            "rgb_value_template",
            "xy_command_topic",
            "xy_command_template",
            "xy_state_topic",
            "xy_value_template",
            "white_command_topic",
            "white_scale",
            "min_mireds",
            "max_mireds",
        },
    ),
    "cover": _row(
        "cover",
        set(),
        _RW
        | {
            "device_class",
            "payload_open",
            "payload_close",
            "payload_stop",
            "state_open",
            "state_opening",
            "state_closed",
            "state_closing",
            "state_stopped",
            "position_topic",
            "position_template",
            "position_open",
            "position_closed",
            "set_position_topic",
            "set_position_template",
            "tilt_command_topic",
            "tilt_status_topic",
        },
        COVER_CLASSES,
    ),
    "climate": _row(
        "climate",
        set(),
        {
            "current_temperature_topic",
            "current_temperature_template",
            "temperature_command_topic",
            "temperature_command_template",
            "temperature_state_topic",
            "temperature_state_template",
            "temperature_unit",
            "min_temp",
            "max_temp",
            "temp_step",
            "precision",
            "modes",
            "mode_command_topic",
            "mode_command_template",
            "mode_state_topic",
            "mode_state_template",
            "preset_modes",
            "preset_mode_command_topic",
            "preset_mode_command_template",
            "preset_mode_state_topic",
            "preset_mode_value_template",
            "power_command_topic",
            "payload_on",
            "payload_off",
            "action_topic",
            "action_template",
            "fan_modes",
            "swing_modes",
            "retain",
            "optimistic",
            "value_template",
        },
    ),
    "fan": _row(
        "fan",
        {"command_topic"},
        _RW
        | {
            "command_template",
            "state_value_template",
            "payload_on",
            "payload_off",
            "percentage_command_topic",
            "percentage_command_template",
            "percentage_state_topic",
            "percentage_value_template",
            "speed_range_min",
            "speed_range_max",
            "payload_reset_percentage",
            "oscillation_command_topic",
            "oscillation_command_template",
            "oscillation_state_topic",
            "oscillation_value_template",
            "payload_oscillation_on",
            "payload_oscillation_off",
            "preset_modes",
            "preset_mode_command_topic",
            "preset_mode_command_template",
            "preset_mode_state_topic",
            "preset_mode_value_template",
            "payload_reset_preset_mode",
        },
    ),
}
