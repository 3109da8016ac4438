"""Any payload on a ``/set`` topic: values and a request id, or CommandError with a stable code.

Payloads come from anyone who may publish on the broker. A payload that is not a command must be
answered on the result topic (``bad_request``, ``invalid_request``, ``payload_too_large``), never
end the bridge's message loop with another exception.
"""

from __future__ import annotations

import json

from hypothesis import example, given
from hypothesis import strategies as st

from tests.hostile import FUZZ, hostile_bytes, json_values, objects
from tuyagate.mqtt.commands import MAX_COMMANDS, MAX_PAYLOAD, CommandError, parse_command

CODES = {"bad_request", "invalid_request", "payload_too_large"}
KEYS = st.sampled_from(["commands", "dps", "id", "switch_1", "bright_value_v2", "1", "code", "value"])
commands = st.lists(
    st.fixed_dictionaries({"code": st.text(max_size=70) | json_values, "value": json_values})
    | objects(st.sampled_from(["code", "value"])),
    max_size=MAX_COMMANDS + 2,
)
shapes = (
    objects(KEYS)
    | st.builds(lambda c, i: {"commands": c, "id": i}, commands, json_values | st.text(max_size=200))
    | st.builds(lambda d: {"dps": d}, st.dictionaries(st.text(max_size=3), json_values, max_size=MAX_COMMANDS + 2))
)


@FUZZ
@example(payload=b"[" * 50_000)  # nested too deep for json: RecursionError before it was caught
@example(payload=b"{" + b" " * MAX_PAYLOAD + b"}")
@given(payload=hostile_bytes(shapes))
def test_any_payload_is_a_command_or_a_command_error(payload: bytes) -> None:
    refusal: CommandError | None = None
    try:
        values, request_id = parse_command(payload)
    except CommandError as exc:
        refusal = exc
    if refusal is not None:
        assert refusal.code in CODES
        assert refusal.message
        return
    assert isinstance(values, dict)
    assert 1 <= len(values) <= MAX_COMMANDS
    assert all(isinstance(code, str) and 1 <= len(code) <= 64 for code in values)
    assert request_id is None or (isinstance(request_id, str) and len(request_id) <= 128)
    json.dumps(values, allow_nan=True)  # what reaches the device is plain JSON data
