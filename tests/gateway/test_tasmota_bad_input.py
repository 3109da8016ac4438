"""Any Tasmota command string, against any state a device reports: a plan or ValidationError, and an answer.

``cmnd`` comes straight from a URL; the values come from a device (or a cloud) that may report
anything. The route turns ValidationError into its 400 answer; any other exception would be a 500.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from tests.hostile import FUZZ, json_values
from tuyagate.errors import ValidationError
from tuyagate.gateway.tasmota_commands import KNOWN, LightModel, Plan, parse_command, plan, render


def entry(dp: int, code: str, kind: str, values: Any = None) -> dict[str, Any]:
    return {"dp_id": dp, "code": code, "type": kind, "values": values or {}, "mode": "rw"}


SCHEMAS = [
    [  # a v2 colour bulb
        entry(20, "switch_led", "Boolean"),
        entry(21, "work_mode", "Enum", {"range": ["white", "colour", "scene"]}),
        entry(22, "bright_value_v2", "Integer", {"min": 10, "max": 1000, "step": 1, "scale": 0}),
        entry(23, "temp_value_v2", "Integer", '{"min":0,"max":1000,"scale":0,"step":1}'),
        entry(24, "colour_data_v2", "Json"),
    ],
    [  # a v1 bulb: hex colour, 25..255 brightness
        entry(1, "switch_led", "Boolean"),
        entry(2, "work_mode", "Enum"),
        entry(3, "bright_value", "Integer", {"min": 25, "max": 255}),
        entry(5, "colour_data", "Json"),
    ],
    [entry(i, f"switch_{i}", "Boolean") for i in range(1, 5)],  # a power strip
    [entry(1, "switch", "Boolean"), entry(2, "temp_value", "Integer", {"min": 0, "max": 0, "scale": 2})],
    [],  # nothing Tasmota can drive
]
MODELS = [LightModel.from_schema(s) for s in SCHEMAS]
CODES = sorted({e["code"] for s in SCHEMAS for e in s})

names = st.sampled_from(sorted(KNOWN)).flatmap(lambda n: st.sampled_from([n, n.upper(), n.title()]))
numbers = st.sampled_from(
    ["0", "1", "2", "11", "50", "100", "-1", "153", "500", "1e308", "nan", "inf", "²", "٣", "1_0", "9" * 5000]
)
args = (
    st.text(max_size=20)
    | numbers
    | st.lists(numbers, min_size=1, max_size=4).map(",".join)
    | st.sampled_from(["on", "OFF", "toggle", "#ff00ff", "FF00FF00", "ffffffffff", "#", "1,2", ",,"])
)
commands = st.text(max_size=40) | st.tuples(
    names, st.sampled_from(["", "0", "1", "2", "9", "00", "99999999999999999999"]), args
).map(lambda t: f"{t[0]}{t[1]} {t[2]}")
colours = st.dictionaries(st.sampled_from("hsv"), json_values | st.floats())
states = st.dictionaries(
    st.sampled_from(CODES),
    json_values
    | colours
    | colours.map(lambda c: json.dumps(c, allow_nan=True))
    | st.sampled_from(['{"h":1', "{}", "zzzzzzzzzzzz", "00ff03e803e8", "{" + "[" * 5000]),
)


@FUZZ
@example(model=MODELS[0], text="Status ²", values={})  # int("²") raised ValueError: a 500 answer
@example(model=MODELS[0], text="State", values={"work_mode": "colour", "colour_data_v2": {"h": "x"}})
@example(model=MODELS[0], text="Dimmer 50", values={"work_mode": "colour", "colour_data_v2": '{"h": 1e999}'})
@given(model=st.sampled_from(MODELS), text=commands, values=states)
def test_any_command_plans_or_is_refused_and_any_state_renders(model: LightModel, text: str, values: Any) -> None:
    cmd = parse_command(text)
    try:
        result = plan(model, cmd, values)
    except ValidationError:
        return
    assert isinstance(result, Plan)
    answer = render(model, result, {**values, **result.changes}, {"name": "x", "id": "y", "ip": None})
    assert isinstance(answer, dict)


@FUZZ
@given(
    schema=st.lists(
        st.fixed_dictionaries(
            {"code": st.sampled_from(CODES), "type": st.text(max_size=8)},
            optional={"values": json_values, "dp_id": json_values},
        ),
        max_size=6,
    )
)
def test_a_light_model_from_any_schema_or_a_validation_error(schema: list[dict[str, Any]]) -> None:
    """Schemas come from the cloud or an import; a broken one is refused with ValidationError."""
    try:
        model = LightModel.from_schema(schema)
    except ValidationError:
        return
    assert isinstance(model, LightModel)
