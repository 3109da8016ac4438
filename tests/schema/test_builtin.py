"""Built-in schemas: the common categories convert real-looking values and agree with Tuya's DP ids."""

from __future__ import annotations

import pytest

from tuyagate.errors import NotFoundError, ValidationError
from tuyagate.schema import DpSchema
from tuyagate.schema.builtin import (
    BUILTIN_CATEGORIES,
    builtin_schema,
    guess_builtin_schema,
    schema_for,
    switch_schema,
)
from tuyagate.schema.dp import DpMode


def test_every_category_builds_and_round_trips_through_dicts() -> None:
    for category in BUILTIN_CATEGORIES:
        schema = builtin_schema(category)
        assert len(schema) > 0
        assert DpSchema.from_dicts(schema.to_dicts()) == schema


def test_metering_plug_uses_standard_ids_and_scales() -> None:
    schema = builtin_schema("cz", metering=True)
    assert {schema.code_for(i) for i in (1, 9, 17, 18, 19, 20)} == {
        "switch_1",
        "countdown_1",
        "add_ele",
        "cur_current",
        "cur_power",
        "cur_voltage",
    }
    assert schema.decode({"1": True, "17": 123, "18": 512, "19": 1187, "20": 2301}) == {
        "switch_1": True,
        "add_ele": 0.123,
        "cur_current": 512,
        "cur_power": 118.7,
        "cur_voltage": 230.1,
    }
    assert schema.dp("cur_power").mode is DpMode.RO
    with pytest.raises(ValidationError, match="cur_voltage is read-only"):
        schema.to_wire("cur_voltage", 230)


def test_multi_gang_switch_ids() -> None:
    schema = switch_schema(4)
    assert [schema.id_for(f"switch_{i}") for i in range(1, 5)] == [1, 2, 3, 4]
    assert [schema.id_for(f"countdown_{i}") for i in range(1, 5)] == [7, 8, 9, 10]
    assert switch_schema(1).id_for("countdown_1") == 9
    with pytest.raises(NotFoundError, match="1 to 6"):
        switch_schema(7)


def test_light_values() -> None:
    light = builtin_schema("dj")
    assert light.encode(
        {"switch_led": True, "work_mode": "colour", "colour_data_v2": {"h": 240, "s": 1000, "v": 1000}}
    ) == {
        "20": True,
        "21": "colour",
        "24": "00f003e803e8",
    }
    with pytest.raises(
        ValidationError, match=r"bright_value_v2 must be an integer between 10 and 1000 \(step 1\), got 5000"
    ):
        light.to_wire("bright_value_v2", 5000)
    assert light.to_wire("temp_value_v2", 0) == 0


def test_cover_thermostat_sensor() -> None:
    cover = builtin_schema("cl")
    assert cover.encode({"control": "close", "percent_control": 40}) == {"1": "close", "2": 40}
    with pytest.raises(ValidationError, match='control must be one of "open", "stop", "close", "continue", got "up"'):
        cover.to_wire("control", "up")
    thermostat = builtin_schema("wk")
    assert thermostat.to_wire("temp_set", 21.5) == 215
    assert thermostat.from_wire(3, 198) == 19.8
    sensor = builtin_schema("wsdcg")
    assert sensor.decode({"1": 235, "2": 48, "4": 87}) == {
        "va_temperature": 23.5,
        "va_humidity": 48,
        "battery_percentage": 87,
    }


def test_unknown_category() -> None:
    with pytest.raises(NotFoundError, match="no built-in DP schema for category 'sd'"):
        builtin_schema("sd")
    assert guess_builtin_schema("sd", {"1": True}) is None


def test_guess_from_status() -> None:
    guessed = guess_builtin_schema("kg", {"1": True, "2": False, "3": True, "7": 0})
    assert guessed == switch_schema(3)
    metered = guess_builtin_schema("cz", {"1": True, "19": 100})
    assert metered == switch_schema(1, metering=True)
    assert guess_builtin_schema("cz", None) == switch_schema(1)
    assert guess_builtin_schema("dj") == builtin_schema("dj")


def test_schema_for_picks_cloud_then_builtin_and_applies_user_dps() -> None:
    cloud = DpSchema.from_dicts([{"dp_id": 1, "code": "switch", "type": "Boolean"}])
    user = DpSchema.from_dicts([{"dp_id": 101, "code": "child_lock", "type": "Boolean"}])
    assert schema_for("cz", cloud=cloud) == (cloud, "cloud")
    assert schema_for("cz", dps={"1": True, "20": 2301}) == (switch_schema(1, metering=True), "builtin")
    merged, source = schema_for("dj", user=user)
    assert source == "user"
    assert [d.code for d in merged][-1] == "child_lock"
    assert "switch_led" in merged
    assert schema_for("zz") == (DpSchema(), "")
    assert schema_for("zz", user=user) == (user, "user")
