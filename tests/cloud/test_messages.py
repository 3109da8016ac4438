"""The message service's frame format: what decodes, and every way a frame is refused without leaking it."""

from __future__ import annotations

import base64
import json

import pytest

from tuyagate.cloud.messages import (
    BadMessage,
    build_frame,
    build_payload,
    consumer_password,
    decode_frame,
    envelope_sign,
    message_id_of,
)

SECRET = "0123456789abcdef0123456789abcdef"  # a test value
STATUS = {
    "dataId": "d1",
    "devId": "dev1",
    "productKey": "p",
    "status": [{"code": "switch_1", "value": True, "1": "true"}],
}


def frame(payload: str, mid: str = "m1") -> str:
    return build_frame(mid, payload)


def envelope(payload: str) -> dict[str, object]:
    return dict(json.loads(base64.b64decode(payload)))


def test_password_is_the_middle_of_md5_of_id_and_md5_secret() -> None:
    # md5_hex("id" + md5_hex("secret"))[8:24], computed apart with hashlib.
    assert consumer_password("id", "secret") == "de0238a456f4bc48"


def test_round_trip_status_and_event() -> None:
    message = decode_frame(frame(build_payload(4, STATUS, SECRET, t=5)), SECRET)
    assert (message.message_id, message.kind, message.device_id, message.t) == ("m1", "status", "dev1", 5)
    assert message.status[0]["value"] is True
    event = decode_frame(frame(build_payload(20, {"devId": "dev1", "bizCode": "offline"}, SECRET, t=6)), SECRET)
    assert (event.kind, event.biz_code) == ("offline", "offline")
    other = decode_frame(frame(build_payload(25, {"devId": "dev1"}, SECRET, t=6)), SECRET)
    assert other.kind == "other"


def test_sign_covers_every_field() -> None:
    payload = build_payload(4, STATUS, SECRET, t=5)
    env = envelope(payload)
    assert env["sign"] == envelope_sign(env, SECRET)
    env["t"] = 6
    tampered = base64.b64encode(json.dumps(env).encode()).decode()
    with pytest.raises(BadMessage, match="sign"):
        decode_frame(frame(tampered), SECRET)
    assert decode_frame(frame(tampered), SECRET, verify_sign=False).t == 6  # data itself still decrypts


@pytest.mark.parametrize(
    ("raw", "step"),
    [
        ("not json", "frame is not JSON"),
        ("[]", "frame is not a JSON object"),
        ('{"payload": ""}', "no messageId"),
        ('{"messageId": "m", "payload": "%%%"}', "payload is not base64"),
        ('{"messageId": "m", "payload": "' + base64.b64encode(b"[1]").decode() + '"}', "payload is not a JSON object"),
    ],
)
def test_broken_frames_name_the_step(raw: str, step: str) -> None:
    with pytest.raises(BadMessage, match=step):
        decode_frame(raw, SECRET)


def test_wrong_secret_is_refused_and_the_error_leaks_nothing() -> None:
    other = "fedcba9876543210fedcba9876543210"
    raw = frame(build_payload(4, STATUS, other, t=5))
    with pytest.raises(BadMessage) as caught:
        decode_frame(raw, SECRET)
    with pytest.raises(BadMessage, match=r"padding|JSON"):
        decode_frame(raw, SECRET, verify_sign=False)
    for secret_or_content in (SECRET, other, "dev1", "switch_1"):
        assert secret_or_content not in str(caught.value)
    assert message_id_of(raw) == "m1"
    assert message_id_of("garbage") is None


def test_the_consumer_password_is_the_one_tuya_connector_python_computes() -> None:
    """Checked against the official client's own formula (issue 15: the note said it was unverified)."""
    connector = pytest.importorskip("tuya_connector")
    for access_id, secret in (("id", "secret"), ("emuclientid000000001", "emusecret0123456789abcdefabcdef0")):
        official = connector.TuyaOpenPulsar(access_id, secret, "ws://127.0.0.1:9/", "event")
        assert consumer_password(access_id, secret) == official._TuyaOpenPulsar__gen_pwd()  # noqa: SLF001 (no public accessor)


@pytest.mark.parametrize(
    ("protocol", "data", "kind"),
    [
        (20, {"devId": "dev1", "bizCode": "nameUpdate", "bizData": {"name": "Hall"}}, "name"),
        (20, {"devId": "dev1", "bizCode": "dpNameUpdate", "bizData": {"dpId": 1, "name": "Fan"}}, "dp_name"),
        (20, {"devId": "dev1", "bizCode": "bindUser", "bizData": {"uid": "u"}}, "added"),
        (20, {"devId": "dev1", "bizCode": "delete", "bizData": {}}, "removed"),
        (1001, {"bizCode": "deviceOnline", "bizData": {"devId": "dev1", "time": 1}}, "online"),
        (1001, {"bizCode": "deviceOffline", "bizData": {"devId": "dev1"}}, "offline"),
        (1001, {"bizCode": "deviceNameUpdate", "bizData": {"devId": "dev1", "name": "Hall"}}, "name"),
        (1001, {"bizCode": "deviceBindSpace", "bizData": {"devId": "dev1"}}, "added"),
        (1001, {"bizCode": "deviceUnbindSpace", "bizData": {"devId": "dev1"}}, "removed"),
        (1001, {"bizCode": "deviceFreeze", "bizData": {"devId": "dev1"}}, "other"),
    ],
)
def test_every_account_event_kind_of_both_numberings(protocol: int, data: dict[str, object], kind: str) -> None:
    message = decode_frame(frame(build_payload(protocol, data, SECRET, t=1)), SECRET)
    assert (message.kind, message.device_id, message.biz_code) == (kind, "dev1", data["bizCode"])
