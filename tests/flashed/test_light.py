"""Light unit conversions between firmware units and tuyagate's Tuya-style codes."""

from __future__ import annotations

from tuyagate.flashed import light


def test_light_unit_conversions_round_trip_at_firmware_resolution() -> None:
    assert light.bright_from_percent(light.percent_from_bright(505)) == 510
    assert light.percent_from_bright(1000) == 100
    assert light.bright_from_byte(light.byte_from_bright(500)) == 502
    assert (light.temp_from_mired(153), light.temp_from_mired(500)) == (1000, 0)
    assert light.mired_from_temp(light.temp_from_mired(300)) == 300
    assert light.colour_from_hsb("120,100,50") == {"h": 120, "s": 1000, "v": 500}
    assert light.colour_from_hsb("1,2") is None
    assert light.hsb_from_colour({"h": 120, "s": 1000, "v": 500}) == "120,100,50"
    assert light.rgb_from_colour({"h": 120, "s": 1000, "v": 1}) == (0, 255, 0)
    assert light.colour_from_rgb(0, 255, 0, 255) == {"h": 120, "s": 1000, "v": 1000}
