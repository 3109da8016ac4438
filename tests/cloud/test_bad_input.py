"""Whatever the cloud answers, the client gives typed results or a TuyaError; whatever the message service
delivers, the consumer's decoder gives a CloudMessage or BadMessage. Never another exception.

The cloud's answers come over a real socket: a loopback HTTP server answers each call with the bytes
Hypothesis draws (any status, any body), and the real client (signing, retries off, envelope parsing,
the typed models) reads them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hostile import FUZZ, FUZZ_EXAMPLES, AnswerServer, hostile_bytes, json_values, objects
from tuyagate.cloud.client import TuyaCloudClient
from tuyagate.cloud.messages import BadMessage, CloudMessage, build_frame, build_payload, decode_frame, message_id_of
from tuyagate.cloud.models import CloudDevice, DeviceLog, FunctionSpec, Specification, StatusItem, SubDevice
from tuyagate.errors import TuyaError

SECRET = "s" * 32
CLIENT_ID = "fuzzclient"
MODEL_KEYS = st.sampled_from(
    ["id", "name", "local_key", "ip", "online", "status", "category", "product_id", "uuid", "sub", "model",
     "code", "value", "type", "values", "dp_id", "dpId", "functions", "event_time", "event_id", "node_id"]
)  # fmt: skip


@FUZZ
@given(doc=objects(MODEL_KEYS), nested=st.lists(objects(MODEL_KEYS), max_size=2))
def test_models_read_any_object(doc: dict[str, Any], nested: list[dict[str, Any]]) -> None:
    """The models tolerate missing and mistyped fields (models.py): they never raise."""
    for model in (CloudDevice, DeviceLog, FunctionSpec, StatusItem, SubDevice):
        model.from_api(doc)
    spec = Specification.from_api({**doc, "functions": nested, "status": nested})
    assert all(isinstance(f, FunctionSpec) for f in spec.functions)
    assert isinstance(CloudDevice.from_api({**doc, "status": nested}).status_dict(), dict)


# ----------------------------------------------------------------------------- message service frames

STATUS = {"devId": "dev1", "status": [{"code": "switch_1", "value": True, "t": 1}]}
EVENT = {"devId": "dev1", "bizCode": "online", "bizData": {}}
VALID = [
    build_frame("m1", build_payload(4, STATUS, SECRET, t=1)).encode(),
    build_frame("m2", build_payload(20, EVENT, SECRET, t=2)).encode(),
]


def decode_or_refuse(frame: bytes | str) -> None:
    mid = message_id_of(frame)
    assert mid is None or isinstance(mid, str)
    for verify in (True, False):
        try:
            message = decode_frame(frame, SECRET, verify_sign=verify)
        except BadMessage:
            continue
        assert isinstance(message, CloudMessage)


@FUZZ
@given(frame=hostile_bytes() | hostile_bytes(st.sampled_from([json.loads(v) for v in VALID])))
def test_any_frame_decodes_or_is_a_bad_message(frame: bytes) -> None:
    decode_or_refuse(frame)
    try:
        text = frame.decode()
    except UnicodeDecodeError:
        return
    decode_or_refuse(text)


@FUZZ
@given(
    protocol=st.integers(-5, 100) | st.sampled_from([4, 20]), data=objects(st.sampled_from(list(STATUS) + list(EVENT)))
)
def test_any_signed_message_decodes_or_is_a_bad_message(protocol: int, data: dict[str, Any]) -> None:
    """Well signed and encrypted, but with any content inside: the sign is right, so this reaches the end."""
    decode_or_refuse(build_frame("m", build_payload(protocol, data, SECRET, t=5)))


@FUZZ
@given(envelope=objects(st.sampled_from(["data", "protocol", "pv", "t", "sign"])), mid=json_values)
def test_any_envelope_decodes_or_is_a_bad_message(envelope: dict[str, Any], mid: Any) -> None:
    import base64

    payload = base64.b64encode(json.dumps(envelope).encode("utf-8", "surrogatepass")).decode()
    decode_or_refuse(json.dumps({"messageId": mid, "payload": payload}))


# ----------------------------------------------------------------------------- answers over HTTP


TOKEN = json.dumps(
    {"success": True, "t": 0, "result": {"access_token": "a" * 32, "refresh_token": "r" * 32, "expire_time": 7200}}
).encode()


@pytest.fixture(scope="module")
def cloud() -> Iterator[AnswerServer]:
    with AnswerServer() as server:
        yield server


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for all examples (a loop per example would cost more than the calls)."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


ENVELOPE_KEYS = st.sampled_from(["success", "code", "msg", "result", "t", "tid"])
RESULTS = st.fixed_dictionaries(
    {"success": st.just(True), "result": json_values | objects(MODEL_KEYS) | st.lists(objects(MODEL_KEYS), max_size=3)}
)


async def _calls(url: str) -> None:
    client = TuyaCloudClient(CLIENT_ID, SECRET, base_url=url, retries=0, timeout=5, verify=False)
    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: client.device("d1"),
        lambda: client.status("d1"),
        lambda: client.statuses(["d1", "d2"]),
        lambda: client.devices(),
        lambda: client.specification("d1"),
        lambda: client.sub_devices("g1"),
        lambda: client.logs("d1", start_ms=0, end_ms=1, max_pages=2),
        lambda: client.send_commands("d1", [{"code": "switch_1", "value": True}]),
    ]
    try:
        for call in calls:
            try:
                await call()
            except TuyaError:
                pass
    finally:
        await client.aclose()


@settings(FUZZ, max_examples=FUZZ_EXAMPLES // 2)
@given(
    status=st.sampled_from([200, 200, 200, 400, 404, 429, 500, 502]),
    body=hostile_bytes(objects(ENVELOPE_KEYS) | RESULTS),
    token_ok=st.booleans(),
)
def test_any_cloud_answer_gives_a_result_or_a_tuya_error(
    loop: asyncio.AbstractEventLoop, cloud: AnswerServer, status: int, body: bytes, token_ok: bool
) -> None:
    cloud.answer(status, body)
    cloud.overrides = {"/v1.0/token": (200, TOKEN)} if token_ok else {}
    loop.run_until_complete(asyncio.wait_for(_calls(cloud.url), timeout=30))
