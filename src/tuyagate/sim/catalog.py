"""The products an emulated fleet is made of, described as the Tuya cloud describes them.

Each product is a category, a DP specification (:class:`~tuyagate.schema.DpDef`, served in the
cloud's shape: ``dp_id``, ``code``, ``type``, ``values``, ``mode``) and a plausible initial state.
The emulated cloud serves these specifications, so a gateway that syncs from it learns the same
schemas it would learn from Tuya for real devices of these categories.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tuyagate.schema import DpDef, DpMode
from tuyagate.schema.build import boolean, colour, enum, integer

__all__ = ["PRODUCTS", "Product"]

RO = DpMode.RO


@dataclass(frozen=True, slots=True)
class Product:
    """One kind of emulated device."""

    key: str
    name: str
    category: str
    schema: tuple[DpDef, ...]
    state: dict[str, Any] = field(default_factory=dict)


PRODUCTS: dict[str, Product] = {
    "plug": Product(
        "plug",
        "Smart plug with energy metering",
        "cz",
        (
            boolean(1, "switch_1"),
            integer(9, "countdown_1", 0, 86400, unit="s"),
            integer(17, "add_ele", 0, 50000, scale=3, step=100, unit="kWh", mode=RO),
            integer(18, "cur_current", 0, 30000, unit="mA", mode=RO),
            integer(19, "cur_power", 0, 50000, scale=1, unit="W", mode=RO),
            integer(20, "cur_voltage", 0, 5000, scale=1, unit="V", mode=RO),
        ),
        {"1": False, "9": 0, "17": 1200, "18": 0, "19": 0, "20": 2301},
    ),
    "switch": Product(
        "switch",
        "Wall switch, 2 gangs",
        "kg",
        (boolean(1, "switch_1"), boolean(2, "switch_2"), integer(7, "countdown_1", 0, 86400, unit="s")),
        {"1": False, "2": False, "7": 0},
    ),
    "light": Product(
        "light",
        "Dimmable colour bulb",
        "dj",
        (
            boolean(20, "switch_led"),
            enum(21, "work_mode", ["white", "colour", "scene", "music"]),
            integer(22, "bright_value_v2", 10, 1000),
            integer(23, "temp_value_v2", 0, 1000),
            colour(24, "colour_data_v2"),
        ),
        {"20": False, "21": "white", "22": 500, "23": 300, "24": "000003e803e8"},
    ),
    "cover": Product(
        "cover",
        "Curtain motor",
        "cl",
        (
            enum(1, "control", ["open", "stop", "close", "continue"]),
            integer(2, "percent_control", 0, 100, unit="%"),
            integer(3, "percent_state", 0, 100, unit="%", mode=RO),
        ),
        {"1": "stop", "2": 0, "3": 0},
    ),
    "thermostat": Product(
        "thermostat",
        "Radiator thermostat",
        "wk",
        (
            boolean(1, "switch"),
            integer(2, "temp_set", 50, 350, scale=1, step=5, unit="°C"),
            integer(3, "temp_current", -200, 600, scale=1, unit="°C", mode=RO),
            enum(4, "mode", ["auto", "manual", "eco"]),
            boolean(6, "child_lock"),
        ),
        {"1": True, "2": 210, "3": 195, "4": "manual", "6": False},
    ),
    "sensor": Product(
        "sensor",
        "Temperature and humidity sensor",
        "wsdcg",
        (
            integer(1, "va_temperature", -200, 600, scale=1, unit="°C", mode=RO),
            integer(2, "va_humidity", 0, 100, unit="%", mode=RO),
            integer(4, "battery_percentage", 0, 100, unit="%", mode=RO),
        ),
        {"1": 215, "2": 48, "4": 87},
    ),
    "gateway": Product("gateway", "Zigbee gateway", "wg2", (), {}),
}
