"""How ESPHome entities become Tuya-style codes, and values become ``web_server`` actions.

Pure functions over the entity JSON ``web_server`` sends. Well-known entities get canonical codes:
switches ``switch_1``.. in device order; the first light ``switch_led``/``bright_value``/``temp_value``/
``colour_data`` (further lights get a ``_2``.. suffix); sensors by unit (W -> ``cur_power``, V ->
``cur_voltage``, A/mA -> ``cur_current``, kWh/Wh -> ``add_ele``, °C -> ``temp_current``, % named humidity
-> ``humidity_value``); the first cover ``control``/``percent_control``. Every other entity is
``<domain>_<object_id>`` (``number_target``, ``select_mode``, ``binary_sensor_button``, ...).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tuyagate.errors import ProtocolError, ValidationError
from tuyagate.flashed.http_base import excerpt
from tuyagate.flashed.light import (
    bright_from_byte,
    byte_from_bright,
    colour_from_rgb,
    mired_from_temp,
    rgb_from_colour,
    temp_from_mired,
)
from tuyagate.flashed.synthetic import boolean, canonical, decimals, enum, integer, string
from tuyagate.schema import DpDef

__all__ = ["Action", "Binding", "EntityRef", "bind", "calls_for", "ref_from_state", "values_from_state"]

_UNIT_CODES = {
    "W": ("cur_power", 1.0),
    "kW": ("cur_power", 1000.0),
    "V": ("cur_voltage", 1.0),
    "A": ("cur_current", 1000.0),
    "mA": ("cur_current", 1.0),
    "kWh": ("add_ele", 1.0),
    "Wh": ("add_ele", 0.001),
    "°C": ("temp_current", 1.0),
}


def _object_id(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "_", name.strip().lower().replace(" ", "_"))


@dataclass(frozen=True, slots=True)
class EntityRef:
    """Where an entity lives: ``/<domain>/<key>``; ``key`` is its name (new firmware) or object id (old)."""

    domain: str
    key: str

    @classmethod
    def parse(cls, text: str) -> EntityRef:
        """``domain/Name`` (new form) or ``domain-object_id`` (legacy form)."""
        if "/" in text:
            domain, _, key = text.partition("/")
        else:
            domain, _, key = text.partition("-")
        if not domain or not key:
            raise ValidationError(f"not an ESPHome entity id: {text!r} (use domain/Name or domain-object_id)")
        return cls(domain, key)

    @property
    def object_id(self) -> str:
        return _object_id(self.key.rsplit("/", 1)[-1])

    def __str__(self) -> str:
        return f"{self.domain}/{self.key}"


def ref_from_state(doc: Mapping[str, Any]) -> EntityRef:
    """The entity a state JSON is about: ``name_id`` (2026.1.3+), else ``id`` in either form."""
    for key in ("name_id", "id"):
        value = doc.get(key)
        if isinstance(value, str) and "/" in value:
            return EntityRef.parse(value)
    value = doc.get("id")
    if isinstance(value, str) and "-" in value:
        return EntityRef.parse(value)
    raise ProtocolError(f"entity state without a usable id: {excerpt(repr(dict(doc)))}")


@dataclass(frozen=True, slots=True)
class Action:
    """One ``POST /<domain>/<key>/<action>?params``."""

    ref: EntityRef
    action: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Binding:
    """One entity and the codes it provides (``roles`` maps a role like ``on``/``bright`` to a code)."""

    ref: EntityRef
    roles: dict[str, str]
    specs: list[DpDef]  # described in user units, not yet numbered (see flashed/synthetic.py)
    factor: float = 1.0  # sensors: firmware unit -> code unit
    digits: int = 2


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.split()[0])
        except (ValueError, IndexError):
            return None
    else:
        return None
    return number if math.isfinite(number) else None  # "NA", NaN and Infinity mean "no reading"


def bind(states: Sequence[Mapping[str, Any]]) -> list[Binding]:
    """Give each entity (its ``detail=all`` JSON, in device order) its codes; unknown domains are skipped."""
    used: set[str] = set()
    counts: dict[str, int] = {}
    out: list[Binding] = []

    def take(code: str, fallback: str) -> str:
        chosen = code if code not in used else fallback
        n = 2
        while chosen in used:  # two entities with the same object id (e.g. on sub-devices)
            chosen, n = f"{fallback}_{n}", n + 1
        used.add(chosen)
        return chosen

    for doc in states:
        ref = ref_from_state(doc)
        d, oid = ref.domain, ref.object_id
        generic = f"{d}_{oid}"
        name = str(doc.get("name") or "")  # the entity's own name: the label front ends show
        n = counts[d] = counts.get(d, 0) + 1
        if d == "switch":
            code = take(f"switch_{n}", generic)
            out.append(Binding(ref, {"on": code}, [boolean(code, name=name)]))
        elif d == "light":
            suffix = "" if n == 1 else f"_{n}"
            roles = {"on": take(f"switch_led{suffix}", generic)}
            specs = [boolean(roles["on"], name=name)]
            color = doc.get("color")
            for role, base, present in (
                ("bright", "bright_value", "brightness" in doc),
                ("temp", "temp_value", "color_temp" in doc),
                ("colour", "colour_data", isinstance(color, dict) and {"r", "g", "b"} <= set(color)),
            ):
                if present:
                    roles[role] = take(base + suffix, f"{generic}_{base}")
                    known = canonical(base)
                    assert known is not None
                    specs.append(replace(known, code=roles[role]))
            out.append(Binding(ref, roles, specs))
        elif d == "sensor":
            unit = str(doc.get("uom") or _unit_of(doc.get("state")))
            code, factor = _UNIT_CODES.get(unit, ("", 1.0))
            if not code and unit == "%" and "humid" in oid:
                code = "humidity_value"
            if code and code not in used:
                used.add(code)
                spec = canonical(code)
                assert spec is not None
                out.append(Binding(ref, {"value": code}, [replace(spec, name=name)], factor, spec.scale))
            else:
                code = take(generic, generic)
                spec = integer(code, -(10**9), 10**9, unit=unit, scale=2, mode="ro", name=name)
                out.append(Binding(ref, {"value": code}, [spec]))
        elif d == "binary_sensor":
            code = take(generic, generic)
            out.append(Binding(ref, {"on": code}, [boolean(code, mode="ro", name=name)]))
        elif d == "text_sensor":
            code = take(generic, generic)
            out.append(Binding(ref, {"text": code}, [string(code, name=name)]))
        elif d == "cover":
            if "percent_control" not in used:
                used.update(("control", "percent_control"))
                roles = {"control": "control", "percent": "percent_control"}
                specs = [
                    enum("control", ["open", "stop", "close"], mode="wr"),
                    integer("percent_control", 0, 100, unit="%"),
                ]
            else:
                roles = {"percent": take(generic, generic)}
                specs = [integer(roles["percent"], 0, 100, unit="%", name=name)]
            out.append(Binding(ref, roles, specs))
        elif d == "select":
            code = take(generic, generic)
            options = doc.get("option")
            spec = (
                enum(code, [str(o) for o in options], name=name)
                if isinstance(options, list)
                else string(code, mode="rw", name=name)
            )
            out.append(Binding(ref, {"option": code}, [spec]))
        elif d == "number":
            code = take(generic, generic)
            lo, hi, step = (_num(doc.get(k)) for k in ("min_value", "max_value", "step"))
            step = step if step is not None and step > 0 else 1.0
            lo = lo if lo is not None else -(10**9)
            hi = hi if hi is not None else 10**9
            scale = decimals(lo, hi, step)
            unit = str(doc.get("uom") or "")
            spec = integer(code, lo, hi, unit=unit, scale=scale, step=step, name=name)
            out.append(Binding(ref, {"number": code}, [spec], digits=scale))
        elif d == "button":
            code = take(generic, generic)
            out.append(Binding(ref, {"press": code}, [boolean(code, mode="wr", name=name)]))
    return out


def _unit_of(state: Any) -> str:
    parts = str(state or "").split(" ", 1)
    return parts[1] if len(parts) == 2 else ""


def values_from_state(binding: Binding, doc: Mapping[str, Any]) -> dict[str, Any]:
    """An entity's state JSON -> its values by code (a field that is missing or unknown is left out)."""
    roles = binding.roles
    out: dict[str, Any] = {}
    if "on" in roles:
        value = doc.get("value")
        state = doc.get("state")
        if isinstance(value, bool):
            out[roles["on"]] = value
        elif isinstance(state, str) and state.upper() in ("ON", "OFF"):
            out[roles["on"]] = state.upper() == "ON"
    if "bright" in roles and (b := _num(doc.get("brightness"))) is not None:
        out[roles["bright"]] = bright_from_byte(b)
    if "temp" in roles and (ct := _num(doc.get("color_temp"))) is not None:
        out[roles["temp"]] = temp_from_mired(ct)
    color = doc.get("color")
    if "colour" in roles and isinstance(color, dict):
        rgb = [_num(color.get(k)) for k in "rgb"]
        if all(c is not None for c in rgb):
            r, g, b = (float(c or 0) for c in rgb)
            out[roles["colour"]] = colour_from_rgb(r, g, b, _num(doc.get("brightness")) or 255)
    if "value" in roles and (v := _num(doc.get("value"))) is not None:
        number = round(v * binding.factor, binding.digits)
        out[roles["value"]] = int(number) if binding.digits == 0 else number
    if "percent" in roles and (p := _num(doc.get("position", doc.get("value")))) is not None:
        out[roles["percent"]] = round(p * 100)
    if "option" in roles and isinstance(doc.get("value", doc.get("state")), str):
        out[roles["option"]] = doc.get("value", doc.get("state"))
    if "number" in roles and (n := _num(doc.get("value"))) is not None:
        out[roles["number"]] = round(n, binding.digits) if binding.digits else round(n)
    if "text" in roles and isinstance(doc.get("state"), str):
        out[roles["text"]] = doc["state"]
    return out


def calls_for(bindings: list[Binding], values: Mapping[str, Any]) -> list[Action]:
    """Validated values by code -> the POSTs that set them (one ``turn_on`` per light, whatever changes)."""
    actions: list[Action] = []
    for binding in bindings:
        mine = {role: values[code] for role, code in binding.roles.items() if code in values}
        if not mine:
            continue
        ref, d = binding.ref, binding.ref.domain
        if d == "switch":
            actions.append(Action(ref, "turn_on" if mine["on"] else "turn_off"))
        elif d == "light":
            if mine.get("on") is False:
                actions.append(Action(ref, "turn_off"))
                continue
            params: dict[str, str] = {}
            if "colour" in mine:
                r, g, b = rgb_from_colour(mine["colour"])
                params |= {
                    "r": str(r),
                    "g": str(g),
                    "b": str(b),
                    "brightness": str(byte_from_bright(mine["colour"]["v"])),
                }
            if "bright" in mine:
                params["brightness"] = str(byte_from_bright(mine["bright"]))
            if "temp" in mine:
                params["color_temp"] = str(mired_from_temp(mine["temp"]))
            actions.append(Action(ref, "turn_on", params))
        elif d == "cover":
            if "control" in mine:
                actions.append(Action(ref, str(mine["control"])))
            if "percent" in mine:
                actions.append(Action(ref, "set", {"position": f"{mine['percent'] / 100:g}"}))
        elif d == "select":
            actions.append(Action(ref, "set", {"option": str(mine["option"])}))
        elif d == "number":
            actions.append(Action(ref, "set", {"value": f"{mine['number']:g}"}))
        elif d == "button" and mine.get("press"):
            actions.append(Action(ref, "press"))
    return actions
