"""The synthetic schema of reflashed devices: Tuya-like DP ids on an ordinary DpSchema, user-unit limits."""

from __future__ import annotations

from typing import Any

import pytest

from tuyagate.errors import UnknownDpError, ValidationError
from tuyagate.flashed.synthetic import canonical, decimals, enum, integer, synthetic_schema
from tuyagate.schema import DpSchema, DpType


def _schema() -> DpSchema:
    codes = ["switch_1", "switch_2", "bright_value", "temp_value", "colour_data", "cur_power", "add_ele"]
    specs = [s for c in codes if (s := canonical(c)) is not None]
    return synthetic_schema(
        [
            *specs,
            enum("select_mode", ["eco", "boost"]),
            integer("number_target", 5, 30, step=0.5),
            specs[0],  # a code described twice keeps its first description
        ]
    )


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
    # The stored form is Tuya's: raw limits plus the scale, as for any stock device.
    assert rows["cur_power"] == {
        "dp_id": 19,
        "code": "cur_power",
        "type": "Integer",
        "mode": "ro",
        "values": {"unit": "W", "min": 0, "max": 1000000, "scale": 1, "step": 1},
    }
    assert rows["number_target"]["values"] == {"unit": "", "min": 50, "max": 300, "scale": 1, "step": 5}
    assert [r["dp_id"] for r in schema.to_dicts()] == sorted(r["dp_id"] for r in schema.to_dicts())
    assert DpSchema.from_dicts(schema.to_dicts()) == schema


def test_user_unit_limits_become_raw_limits() -> None:
    assert decimals(5, 30, 0.5) == 1
    assert decimals(0.25, 10, 0.5) == 2
    assert decimals(1e-9) == 6
    assert decimals(10**9, -(10**9), 1.0) == 0
    quarter = integer("number_level", 0.25, 10, step=0.5)
    assert (quarter.min, quarter.max, quarter.step, quarter.scale) == (25, 1000, 50, 2)
    assert quarter.to_wire(0.75) == 75
    with pytest.raises(ValidationError, match=r"between 0\.25 and 10\.00 \(step 0\.50\), got 1"):
        quarter.to_wire(1)
    assert integer("x", 0, 10, scale=1).type is DpType.INTEGER


def test_dps_of_reported_values_use_the_wire_scale_and_colour_hex() -> None:
    reported = {"cur_power": 12.3, "add_ele": 1.234, "switch_1": True, "nope": 1}
    assert _schema().dps_of(reported | {"colour_data": {"h": 120, "s": 1000, "v": 500}}) == {
        "19": 123,
        "17": 1234,
        "1": True,
        "24": "007803e801f4",
    }
    assert _schema().dps_of({"bright_value": "not a number"}) == {"22": "not a number"}  # lenient: a report


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"bright_value": 1001}, r"^bright_value must be an integer between 0 and 1000 \(step 1\), got 1001$"),
        ({"bright_value": 5.5}, "got 5.5$"),
        ({"bright_value": True}, "got true$"),
        ({"switch_1": "maybe"}, 'switch_1 must be true or false, got "maybe"'),
        ({"cur_power": 5}, "cur_power is read-only"),
        ({"select_mode": "turbo"}, 'select_mode must be one of "eco", "boost", got "turbo"'),
        ({"number_target": 31}, r"number_target must be a number between 5\.0 and 30\.0 \(step 0\.5\), got 31"),
        ({"number_target": 22.25}, "got 22.25"),
        ({"colour_data": {"h": 361, "s": 0, "v": 0}}, r"colour_data\.h must be an integer between 0 and 360, got 361"),
        ({"colour_data": "not json"}, 'colour_data must be a colour .*, got "not json"'),
        ({"colour_data": {"h": 1, "s": 2}}, r'got \{"h": 1, "s": 2\}'),
    ],
)
def test_bad_values_get_the_one_set_of_messages(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _schema().encode(values)


def test_unknown_code_or_dp_id_is_refused_naming_the_codes() -> None:
    with pytest.raises(UnknownDpError, match=r'"switch_9".*known: switch_1 \(1\), switch_2 \(2\)') as info:
        _schema().encode({"switch_9": True})
    assert "number_target" in info.value.known
    with pytest.raises(UnknownDpError, match="no DP id 99"):
        _schema().encode({99: True})


def test_codes_and_dp_ids_carry_user_values_as_for_every_device() -> None:
    schema = _schema()
    values: dict[str | int, Any] = {"1": True, 22: 500, "102": 22.5, "colour_data": '{"h": 120, "s": 1000, "v": 10}'}
    dps = schema.encode(values)
    assert dps == {"1": True, "22": 500, "102": 225, "24": "007803e8000a"}
    assert schema.decode(dps) == {
        "switch_1": True,
        "bright_value": 500,
        "number_target": 22.5,
        "colour_data": {"h": 120, "s": 1000, "v": 10},
    }
