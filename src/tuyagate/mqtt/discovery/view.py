"""The discovery's view of a device: its DPs in user units, read from the one DP schema.

Discovery never reads raw Tuya limits itself. :func:`dp_view` turns the schema's description of one DP
(:meth:`~tuyagate.schema.DpDef.description`: label, range and step in user units, options, colour
ranges, read/write-only) into a :class:`DpView`, the little every platform module needs; this adapter
is the one place that knows how the schema describes a DP.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from tuyagate.device_api import Device, DeviceInfo
from tuyagate.schema import DpDef, DpSchema, DpType
from tuyagate.schema.colour import V1_MAX_SV

__all__ = ["ColourRanges", "DeviceView", "DpView", "dp_view"]

Kind = Literal["bool", "int", "enum", "string", "json", "raw", "bitmap"]
_KINDS: dict[DpType, Kind] = {
    DpType.BOOLEAN: "bool",
    DpType.INTEGER: "int",
    DpType.ENUM: "enum",
    DpType.STRING: "string",
    DpType.JSON: "json",
    DpType.RAW: "raw",
    DpType.BITMAP: "bitmap",
}
_UNITS = {"℃": "°C", "℉": "°F", "°c": "°C", "°f": "°F", "c": "°C", "f": "°F"}  # Tuya's spellings -> SI symbols


@dataclass(frozen=True, slots=True)
class ColourRanges:
    """The upper bounds of a colour DP's hue, saturation and value; ``v1`` lights carry s and v in one byte."""

    h_max: int
    s_max: int
    v_max: int
    native: bool = True  # the schema itself reads colours as {"h", "s", "v"} (else: send the device's hex form)

    @property
    def v1(self) -> bool:
        return self.s_max <= V1_MAX_SV


@dataclass(frozen=True, slots=True)
class DpView:
    """One DP as discovery needs it; numbers are in user units (``21.5`` degrees, not ``215``)."""

    code: str
    dp_id: int
    kind: Kind
    readable: bool
    writable: bool
    label: str = ""
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: float = 1
    scale: int = 0
    options: tuple[str, ...] = ()
    colour: ColourRanges | None = None

    @property
    def read_only(self) -> bool:
        return self.readable and not self.writable


def dp_view(dp: DpDef) -> DpView:
    """The adapter from the schema's description of a DP to discovery's view of it."""
    described = dp.description()
    ranges = described.colour
    colour = ColourRanges(ranges["h"][1], ranges["s"][1], ranges["v"][1]) if ranges else _lenient_colour(dp)
    unit = described.unit.strip()
    return DpView(
        code=dp.code,
        dp_id=dp.dp_id,
        kind=_KINDS[dp.type],
        readable=not described.write_only,
        writable=not described.read_only,
        label=described.label,
        unit=_UNITS.get(unit, unit),
        minimum=described.min,
        maximum=described.max,
        step=described.step or 1,
        scale=max(described.scale, 0),
        options=tuple(described.options),
        colour=colour,
    )


def _lenient_colour(dp: DpDef) -> ColourRanges | None:
    """The colour ranges of a Json DP with only an ``h``/``s`` sub-schema (``v`` takes ``s``'s range).

    Some cloud specifications leave ``v`` out; the schema then does not read the DP as a colour (and
    passes values through as JSON), so commands for it are sent in the device's own hex layout instead.
    """
    if dp.type is not DpType.JSON:
        return None
    hue, sat = dp.fields.get("h"), dp.fields.get("s")
    if not isinstance(hue, dict) or not isinstance(sat, dict):
        return None

    def high(limits: Any, default: int) -> int:
        try:
            return int(limits.get("max", default))
        except (TypeError, ValueError, AttributeError):
            return default

    return ColourRanges(high(hue, 360), high(sat, 1000), high(sat, 1000), native=False)


@dataclass(frozen=True, slots=True)
class DeviceView:
    """A device's description and its DPs by code (in DP id order)."""

    info: DeviceInfo
    dps: dict[str, DpView]

    @classmethod
    def of(cls, device: Device) -> DeviceView:
        return cls.from_schema(device.info, device.schema)

    @classmethod
    def from_schema(cls, info: DeviceInfo, schema: DpSchema) -> DeviceView:
        views = sorted((dp_view(dp) for dp in schema), key=lambda v: v.dp_id)
        return cls(info, {v.code: v for v in views})

    def get(self, code: str) -> DpView | None:
        return self.dps.get(code)

    def first(self, *codes: str, kind: Kind | None = None) -> DpView | None:
        """The first of ``codes`` the device has (of ``kind``, when given)."""
        for code in codes:
            found = self.dps.get(code)
            if found is not None and (kind is None or found.kind == kind):
                return found
        return None

    def __iter__(self) -> Iterator[DpView]:
        return iter(self.dps.values())

    @property
    def colour_codes(self) -> frozenset[str]:
        return frozenset(v.code for v in self.dps.values() if v.colour is not None)
