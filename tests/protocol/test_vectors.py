"""Every known-answer vector of lan-protocol.md §2.12 decodes to its content and re-encodes byte-exact."""

from __future__ import annotations

import pytest

from tests.protocol import vectors as v
from tuyagate.errors import IntegrityError, KeyMismatchError
from tuyagate.protocol import payloads
from tuyagate.protocol.codec import MessageCodec, Role
from tuyagate.protocol.commands import Command
from tuyagate.protocol.discovery import decode_datagram, encode_announcement, encode_devinfo_request
from tuyagate.protocol.frames import encode_55aa
from tuyagate.protocol.handshake import ClientHandshake, DeviceHandshake
from tuyagate.protocol.versions import get_spec


def client(version: str) -> MessageCodec:
    return MessageCodec(get_spec(version), v.KEY, role=Role.CLIENT)


def device(version: str) -> MessageCodec:
    return MessageCodec(get_spec(version), v.KEY, role=Role.DEVICE)


@pytest.mark.parametrize(
    ("version", "frame"),
    [("3.1", v.V31_DP_QUERY), ("3.3", v.V33_DP_QUERY)],
)
def test_legacy_dp_query(version: str, frame: bytes) -> None:
    cmd, body = payloads.query_request(get_spec(version), v.DEV_ID, t=v.T)
    assert cmd == Command.DP_QUERY
    assert body == v.P_QUERY
    assert client(version).encode(cmd, body, seq=1) == frame
    (msg,) = device(version).feed(frame)
    assert (msg.seq, msg.cmd, msg.retcode, msg.data) == (1, Command.DP_QUERY, None, v.P_QUERY)


@pytest.mark.parametrize(("version", "frame"), [("3.1", v.V31_CONTROL), ("3.3", v.V33_CONTROL)])
def test_legacy_control(version: str, frame: bytes) -> None:
    cmd, body = payloads.control_request(get_spec(version), v.DEV_ID, {"1": True}, t=v.T)
    assert (cmd, body) == (Command.CONTROL, v.P_CONTROL)
    assert client(version).encode(cmd, body, seq=1) == frame
    (msg,) = device(version).feed(frame)
    assert msg.data == v.P_CONTROL
    assert msg.dps == {"1": True}


def test_v31_md5_tag_is_checked() -> None:
    assert v.V31_CONTROL[16 + 3 : 16 + 19] == v.V31_MD5_TAG
    payload = bytearray(v.V31_CONTROL[16:-8])
    payload[5] ^= 1  # one hex digit of the tag, in a frame with a valid CRC
    with pytest.raises(IntegrityError, match="MD5"):
        device("3.1").feed(encode_55aa(1, Command.CONTROL, bytes(payload)))


def test_v33_status_push_from_device() -> None:
    assert device("3.3").encode(Command.STATUS, v.V33_STATUS_JSON, seq=7) == v.V33_STATUS
    (msg,) = client("3.3").feed(v.V33_STATUS)
    assert (msg.seq, msg.cmd, msg.retcode) == (7, Command.STATUS, 0)
    assert msg.data == v.V33_STATUS_JSON
    assert msg.dps == {"1": True, "2": 0}


@pytest.mark.parametrize(
    ("version", "step1", "step2", "step3", "session_key", "control", "query"),
    [
        ("3.4", v.V34_STEP1, v.V34_STEP2, v.V34_STEP3, v.V34_SESSION_KEY, v.V34_CONTROL_NEW, v.V34_DP_QUERY_NEW),
        ("3.5", v.V35_STEP1, v.V35_STEP2, v.V35_STEP3, v.V35_SESSION_KEY, v.V35_CONTROL_NEW, v.V35_DP_QUERY_NEW),
    ],
)
def test_handshake_and_session_frames(
    version: str, step1: bytes, step2: bytes, step3: bytes, session_key: bytes, control: bytes, query: bytes
) -> None:
    iv = v.IV if version == "3.5" else None
    cli, dev = client(version), device(version)
    chs = ClientHandshake(cli, v.CLIENT_NONCE)
    dhs = DeviceHandshake(dev, v.DEVICE_NONCE)

    assert chs.start(seq=1, iv=iv) == step1
    (start,) = dev.feed(step1)
    assert start.payload == v.CLIENT_NONCE
    assert dhs.receive(start, seq=1, iv=iv) == step2

    (resp,) = cli.feed(step2)
    assert (resp.cmd, resp.retcode) == (Command.SESS_KEY_NEG_RESP, 0)
    assert chs.receive(resp, seq=2, iv=iv) == step3
    assert chs.session_key == session_key

    (finish,) = dev.feed(step3)
    assert dhs.receive(finish, seq=2, iv=iv) is None
    assert dhs.session_key == session_key

    cmd, body = payloads.control_request(get_spec(version), v.DEV_ID, {"1": True}, t=v.T)
    assert (cmd, body) == (Command.CONTROL_NEW, v.P_CONTROL_NEW)
    assert cli.encode(cmd, body, seq=3, iv=iv) == control
    (msg,) = dev.feed(control)
    assert msg.data is not None
    assert msg.data["data"] == {"dps": {"1": True}}
    assert msg.dps == {"1": True}

    cmd, body = payloads.query_request(get_spec(version), v.DEV_ID, t=v.T)
    assert (cmd, body) == (Command.DP_QUERY_NEW, {})
    assert cli.encode(cmd, body, seq=4, iv=iv) == query
    (msg,) = dev.feed(query)
    assert (msg.cmd, msg.data) == (Command.DP_QUERY_NEW, {})


@pytest.mark.parametrize(("version", "step2"), [("3.4", v.V34_STEP2), ("3.5", v.V35_STEP2)])
def test_wrong_key_is_reported_as_such(version: str, step2: bytes) -> None:
    wrong = MessageCodec(get_spec(version), b"fedcba9876543210", role=Role.CLIENT)
    ClientHandshake(wrong, v.CLIENT_NONCE).start(seq=1, iv=v.IV)
    with pytest.raises(KeyMismatchError, match="local key is wrong"):
        wrong.feed(step2)


def test_udp_devinfo_request() -> None:
    assert encode_devinfo_request("192.168.1.10", iv=v.IV) == v.UDP_REQ_DEVINFO
    assert decode_datagram(v.UDP_REQ_DEVINFO) == v.UDP_REQ_DEVINFO_JSON


def test_udp_6667_broadcast() -> None:
    assert decode_datagram(v.UDP_6667_33) == v.UDP_6667_33_JSON
    assert encode_announcement(v.UDP_6667_33_JSON, version="3.3") == v.UDP_6667_33


def test_real_v33_heartbeat_ack() -> None:
    (msg,) = client("3.3").feed(v.REAL_V33_HEARTBEAT_ACK)
    assert (msg.seq, msg.cmd, msg.retcode, msg.payload, msg.is_ack) == (0, Command.HEART_BEAT, 0, b"", True)


def test_real_v32_data_format_error() -> None:
    (msg,) = client("3.2").feed(v.REAL_V32_DATA_FORMAT_ERROR)
    assert (msg.seq, msg.cmd, msg.retcode) == (0, Command.DP_QUERY, 1)
    assert msg.text == "data format error"
    assert msg.data is None


def test_good_frames_before_a_corrupt_one_are_not_lost() -> None:
    from tuyagate.errors import ProtocolError
    from tuyagate.protocol.frames import FrameSplitter

    splitter = FrameSplitter(max_frame=4096)
    oversized = bytes.fromhex("000055aa0000000100000009") + (100000).to_bytes(4, "big")
    frames = splitter.feed(v.REAL_V33_HEARTBEAT_ACK + v.V33_STATUS + oversized)
    assert frames == [v.REAL_V33_HEARTBEAT_ACK, v.V33_STATUS]
    with pytest.raises(ProtocolError, match="length"):
        splitter.feed(b"")
    assert splitter.feed(v.V33_DP_QUERY) == [v.V33_DP_QUERY]  # resynchronised


def test_a_session_key_is_not_cached() -> None:
    """A 3.5 session's GCM contexts (~2.7 KB) belong to its codec and die with it; none stays in a cache."""
    from tuyagate.protocol import crypto

    cli, dev = client("3.5"), device("3.5")
    chs, dhs = ClientHandshake(cli, v.CLIENT_NONCE), DeviceHandshake(dev, v.DEVICE_NONCE)
    (start,) = dev.feed(chs.start(seq=1, iv=v.IV))
    step2 = dhs.receive(start, seq=1, iv=v.IV)
    assert step2 is not None
    (resp,) = cli.feed(step2)
    step3 = chs.receive(resp, seq=2, iv=v.IV)
    assert step3 is not None
    (finish,) = dev.feed(step3)
    assert dhs.receive(finish, seq=2, iv=v.IV) is None
    cmd, body = payloads.query_request(get_spec("3.5"), v.DEV_ID, t=v.T)
    (msg,) = dev.feed(cli.encode(cmd, body, seq=3, iv=v.IV))  # both sides now use the session key
    assert (msg.cmd, cli.key) == (Command.DP_QUERY_NEW, v.V35_SESSION_KEY)
    misses = crypto.gcm_cipher.cache_info().misses
    crypto.gcm_cipher(v.V35_SESSION_KEY)
    assert crypto.gcm_cipher.cache_info().misses == misses + 1
