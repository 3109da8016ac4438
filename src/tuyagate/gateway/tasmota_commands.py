"""Tasmota commands translated to Tuya data points, and Tasmota-shaped answers -- pure functions.

Tools that speak Tasmota's HTTP API (``/cm?cmnd=Power%20On``) can then drive stock Tuya devices.
Which Tasmota command maps to which DP is derived from the device's standard codes: ``switch_1..n``
(or ``switch_led``/``switch``) for Power, ``bright_value(_v2)`` for Dimmer, ``temp_value(_v2)`` for
CT, ``colour_data(_v2)`` for HSBColor/Color, ``work_mode`` to switch between white and colour.
No I/O here: the route reads the state, calls :func:`plan`, sends the changes and renders the answer.
"""

from __future__ import annotations

import colorsys
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from tuyagate.errors import ValidationError

__all__ = ["LightModel", "Plan", "TasmotaCommand", "parse_command", "plan", "power_state", "render"]

CT_MIN, CT_MAX = 153, 500
_COMMAND = re.compile(r"^\s*([A-Za-z]+?)(\d*)(?:\s+|=|$)(.*)$", re.DOTALL)
# Tasmota names the commands case-insensitively; these are the ones answered here.
KNOWN = {"power", "dimmer", "ct", "hsbcolor", "color", "status", "state", "backlog"}


@dataclass(frozen=True, slots=True)
class TasmotaCommand:
    name: str  # lower case: power, dimmer, ct, hsbcolor, color, status, state, backlog
    index: int | None  # Power1 -> 1; None when no number was given
    arg: str


@dataclass(frozen=True, slots=True)
class IntSpec:
    code: str
    min: float
    max: float
    step: float

    def from_fraction(self, fraction: float) -> float | int:
        raw = self.min + (self.max - self.min) * min(1.0, max(0.0, fraction))
        stepped = round((raw - self.min) / self.step) * self.step + self.min if self.step else raw
        value = min(self.max, max(self.min, stepped))
        return int(value) if float(value).is_integer() else value

    def to_fraction(self, value: Any) -> float:
        if not isinstance(value, int | float) or self.max == self.min:
            return 0.0
        return min(1.0, max(0.0, (float(value) - self.min) / (self.max - self.min)))


def _number(values: dict[str, Any], key: str, default: float) -> float:
    try:
        number = float(values.get(key, default))
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _int_spec(entry: dict[str, Any]) -> IntSpec:
    """An Integer DP's range; a range the schema states in no usable form is the default 0..1000."""
    values = entry.get("values") or {}
    if isinstance(values, str):
        try:
            values = json.loads(values or "{}")
        except (ValueError, RecursionError):
            values = {}
    if not isinstance(values, dict):
        values = {}
    scale = 10 ** int(min(9.0, max(0.0, _number(values, "scale", 0))))
    return IntSpec(
        code=str(entry["code"]),
        min=_number(values, "min", 0) / scale,
        max=_number(values, "max", 1000) / scale,
        step=(_number(values, "step", 1) or 1) / scale,
    )


@dataclass(frozen=True, slots=True)
class LightModel:
    """Which codes of a device stand for Tasmota's relays, dimmer, colour temperature and colour."""

    power: tuple[str, ...]
    bright: IntSpec | None = None
    temp: IntSpec | None = None
    colour: str | None = None
    colour_v2: bool = True
    mode: str | None = None

    @classmethod
    def from_schema(cls, schema: list[dict[str, Any]]) -> LightModel:
        by_code = {str(e.get("code")): e for e in schema if e.get("code")}
        numbered = sorted(
            (c for c in by_code if re.fullmatch(r"switch_\d+", c) and by_code[c].get("type") == "Boolean"),
            key=lambda c: int(c.split("_")[1]),
        )
        power = tuple(numbered) or tuple(c for c in ("switch_led", "switch") if c in by_code)
        bright = next((c for c in ("bright_value_v2", "bright_value") if c in by_code), None)
        temp = next((c for c in ("temp_value_v2", "temp_value") if c in by_code), None)
        colour = next((c for c in ("colour_data_v2", "colour_data") if c in by_code), None)
        return cls(
            power=power,
            bright=_int_spec(by_code[bright]) if bright else None,
            temp=_int_spec(by_code[temp]) if temp else None,
            colour=colour,
            colour_v2=colour != "colour_data",
            mode="work_mode" if "work_mode" in by_code else None,
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """What to send, and which answer to give afterwards."""

    changes: dict[str, Any]
    answer: str  # "power", "light", "status", "state", "backlog", "unknown"
    index: int | None = None
    status_kind: int | None = None


def parse_command(text: str) -> TasmotaCommand:
    match = _COMMAND.match(text)
    if not match:
        return TasmotaCommand("", None, "")
    name, number, arg = match.groups()
    return TasmotaCommand(name.lower(), int(number) if number else None, arg.strip())


def _on_off(arg: str, current: bool) -> bool | None:
    word = arg.strip().lower()
    if word in ("on", "1", "true"):
        return True
    if word in ("off", "0", "false"):
        return False
    if word in ("toggle", "2"):
        return not current
    return None


def _hsv(model: LightModel, values: dict[str, Any]) -> tuple[float, float, float]:
    """The colour as (h 0..360, s 0..1, v 0..1) from either colour_data format; white when the device
    reports it in neither (a report is outside input: it may hold anything)."""
    raw = values.get(model.colour) if model.colour else None
    try:
        if isinstance(raw, str) and raw.startswith("{"):
            raw = json.loads(raw)
        if isinstance(raw, dict):
            h, s, v = float(raw.get("h", 0)), float(raw.get("s", 0)) / 1000, float(raw.get("v", 0)) / 1000
        elif isinstance(raw, str) and len(raw) == 12 and all(ch in "0123456789abcdefABCDEF" for ch in raw):
            h, s, v = float(int(raw[0:4], 16)), int(raw[4:8], 16) / 255, int(raw[8:12], 16) / 255
        else:
            return 0.0, 0.0, 1.0
    except (TypeError, ValueError, RecursionError):
        return 0.0, 0.0, 1.0
    if not all(math.isfinite(x) for x in (h, s, v)):
        return 0.0, 0.0, 1.0
    return h % 361, min(1.0, max(0.0, s)), min(1.0, max(0.0, v))


def _colour_value(model: LightModel, values: dict[str, Any], h: float, s: float, v: float) -> Any:
    """Encode a colour the way the device reported it (JSON string or object for v2, hex for v1)."""
    h, s, v = round(h) % 361, min(1.0, max(0.0, s)), min(1.0, max(0.0, v))
    if not model.colour_v2:
        return f"{h:04x}{round(s * 255):04x}{round(v * 255):04x}"
    data = {"h": h, "s": round(s * 1000), "v": round(v * 1000)}
    current = values.get(model.colour) if model.colour else None
    return json.dumps(data, separators=(",", ":")) if isinstance(current, str) else data


def _numbers(arg: str, count: int, what: str) -> list[float]:
    try:
        parts = [float(p) for p in arg.replace(" ", "").split(",")]
    except ValueError:
        raise ValidationError(f"{what} needs {count} numbers separated by commas") from None
    if len(parts) != count:
        raise ValidationError(f"{what} needs {count} numbers separated by commas")
    return parts


def _parse_colour(arg: str) -> tuple[float, float, float]:
    text = arg.strip().lstrip("#")
    if "," in text:
        r, g, b = (min(255.0, max(0.0, x)) for x in _numbers(text, 3, "Color"))
    elif re.fullmatch(r"[0-9a-fA-F]{6}([0-9a-fA-F]{2,4})?", text):
        r, g, b = (float(int(text[i : i + 2], 16)) for i in (0, 2, 4))
    else:
        raise ValidationError("Color needs RRGGBB hex or r,g,b")
    h, s, v = colorsys.rgb_to_hsv(r / 255, g / 255, b / 255)
    return h * 360, s, v


def plan(model: LightModel, cmd: TasmotaCommand, values: dict[str, Any]) -> Plan:
    """Decide what to send for one command, given the current values by code."""
    name, arg = cmd.name, cmd.arg
    changes: dict[str, Any] = {}
    if name == "power":
        if not model.power:
            return Plan({}, "unknown")
        index = cmd.index if cmd.index is not None else 1
        targets = list(model.power) if index == 0 else [model.power[index - 1]] if index <= len(model.power) else []
        if not targets:
            return Plan({}, "unknown")
        if arg:
            for code in targets:
                wanted = _on_off(arg, bool(values.get(code)))
                if wanted is None:
                    raise ValidationError("Power takes ON, OFF, TOGGLE, 1, 0 or 2")
                changes[code] = wanted
        return Plan(changes, "power", index=index)
    if name in ("dimmer", "ct", "hsbcolor", "color"):
        light = _light_changes(model, name, arg, values)
        return Plan(light, "light") if light is not None else Plan({}, "unknown")
    if name == "status":
        kind = int(arg) if arg.isascii() and arg.isdigit() and len(arg) <= 3 else None  # "Status ²" is no number
        return Plan({}, "status", status_kind=kind)
    if name == "state":
        return Plan({}, "state")
    return Plan({}, "unknown")


def _light_changes(model: LightModel, name: str, arg: str, values: dict[str, Any]) -> dict[str, Any] | None:
    changes: dict[str, Any] = {}
    colour_mode = model.mode is not None and values.get(model.mode) == "colour" and model.colour is not None
    if name == "dimmer":
        if model.bright is None and model.colour is None:
            return None
        if not arg:
            return changes
        try:
            pct = float(arg)
        except ValueError:
            raise ValidationError("Dimmer takes a number 0..100") from None
        if not 0 <= pct <= 100:
            raise ValidationError("Dimmer takes a number 0..100")
        if pct == 0 and model.power:
            return {model.power[0]: False}
        if model.power:
            changes[model.power[0]] = True
        if colour_mode or model.bright is None:
            h, s, _ = _hsv(model, values)
            changes[str(model.colour)] = _colour_value(model, values, h, s, pct / 100)
        else:
            changes[model.bright.code] = model.bright.from_fraction(pct / 100)
        return changes
    if name == "ct":
        if model.temp is None:
            return None
        if not arg:
            return changes
        try:
            ct = float(arg)
        except ValueError:
            raise ValidationError(f"CT takes a number {CT_MIN}..{CT_MAX}") from None
        if not CT_MIN <= ct <= CT_MAX:
            raise ValidationError(f"CT takes a number {CT_MIN}..{CT_MAX}")
        # Tasmota's CT is in mireds (153 cold .. 500 warm); Tuya's temp_value runs warm (min) .. cold (max).
        changes[model.temp.code] = model.temp.from_fraction((CT_MAX - ct) / (CT_MAX - CT_MIN))
        if model.mode:
            changes[model.mode] = "white"
        return changes
    if model.colour is None:
        return None
    if not arg:
        return changes
    if name == "hsbcolor":
        h, s, b = _numbers(arg, 3, "HSBColor")
        if not (0 <= h <= 360 and 0 <= s <= 100 and 0 <= b <= 100):
            raise ValidationError("HSBColor takes hue 0..360, saturation 0..100, brightness 0..100")
        hsv = (h, s / 100, b / 100)
    else:
        hsv = _parse_colour(arg)
    changes[model.colour] = _colour_value(model, values, *hsv)
    if model.mode:
        changes[model.mode] = "colour"
    if model.power:
        changes[model.power[0]] = True
    return changes


def power_state(model: LightModel, values: dict[str, Any], index: int | None = None) -> dict[str, str]:
    """``{"POWER": "ON"}`` for one relay, ``{"POWER1": ..., "POWER2": ...}`` for several."""
    word = {True: "ON", False: "OFF"}
    if len(model.power) == 1:
        return {"POWER": word[bool(values.get(model.power[0]))]}
    if index and 1 <= index <= len(model.power):
        return {f"POWER{index}": word[bool(values.get(model.power[index - 1]))]}
    return {f"POWER{i}": word[bool(values.get(code))] for i, code in enumerate(model.power, start=1)}


def light_state(model: LightModel, values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = dict(power_state(model, values)) if model.power else {}
    colour_mode = model.mode is not None and values.get(model.mode) == "colour"
    if model.colour is not None and (colour_mode or model.bright is None):
        h, s, v = _hsv(model, values)
        r, g, b = colorsys.hsv_to_rgb(h / 360, s, v)
        out["Dimmer"] = round(v * 100)
        out["Color"] = f"{round(r * 255):02X}{round(g * 255):02X}{round(b * 255):02X}"
        out["HSBColor"] = f"{round(h)},{round(s * 100)},{round(v * 100)}"
        out["Channel"] = [round(r * 100), round(g * 100), round(b * 100)]
    elif model.bright is not None:
        out["Dimmer"] = round(model.bright.to_fraction(values.get(model.bright.code)) * 100)
    if model.temp is not None:
        fraction = model.temp.to_fraction(values.get(model.temp.code))
        out["CT"] = round(CT_MAX - fraction * (CT_MAX - CT_MIN))
    return out


def render(model: LightModel, result: Plan, values: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """The Tasmota JSON answer for a planned command, from the values after it ran."""
    if result.answer == "power":
        return power_state(model, values, result.index)
    if result.answer == "light":
        return light_state(model, values)
    if result.answer == "state":
        return light_state(model, values)
    if result.answer == "status":
        name = str(info.get("name", ""))
        bits = "".join("1" if values.get(c) else "0" for c in reversed(model.power)) or "0"
        status = {"Module": 0, "DeviceName": name, "FriendlyName": [name], "Topic": info.get("id", ""), "Power": bits}
        sts = light_state(model, values)
        if result.status_kind == 11:
            return {"StatusSTS": sts}
        if result.status_kind == 0:
            return {
                "Status": status,
                "StatusFWR": {"Version": "tuyagate", "Hardware": str(info.get("backend", ""))},
                "StatusNET": {"Hostname": name, "IPAddress": info.get("ip") or ""},
                "StatusSTS": sts,
            }
        return {"Status": status}
    return {"Command": "Unknown"}
