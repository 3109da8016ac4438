"""Pure conversions between firmware light units and tuyagate's Tuya-style codes (see synthetic.py)."""

from __future__ import annotations

import colorsys
from typing import Any

__all__ = [
    "MIRED_COLD",
    "MIRED_WARM",
    "bright_from_byte",
    "bright_from_percent",
    "byte_from_bright",
    "colour_from_hsb",
    "colour_from_rgb",
    "hsb_from_colour",
    "mired_from_temp",
    "percent_from_bright",
    "rgb_from_colour",
    "temp_from_mired",
]

MIRED_COLD = 153  # 6500 K, Tasmota's CT minimum
MIRED_WARM = 500  # 2000 K, Tasmota's CT maximum


def _half_up(x: float) -> int:
    return int(x + 0.5) if x >= 0 else -int(-x + 0.5)


def _clamp(x: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, x))


def bright_from_percent(percent: float) -> int:
    """Tasmota ``Dimmer`` 0..100 -> bright_value 0..1000."""
    return _clamp(_half_up(float(percent) * 10), 0, 1000)


def percent_from_bright(value: int) -> int:
    return _clamp(_half_up(value / 10), 0, 100)


def bright_from_byte(byte: float) -> int:
    """ESPHome ``brightness`` 0..255 -> bright_value 0..1000."""
    return _clamp(_half_up(float(byte) * 1000 / 255), 0, 1000)


def byte_from_bright(value: int) -> int:
    return _clamp(_half_up(value * 255 / 1000), 0, 255)


def temp_from_mired(mired: float, cold: int = MIRED_COLD, warm: int = MIRED_WARM) -> int:
    """Colour temperature in mired -> temp_value 0 (warmest) .. 1000 (coldest)."""
    return _clamp(_half_up((warm - float(mired)) * 1000 / (warm - cold)), 0, 1000)


def mired_from_temp(value: int, cold: int = MIRED_COLD, warm: int = MIRED_WARM) -> int:
    return _clamp(_half_up(warm - value * (warm - cold) / 1000), cold, warm)


def colour_from_hsb(text: str) -> dict[str, int] | None:
    """Tasmota ``HSBColor`` "h,s,b" (0..360, 0..100, 0..100) -> colour_data; None when it does not parse."""
    parts = str(text).split(",")
    if len(parts) != 3:
        return None
    try:
        h, s, b = (int(float(p)) for p in parts)
    except ValueError:
        return None
    return {"h": _clamp(h, 0, 360), "s": _clamp(s * 10, 0, 1000), "v": _clamp(b * 10, 0, 1000)}


def hsb_from_colour(colour: dict[str, int]) -> str:
    return f"{colour['h']},{percent_from_bright(colour['s'])},{percent_from_bright(colour['v'])}"


def colour_from_rgb(r: float, g: float, b: float, brightness: float = 255) -> dict[str, int]:
    """ESPHome colour (r,g,b 0..255) and brightness 0..255 -> colour_data (v from brightness)."""
    h, s, _v = colorsys.rgb_to_hsv(r / 255, g / 255, b / 255)
    return {
        "h": _clamp(_half_up(h * 360), 0, 360) % 360,
        "s": _clamp(_half_up(s * 1000), 0, 1000),
        "v": bright_from_byte(brightness),
    }


def rgb_from_colour(colour: dict[str, Any]) -> tuple[int, int, int]:
    """colour_data hue/saturation -> full-value r,g,b 0..255 (the value goes to brightness)."""
    r, g, b = colorsys.hsv_to_rgb((colour["h"] % 360) / 360, colour["s"] / 1000, 1.0)
    return _half_up(r * 255), _half_up(g * 255), _half_up(b * 255)
