"""The products an emulated fleet is made of, described as the Tuya cloud describes them.

Each product is a category, a DP specification in the cloud's shape (``dp_id``, ``code``,
``type``, ``values``, ``mode``) and a plausible initial state. The emulated cloud serves these
specifications, so a gateway that syncs from it learns the same schemas it would learn from
Tuya for real devices of these categories.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tuyagate.sim.manifest import DpSpec

__all__ = ["PRODUCTS", "Product"]


def _b(dp: int, code: str, mode: str = "rw") -> DpSpec:
    return DpSpec(dp, code, "Boolean", {}, mode)


def _i(
    dp: int, code: str, lo: int, hi: int, *, scale: int = 0, step: int = 1, unit: str = "", mode: str = "rw"
) -> DpSpec:
    return DpSpec(dp, code, "Integer", {"min": lo, "max": hi, "scale": scale, "step": step, "unit": unit}, mode)


def _e(dp: int, code: str, options: list[str], mode: str = "rw") -> DpSpec:
    return DpSpec(dp, code, "Enum", {"range": options}, mode)


@dataclass(frozen=True, slots=True)
class Product:
    """One kind of emulated device."""

    key: str
    name: str
    category: str
    schema: tuple[DpSpec, ...]
    state: dict[str, Any] = field(default_factory=dict)


PRODUCTS: dict[str, Product] = {
    "plug": Product(
        "plug",
        "Smart plug with energy metering",
        "cz",
        (
            _b(1, "switch_1"),
            _i(9, "countdown_1", 0, 86400, unit="s"),
            _i(17, "add_ele", 0, 50000, scale=3, step=100, unit="kWh", mode="ro"),
            _i(18, "cur_current", 0, 30000, unit="mA", mode="ro"),
            _i(19, "cur_power", 0, 50000, scale=1, unit="W", mode="ro"),
            _i(20, "cur_voltage", 0, 5000, scale=1, unit="V", mode="ro"),
        ),
        {"1": False, "9": 0, "17": 1200, "18": 0, "19": 0, "20": 2301},
    ),
    "switch": Product(
        "switch",
        "Wall switch, 2 gangs",
        "kg",
        (_b(1, "switch_1"), _b(2, "switch_2"), _i(7, "countdown_1", 0, 86400, unit="s")),
        {"1": False, "2": False, "7": 0},
    ),
    "light": Product(
        "light",
        "Dimmable colour bulb",
        "dj",
        (
            _b(20, "switch_led"),
            _e(21, "work_mode", ["white", "colour", "scene", "music"]),
            _i(22, "bright_value_v2", 10, 1000),
            _i(23, "temp_value_v2", 0, 1000),
            DpSpec(24, "colour_data_v2", "Json", {"h": {"min": 0, "max": 360}, "s": {"min": 0, "max": 1000}}),
        ),
        {"20": False, "21": "white", "22": 500, "23": 300, "24": "000003e803e8"},
    ),
    "cover": Product(
        "cover",
        "Curtain motor",
        "cl",
        (
            _e(1, "control", ["open", "stop", "close", "continue"]),
            _i(2, "percent_control", 0, 100, unit="%"),
            _i(3, "percent_state", 0, 100, unit="%", mode="ro"),
        ),
        {"1": "stop", "2": 0, "3": 0},
    ),
    "thermostat": Product(
        "thermostat",
        "Radiator thermostat",
        "wk",
        (
            _b(1, "switch"),
            _i(2, "temp_set", 50, 350, scale=1, step=5, unit="°C"),
            _i(3, "temp_current", -200, 600, scale=1, unit="°C", mode="ro"),
            _e(4, "mode", ["auto", "manual", "eco"]),
            _b(6, "child_lock"),
        ),
        {"1": True, "2": 210, "3": 195, "4": "manual", "6": False},
    ),
    "sensor": Product(
        "sensor",
        "Temperature and humidity sensor",
        "wsdcg",
        (
            _i(1, "va_temperature", -200, 600, scale=1, unit="°C", mode="ro"),
            _i(2, "va_humidity", 0, 100, unit="%", mode="ro"),
            _i(4, "battery_percentage", 0, 100, unit="%", mode="ro"),
        ),
        {"1": 215, "2": 48, "4": 87},
    ),
    "gateway": Product("gateway", "Zigbee gateway", "wg2", (), {}),
}
