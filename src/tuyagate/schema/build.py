"""Short constructors for DPs written in code: the built-in schemas, the emulators' products, flashed firmware.

Limits are raw (wire) units, as Tuya's specifications give them (``integer(2, "temp_set", 50, 350,
scale=1, step=5)`` is 5.0 .. 35.0 in steps of 0.5).
"""

from __future__ import annotations

from collections.abc import Iterable

from tuyagate.schema.dp import DpDef, DpMode, DpType

__all__ = ["bitmap", "boolean", "colour", "enum", "integer", "json_dp", "string"]

RW = DpMode.RW


def boolean(dp_id: int, code: str, mode: DpMode = RW) -> DpDef:
    return DpDef(dp_id, code, DpType.BOOLEAN, mode)


def integer(
    dp_id: int, code: str, lo: int, hi: int, *, unit: str = "", scale: int = 0, step: int = 1, mode: DpMode = RW
) -> DpDef:
    return DpDef(dp_id, code, DpType.INTEGER, mode, unit=unit, min=lo, max=hi, scale=scale, step=step)


def enum(dp_id: int, code: str, options: Iterable[str], mode: DpMode = RW) -> DpDef:
    return DpDef(dp_id, code, DpType.ENUM, mode, range=tuple(options))


def string(dp_id: int, code: str, mode: DpMode = RW, *, maxlen: int | None = None) -> DpDef:
    return DpDef(dp_id, code, DpType.STRING, mode, maxlen=maxlen)


def bitmap(dp_id: int, code: str, flags: Iterable[str], mode: DpMode = DpMode.RO) -> DpDef:
    return DpDef(dp_id, code, DpType.BITMAP, mode, labels=tuple(flags))


def json_dp(dp_id: int, code: str, mode: DpMode = RW) -> DpDef:
    return DpDef(dp_id, code, DpType.JSON, mode)


def colour(dp_id: int, code: str, *, sv_max: int = 1000, mode: DpMode = RW) -> DpDef:
    """A colour DP: h 0..360, s and v 0..``sv_max`` (1000 for ``colour_data_v2``, 255 for v1 lights)."""
    level = {"min": 0, "max": sv_max, "scale": 0, "step": 1, "unit": ""}
    fields = {"h": {"min": 0, "max": 360, "scale": 0, "step": 1, "unit": ""}, "s": dict(level), "v": dict(level)}
    return DpDef(dp_id, code, DpType.JSON, mode, fields=fields)
