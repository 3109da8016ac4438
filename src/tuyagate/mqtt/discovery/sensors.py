"""Read-only DPs as Home Assistant ``sensor`` and ``binary_sensor`` entities, with their classes and units.

Home Assistant draws graphs, keeps long-term statistics and fills its energy dashboard only for sensors
whose ``device_class``, ``unit_of_measurement`` and ``state_class`` agree with its own tables (sensor
device classes and the units each accepts; ``energy`` is a ``total_increasing`` total, ``power`` a
``measurement``). So well-known Tuya codes map to a class here, other numeric DPs get one from their
unit when the unit is unambiguous, and a unit Home Assistant would reject for a class drops the class
rather than the sensor. Values are already scaled by the DP's scale in the state JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tuyagate.mqtt.discovery.entity import Context, Entity, value
from tuyagate.mqtt.discovery.view import DpView

__all__ = ["BINARY_CLASSES", "SENSOR_CLASSES", "binary_sensor_entities", "route_entity", "sensor_entities"]


@dataclass(frozen=True, slots=True)
class SensorClass:
    device_class: str
    unit: str  # the unit when the DP names none
    state_class: str


_M, _TI = "measurement", "total_increasing"
SENSOR_CLASSES: dict[str, SensorClass] = {
    "cur_power": SensorClass("power", "W", _M),
    "cur_voltage": SensorClass("voltage", "V", _M),
    "cur_current": SensorClass("current", "mA", _M),
    "add_ele": SensorClass("energy", "kWh", _TI),
    "va_temperature": SensorClass("temperature", "°C", _M),
    "temp_current": SensorClass("temperature", "°C", _M),
    "temp_indoor": SensorClass("temperature", "°C", _M),
    "va_humidity": SensorClass("humidity", "%", _M),
    "humidity_value": SensorClass("humidity", "%", _M),
    "humidity_indoor": SensorClass("humidity", "%", _M),
    "battery_percentage": SensorClass("battery", "%", _M),
    "va_battery": SensorClass("battery", "%", _M),
    "residual_electricity": SensorClass("battery", "%", _M),
    "bright_value_sensor": SensorClass("illuminance", "lx", _M),
    "co2_value": SensorClass("carbon_dioxide", "ppm", _M),
    "pm25_value": SensorClass("pm25", "µg/m³", _M),
}
# Units Home Assistant accepts for each class used here (its sensor tables; anything else drops the class).
VALID_UNITS: dict[str, frozenset[str]] = {
    "power": frozenset({"W", "kW"}),
    "voltage": frozenset({"V", "mV"}),
    "current": frozenset({"A", "mA"}),
    "energy": frozenset({"Wh", "kWh", "MWh"}),
    "temperature": frozenset({"°C", "°F", "K"}),
    "humidity": frozenset({"%"}),
    "battery": frozenset({"%"}),
    "illuminance": frozenset({"lx"}),
    "carbon_dioxide": frozenset({"ppm"}),
    "pm25": frozenset({"µg/m³"}),
}
_BY_UNIT: dict[str, tuple[str, str]] = {  # an unambiguous unit names the class of an unknown code
    "W": ("power", _M),
    "kW": ("power", _M),
    "V": ("voltage", _M),
    "mV": ("voltage", _M),
    "A": ("current", _M),
    "mA": ("current", _M),
    "Wh": ("energy", _TI),
    "kWh": ("energy", _TI),
    "°C": ("temperature", _M),
    "°F": ("temperature", _M),
    "lx": ("illuminance", _M),
}

# Binary sensors: code -> (device class, the values that mean "on" for an enum; booleans are on when true).
BINARY_CLASSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "doorcontact_state": ("door", ()),
    "pir": ("motion", ("pir",)),
    "presence_state": ("occupancy", ("presence",)),
    "watersensor_state": ("moisture", ("alarm",)),
    "smoke_sensor_status": ("smoke", ("alarm",)),
    "smoke_sensor_state": ("smoke", ("1", "alarm")),
    "gas_sensor_status": ("gas", ("alarm",)),
    "gas_sensor_state": ("gas", ("1", "alarm")),
    "co_status": ("carbon_monoxide", ("alarm",)),
    "temper_alarm": ("tamper", ()),
    "fault": ("problem", ()),
}


def _classify(dp: DpView) -> tuple[str | None, str, str | None]:
    """Device class, unit and state class of a numeric sensor."""
    known = SENSOR_CLASSES.get(dp.code)
    unit = dp.unit
    if known is not None:
        unit = unit or known.unit
        if unit in VALID_UNITS[known.device_class]:
            return known.device_class, unit, known.state_class
        return None, unit, _M
    by_unit = _BY_UNIT.get(unit)
    if by_unit is not None:
        return by_unit[0], unit, by_unit[1]
    lowered = dp.code.lower()
    if unit == "%" and "humid" in lowered:
        return "humidity", unit, _M
    if unit == "%" and "battery" in lowered:
        return "battery", unit, _M
    return None, unit, _M


def sensor_entities(ctx: Context, dps: Iterable[DpView]) -> list[Entity]:
    """A sensor for each read-only Integer (a measurement) or Enum (a state among options) DP."""
    out: list[Entity] = []
    for dp in dps:
        if not dp.read_only or dp.kind not in ("int", "enum"):
            continue
        extra: dict[str, object] = {"state_topic": ctx.state_topic, "value_template": "{{ " + value(dp.code) + " }}"}
        if dp.kind == "enum":
            extra.update(device_class="enum", options=list(dp.options))
        else:
            device_class, unit, state_class = _classify(dp)
            if device_class:
                extra["device_class"] = device_class
            if unit:
                extra["unit_of_measurement"] = unit
            if state_class:
                extra["state_class"] = state_class
            extra["suggested_display_precision"] = dp.scale
        out.append(ctx.entity("sensor", dp.code, dp.label, frozenset({dp.code}), **extra))
    return out


def binary_sensor_entities(ctx: Context, dps: Iterable[DpView]) -> list[Entity]:
    """A binary sensor for each read-only Boolean, each known alarm Enum, and a ``fault`` bitmap."""
    out: list[Entity] = []
    for dp in dps:
        if not dp.read_only:
            continue
        known = BINARY_CLASSES.get(dp.code)
        if dp.kind == "enum" and known is not None and known[1]:
            on = "[" + ", ".join(f'"{v}"' for v in known[1] if v in dp.options or not dp.options) + "]"
            template = "{{ 'ON' if " + value(dp.code) + " in " + on + " else 'OFF' }}"
        elif dp.kind == "bool" or (dp.kind == "bitmap" and dp.code == "fault"):
            template = "{{ 'ON' if " + value(dp.code) + " else 'OFF' }}"
        else:
            continue
        extra: dict[str, object] = {"state_topic": ctx.state_topic, "value_template": template}
        if known is not None:
            extra["device_class"] = known[0]
        if dp.code == "fault":
            extra["entity_category"] = "diagnostic"
        out.append(ctx.entity("binary_sensor", dp.code, dp.label, frozenset({dp.code}), **extra))
    return out


def route_entity(ctx: Context) -> Entity:
    """A diagnostic sensor naming the route that last served the device (lan, cloud, tasmota, ...)."""
    return ctx.entity(
        "sensor",
        "route",
        "Route",
        frozenset(),
        state_topic=ctx.state_topic,
        value_template="{{ value_json['route'] or 'none' }}",
        entity_category="diagnostic",
        icon="mdi:transit-connection-variant",
    )
