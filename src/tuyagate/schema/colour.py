"""Colour values of Tuya lights: the user's ``{"h", "s", "v"}`` and the hex strings on the LAN.

The cloud describes a colour DP as ``Json`` with an ``h``/``s``/``v`` sub-schema and accepts an object
in commands; the device itself carries a hex string in its DPs. Two layouts exist:

- v2 (``colour_data_v2``, s and v in 0..1000): ``hhhhssssvvvv``, four hex digits each (12 characters).
- v1 (``colour_data``, s and v in 0..255): ``rrggbb0hhhssvv``, the RGB equivalent, then the hue in four
  hex digits and s, v in two each (14 characters).

Pure functions only; the schema decides which layout a DP uses from its sub-schema.
"""

from __future__ import annotations

import colorsys
import json
from typing import Any

__all__ = ["HSV_KEYS", "decode_colour", "encode_colour_hex", "is_colour_fields"]

HSV_KEYS = ("h", "s", "v")
V1_MAX_SV = 255  # v1 lights carry s and v in one byte each; v2 lights in 0..1000


def is_colour_fields(fields: Any) -> bool:
    """True when a Json DP's sub-schema describes a colour (``h``, ``s`` and ``v`` ranges)."""
    return isinstance(fields, dict) and all(isinstance(fields.get(k), dict) for k in HSV_KEYS)


def encode_colour_hex(h: int, s: int, v: int, *, v1: bool) -> str:
    """The LAN hex string for a colour (values already validated against the DP's ranges)."""
    if not v1:
        return f"{h:04x}{s:04x}{v:04x}"
    r, g, b = colorsys.hsv_to_rgb((h % 360) / 360.0, s / V1_MAX_SV, v / V1_MAX_SV)
    return f"{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}{h:04x}{s:02x}{v:02x}"


def decode_colour(raw: Any) -> dict[str, int] | None:
    """``{"h", "s", "v"}`` from a hex string (either layout), a JSON text or a dict; None if it is none of them."""
    if isinstance(raw, dict):
        values: list[Any] = [raw.get(k) for k in HSV_KEYS]
        if not all(_is_whole(v) for v in values):
            return None
        return {k: int(v) for k, v in zip(HSV_KEYS, values, strict=True)}
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if text.startswith("{"):
        try:
            return decode_colour(json.loads(text))
        except (ValueError, RecursionError):
            return None
    try:
        if len(text) == 12:
            return {"h": int(text[0:4], 16), "s": int(text[4:8], 16), "v": int(text[8:12], 16)}
        if len(text) == 14:
            return {"h": int(text[6:10], 16), "s": int(text[10:12], 16), "v": int(text[12:14], 16)}
    except ValueError:
        return None
    return None


def _is_whole(value: Any) -> bool:
    """An int, or a float with no fraction (JSON from other tools may carry 120.0); never a bool."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
