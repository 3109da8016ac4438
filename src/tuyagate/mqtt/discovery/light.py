"""Tuya lights as one Home Assistant ``light`` (default schema), and the light rules of commands.

A Tuya light is a set of DPs: ``switch_led``, a brightness (``bright_value_v2`` 10..1000 or
``bright_value``), a white colour temperature (``temp_value_v2``, 0 warmest .. 1000 coldest), a colour
(``colour_data_v2`` h/s/v) and ``work_mode`` (white, colour, scene, music). Home Assistant's light
speaks brightness 0..255 (scaled with ``brightness_scale``), mireds and hue/saturation, so the templates
here convert, using the DPs' real ranges. Effects are the work modes.

Two rules make commands behave as the Tuya app does (:func:`prepare_light_command`): a colour given as
an object with some of h, s, v keeps the others from the current colour (and goes out in the device's
own hex layout when its schema does not know the DP as a colour); and on a light in colour mode a
brightness sets the colour's brightness (v), because that is what such a light shows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tuyagate.errors import ValidationError
from tuyagate.mqtt.discovery.entity import Context, Entity, command, literal, value
from tuyagate.mqtt.discovery.view import DeviceView, DpView
from tuyagate.schema.colour import decode_colour, encode_colour_hex

__all__ = ["LightDps", "light_dps", "light_entity", "prepare_light_command"]

MIN_MIREDS, MAX_MIREDS = 153, 500  # Home Assistant's default colour temperature range (6500 K .. 2000 K)
_SPAN = MAX_MIREDS - MIN_MIREDS


@dataclass(frozen=True, slots=True)
class LightDps:
    switch: DpView
    bright: DpView | None
    temp: DpView | None
    colour: DpView | None
    mode: DpView | None

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(d.code for d in (self.switch, self.bright, self.temp, self.colour, self.mode) if d)

    @property
    def colour_mode(self) -> str | None:
        """The work mode that shows the colour DP (``colour``), when the device has one."""
        return "colour" if self.mode is not None and "colour" in self.mode.options else None


def light_dps(view: DeviceView) -> LightDps | None:
    """The light DPs of a device, or None when it has no writable ``switch_led``."""
    switch = view.first("switch_led", "led_switch", kind="bool")
    if switch is None or not switch.writable:
        return None

    def writable(*codes: str, kind: str) -> DpView | None:
        found = view.first(*codes)
        return found if found is not None and found.writable and found.kind == kind else None

    colour = view.first("colour_data_v2", "colour_data")
    return LightDps(
        switch=switch,
        bright=writable("bright_value_v2", "bright_value", kind="int"),
        temp=writable("temp_value_v2", "temp_value", kind="int"),
        colour=colour if colour is not None and colour.writable and colour.colour is not None else None,
        mode=writable("work_mode", kind="enum"),
    )


def _bounds(dp: DpView, default_max: int = 1000) -> tuple[float, float]:
    return (dp.minimum if dp.minimum is not None else 0, dp.maximum if dp.maximum is not None else default_max)


def light_entity(ctx: Context, light: LightDps) -> Entity:
    on, off = literal({light.switch.code: True}), literal({light.switch.code: False})
    config: dict[str, Any] = {
        "schema": "basic",
        "command_topic": ctx.command_topic,
        "state_topic": ctx.state_topic,
        "payload_on": on,
        "payload_off": off,
        "state_value_template": "{{ "
        + json.dumps(on)
        + " if "
        + value(light.switch.code)
        + " else "
        + json.dumps(off)
        + " }}",
    }
    mode = light.mode
    colour_mode = light.colour_mode
    in_colour = f"{value(mode.code)} == {json.dumps(colour_mode)}" if mode and colour_mode else None
    if light.bright is not None:
        low, high = _bounds(light.bright)
        config.update(
            brightness_command_topic=ctx.command_topic,
            brightness_scale=int(high),
            brightness_command_template=command(
                {light.bright.code: "{{ [value | int, " + str(int(low)) + "] | max }}"}
            ),
            brightness_state_topic=ctx.state_topic,
        )
        white = value(light.bright.code)
        if light.colour is not None and light.colour.colour is not None and in_colour:
            v_max = light.colour.colour.v_max
            from_v = f"({value(light.colour.code)}['v'] * {int(high)} / {v_max}) | round | int"
            config["brightness_value_template"] = "{{ " + f"({from_v}) if {in_colour} else {white}" + " }}"
        else:
            config["brightness_value_template"] = "{{ " + white + " }}"
    modes: list[str] = []
    if light.temp is not None:
        modes.append("color_temp")
        low, high = _bounds(light.temp)
        span = high - low or 1
        to_tuya = f"({low} + ({MAX_MIREDS} - value) * {span} / {_SPAN}) | round | int"
        pairs = {light.temp.code: "{{ " + to_tuya + " }}"}
        if mode is not None and "white" in mode.options:
            pairs[mode.code] = '"white"'
        config.update(
            color_temp_command_topic=ctx.command_topic,
            color_temp_command_template=command(pairs),
            color_temp_state_topic=ctx.state_topic,
            color_temp_value_template="{{ "
            + f"({MAX_MIREDS} - ({value(light.temp.code)} - {low}) * {_SPAN} / {span}) | round | int"
            + " }}",
            min_mireds=MIN_MIREDS,
            max_mireds=MAX_MIREDS,
        )
    if light.colour is not None and light.colour.colour is not None:
        modes.append("hs")
        s_max = light.colour.colour.s_max
        hs = '{"h": {{ hue | round | int }}, "s": {{ (sat * ' + str(s_max) + " / 100) | round | int }}}"
        pairs = {light.colour.code: hs}
        if mode is not None and colour_mode:
            pairs[mode.code] = json.dumps(colour_mode)
        colour = value(light.colour.code)
        config.update(
            hs_command_topic=ctx.command_topic,
            hs_command_template=command(pairs),
            hs_state_topic=ctx.state_topic,
            hs_value_template="{{ "
            + colour
            + "['h'] }},{{ ("
            + colour
            + "['s'] * 100 / "
            + str(s_max)
            + ") | round(1) }}",
        )
    if len(modes) == 2 and in_colour:
        config.update(
            color_mode_state_topic=ctx.state_topic,
            color_mode_value_template="{{ 'hs' if " + in_colour + " else 'color_temp' }}",
        )
    if mode is not None and mode.options:
        config.update(
            effect_command_topic=ctx.command_topic,
            effect_command_template=command({mode.code: "{{ value | tojson }}"}),
            effect_list=list(mode.options),
            effect_state_topic=ctx.state_topic,
            effect_value_template="{{ " + value(mode.code) + " }}",
        )
    return ctx.entity("light", "light", None, light.codes, **config)


def prepare_light_command(light: LightDps, values: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` after the two light rules (see the module docstring); other values pass unchanged."""
    out = dict(values)
    colour = light.colour
    if colour is None or colour.colour is None:
        return out
    ranges = colour.colour
    mode = light.mode
    wanted_mode = out.get(mode.code, current.get(mode.code)) if mode is not None else None
    bright = light.bright
    if bright is not None and bright.code in out and light.colour_mode and wanted_mode == light.colour_mode:
        given = out.pop(bright.code)
        try:
            level = float(given)
        except (TypeError, ValueError):
            out[bright.code] = given  # not a number: let the schema say so
        else:
            high = _bounds(bright)[1] or 1
            given_colour = out.get(colour.code)
            merged = dict(given_colour) if isinstance(given_colour, Mapping) else {}
            merged.setdefault("v", max(1, min(ranges.v_max, round(level * ranges.v_max / high))))
            out[colour.code] = merged
    wanted = out.get(colour.code)
    if isinstance(wanted, Mapping):
        now = decode_colour(current.get(colour.code)) or {"h": 0, "s": ranges.s_max, "v": ranges.v_max}
        hsv = {key: wanted.get(key, now[key]) for key in ("h", "s", "v")}
        limits = {"h": ranges.h_max, "s": ranges.s_max, "v": ranges.v_max}
        for key, high in limits.items():
            got = hsv[key]
            if isinstance(got, float) and got.is_integer():
                got = hsv[key] = int(got)
            if isinstance(got, bool) or not isinstance(got, int) or not 0 <= got <= high:
                raise ValidationError(
                    f"{colour.code}.{key} must be an integer between 0 and {high}, got {str(got)[:40]!r}"
                )
        if ranges.native:
            out[colour.code] = hsv  # the schema validates it again and encodes it for the route (LAN hex, cloud JSON)
        else:
            out[colour.code] = encode_colour_hex(hsv["h"], hsv["s"], hsv["v"], v1=ranges.v1)
    return out
