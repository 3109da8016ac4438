"""The synthetic schema: DP ids, validation messages, DP-id keyed values and unit conversions."""

from __future__ import annotations

import pytest

from tuyagate.errors import NotFoundError, ValidationError
from tuyagate.flashed import light
from tuyagate.flashed.schema import Schema, canonical_spec, enum, integer


def _schema() -> Schema:
    codes = ["switch_1", "switch_2", "bright_value", "temp_value", "colour_data", "cur_power", "add_ele"]
    specs = [s for c in codes if (s := canonical_spec(c)) is not None]
    return Schema([*specs, enum("select_mode", ["eco", "boost"]), integer("number_target", 5, 30, scale=1, step=0.5)])


def test_dp_ids_are_tuya_like_and_stable() -> None:
    schema = _schema()
    rows = {r["code"]: r for r in schema.to_dicts()}
    assert {c: r["dp_id"] for c, r in rows.items()} == {
        "switch_1": 1,
        "switch_2": 2,
        "add_ele": 17,
        "cur_power": 19,
        "bright_value": 22,
        "temp_value": 23,
        "colour_data": 24,
        "select_mode": 101,
        "number_target": 102,
    }
    assert rows["cur_power"] == {
        "dp_id": 19,
        "code": "cur_power",
        "type": "Integer",
        "mode": "ro",
        "values": {"min": 0, "max": 100000, "scale": 1, "step": 1, "unit": "W"},
    }
    assert [r["dp_id"] for r in schema.to_dicts()] == sorted(r["dp_id"] for r in schema.to_dicts())


def test_dps_use_the_wire_scale() -> None:
    assert _schema().dps({"cur_power": 12.3, "add_ele": 1.234, "switch_1": True, "nope": 1}) == {
        "19": 123,
        "17": 1234,
        "1": True,
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"bright_value": 1001}, r"bright_value must be a number in 0\.\.1000 \(got 1001\)"),
        ({"bright_value": 5.5}, "a whole number"),
        ({"bright_value": True}, "must be a number"),
        ({"switch_1": "on"}, "switch_1 must be true or false"),
        ({"cur_power": 5}, "cur_power is read-only"),
        ({"select_mode": "turbo"}, "select_mode must be one of eco, boost"),
        ({"number_target": 31}, r"number_target must be a number in 5\.\.30"),
        ({"colour_data": {"h": 361, "s": 0, "v": 0}}, "colour_data must be"),
        ({"colour_data": "not json"}, "colour_data must be"),
        ({"colour_data": {"h": 1, "s": 2}}, "colour_data must be"),
    ],
)
def test_bad_values_name_what_is_allowed(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _schema().resolve(values)


def test_unknown_code_or_dp_is_not_found_and_lists_the_codes() -> None:
    with pytest.raises(NotFoundError, match=r"'switch_9'.*known: switch_1, switch_2"):
        _schema().resolve({"switch_9": True})
    with pytest.raises(NotFoundError, match="'99'"):
        _schema().resolve({99: True})


def test_resolve_accepts_codes_dp_ids_and_json_strings() -> None:
    resolved = _schema().resolve({"1": True, 22: 500, "102": 225, "colour_data": '{"h": 120, "s": 1000, "v": 10}'})
    assert resolved == {
        "switch_1": True,
        "bright_value": 500,
        "number_target": 22.5,
        "colour_data": {"h": 120, "s": 1000, "v": 10},
    }


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
