"""Tasmota commands mapped onto Tuya codes: the pure functions of tasmota_commands (no I/O)."""

from __future__ import annotations

import pytest

from tuyagate.gateway.tasmota_commands import LightModel, parse_command, plan


def test_parse_command() -> None:
    assert parse_command("Power1 on") == parse_command("POWER1%20on".replace("%20", " "))
    cmd = parse_command("HSBColor 120,100,50")
    assert (cmd.name, cmd.index, cmd.arg) == ("hsbcolor", None, "120,100,50")
    cmd = parse_command("power2")
    assert (cmd.name, cmd.index, cmd.arg) == ("power", 2, "")
    assert parse_command("Backlog Power On;Dimmer 50").arg == "Power On;Dimmer 50"


@pytest.mark.parametrize(
    ("schema_codes", "power"),
    [
        (["switch_1", "switch_2"], ("switch_1", "switch_2")),
        (["switch_led"], ("switch_led",)),
        (["switch"], ("switch",)),
    ],
)
def test_light_model_power_codes(schema_codes: list[str], power: tuple[str, ...]) -> None:
    schema = [
        {"dp_id": i + 1, "code": c, "type": "Boolean", "values": {}, "mode": "rw"} for i, c in enumerate(schema_codes)
    ]
    model = LightModel.from_schema(schema)
    assert model.power == power
    assert plan(model, parse_command("Power On"), {}).changes == {power[0]: True}


def test_colour_v1_hex_format() -> None:
    schema = [
        {"dp_id": 1, "code": "switch_led", "type": "Boolean", "values": {}, "mode": "rw"},
        {"dp_id": 5, "code": "colour_data", "type": "Json", "values": {}, "mode": "rw"},
    ]
    model = LightModel.from_schema(schema)
    changes = plan(model, parse_command("HSBColor 240,100,100"), {}).changes
    assert changes == {"colour_data": "00f000ff00ff", "switch_led": True}
