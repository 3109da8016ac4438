"""Thermostats as a Home Assistant ``climate``: target temperature with its real range and step, the current
temperature, on/off as the ``off``/``heat`` modes and the Tuya ``mode`` Enum as presets.

Tuya thermostats (category ``wk`` and kin) carry ``temp_set`` (scaled, e.g. 5.0..35.0 in 0.5 steps),
``temp_current``, a power ``switch`` and ``mode`` (auto, manual, eco, ...). Home Assistant's HVAC modes
are a fixed vocabulary, so only on/off maps onto them (a radiator valve heats); the device's own modes
are offered as presets, which accept any name but ``none``.
"""

from __future__ import annotations

from tuyagate.mqtt.discovery.entity import Context, Entity, command, value
from tuyagate.mqtt.discovery.view import DeviceView

__all__ = ["CLIMATE_CATEGORIES", "climate_entity"]

CLIMATE_CATEGORIES = frozenset({"wk", "wkf", "wkcz", "rs", "qn", "kt"})
_PRECISIONS = (0.1, 0.5, 1.0)  # the only precisions Home Assistant's climate accepts


def climate_entity(ctx: Context, view: DeviceView) -> Entity | None:
    """The climate entity of a thermostat (its category, or a writable ``temp_set``), else None."""
    target = view.first("temp_set", "temp_set_f", kind="int")
    if target is None or not target.writable:
        return None
    if view.info.category not in CLIMATE_CATEGORIES and view.first("temp_current") is None:
        return None
    codes = {target.code}
    unit = "F" if target.unit == "°F" else "C"
    step = float(target.step)
    config: dict[str, object] = {
        "temperature_command_topic": ctx.command_topic,
        "temperature_command_template": command({target.code: "{{ value }}"}),
        "temperature_state_topic": ctx.state_topic,
        "temperature_state_template": "{{ " + value(target.code) + " }}",
        "temperature_unit": unit,
        "temp_step": step,
        "precision": min(_PRECISIONS, key=lambda p: (p > step, abs(p - step))),
    }
    if target.minimum is not None:
        config["min_temp"] = float(target.minimum)
    if target.maximum is not None:
        config["max_temp"] = float(target.maximum)
    current = view.first("temp_current", "temp_current_f", kind="int")
    if current is not None and current.readable:
        codes.add(current.code)
        config.update(
            current_temperature_topic=ctx.state_topic,
            current_temperature_template="{{ " + value(current.code) + " }}",
        )
    power = view.first("switch", kind="bool")
    if power is not None and power.writable:
        codes.add(power.code)
        config.update(
            modes=["off", "heat"],
            mode_command_topic=ctx.command_topic,
            mode_command_template=command({power.code: "{{ 'false' if value == 'off' else 'true' }}"}),
            mode_state_topic=ctx.state_topic,
            mode_state_template="{{ 'heat' if " + value(power.code) + " else 'off' }}",
        )
    else:
        config["modes"] = ["heat"]
    mode = view.first("mode", kind="enum")
    presets = [o for o in (mode.options if mode else ()) if o != "none"]
    if mode is not None and mode.writable and presets:
        codes.add(mode.code)
        config.update(
            preset_modes=presets,
            preset_mode_command_topic=ctx.command_topic,
            preset_mode_command_template=command({mode.code: "{{ value | tojson }}"}),
            preset_mode_state_topic=ctx.state_topic,
            preset_mode_value_template="{{ " + value(mode.code) + " }}",
        )
    return ctx.entity("climate", "climate", None, frozenset(codes), **_drop_none(config))


def _drop_none(config: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in config.items() if v is not None}
