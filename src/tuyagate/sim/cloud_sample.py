"""A small built-in fleet for ``tuyagate sim cloud`` when no ``--fleet`` manifest is given.

A plug, a bulb, a Zigbee gateway with a sensor behind it and an offline plug: enough to try
every cloud call (lists, details, status, commands, specifications, sub-devices, 2001).
The ids and keys are made up; they are fixed so that documentation examples can use them.
"""

from __future__ import annotations

from typing import Any

from tuyagate.sim.manifest import FleetManifest

__all__ = ["sample_fleet"]

_PLUG_SCHEMA: list[dict[str, Any]] = [
    {"dp_id": 1, "code": "switch_1", "type": "Boolean", "values": {}, "mode": "rw"},
    {
        "dp_id": 9,
        "code": "countdown_1",
        "type": "Integer",
        "values": {"unit": "s", "min": 0, "max": 86400, "scale": 0, "step": 1},
        "mode": "rw",
    },
    {
        "dp_id": 19,
        "code": "cur_power",
        "type": "Integer",
        "values": {"unit": "W", "min": 0, "max": 99999, "scale": 1, "step": 1},
        "mode": "ro",
    },
    {
        "dp_id": 20,
        "code": "cur_voltage",
        "type": "Integer",
        "values": {"unit": "V", "min": 0, "max": 5000, "scale": 1, "step": 1},
        "mode": "ro",
    },
]

_BULB_SCHEMA: list[dict[str, Any]] = [
    {"dp_id": 20, "code": "switch_led", "type": "Boolean", "values": {}, "mode": "rw"},
    {
        "dp_id": 21,
        "code": "work_mode",
        "type": "Enum",
        "values": {"range": ["white", "colour", "scene", "music"]},
        "mode": "rw",
    },
    {
        "dp_id": 22,
        "code": "bright_value_v2",
        "type": "Integer",
        "values": {"min": 10, "max": 1000, "scale": 0, "step": 1},
        "mode": "rw",
    },
    {
        "dp_id": 24,
        "code": "colour_data_v2",
        "type": "Json",
        "values": {"h": {"min": 0, "max": 360}, "s": {"min": 0, "max": 1000}, "v": {"min": 0, "max": 1000}},
        "mode": "rw",
    },
]

_SENSOR_SCHEMA: list[dict[str, Any]] = [
    {
        "dp_id": 1,
        "code": "va_temperature",
        "type": "Integer",
        "values": {"unit": "℃", "min": -200, "max": 600, "scale": 1, "step": 1},
        "mode": "ro",
    },
    {
        "dp_id": 2,
        "code": "va_humidity",
        "type": "Integer",
        "values": {"unit": "%", "min": 0, "max": 100, "scale": 0, "step": 1},
        "mode": "ro",
    },
]


def sample_fleet() -> FleetManifest:
    """A fresh copy of the sample fleet."""
    return FleetManifest.from_dict(
        {
            "devices": [
                {
                    "id": "bfdemoplug0000000001",
                    "name": "Desk plug",
                    "local_key": "0123456789abcdef",
                    "version": "3.4",
                    "category": "cz",
                    "product_id": "demoplugpid01",
                    "product_name": "Smart plug",
                    "ip": "127.0.0.11",
                    "schema": _PLUG_SCHEMA,
                    "status": {"1": False, "9": 0, "19": 0, "20": 2301},
                },
                {
                    "id": "bfdemobulb0000000002",
                    "name": "Hall bulb",
                    "local_key": "fedcba9876543210",
                    "version": "3.3",
                    "category": "dj",
                    "product_id": "demobulbpid02",
                    "product_name": "RGBW bulb",
                    "ip": "127.0.0.12",
                    "schema": _BULB_SCHEMA,
                    "status": {"20": True, "21": "white", "22": 500, "24": '{"h":0,"s":0,"v":1000}'},
                },
                {
                    "id": "bfdemogateway0000003",
                    "name": "Zigbee gateway",
                    "local_key": "a1b2c3d4e5f6a7b8",
                    "version": "3.3",
                    "category": "wg2",
                    "product_id": "demogwpid03",
                    "product_name": "Zigbee gateway",
                    "ip": "127.0.0.13",
                    "schema": [],
                    "status": {},
                },
                {
                    "id": "bfdemosensor00000004",
                    "name": "Bedroom sensor",
                    "local_key": "a1b2c3d4e5f6a7b8",
                    "version": "3.3",
                    "category": "wsdcg",
                    "product_id": "demothpid04",
                    "product_name": "Temperature and humidity sensor",
                    "ip": "127.0.0.13",
                    "lan": False,
                    "parent_id": "bfdemogateway0000003",
                    "cid": "a4c1380000000004",
                    "schema": _SENSOR_SCHEMA,
                    "status": {"1": 215, "2": 48},
                },
                {
                    "id": "bfdemooffline0000005",
                    "name": "Garage plug",
                    "local_key": "0011223344556677",
                    "version": "3.3",
                    "category": "cz",
                    "product_id": "demoplugpid01",
                    "product_name": "Smart plug",
                    "ip": "127.0.0.15",
                    "online": False,
                    "schema": _PLUG_SCHEMA,
                    "status": {"1": False, "9": 0, "19": 0, "20": 0},
                },
            ]
        }
    )
