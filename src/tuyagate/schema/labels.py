"""Human names for DP codes: what a dashboard, MQTT discovery or an answer shows beside a value.

Tuya codes are identifiers (``cur_power``, ``bright_value_v2``, ``va_temperature``); people want
"Power", "Brightness", "Temperature". The common codes of Tuya's standard instruction sets have a
name in :data:`COMMON_LABELS`; any other code gets one made from its words (``switch_1`` ->
"Switch 1", ``number_target`` -> "Number target", ``switch_usb2`` -> "Switch USB 2"). A name given
in the device's schema (the ``name`` of a DP) always wins over both.
"""

from __future__ import annotations

import functools
import re

__all__ = ["COMMON_LABELS", "default_label"]

COMMON_LABELS: dict[str, str] = {
    "switch": "Switch",
    "switch_led": "Light",
    "work_mode": "Mode",
    "mode": "Mode",
    "bright_value": "Brightness",
    "bright_value_v2": "Brightness",
    "temp_value": "Colour temperature",
    "temp_value_v2": "Colour temperature",
    "colour_data": "Colour",
    "colour_data_v2": "Colour",
    "scene_data": "Scene",
    "scene_data_v2": "Scene",
    "music_data": "Music",
    "control_data": "Live control",
    "countdown": "Countdown",
    "add_ele": "Energy",
    "cur_current": "Current",
    "cur_power": "Power",
    "cur_voltage": "Voltage",
    "fault": "Fault",
    "relay_status": "Power-on behaviour",
    "light_mode": "Indicator light",
    "child_lock": "Child lock",
    "control": "Open / close",
    "percent_control": "Position",
    "percent_state": "Current position",
    "control_back_mode": "Motor direction",
    "work_state": "Motor state",
    "temp_set": "Target temperature",
    "temp_current": "Temperature",
    "va_temperature": "Temperature",
    "humidity_value": "Humidity",
    "va_humidity": "Humidity",
    "battery_state": "Battery level",
    "battery_percentage": "Battery",
    "temp_unit_convert": "Temperature unit",
    "doorcontact_state": "Door",
    "pir_state": "Motion",
    "presence_state": "Presence",
    "pm25_value": "PM2.5",
    "co2_value": "CO2",
    "fan_speed": "Fan speed",
    "fan_speed_enum": "Fan speed",
    "fan_speed_percent": "Fan speed",
    "cycle_time": "Cycle timer",
    "random_time": "Random timer",
    "switch_inching": "Inching",
}

# Words of codes that read better spelled out or in capitals; "" drops the word ("cur_", "va_", "_v2").
_WORDS = {
    "cur": "",
    "va": "",
    "v2": "",
    "temp": "temperature",
    "ele": "energy",
    "led": "LED",
    "usb": "USB",
    "pir": "PIR",
    "co2": "CO2",
    "pm25": "PM2.5",
    "ir": "IR",
}
_WORD_NUMBER = re.compile(r"^([a-z]+)(\d+)$")


@functools.lru_cache(maxsize=1024)  # a home has a few dozen distinct codes; descriptions are built often
def default_label(code: str) -> str:
    """The readable name of a code: from :data:`COMMON_LABELS`, else made from its words."""
    known = COMMON_LABELS.get(code)
    if known is not None:
        return known
    words: list[str] = []
    for part in code.replace("-", "_").split("_"):
        match = None if part.lower() in _WORDS else _WORD_NUMBER.match(part.lower())
        for piece in (match.group(1), match.group(2)) if match else (part,):
            word = _WORDS.get(piece.lower(), piece)
            if word:
                words.append(word)
    if not words:
        return code
    text = " ".join(words)
    return text[0].upper() + text[1:]
