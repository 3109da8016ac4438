"""Interop with code nobody here wrote: tinytuya 1.20's own packing and unpacking functions.

Frames built by tinytuya (``generate_payload`` + ``XenonDevice._encode_message`` for a client,
``pack_message`` + ``AESCipher`` for a device, which tinytuya has no role for) must decode in
tuyagate to exactly the JSON tinytuya put in, and tuyagate's frames must decode in tinytuya
(``unpack_message`` + ``XenonDevice._decode_payload`` / ``udp_helper.decrypt_udp``) to exactly
what tuyagate put in, for every version and every command the codec supports. Where tuyagate has
a payload builder, its output must equal tinytuya's template, and client frames must be
byte-identical (3.5 draws a random IV in ``_encode_message``, so there ``pack_message`` with a
fixed IV is compared instead).

No network: tinytuya devices get an explicit loopback address (so they never scan for their IP),
are never asked to connect, and a fixture makes any socket connect or send fail the test.
"""

from __future__ import annotations

import hmac
import json
import socket
import struct
import sys
from hashlib import md5, sha256
from types import SimpleNamespace
from typing import Any

import pytest
import tinytuya
from tinytuya.core import command_types as CT
from tinytuya.core import header as H
from tinytuya.core import udp_helper
from tinytuya.core.crypto_helper import AESCipher
from tinytuya.core.message_helper import TuyaMessage, pack_message, unpack_message

from tests.protocol import vectors as v
from tuyagate.protocol import payloads
from tuyagate.protocol.codec import Message, MessageCodec, Role
from tuyagate.protocol.commands import Command
from tuyagate.protocol.discovery import (
    decode_datagram,
    encode_announcement,
    encode_devinfo_reply,
    encode_devinfo_request,
)
from tuyagate.protocol.handshake import ClientHandshake, DeviceHandshake
from tuyagate.protocol.versions import VersionSpec, get_spec

DEV_ID = v.DEV_ID
KEY = v.KEY
T = v.T
IV = v.IV
CID = "a4c1380000000001"
CHILD_ID = "bf0000000000000000child"
SESSION_KEYS = {"3.4": v.V34_SESSION_KEY, "3.5": v.V35_SESSION_KEY}
ALL_VERSIONS = ["3.1", "3.2", "3.3", "3.4", "3.5", "device22"]
GATEWAY_VERSIONS = ["3.3", "3.4", "3.5"]
XENON = sys.modules["tinytuya.core.XenonDevice"]


@pytest.fixture(autouse=True)
def _no_network_fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail on any socket use by tinytuya, and pin the ``t`` its templates read from the clock."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the interop tests must not touch the network")

    for name in ("connect", "connect_ex", "send", "sendall", "sendto"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(XENON, "find_device", refuse)
    monkeypatch.setattr(XENON, "time", SimpleNamespace(time=lambda: float(T), sleep=refuse))


# ----------------------------------------------------------------------------- helpers


def tt_device(version: str, key: bytes = KEY) -> Any:
    """A tinytuya device object with a loopback address (no scan, no connection)."""
    dev = tinytuya.OutletDevice(DEV_ID, "127.0.0.1", key.decode("latin1"), version=3.1)
    if version in ("3.2", "device22"):
        # set_version(3.2) probes the device for its DPs unless some are already listed.
        dev.dps_to_request = {"1": None, "2": None}
        dev.dev_type = "device22"
    dev.set_version(3.3 if version == "device22" else float(version))
    if version in SESSION_KEYS:
        dev.local_key = SESSION_KEYS[version]  # what tinytuya holds after a handshake
    return dev


def tt_child(parent: Any) -> Any:
    """A tinytuya sub-device behind ``parent`` (shares its socket, seqno and session key)."""
    return tinytuya.OutletDevice(CHILD_ID, cid=CID, parent=parent)


def codecs(version: str) -> tuple[VersionSpec, MessageCodec, MessageCodec]:
    """tuyagate's spec, client codec and device codec, with the session key where there is one."""
    spec = get_spec(version)
    client = MessageCodec(spec, KEY, role=Role.CLIENT)
    device = MessageCodec(spec, KEY, role=Role.DEVICE)
    if version in SESSION_KEYS:
        client.set_session_key(SESSION_KEYS[version])
        device.set_session_key(SESSION_KEYS[version])
    return spec, client, device


def tt_decode(dev: Any, frame: bytes, *, from_device: bool) -> tuple[Any, Any]:
    """tinytuya's receive path: unpack_message (integrity checked) and _decode_payload."""
    hmac_key = dev.local_key if dev.version >= 3.4 else None
    msg = unpack_message(frame, hmac_key=hmac_key, no_retcode=not from_device)
    assert msg.crc_good, "tinytuya found the CRC/HMAC/tag of a tuyagate frame wrong"
    return msg, (dev._decode_payload(msg.payload) if msg.payload else None)


def tt_device_frame(dev: Any, seq: int, cmd: int, body: bytes, retcode: int, iv: bytes = IV) -> bytes:
    """A device's frame from tinytuya's parts, following ``_encode_message`` plus the retcode.

    tinytuya has no device role; its ``pack_message`` puts a retcode inside the 6699 GCM payload
    but ignores it for 55AA, so there the clear retcode is put in front of the payload.
    """
    key = dev.local_key
    cipher = AESCipher(key)
    header = b"" if cmd in H.NO_PROTOCOL_HEADER_CMDS else dev.version_header
    if dev.version >= 3.5:
        msg = TuyaMessage(seq, cmd, retcode, header + body if body else b"", 0, True, H.PREFIX_6699_VALUE, iv)
        return bytes(pack_message(msg, hmac_key=key))
    hmac_key = None
    if body and dev.version >= 3.4:
        hmac_key = key
        body = cipher.encrypt(header + body, False)
    elif dev.version >= 3.4:
        hmac_key = key
    elif body and dev.version >= 3.2:
        body = header + cipher.encrypt(body, False)
    elif body and cmd in (CT.CONTROL, CT.STATUS):  # 3.1 encrypts these the way _encode_message does CONTROL
        b64 = cipher.encrypt(body)
        tag = md5(b"data=" + b64 + b"||lpv=3.1||" + key).hexdigest()[8:24].encode("latin1")
        body = H.PROTOCOL_VERSION_BYTES_31 + tag + b64
    msg = TuyaMessage(seq, cmd, 0, struct.pack(">I", retcode) + body, 0, True, H.PREFIX_55AA_VALUE, False)
    return bytes(pack_message(msg, hmac_key=hmac_key))


def tt_json(obj: dict[str, Any]) -> bytes:
    """The JSON bytes tinytuya sends: json.dumps with every space removed."""
    return json.dumps(obj).replace(" ", "").encode()


def lifted(body: dict[str, Any]) -> dict[str, Any]:
    """What both decoders return for ``body``: a nested data.dps is also lifted to dps."""
    out = dict(body)
    if "dps" not in out and isinstance(out.get("data"), dict) and "dps" in out["data"]:
        out["dps"] = out["data"]["dps"]
    return out


def one(msgs: list[Message]) -> Message:
    assert len(msgs) == 1
    return msgs[0]


# ----------------------------------------------------------------------------- client frames

# (tinytuya command, data, extra generate_payload arguments)
CLIENT_COMMANDS: dict[str, tuple[int, Any, dict[str, Any]]] = {
    "dp_query": (CT.DP_QUERY, None, {}),
    "dp_query_new": (CT.DP_QUERY_NEW, None, {}),
    "control": (CT.CONTROL, {"1": True, "2": 50, "3": "auto"}, {}),
    "control_new": (CT.CONTROL_NEW, {"1": False, "7": -3}, {}),
    "heart_beat": (CT.HEART_BEAT, None, {}),
    "status": (CT.STATUS, None, {}),
    "updatedps": (CT.UPDATEDPS, [18, 19, 20], {}),
    "lan_ext_stream": (CT.LAN_EXT_STREAM, None, {"rawData": {"cids": []}, "reqType": "subdev_online_stat_query"}),
}


@pytest.mark.parametrize("name", list(CLIENT_COMMANDS))
@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_tinytuya_client_frames_decode_in_tuyagate(version: str, name: str) -> None:
    command, data, extra = CLIENT_COMMANDS[name]
    tt = tt_device(version)
    out = tt.generate_payload(command, data, **extra)
    _, _, device = codecs(version)
    for seq in (1, 2):  # two frames: the seqno tinytuya counts up arrives intact
        frame = tt._encode_message(out)
        msg = one(device.feed(frame))
        assert (msg.seq, msg.cmd, msg.retcode) == (seq, out.cmd, None)
        assert msg.data == lifted(json.loads(out.payload))


@pytest.mark.parametrize("name", list(CLIENT_COMMANDS))
@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_tuyagate_client_frames_decode_in_tinytuya(version: str, name: str) -> None:
    command, data, extra = CLIENT_COMMANDS[name]
    tt = tt_device(version)
    out = tt.generate_payload(command, data, **extra)
    body = json.loads(out.payload)
    _, client, _ = codecs(version)
    frame = client.encode(out.cmd, body, seq=9, iv=IV)
    msg, decoded = tt_decode(tt, frame, from_device=False)
    assert (msg.seqno, msg.cmd) == (9, out.cmd)
    assert decoded == lifted(body)


def _builders(spec: VersionSpec, tt: Any) -> dict[str, tuple[tuple[Command, dict[str, Any]], Any]]:
    """Each tuyagate payload builder next to the tinytuya call that should give the same."""
    return {
        "query": (payloads.query_request(spec, DEV_ID, t=T, dp_ids=["1", "2"]), tt.generate_payload(CT.DP_QUERY)),
        "control": (
            payloads.control_request(spec, DEV_ID, {"1": True, "2": 50}, t=T),
            tt.generate_payload(CT.CONTROL, {"1": True, "2": 50}),
        ),
        "heartbeat": (payloads.heartbeat_request(DEV_ID), tt.generate_payload(CT.HEART_BEAT)),
        "updatedps": (payloads.updatedps_request([18, "19", 20]), tt.generate_payload(CT.UPDATEDPS, [18, 19, 20])),
        "subdev_online": (payloads.subdev_online_query(), tt.generate_payload(*CLIENT_COMMANDS["lan_ext_stream"][::2])),
    }


@pytest.mark.parametrize("kind", ["query", "control", "heartbeat", "updatedps", "subdev_online"])
@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_payload_builders_match_tinytuya_and_frames_are_identical(version: str, kind: str) -> None:
    spec, client, _ = codecs(version)
    tt = tt_device(version)
    if kind == "subdev_online":
        cmd, body = payloads.subdev_online_query()
        out = tt.generate_payload(CT.LAN_EXT_STREAM, rawData={"cids": []}, reqType="subdev_online_stat_query")
    else:
        (cmd, body), out = _builders(spec, tt)[kind]
    assert cmd == out.cmd
    assert payloads.dump_json(body) == out.payload  # same keys, same order, same compact form
    if version == "3.5":
        header = b"" if cmd in H.NO_PROTOCOL_HEADER_CMDS else tt.version_header
        packed = TuyaMessage(tt.seqno, cmd, None, header + out.payload, 0, True, H.PREFIX_6699_VALUE, IV)
        assert client.encode(cmd, body, seq=tt.seqno, iv=IV) == pack_message(packed, hmac_key=tt.local_key)
    else:
        assert client.encode(cmd, body, seq=tt.seqno) == tt._encode_message(out)


@pytest.mark.parametrize("version", GATEWAY_VERSIONS)
@pytest.mark.parametrize("command", [CT.DP_QUERY, CT.CONTROL])
def test_subdevice_cid_requests(version: str, command: int) -> None:
    spec, client, device = codecs(version)
    gateway = tt_device(version)
    child = tt_child(gateway)
    data = {"1": True, "3": "white"} if command == CT.CONTROL else None
    out = child.generate_payload(command, data)
    if command == CT.CONTROL:
        cmd, body = payloads.control_request(spec, DEV_ID, {"1": True, "3": "white"}, t=T, cid=CID)
    else:
        cmd, body = payloads.query_request(spec, DEV_ID, t=T, cid=CID)
    assert (cmd, payloads.dump_json(body)) == (out.cmd, out.payload)
    frame = child._encode_message(out)  # goes through the parent: its seqno and key
    msg = one(device.feed(frame))
    assert (msg.cmd, msg.data, msg.cid) == (cmd, lifted(body), CID)
    _, decoded = tt_decode(gateway, client.encode(cmd, body, seq=5, iv=IV), from_device=False)
    assert decoded == lifted(body)


def test_spaces_inside_strings_survive_tuyagate_but_not_tinytuya() -> None:
    """A deliberate difference: tinytuya strips every space of the JSON, values included."""
    spec, client, device = codecs("3.3")
    tt = tt_device("3.3")
    dps = {"5": "hello world", "6": " padded "}
    cmd, body = payloads.control_request(spec, DEV_ID, dps, t=T)
    frame = client.encode(cmd, body, seq=1)
    assert one(device.feed(frame)).dps == dps
    _, decoded = tt_decode(tt, frame, from_device=False)  # tinytuya's decoder keeps them too
    assert decoded["dps"] == dps
    stripped = one(device.feed(tt._encode_message(tt.generate_payload(CT.CONTROL, dps))))
    assert stripped.dps == {"5": "helloworld", "6": "padded"}


# ----------------------------------------------------------------------------- device frames


def _device_messages(spec: VersionSpec, version: str) -> dict[str, tuple[int, dict[str, Any] | None, int]]:
    """What a device sends: (cmd, JSON body or None for an empty ACK, retcode)."""
    return {
        "status_push": (Command.STATUS, payloads.status_push(spec, DEV_ID, {"1": True, "2": 0, "9": "a b"}, t=T), 0),
        "query_reply": (spec.query_cmd, payloads.query_reply(spec, DEV_ID, {"1": False, "20": 1500}, t=T), 0),
        "control_ack": (spec.control_cmd, None, 0),
        "heartbeat_ack": (Command.HEART_BEAT, None, 0),
        "updatedps_ack": (Command.UPDATEDPS, None, 0),
        "failed_retcode": (spec.control_cmd, None, 1),
        "subdev_report": (Command.LAN_EXT_STREAM, payloads.subdev_online_report([CID], ["a4c1380000000002"]), 0),
        "subdev_status": (
            Command.STATUS,
            payloads.status_push(spec, DEV_ID, {"1": True}, t=T, cid=CID if version != "3.1" else None),
            0,
        ),
    }


DEVICE_CASES = [
    "status_push",
    "query_reply",
    "control_ack",
    "heartbeat_ack",
    "updatedps_ack",
    "failed_retcode",
    "subdev_report",
    "subdev_status",
]


@pytest.mark.parametrize("case", DEVICE_CASES)
@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_tuyagate_device_frames_decode_in_tinytuya(version: str, case: str) -> None:
    spec, _, device = codecs(version)
    cmd, body, retcode = _device_messages(spec, version)[case]
    tt = tt_device(version)
    frame = device.encode(cmd, body if body is not None else b"", seq=77, retcode=retcode, iv=IV)
    msg, decoded = tt_decode(tt, frame, from_device=True)
    assert (msg.seqno, msg.cmd, msg.retcode) == (77, cmd, retcode)
    assert decoded == (lifted(body) if body is not None else None)


@pytest.mark.parametrize("case", DEVICE_CASES)
@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_tinytuya_device_frames_decode_in_tuyagate(version: str, case: str) -> None:
    spec, client, _ = codecs(version)
    cmd, body, retcode = _device_messages(spec, version)[case]
    raw = tt_json(body) if body is not None else b""
    frame = tt_device_frame(tt_device(version), 1234, cmd, raw, retcode)
    msg = one(client.feed(frame))
    assert (msg.seq, msg.cmd, msg.retcode) == (1234, cmd, retcode)
    assert msg.data == (lifted(json.loads(raw)) if body is not None else None)
    assert msg.is_ack is (body is None)


def test_v34_device_frame_without_retcode() -> None:
    """Some 3.4 devices omit the retcode; the ciphertext length tells tuyagate so."""
    _, client, _ = codecs("3.4")
    tt = tt_device("3.4")
    body = {"dps": {"1": True}}
    payload = AESCipher(tt.local_key).encrypt(tt.version_header + tt_json(body), False)
    frame = pack_message(TuyaMessage(3, CT.STATUS, 0, payload, 0, True), hmac_key=tt.local_key)
    msg = one(client.feed(frame))
    assert (msg.seq, msg.retcode, msg.data) == (3, None, body)


def test_device22_reply_with_foreign_15_byte_header() -> None:
    """device22 replies may carry a 15-byte header that is not the version; both strip it."""
    _, client, _ = codecs("device22")
    tt = tt_device("device22")
    body = {"devId": DEV_ID, "dps": {"1": True, "2": None}}
    payload = b"\x01" * 15 + AESCipher(KEY).encrypt(tt_json(body), False)
    frame = pack_message(TuyaMessage(1, CT.CONTROL_NEW, 0, struct.pack(">I", 0) + payload, 0, True))
    assert one(client.feed(frame)).data == body
    _, decoded = tt_decode(tt, frame, from_device=True)
    assert decoded == body


def test_data_unvalid_answer_means_device22_to_both() -> None:
    _, client, device = codecs("3.3")
    tt = tt_device("3.3")
    frame = device.encode(Command.DP_QUERY, b"json obj data unvalid", seq=1)
    msg = one(client.feed(frame))
    assert (msg.text, msg.data_unvalid) == ("json obj data unvalid", True)
    assert tt_decode(tt, frame, from_device=True)[1] is None  # tinytuya's signal to retry as device22
    assert tt.dev_type == "device22"


# ----------------------------------------------------------------------------- handshake


@pytest.mark.parametrize("version", ["3.4", "3.5"])
def test_handshake_tinytuya_client_tuyagate_device(version: str) -> None:
    spec = get_spec(version)
    tt = tt_device(version)
    tt.local_key = KEY  # before the handshake: the device's local key
    device = MessageCodec(spec, KEY, role=Role.DEVICE)
    dhs = DeviceHandshake(device, v.DEVICE_NONCE)

    start = one(device.feed(tt._encode_message(tt._negotiate_session_key_generate_step_1())))
    assert (start.cmd, start.payload) == (Command.SESS_KEY_NEG_START, tt.local_nonce)
    resp = dhs.receive(start, seq=1, iv=IV)
    assert resp is not None
    rkey = unpack_message(resp, hmac_key=KEY, no_retcode=False)
    assert rkey.crc_good
    assert rkey.retcode == 0
    step3 = tt._negotiate_session_key_generate_step_3(rkey)
    assert step3, "tinytuya rejected tuyagate's handshake answer"
    finish = one(device.feed(tt._encode_message(step3)))
    assert dhs.receive(finish, seq=2, iv=IV) is None
    assert tt._negotiate_session_key_generate_finalize()
    assert dhs.session_key == tt.local_key

    # Both now speak with the session key.
    out = tt.generate_payload(CT.CONTROL, {"1": True})
    assert one(device.feed(tt._encode_message(out))).dps == {"1": True}
    status = payloads.status_push(spec, DEV_ID, {"1": True}, t=T)
    _, decoded = tt_decode(tt, device.encode(Command.STATUS, status, seq=3, iv=IV), from_device=True)
    assert decoded == lifted(status)


@pytest.mark.parametrize("version", ["3.4", "3.5"])
def test_handshake_tuyagate_client_tinytuya_device(version: str) -> None:
    """The device side is played with tinytuya's unpack/pack/AESCipher and HMAC, as its emulators do."""
    spec = get_spec(version)
    client = MessageCodec(spec, KEY, role=Role.CLIENT)
    chs = ClientHandshake(client, v.CLIENT_NONCE)
    tt = tt_device(version)
    tt.local_key = KEY
    hmac_key = KEY

    start = unpack_message(chs.start(seq=1, iv=IV), hmac_key=hmac_key, no_retcode=True)
    nonce = start.payload if version == "3.5" else AESCipher(KEY).decrypt(start.payload, False, decode_text=False)
    assert (start.cmd, nonce) == (CT.SESS_KEY_NEG_START, v.CLIENT_NONCE)
    proof = hmac.new(KEY, nonce, sha256).digest()
    resp = tt_device_frame(tt, 1, CT.SESS_KEY_NEG_RESP, v.DEVICE_NONCE + proof, 0)
    finish_frame = chs.receive(one(client.feed(resp)), seq=2, iv=IV)

    finish = unpack_message(finish_frame, hmac_key=hmac_key, no_retcode=True)
    got = finish.payload if version == "3.5" else AESCipher(KEY).decrypt(finish.payload, False, decode_text=False)
    assert (finish.cmd, got) == (CT.SESS_KEY_NEG_FINISH, hmac.new(KEY, v.DEVICE_NONCE, sha256).digest())
    tt.local_nonce, tt.remote_nonce = v.CLIENT_NONCE, v.DEVICE_NONCE
    assert tt._negotiate_session_key_generate_finalize()
    assert chs.session_key == tt.local_key == SESSION_KEYS[version]

    cmd, body = payloads.control_request(spec, DEV_ID, {"1": False}, t=T)
    _, decoded = tt_decode(tt, client.encode(cmd, body, seq=3, iv=IV), from_device=False)
    assert decoded == lifted(body)


def test_handshake_frames_carry_no_version_header_in_either() -> None:
    assert {int(c) for c in H.NO_PROTOCOL_HEADER_CMDS} == {
        Command.DP_QUERY,
        Command.DP_QUERY_NEW,
        Command.UPDATEDPS,
        Command.HEART_BEAT,
        Command.SESS_KEY_NEG_START,
        Command.SESS_KEY_NEG_RESP,
        Command.SESS_KEY_NEG_FINISH,
        Command.LAN_EXT_STREAM,
    }


# ----------------------------------------------------------------------------- UDP discovery

ANNOUNCEMENT = {
    "ip": "192.168.1.20",
    "gwId": DEV_ID,
    "active": 2,
    "ablilty": 0,
    "encrypt": True,
    "productKey": "keydeadbeef12345",
    "version": "3.3",
}


def _tt_udp_frames() -> dict[str, bytes]:
    body = tt_json(ANNOUNCEMENT)
    ecb = udp_helper.encrypt(body, udp_helper.udpkey)
    rc = struct.pack(">I", 0)
    return {
        "3.1 plaintext 55AA": pack_message(TuyaMessage(0, CT.UDP_NEW, 0, rc + body, 0, True)),
        "3.3 ECB in 55AA": pack_message(TuyaMessage(0, CT.UDP_NEW, 0, rc + ecb, 0, True)),
        "bare ECB": ecb,
        "3.5 GCM 6699": pack_message(
            TuyaMessage(0, CT.UDP_NEW, 0, body, 0, True, H.PREFIX_6699_VALUE, IV), hmac_key=udp_helper.udpkey
        ),
    }


@pytest.mark.parametrize("kind", ["3.1 plaintext 55AA", "3.3 ECB in 55AA", "bare ECB", "3.5 GCM 6699"])
def test_tinytuya_broadcasts_decode_in_tuyagate(kind: str) -> None:
    assert decode_datagram(_tt_udp_frames()[kind]) == ANNOUNCEMENT


def test_tinytuya_discovery_request_decodes_in_tuyagate() -> None:
    # What tinytuya's scanner.send_discovery_request packs (without sending it).
    bcast = json.dumps({"from": "app", "ip": "192.168.1.10"}).encode()
    frame = pack_message(
        TuyaMessage(0, CT.REQ_DEVINFO, None, bcast, 0, True, H.PREFIX_6699_VALUE, IV), hmac_key=udp_helper.udpkey
    )
    assert frame == encode_devinfo_request("192.168.1.10", iv=IV)
    assert decode_datagram(frame) == {"from": "app", "ip": "192.168.1.10"}


@pytest.mark.parametrize("version", ["3.1", "3.2", "3.3", "3.4", "3.5"])
def test_tuyagate_announcements_decode_in_tinytuya(version: str) -> None:
    info = {**ANNOUNCEMENT, "version": version, "name": "living room"}
    frame = encode_announcement(info, version=version, iv=IV, seq=3)
    assert json.loads(udp_helper.decrypt_udp(frame)) == info


def test_tuyagate_devinfo_request_and_reply_decode_in_tinytuya() -> None:
    request = encode_devinfo_request("10.0.0.7", iv=IV)
    assert json.loads(udp_helper.decrypt_udp(request)) == {"from": "app", "ip": "10.0.0.7"}
    reply = encode_devinfo_reply(ANNOUNCEMENT, iv=IV, seq=1)
    assert json.loads(udp_helper.decrypt_udp(reply)) == ANNOUNCEMENT
    assert unpack_message(reply, hmac_key=udp_helper.udpkey, no_retcode=None).retcode == 0
