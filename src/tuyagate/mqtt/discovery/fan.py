"""Fans as a Home Assistant ``fan``: on/off, speed as a percentage, oscillation and the mode as presets.

Tuya fans (category ``fs``) have a ``switch``, a speed either as a number (``fan_speed_percent``, often
1..100 or 1..6) or as an Enum of steps (``fan_speed_enum``: low, middle, high), ``switch_horizontal`` or
``switch_vertical`` for oscillation and a ``mode`` Enum. Home Assistant maps its percentage onto the
device's own steps with ``speed_range_min``/``speed_range_max``; an Enum's steps are numbered 1..N.
"""

from __future__ import annotations

import json

from tuyagate.mqtt.discovery.entity import Context, Entity, command, literal, value
from tuyagate.mqtt.discovery.view import DeviceView

__all__ = ["FAN_CATEGORIES", "fan_entity"]

FAN_CATEGORIES = frozenset({"fs", "fsd", "fskg"})


def _echo(on: str, off: str, code: str) -> str:
    """A state template that renders exactly the on or off payload, which Home Assistant compares with."""
    return "{{ " + json.dumps(on) + " if " + value(code) + " else " + json.dumps(off) + " }}"


def fan_entity(ctx: Context, view: DeviceView) -> Entity | None:
    """The fan entity of a device of a fan category with a writable power switch, else None."""
    if view.info.category not in FAN_CATEGORIES:
        return None
    power = view.first("switch", "fan_switch", "switch_fan", kind="bool")
    if power is None or not power.writable:
        return None
    codes = {power.code}
    on, off = literal({power.code: True}), literal({power.code: False})
    config: dict[str, object] = {
        "command_topic": ctx.command_topic,
        "state_topic": ctx.state_topic,
        "payload_on": on,
        "payload_off": off,
        "state_value_template": _echo(on, off, power.code),
    }
    speed = view.first("fan_speed_percent", "fan_speed", kind="int")
    steps = view.first("fan_speed_enum", "fan_speed", kind="enum")
    if speed is not None and speed.writable:
        codes.add(speed.code)
        config.update(
            percentage_command_topic=ctx.command_topic,
            percentage_command_template=command({speed.code: "{{ value }}"}),
            percentage_state_topic=ctx.state_topic,
            percentage_value_template="{{ " + value(speed.code) + " }}",
            speed_range_min=max(1, int(speed.minimum or 1)),
            speed_range_max=int(speed.maximum or 100),
        )
    elif steps is not None and steps.writable and steps.options:
        codes.add(steps.code)
        names = json.dumps(list(steps.options))
        config.update(
            percentage_command_topic=ctx.command_topic,
            percentage_command_template=command({steps.code: "{{ " + names + "[value - 1] | tojson }}"}),
            percentage_state_topic=ctx.state_topic,
            percentage_value_template="{{ " + names + ".index(" + value(steps.code) + ") + 1 }}",
            speed_range_min=1,
            speed_range_max=len(steps.options),
        )
    swing = view.first("switch_horizontal", "switch_vertical", kind="bool")
    if swing is not None and swing.writable:
        codes.add(swing.code)
        swing_on, swing_off = literal({swing.code: True}), literal({swing.code: False})
        config.update(
            oscillation_command_topic=ctx.command_topic,
            payload_oscillation_on=swing_on,
            payload_oscillation_off=swing_off,
            oscillation_state_topic=ctx.state_topic,
            oscillation_value_template=_echo(swing_on, swing_off, swing.code),
        )
    mode = view.first("mode", kind="enum")
    if mode is not None and mode.writable and mode.options:
        codes.add(mode.code)
        config.update(
            preset_modes=list(mode.options),
            preset_mode_command_topic=ctx.command_topic,
            preset_mode_command_template=command({mode.code: "{{ value | tojson }}"}),
            preset_mode_state_topic=ctx.state_topic,
            preset_mode_value_template="{{ " + value(mode.code) + " }}",
        )
    return ctx.entity("fan", "fan", None, frozenset(codes), **config)
