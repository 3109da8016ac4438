"""The synthetic DP schema a reflashed device shows, so it looks like any other Tuya device.

A flashed firmware has no DP ids; tuyagate gives each value a Tuya-style code and a stable DP id:
well-known codes keep a fixed id (``switch_1``..``switch_16`` are 1..16, ``add_ele`` 17, ``cur_current`` 18,
``cur_power`` 19, ``cur_voltage`` 20, the plug ids Tuya uses), the others count up from 101 in the order
the device lists them. The result is an ordinary :class:`~tuyagate.schema.DpSchema`, so values are
validated, converted and described exactly as for stock devices. Units follow Tuya's, on every backend:

=================  ===========  =====================================================================
code               type         value (converted)            raw ``dps`` value (Tuya wire form)
=================  ===========  =====================================================================
switch_N           Boolean      true/false
switch_led         Boolean      light on/off (ESPHome lights)
bright_value       Integer      0..1000 (Tasmota Dimmer x10, ESPHome brightness x1000/255)
temp_value         Integer      0..1000, 0 warmest, 1000 coldest (CT 153..500 mired, reversed)
colour_data        Json         {"h":0..360,"s":0..1000,"v":0..1000}  hex ``hhhhssssvvvv``
cur_power          Integer      W, one decimal               deci-watts (scale 1)
cur_voltage        Integer      V, one decimal               deci-volts (scale 1)
cur_current        Integer      mA                           mA (scale 0)
add_ele            Integer      kWh, three decimals          Wh (scale 3)
=================  ===========  =====================================================================

The firmware clients describe each value with the constructors below, in the units they read
(``integer("number_target", 5, 30, step=0.5)``), before any id is known; :func:`synthetic_schema`
numbers them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal, InvalidOperation

from tuyagate.schema import DpDef, DpMode, DpSchema, DpType, build

__all__ = [
    "CANONICAL_DP",
    "FIRST_DYNAMIC_DP",
    "UNASSIGNED",
    "boolean",
    "canonical",
    "colour",
    "decimals",
    "enum",
    "integer",
    "string",
    "synthetic_schema",
]

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
UNASSIGNED = 0  # the DP id of a value described before synthetic_schema() numbers it
_MAX_DECIMALS = 6


def boolean(code: str, mode: DpMode | str = DpMode.RW, *, name: str = "") -> DpDef:
    return replace(build.boolean(UNASSIGNED, code, DpMode(mode)), name=name)


def integer(
    code: str,
    lo: float,
    hi: float,
    *,
    unit: str = "",
    scale: int | None = None,
    step: float | None = None,
    mode: DpMode | str = DpMode.RW,
    name: str = "",
) -> DpDef:
    """A number from ``lo`` to ``hi`` in steps of ``step``, all in user units.

    ``scale`` (decimals of the value) defaults to the most decimals any of the three has; without a
    ``step``, every value with that many decimals is allowed.
    """
    decimals_ = decimals(lo, hi, *(() if step is None else (step,))) if scale is None else scale
    return DpDef(
        UNASSIGNED,
        code,
        DpType.INTEGER,
        DpMode(mode),
        unit=unit,
        min=_raw(lo, decimals_),
        max=_raw(hi, decimals_),
        scale=decimals_,
        step=1 if step is None else max(_raw(step, decimals_), 1),
        name=name,
    )


def enum(code: str, options: Iterable[str], mode: DpMode | str = DpMode.RW, *, name: str = "") -> DpDef:
    return replace(build.enum(UNASSIGNED, code, options, DpMode(mode)), name=name)


def string(code: str, mode: DpMode | str = DpMode.RO, *, name: str = "") -> DpDef:
    return replace(build.string(UNASSIGNED, code, DpMode(mode)), name=name)


def colour(code: str = "colour_data") -> DpDef:
    return build.colour(UNASSIGNED, code)


def decimals(*numbers: float) -> int:
    """The most decimals any of ``numbers`` has (``0.5`` -> 1, ``0.25`` -> 2), at most 6."""
    most = 0
    for number in numbers:
        try:
            exponent = Decimal(str(number)).normalize().as_tuple().exponent
        except InvalidOperation:
            continue
        if isinstance(exponent, int):
            most = max(most, -exponent)
    return min(most, _MAX_DECIMALS)


def _raw(value: float, scale: int) -> int:
    return int(Decimal(str(value)).scaleb(scale).to_integral_value())


def canonical(code: str) -> DpDef | None:
    """The description of a well-known code (see the module table), or None for a device-specific one."""
    if (code.startswith("switch_") and code[7:].isdigit()) or code == "switch_led":
        return boolean(code)
    return _CANONICAL.get(code)


def synthetic_schema(dps: Iterable[DpDef]) -> DpSchema:
    """Give each described value its DP id (canonical, else 101, 102, ... in order); a repeated code is dropped."""
    numbered: list[DpDef] = []
    seen: set[str] = set()
    next_dp = FIRST_DYNAMIC_DP
    for dp in dps:
        if dp.code in seen:
            continue
        seen.add(dp.code)
        ident = CANONICAL_DP.get(dp.code)
        if ident is None:
            ident, next_dp = next_dp, next_dp + 1
        numbered.append(replace(dp, dp_id=ident))
    return DpSchema(numbered)


_CANONICAL: dict[str, DpDef] = {
    dp.code: dp
    for dp in (
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
