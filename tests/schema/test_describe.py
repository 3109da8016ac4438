"""Descriptions of DPs for front ends, their labels, and values quoted as JSON in messages."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuyagate.schema import DpDef, DpDescription, DpMode, DpSchema, DpType
from tuyagate.schema.builtin import builtin_schema, light_schema, switch_schema
from tuyagate.schema.labels import COMMON_LABELS, default_label
from tuyagate.schema.quote import MAX_QUOTED, json_quote

KEYS = {
    "dp_id",
    "code",
    "type",
    "values",
    "mode",
    "label",
    "read_only",
    "write_only",
    "unit",
    "min",
    "max",
    "step",
    "scale",
    "options",
    "flags",
    "maxlen",
    "colour",
}


def test_integer_ranges_are_in_user_units() -> None:
    temp_set = builtin_schema("wk").dp("temp_set").description()
    assert isinstance(temp_set, DpDescription)
    assert (temp_set.min, temp_set.max, temp_set.step, temp_set.scale, temp_set.unit) == (5.0, 35.0, 0.5, 1, "°C")
    assert (temp_set.label, temp_set.read_only, temp_set.write_only) == ("Target temperature", False, False)
    energy = switch_schema(1, metering=True).dp("add_ele").description()
    assert (energy.min, energy.max, energy.step) == (0.0, 50.0, 0.1)
    countdown = switch_schema(1).dp("countdown_1").description()
    assert (countdown.min, countdown.max, countdown.step) == (0, 86400, 1)
    assert all(isinstance(v, int) for v in (countdown.min, countdown.max, countdown.step))
    coarse = DpDef(5, "level", DpType.INTEGER, min=1, max=9, scale=-1).description()
    assert (coarse.min, coarse.max, coarse.step) == (10, 90, 10)
    open_ended = DpDef(6, "counter", DpType.INTEGER).description()
    assert (open_ended.min, open_ended.max, open_ended.step) == (None, None, 1)


def test_every_type_has_the_same_json_keys() -> None:
    light = [replace(dp, dp_id=dp.dp_id + 100) for dp in light_schema() if dp.code != "countdown_1"]
    extra = [
        DpDef(90, "note", DpType.STRING, maxlen=20),
        DpDef(91, "ir_blob", DpType.RAW, DpMode.WR, maxlen=128),
        DpDef(92, "button_restart", DpType.BOOLEAN, DpMode.WR),
    ]
    schema = DpSchema([*switch_schema(1, metering=True), *light, *extra])
    assert {dp.type for dp in schema} == set(DpType)
    described = schema.describe()
    assert json.loads(json.dumps(described)) == described
    assert [set(d) for d in described] == [KEYS] * len(schema)
    by_code = {d["code"]: d for d in described}
    for entry, stored in zip(described, schema.to_dicts(), strict=True):
        assert {k: entry[k] for k in stored} == stored  # the stored keys are unchanged
    assert by_code["relay_status"]["options"] == ["off", "on", "memory"]
    assert by_code["relay_status"]["min"] is None
    assert by_code["fault"]["flags"][:2] == ["ov_cr", "ov_vol"]
    assert by_code["fault"]["read_only"] is True
    assert by_code["colour_data_v2"]["colour"] == {
        "h": {"min": 0, "max": 360},
        "s": {"min": 0, "max": 1000},
        "v": {"min": 0, "max": 1000},
    }
    assert by_code["scene_data_v2"]["colour"] is None
    assert (by_code["note"]["maxlen"], by_code["note"]["label"]) == (20, "Note")
    assert (by_code["ir_blob"]["write_only"], by_code["ir_blob"]["label"]) == (True, "IR blob")
    assert by_code["button_restart"]["write_only"] is True
    assert [d.code for d in schema.descriptions()] == [d["code"] for d in described]


def test_a_name_from_the_schema_wins_and_round_trips() -> None:
    schema = DpSchema.from_dicts(
        [
            {"dp_id": 1, "code": "switch_1", "type": "Boolean", "name": "Desk lamp"},
            {"dp_id": 2, "code": "switch_2", "type": "Boolean"},
        ]
    )
    assert [d.label for d in schema.descriptions()] == ["Desk lamp", "Switch 2"]
    assert schema.to_dicts()[0]["name"] == "Desk lamp"
    assert "name" not in schema.to_dicts()[1]  # stored schemas without names keep their exact shape
    assert DpSchema.from_dicts(schema.to_dicts()) == schema


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("switch_1", "Switch 1"),
        ("switch_12", "Switch 12"),
        ("cur_power", "Power"),
        ("cur_voltage", "Voltage"),
        ("add_ele", "Energy"),
        ("bright_value_v2", "Brightness"),
        ("colour_data", "Colour"),
        ("va_humidity", "Humidity"),
        ("temp_set", "Target temperature"),
        ("switch_led", "Light"),
        ("countdown_1", "Countdown 1"),
        ("switch_usb2", "Switch USB 2"),
        ("number_target", "Number target"),
        ("binary_sensor_button", "Binary sensor button"),
        ("temp_unit_convert", "Temperature unit"),
        ("temp_correction", "Temperature correction"),
        ("pm25", "PM2.5"),
        ("led_v2", "LED"),
        ("cur", "cur"),
        ("x", "X"),
    ],
)
def test_labels(code: str, label: str) -> None:
    assert default_label(code) == label


def test_the_label_table_covers_every_built_in_code() -> None:
    codes = {
        dp.code for category in ("cz", "dj", "cl", "wk", "wsdcg") for dp in builtin_schema(category, metering=True)
    }
    unnamed = {c for c in codes if c not in COMMON_LABELS and not c[-1].isdigit()}
    assert unnamed == set()


QUOTES: list[tuple[Any, str]] = [
    (None, "null"),
    (True, "true"),
    (False, "false"),
    ("abc", '"abc"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("°C", '"°C"'),
    ({"h": 1}, '{"h": 1}'),
    ([1, None], "[1, null]"),
    ((1, 2), "[1, 2]"),
    (5, "5"),
    (2.5, "2.5"),
    (float("nan"), "NaN"),
    (float("-inf"), "-Infinity"),
    (Decimal("1.5"), "1.5"),
    (b"\x01\x02", '"hex:0102"'),
    ({7}, "[7]"),
    (10**5000, "an integer of 16610 bits"),
    ([10**5000], "a list that cannot be shown"),
    (object(), "a value of type object"),
    ("x" * 100, '"' + "x" * (MAX_QUOTED - 4) + "..."),
]


@pytest.mark.parametrize(("value", "quoted"), QUOTES, ids=[q[:20] for _, q in QUOTES])
def test_json_quote(value: Any, quoted: str) -> None:
    assert json_quote(value) == quoted


def test_json_quote_survives_cycles() -> None:
    loop: list[Any] = []
    loop.append(loop)
    assert json_quote(loop) == "a list that cannot be shown"


ANY = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.decimals()
    | st.text(max_size=100)
    | st.binary(max_size=80)
    | st.integers(4400, 5000).map(lambda digits: 10**digits),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=10,
)


@given(ANY)
def test_json_quote_never_raises_and_stays_short(value: Any) -> None:
    assert len(json_quote(value)) <= MAX_QUOTED
