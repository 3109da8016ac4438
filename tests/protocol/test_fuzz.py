"""Property-based fuzzing of the codec, and one rejection test per way a frame can be bad.

The promise under test (DESIGN.md, Testing): whatever bytes arrive, in whatever chunks, the
splitter and the codec give frames/messages or raise :class:`~tuyagate.errors.ProtocolError`
(IntegrityError included), never another exception and never a hang, and they buffer no more
than one frame's worth of bytes. ``KeyMismatchError`` may appear only while a client handshake
is in flight. Valid frames round-trip exactly, however they are chunked and whatever garbage
precedes them.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuyagate.errors import IntegrityError, KeyMismatchError, ProtocolError
from tuyagate.protocol.codec import Message, MessageCodec, Role
from tuyagate.protocol.commands import Command
from tuyagate.protocol.crypto import UDP_KEY, ecb_encrypt
from tuyagate.protocol.discovery import (
    decode_datagram,
    encode_announcement,
    encode_devinfo_reply,
    encode_devinfo_request,
)
from tuyagate.protocol.frames import (
    DEFAULT_MAX_FRAME,
    PREFIX_55AA,
    PREFIX_6699,
    SUFFIX_55AA,
    FrameSplitter,
    encode_55aa,
    encode_6699,
)
from tuyagate.protocol.handshake import ClientHandshake, DeviceHandshake
from tuyagate.protocol.versions import get_spec

KEY = b"0123456789abcdef"
OTHER_KEY = b"fedcba9876543210"
IV = b"0123456789ab"
VERSIONS = ["3.1", "3.2", "3.3", "3.4", "3.5", "device22"]
SESSION_VERSIONS = ["3.4", "3.5"]
MAX_FRAME = 1024
SLACK = 4  # the splitter may hold a few bytes beyond max_frame at most (a partial prefix)
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

COMMANDS = [
    Command.CONTROL,
    Command.STATUS,
    Command.HEART_BEAT,
    Command.DP_QUERY,
    Command.CONTROL_NEW,
    Command.DP_QUERY_NEW,
    Command.UPDATEDPS,
    Command.LAN_EXT_STREAM,
    Command.QUERY_WIFI,
]

u32 = st.integers(0, 2**32 - 1)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=16)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
bodies = st.dictionaries(st.text(max_size=8), json_values, max_size=5) | st.builds(
    lambda dps: {"protocol": 4, "t": 1, "data": {"dps": dps}}, st.dictionaries(st.text(max_size=3), json_scalars)
)
# Garbage that cannot be taken for the start of a frame (see _no_prefix for the boundary case).
garbage = st.binary(max_size=48).filter(lambda g: PREFIX_55AA not in g and PREFIX_6699 not in g)


def expected_data(body: dict[str, Any]) -> dict[str, Any]:
    """The codec lifts a nested data.dps object to dps when there is none at the top."""
    out = dict(body)
    inner = out.get("data")
    if "dps" not in out and isinstance(inner, dict) and isinstance(inner.get("dps"), dict):
        out["dps"] = inner["dps"]
    return out


def handshaken_pair(
    version: str, client_nonce: bytes, device_nonce: bytes, *, max_frame: int | None = None
) -> tuple[MessageCodec, MessageCodec]:
    """A client and a device codec after a real 3.4/3.5 negotiation (or fresh, for other versions)."""
    spec = get_spec(version)
    limit = DEFAULT_MAX_FRAME if max_frame is None else max_frame
    client = MessageCodec(spec, KEY, role=Role.CLIENT, max_frame=limit)
    device = MessageCodec(spec, KEY, role=Role.DEVICE, max_frame=limit)
    if spec.session_key:
        chs, dhs = ClientHandshake(client, client_nonce), DeviceHandshake(device, device_nonce)
        (start,) = device.feed(chs.start(seq=1, iv=IV))
        resp = dhs.receive(start, seq=1, iv=IV)
        assert resp is not None
        (answer,) = client.feed(resp)
        (finish,) = device.feed(chs.receive(answer, seq=2, iv=IV))
        assert dhs.receive(finish, seq=2, iv=IV) is None
        assert client.key == device.key != KEY
    return client, device


def feed_everything(codec: MessageCodec, chunks: list[bytes]) -> list[Message]:
    """Feed chunks as a transport would, carrying on after errors; check the invariants."""
    out: list[Message] = []
    for chunk in chunks:
        pending = chunk
        for _ in range(len(chunk) + 2 * MAX_FRAME):  # each error consumes bytes, so this bounds the loop
            try:
                msgs = codec.feed(pending)
            except KeyMismatchError:
                assert codec.handshaking, "KeyMismatchError outside a handshake"
            except ProtocolError:
                pass
            else:
                assert all(isinstance(m, Message) for m in msgs)
                out.extend(msgs)
                assert codec.buffered <= MAX_FRAME + SLACK
                break
            pending = b""  # the rest of the chunk is buffered: drain it
        else:
            raise AssertionError("the codec kept raising without consuming its buffer")
    return out


def cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


# ----------------------------------------------------------------------------- any bytes


@st.composite
def hostile_streams(draw: st.DrawFn, frames: list[bytes]) -> bytes:
    """Bytes built to reach deep into the decoder: frames, damaged frames, headers, noise."""
    parts: list[bytes] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["noise", "frame", "flip", "truncate", "header", "prefix"]))
        frame = draw(st.sampled_from(frames))
        if kind == "noise":
            parts.append(draw(st.binary(max_size=64)))
        elif kind == "frame":
            parts.append(frame)
        elif kind == "flip":
            i = draw(st.integers(0, len(frame) - 1))
            parts.append(frame[:i] + bytes([frame[i] ^ draw(st.integers(1, 255))]) + frame[i + 1 :])
        elif kind == "truncate":
            parts.append(frame[: draw(st.integers(0, len(frame) - 1))])
        elif kind == "header":
            prefix = draw(st.sampled_from([PREFIX_55AA, PREFIX_6699]))
            parts.append(prefix + draw(st.binary(min_size=12, max_size=14)) + struct.pack(">I", draw(u32)))
        else:
            parts.append(draw(st.sampled_from([PREFIX_55AA, PREFIX_6699])) + draw(st.binary(max_size=40)))
    return b"".join(parts)


def sample_frames(version: str) -> list[bytes]:
    """Valid frames both ways, frames with another key, and frames of the other framing."""
    client, device = handshaken_pair(version, b"c" * 16, b"d" * 16)
    wrong = MessageCodec(get_spec(version), OTHER_KEY, role=Role.DEVICE)
    other = "3.3" if version == "3.5" else "3.5"
    foreign = MessageCodec(get_spec(other), KEY, role=Role.DEVICE)
    body = {"dps": {"1": True, "2": "x y"}, "t": 5}
    return [
        client.encode(Command.CONTROL, body, seq=1, iv=IV),
        device.encode(Command.STATUS, body, seq=2, iv=IV),
        device.encode(Command.HEART_BEAT, b"", seq=3, iv=IV),
        wrong.encode(Command.STATUS, body, seq=4, iv=IV),
        foreign.encode(Command.STATUS, body, seq=5, iv=IV),
        encode_55aa(6, Command.STATUS, b"\x00\x00\x00\x00" + ecb_encrypt(KEY, b"[1,2]")),
    ]


CONFIGS = [(v, role, state) for v in VERSIONS for role in Role for state in ("fresh", "session", "handshaking")]
CONFIGS = [
    c for c in CONFIGS if c[2] == "fresh" or (c[0] in SESSION_VERSIONS and (c[2] == "session" or c[1] is Role.CLIENT))
]
FRAMES = {v: sample_frames(v) for v in VERSIONS}


def codec_in_state(version: str, role: Role, state: str) -> MessageCodec:
    if state == "session":
        client, device = handshaken_pair(version, b"c" * 16, b"d" * 16, max_frame=MAX_FRAME)
        return client if role is Role.CLIENT else device
    codec = MessageCodec(get_spec(version), KEY, role=role, max_frame=MAX_FRAME)
    if state == "handshaking":
        ClientHandshake(codec, b"c" * 16).start(seq=1, iv=IV)
        assert codec.handshaking
    return codec


@FUZZ
@given(data=st.data(), config=st.sampled_from(CONFIGS), cuts=st.lists(st.integers(0, 4096), max_size=12))
def test_codec_feed_gives_messages_or_protocol_errors(data: st.DataObject, config: Any, cuts: list[int]) -> None:
    version, role, state = config
    stream = data.draw(hostile_streams(FRAMES[version]))
    feed_everything(codec_in_state(version, role, state), cut(stream, cuts))


@FUZZ
@given(
    stream=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=20), config=st.sampled_from(CONFIGS)
)
def test_codec_feed_random_bytes(stream: bytes, cuts: list[int], config: Any) -> None:
    feed_everything(codec_in_state(*config), cut(stream, cuts))


@FUZZ
@given(data=st.data(), cuts=st.lists(st.integers(0, 4096), max_size=16), max_frame=st.integers(24, 600))
def test_splitter_bounded_and_only_well_formed_frames(data: st.DataObject, cuts: list[int], max_frame: int) -> None:
    stream = data.draw(hostile_streams(FRAMES[data.draw(st.sampled_from(VERSIONS))]))
    splitter = FrameSplitter(max_frame)
    for chunk in cut(stream, cuts):
        pending = chunk
        while True:
            try:
                frames = splitter.feed(pending)
            except ProtocolError:
                pending = b""
                continue
            break
        assert splitter.buffered <= max_frame + SLACK
        for raw in frames:
            assert len(raw) <= max_frame
            assert raw[:4] in (PREFIX_55AA, PREFIX_6699)
            if raw[:4] == PREFIX_55AA:
                assert raw[-4:] == SUFFIX_55AA
                assert len(raw) == 16 + struct.unpack_from(">I", raw, 12)[0]
            else:
                assert len(raw) == 22 + struct.unpack_from(">I", raw, 14)[0]


@FUZZ
@given(data=st.data())
def test_decode_datagram_gives_dict_or_protocol_error(data: st.DataObject) -> None:
    info = {"ip": "10.0.0.2", "gwId": "abc", "version": "3.3"}
    valid = [
        encode_announcement(info, version="3.1"),
        encode_announcement(info, version="3.3"),
        encode_announcement(info, version="3.5", iv=IV),
        encode_devinfo_request("10.0.0.1", iv=IV),
        encode_devinfo_reply(info, iv=IV),
        ecb_encrypt(UDP_KEY, b'{"ip":"1"}'),
    ]
    datagram = data.draw(st.binary(max_size=200) | hostile_streams(valid))
    try:
        result = decode_datagram(datagram)
    except ProtocolError:
        return
    assert isinstance(result, dict)


# ----------------------------------------------------------------------------- round trips


# Real return codes are small (0, 1, a few more): the first byte of a larger one could read as
# "{" or "3.", which is how a body without a code is told apart (frames.retcode_present).
retcodes = st.integers(0, 0xFFFF)
messages = st.tuples(st.sampled_from(COMMANDS), bodies | st.just(b""), u32, retcodes)


@FUZZ
@given(
    version=st.sampled_from(VERSIONS),
    from_device=st.booleans(),
    batch=st.lists(messages, min_size=1, max_size=4),
    junk=st.lists(garbage, min_size=4, max_size=4),
    mode=st.sampled_from(["byte-at-a-time", "concatenated", "chunked"]),
    cuts=st.lists(st.integers(0, 4096), max_size=8),
    nonces=st.tuples(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16)),
    iv=st.binary(min_size=12, max_size=12),
)
def test_round_trip(
    version: str,
    from_device: bool,
    batch: list[tuple[Command, dict[str, Any] | bytes, int, int]],
    junk: list[bytes],
    mode: str,
    cuts: list[int],
    nonces: tuple[bytes, bytes],
    iv: bytes,
) -> None:
    client, device = handshaken_pair(version, *nonces)
    sender, receiver = (device, client) if from_device else (client, device)
    stream = b""
    for i, (cmd, body, seq, retcode) in enumerate(batch):
        stream += junk[i % len(junk)] + sender.encode(cmd, body, seq=seq, retcode=retcode, iv=iv)
    if mode == "byte-at-a-time":
        chunks = [stream[i : i + 1] for i in range(len(stream))]
    elif mode == "concatenated":
        chunks = [stream]
    else:
        chunks = cut(stream, cuts)
    got: list[Message] = []
    for chunk in chunks:
        got.extend(receiver.feed(chunk))
    assert receiver.buffered == 0
    assert len(got) == len(batch)
    for msg, (cmd, body, seq, retcode) in zip(got, batch, strict=True):
        assert (msg.seq, msg.cmd, msg.retcode) == (seq, cmd, retcode if from_device else None)
        if isinstance(body, dict):
            assert msg.data == expected_data(body)
        else:
            assert (msg.payload, msg.data, msg.text, msg.is_ack) == (b"", None, None, True)


@FUZZ
@given(
    version=st.sampled_from(VERSIONS),
    batch=st.lists(st.tuples(st.sampled_from(COMMANDS), bodies | st.just(b""), u32), min_size=1, max_size=4),
    nonces=st.tuples(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16)),
    iv=st.binary(min_size=12, max_size=12),
)
def test_device_frames_without_a_return_code_round_trip(
    version: str,
    batch: list[tuple[Command, dict[str, Any] | bytes, int]],
    nonces: tuple[bytes, bytes],
    iv: bytes,
) -> None:
    """A device that leaves the 4-byte code out is understood: no code, and the whole body kept."""
    client, _ = handshaken_pair(version, *nonces)
    device = MessageCodec(get_spec(version), client.key, role=Role.DEVICE, retcodes=False)
    stream = b"".join(device.encode(cmd, body, seq=seq, iv=iv) for cmd, body, seq in batch)
    got = client.feed(stream)
    assert len(got) == len(batch)
    for msg, (cmd, body, seq) in zip(got, batch, strict=True):
        assert (msg.seq, msg.cmd, msg.retcode) == (seq, cmd, None)
        if isinstance(body, dict):
            assert msg.data == expected_data(body)
        else:
            assert msg.is_ack


# ----------------------------------------------------------------------------- regressions


@pytest.mark.parametrize("version", ["3.2", "3.3", "device22"])
@pytest.mark.parametrize(
    ("t", "why"),
    [(116, "the ciphertext starts with '{'"), (43334, "the ciphertext starts with '3.' like a version header")],
)
@pytest.mark.parametrize("cmd", [Command.CONTROL, Command.DP_QUERY])
def test_ecb_ciphertext_that_looks_like_plaintext_or_header(version: str, t: int, why: str, cmd: Command) -> None:
    """Found by reasoning about the round-trip property; these t values were searched for."""
    client = MessageCodec(get_spec(version), KEY, role=Role.CLIENT)
    device = MessageCodec(get_spec(version), KEY, role=Role.DEVICE)
    body = {"t": t, "dps": {"1": True}}
    frame = client.encode(cmd, body, seq=1)
    start = 16 + (15 if cmd == Command.CONTROL else 0)
    assert frame[start : start + 1] == b"{" or frame[start : start + 2] == b"3.", why
    (msg,) = device.feed(frame)
    assert msg.data == body


@pytest.mark.parametrize("version", SESSION_VERSIONS)
@pytest.mark.parametrize(
    "nonces",
    [
        (b"3.5 nonce 123456", b"3.3 device nonce"),  # read as a version header and cut by 15 bytes
        (b"{client nonce 16", b"{device nonce 16"),  # parsed as JSON and rejected (found by test_round_trip)
    ],
)
def test_handshake_nonces_that_look_like_a_header_or_json(version: str, nonces: tuple[bytes, bytes]) -> None:
    """Nonces are random bytes: 1 in 256 starts with "{", 1 in 65,536 with "3."."""
    client, device = handshaken_pair(version, *nonces)
    (msg,) = device.feed(client.encode(Command.DP_QUERY_NEW, {}, seq=3, iv=IV))
    assert msg.data == {}


def test_json_nested_too_deep_is_a_protocol_error() -> None:
    """json raises RecursionError on deep nesting; a hostile peer must not get that through."""
    device = MessageCodec(get_spec("3.3"), KEY, role=Role.DEVICE)
    client = MessageCodec(get_spec("3.3"), KEY, role=Role.CLIENT)
    with pytest.raises(ProtocolError, match="looks like JSON"):
        client.feed(device.encode(Command.STATUS, b'{"a":' + b"[" * 20000, seq=1))
    with pytest.raises(ProtocolError, match="does not hold JSON"):
        decode_datagram(encode_55aa(0, Command.UDP_NEW, b'{"a":' + b"[" * 4000))


# ----------------------------------------------------------------------------- explicit rejections


def codec(version: str, role: Role = Role.CLIENT) -> MessageCodec:
    return MessageCodec(get_spec(version), KEY, role=role, max_frame=MAX_FRAME)


def device_frame(version: str, body: dict[str, Any] | bytes = b'{"dps":{"1":true}}') -> bytes:
    return codec(version, Role.DEVICE).encode(Command.STATUS, body, seq=1, iv=IV)


@pytest.mark.parametrize(
    "header",
    [
        struct.pack(">4sIII", PREFIX_55AA, 1, 8, MAX_FRAME),  # 16 + MAX_FRAME > MAX_FRAME
        struct.pack(">4sHIII", PREFIX_6699, 0, 1, 8, MAX_FRAME),
        struct.pack(">4sIII", PREFIX_55AA, 1, 8, 2**32 - 1),
    ],
)
def test_oversize_length_rejected_before_the_body_arrives(header: bytes) -> None:
    c = codec("3.3")
    with pytest.raises(ProtocolError, match="announces a length"):
        c.feed(header)  # only the header: nothing of the announced body was buffered
    assert c.buffered == len(header) - 4
    assert c.feed(b"") == []  # the rest of the header is garbage, kept below a prefix's length
    assert c.buffered <= 3


@pytest.mark.parametrize("length", [0, 7])
def test_undersize_length_rejected(length: int) -> None:
    with pytest.raises(ProtocolError, match="announces a length"):
        codec("3.3").feed(struct.pack(">4sIII", PREFIX_55AA, 1, 8, length))


def test_bad_suffix_rejected_then_stream_resynchronises() -> None:
    frame = device_frame("3.3")
    c = codec("3.3")
    with pytest.raises(ProtocolError, match="suffix"):
        c.feed(frame[:-1] + b"\x00" + frame)
    (msg,) = c.feed(b"")
    assert msg.dps == {"1": True}


def test_bad_crc_rejected() -> None:
    frame = bytearray(device_frame("3.3"))
    frame[-5] ^= 1
    with pytest.raises(IntegrityError, match="CRC"):
        codec("3.3").feed(bytes(frame))


def test_bad_hmac_rejected_and_called_a_key_mismatch_while_handshaking() -> None:
    frame = bytearray(device_frame("3.4"))
    frame[20] ^= 1
    with pytest.raises(IntegrityError, match="HMAC"):
        codec("3.4").feed(bytes(frame))
    c = codec("3.4")
    ClientHandshake(c, b"c" * 16).start(seq=1)
    with pytest.raises(KeyMismatchError):
        c.feed(bytes(frame))


def test_bad_gcm_tag_rejected() -> None:
    frame = bytearray(device_frame("3.5"))
    frame[-6] ^= 1
    with pytest.raises(IntegrityError, match="GCM"):
        codec("3.5").feed(bytes(frame))


@pytest.mark.parametrize("version", ["3.1", "3.3", "3.4", "3.5"])
def test_truncated_frame_waits_and_is_rejected_whole(version: str) -> None:
    frame = device_frame(version)
    for n in (1, 4, 15, 16, 20, len(frame) - 1):
        c = codec(version)
        assert c.feed(frame[:n]) == []
        assert c.buffered == n
        with pytest.raises(ProtocolError):
            c.decode_frame(frame[:n])


@pytest.mark.parametrize(("version", "sender"), [("3.3", "3.5"), ("3.4", "3.5"), ("3.5", "3.3"), ("3.5", "3.1")])
def test_wrong_framing_for_the_version(version: str, sender: str) -> None:
    with pytest.raises(ProtocolError, match="check the version"):
        codec(version).feed(device_frame(sender))


@pytest.mark.parametrize("last_block", [b"\x00" * 16, b"x" * 15 + b"\x11", b"x" * 13 + b"\x01\x02\x03"])
def test_bad_pkcs7_padding_rejected(last_block: bytes) -> None:
    cipher = ecb_encrypt(KEY, b'{"dps":{"1":1}}x' + last_block, pad=False)
    frame = encode_55aa(1, Command.STATUS, b"\x00\x00\x00\x00" + get_spec("3.3").header + cipher)
    with pytest.raises(IntegrityError, match="padding"):
        codec("3.3").feed(frame)


def test_wrong_key_is_an_integrity_error() -> None:
    wrong = MessageCodec(get_spec("3.3"), OTHER_KEY, role=Role.DEVICE)
    with pytest.raises(IntegrityError):
        codec("3.3").feed(wrong.encode(Command.STATUS, {"dps": {"1": True}}, seq=1))


@pytest.mark.parametrize("version", ["3.1", "3.3", "3.4", "3.5"])
@pytest.mark.parametrize("body", [b'{"dps":', b'{"a":1}}', b'{"a":"\xff"}', b"{" + b"\x80" * 20])
def test_non_json_rejected(version: str, body: bytes) -> None:
    with pytest.raises(ProtocolError, match="looks like JSON"):
        codec(version).feed(device_frame(version, body))


@pytest.mark.parametrize("body", [b"[1,2]", b'"text"', b"42"])
def test_json_that_is_not_an_object(body: bytes) -> None:
    """A discovery datagram must be an object; a TCP body that is not an object is kept as text."""
    with pytest.raises(ProtocolError, match="not an object"):
        decode_datagram(ecb_encrypt(UDP_KEY, body))
    (msg,) = codec("3.3").feed(device_frame("3.3", body))
    assert (msg.data, msg.text) == (None, body.decode())


def test_oversize_datagram_rejected() -> None:
    with pytest.raises(ProtocolError, match="exceeds"):
        decode_datagram(ecb_encrypt(UDP_KEY, json.dumps({"x": "y" * 5000}).encode()))


def test_6699_datagram_with_another_key_rejected() -> None:
    with pytest.raises(IntegrityError):
        decode_datagram(encode_6699(0, Command.UDP_NEW, b'{"ip":"1"}', key=KEY, iv=IV, retcode=0))


@pytest.mark.timeout(20)
@pytest.mark.parametrize("kind", ["55aa", "6699"])
def test_byte_at_a_time_is_linear(kind: str) -> None:
    """A peer dribbling one byte per segment must not cost quadratic time.

    The splitter used to search the whole partial frame for the other prefix on every chunk:
    about 1 s of CPU for a 32 KiB frame, over a minute for this 256 KiB one. Now well under 1 s.
    """
    size = 256 * 1024
    body = b"x" * (size - 64)
    if kind == "55aa":
        frame = encode_55aa(1, Command.STATUS, body)
    else:
        frame = encode_6699(1, Command.STATUS, body, key=KEY, iv=IV)
    splitter = FrameSplitter(size)
    out: list[bytes] = []
    for i in range(len(frame)):
        out += splitter.feed(frame[i : i + 1])
    assert out == [frame]
