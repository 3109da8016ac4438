"""The synthetic DP schema a reflashed device shows, so it looks like any other Tuya device.

A flashed firmware has no DP ids; tuyagate gives each value a Tuya-style code and a stable DP id:
well-known codes keep a fixed id (``switch_1``..``switch_16`` are 1..16, ``add_ele`` 17, ``cur_current`` 18,
``cur_power`` 19, ``cur_voltage`` 20, the plug ids Tuya uses), the others count up from 101 in the order
the device lists them. Units follow Tuya's, on every backend:

=================  ===========  =====================================================================
code               type         value (converted)            raw ``dps`` value (Tuya wire form)
=================  ===========  =====================================================================
switch_N           Boolean      true/false
switch_led         Boolean      light on/off (ESPHome lights)
bright_value       Integer      0..1000 (Tasmota Dimmer x10, ESPHome brightness x1000/255)
temp_value         Integer      0..1000, 0 warmest, 1000 coldest (CT 153..500 mired, reversed)
colour_data        Json         {"h":0..360,"s":0..1000,"v":0..1000}
cur_power          Integer      W, one decimal               deci-watts (scale 1)
cur_voltage        Integer      V, one decimal               deci-volts (scale 1)
cur_current        Integer      mA                           mA (scale 0)
add_ele            Integer      kWh, three decimals          Wh (scale 3)
=================  ===========  =====================================================================
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tuyagate.errors import NotFoundError, ValidationError

__all__ = ["CANONICAL_DP", "CodeSpec", "Schema", "boolean", "canonical_spec", "colour", "enum", "integer", "string"]

CANONICAL_DP: dict[str, int] = {f"switch_{n}": n for n in range(1, 17)} | {
    "add_ele": 17,
    "cur_current": 18,
    "cur_power": 19,
    "cur_voltage": 20,
    "switch_led": 21,
    "bright_value": 22,
    "temp_value": 23,
    "colour_data": 24,
    "control": 25,
    "percent_control": 26,
    "temp_current": 27,
    "humidity_value": 28,
}
FIRST_DYNAMIC_DP = 101


@dataclass(frozen=True, slots=True)
class CodeSpec:
    """One code: its Tuya type, ``values`` (range/options/unit/scale) and mode (rw, ro, wr)."""

    code: str
    type: str
    values: dict[str, Any] = field(default_factory=dict)
    mode: str = "rw"

    @property
    def scale(self) -> int:
        return int(self.values.get("scale", 0))

    @property
    def writable(self) -> bool:
        return self.mode in ("rw", "wr")

    def to_raw(self, value: Any) -> Any:
        """Converted value -> Tuya wire value (scaled integer for Integer codes)."""
        if self.type == "Integer" and isinstance(value, int | float) and not isinstance(value, bool):
            return round(value * 10**self.scale)
        return value

    def from_raw(self, raw: Any) -> Any:
        """Tuya wire value -> converted value."""
        if self.type == "Integer" and isinstance(raw, int | float) and not isinstance(raw, bool):
            return raw if self.scale == 0 else round(raw / 10**self.scale, self.scale)
        return raw

    def validate(self, value: Any) -> Any:
        """The value normalised for sending, or ValidationError naming what is allowed."""
        if not self.writable:
            raise ValidationError(f"{self.code} is read-only")
        if self.type == "Boolean":
            if isinstance(value, bool):
                return value
            raise ValidationError(f"{self.code} must be true or false (got {value!r})")
        if self.type == "Integer":
            return self._validate_number(value)
        if self.type == "Enum":
            options = list(self.values.get("range", []))
            if value in options:
                return value
            raise ValidationError(f"{self.code} must be one of {', '.join(map(str, options))} (got {value!r})")
        if self.type == "Json":
            return self._validate_colour(value)
        if self.type == "String":
            if isinstance(value, str):
                return value
            raise ValidationError(f"{self.code} must be a string (got {value!r})")
        raise ValidationError(f"{self.code} cannot be set")

    def _validate_number(self, value: Any) -> int | float:
        lo, hi = self.values.get("min", 0), self.values.get("max", 0)
        unit = self.values.get("unit", "")
        where = f"{self.code} must be a number in {lo}..{hi}{(' ' + unit) if unit else ''}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError(f"{where} (got {value!r})")
        if self.scale == 0 and value != int(value):
            raise ValidationError(f"{where}, a whole number (got {value!r})")
        if not lo <= value <= hi:
            raise ValidationError(f"{where} (got {value!r})")
        return int(value) if self.scale == 0 else value

    def _validate_colour(self, value: Any) -> dict[str, int]:
        allowed = f'{self.code} must be {{"h":0..360,"s":0..1000,"v":0..1000}}'
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValidationError(f"{allowed} (got {value!r})") from None
        if not isinstance(value, Mapping) or set(value) != {"h", "s", "v"}:
            raise ValidationError(f"{allowed} (got {value!r})")
        out: dict[str, int] = {}
        for key, top in (("h", 360), ("s", 1000), ("v", 1000)):
            part = value[key]
            if isinstance(part, bool) or not isinstance(part, int) or not 0 <= part <= top:
                raise ValidationError(f"{allowed} (got {dict(value)!r})")
            out[key] = part
        return out


def boolean(code: str, mode: str = "rw") -> CodeSpec:
    return CodeSpec(code, "Boolean", {}, mode)


def integer(
    code: str, lo: float, hi: float, *, unit: str = "", scale: int = 0, step: float = 1, mode: str = "rw"
) -> CodeSpec:
    values: dict[str, Any] = {"min": lo, "max": hi, "scale": scale, "step": step}
    if unit:
        values["unit"] = unit
    return CodeSpec(code, "Integer", values, mode)


def enum(code: str, options: Iterable[str], mode: str = "rw") -> CodeSpec:
    return CodeSpec(code, "Enum", {"range": list(options)}, mode)


def string(code: str, mode: str = "ro") -> CodeSpec:
    return CodeSpec(code, "String", {}, mode)


def colour(code: str = "colour_data") -> CodeSpec:
    ranges = {"h": {"min": 0, "max": 360}, "s": {"min": 0, "max": 1000}, "v": {"min": 0, "max": 1000}}
    return CodeSpec(code, "Json", ranges)


class Schema:
    """Codes with their DP ids, in DP id order; converts between code and DP id keyed dicts."""

    def __init__(self, specs: Iterable[CodeSpec]) -> None:
        self._by_code: dict[str, CodeSpec] = {}
        self._dp: dict[str, int] = {}
        next_dp = FIRST_DYNAMIC_DP
        for spec in specs:
            if spec.code in self._by_code:
                continue
            dp = CANONICAL_DP.get(spec.code)
            if dp is None:
                dp, next_dp = next_dp, next_dp + 1
            self._by_code[spec.code] = spec
            self._dp[spec.code] = dp
        self._code_of = {str(dp): code for code, dp in self._dp.items()}

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def codes(self) -> list[str]:
        return sorted(self._by_code, key=lambda c: self._dp[c])

    def spec(self, code: str) -> CodeSpec:
        return self._by_code[code]

    def dp_id(self, code: str) -> int:
        return self._dp[code]

    def to_dicts(self) -> list[dict[str, Any]]:
        """JSON-ready schema rows, as ``Device.schema_dict`` returns them."""
        return [
            {"dp_id": self._dp[c], "code": c, "type": s.type, "values": dict(s.values), "mode": s.mode}
            for c in self.codes()
            for s in (self._by_code[c],)
        ]

    def dps(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Converted values by code -> Tuya wire values by DP id (codes outside the schema are dropped)."""
        return {str(self._dp[c]): self._by_code[c].to_raw(v) for c, v in values.items() if c in self._by_code}

    def resolve(self, values: Mapping[Any, Any]) -> dict[str, Any]:
        """Values keyed by code or DP id -> validated, converted values by code.

        A DP id key carries a wire value (scaled integer), a code key a converted one, as in the cloud API.
        """
        out: dict[str, Any] = {}
        for key, value in values.items():
            skey = str(key)
            if skey in self._by_code:
                code = skey
            elif skey in self._code_of:
                code = self._code_of[skey]
                value = self._by_code[code].from_raw(value)
            else:
                known = ", ".join(self.codes()) or "none yet"
                raise NotFoundError(f"no code or DP {skey!r} on this device (known: {known})")
            out[code] = self._by_code[code].validate(value)
        return out


def canonical_spec(code: str) -> CodeSpec | None:
    """The spec of a well-known code (see the module table), or None for a device-specific one."""
    if (code.startswith("switch_") and code[7:].isdigit()) or code == "switch_led":
        return boolean(code)
    return _CANONICAL_SPECS.get(code)


_CANONICAL_SPECS: dict[str, CodeSpec] = {
    spec.code: spec
    for spec in (
        integer("bright_value", 0, 1000),
        integer("temp_value", 0, 1000),
        colour("colour_data"),
        integer("cur_power", 0, 100000, unit="W", scale=1, mode="ro"),
        integer("cur_voltage", 0, 1000, unit="V", scale=1, mode="ro"),
        integer("cur_current", 0, 100000, unit="mA", mode="ro"),
        integer("add_ele", 0, 10**9, unit="kWh", scale=3, mode="ro"),
        integer("temp_current", -400, 1500, unit="°C", scale=1, mode="ro"),
        integer("humidity_value", 0, 100, unit="%", mode="ro"),
        enum("control", ["open", "stop", "close"], mode="wr"),
        integer("percent_control", 0, 100, unit="%"),
    )
}
