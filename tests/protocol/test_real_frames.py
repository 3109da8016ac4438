"""Real frames from public captures (fixtures/real_frames.json, each with its source) through tuyagate's decoder.

The vectors elsewhere in this package were computed with tinytuya; these were sent by real devices
(and by the Tuya app) and published in issue threads, pull requests and other projects' tests.
The expectations are tuyagate's own reading of them. Where a capture publishes the key, the payload
is decrypted; where it does not (the 3.4/3.5 session frames), the framing and the clear fields are
checked, and a wrong key must give an integrity error, never a wrong answer.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from tuyagate.errors import IntegrityError
from tuyagate.protocol.codec import Message, MessageCodec, Role
from tuyagate.protocol.discovery import decode_datagram
from tuyagate.protocol.frames import FrameSplitter, decode_6699
from tuyagate.protocol.versions import get_spec

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "real_frames.json").read_text(encoding="utf-8"))
FRAMES: list[dict[str, Any]] = FIXTURE["frames"]
UDP_KEY_MD5 = bytes.fromhex("6c1ec8e2bb9bb59ab50b0daf649b410a")
NO_KEY = b"\x00" * 16  # for frames that need none (plaintext, empty ACKs)


def _pick(**where: str) -> list[Any]:
    chosen = [f for f in FRAMES if all(f[k] == v for k, v in where.items())]
    return [pytest.param(f, id=f["name"]) for f in chosen]


def _codec(frame: dict[str, Any]) -> MessageCodec:
    key = frame["key"].encode("latin-1") if frame["key"] else NO_KEY
    role = Role.CLIENT if frame["from"] == "device" else Role.DEVICE
    return MessageCodec(get_spec(frame["version"]), key, role=role)


def _check(msg: Message, expect: dict[str, Any]) -> None:
    assert (msg.seq, msg.cmd, msg.retcode) == (expect["seq"], expect["cmd"], expect["retcode"])
    if "data" in expect:
        assert msg.data is not None
        assert {k: v for k, v in msg.data.items() if k != "dps" or "data" not in msg.data} == expect["data"]
    elif "text" in expect:
        assert (msg.text, msg.data) == (expect["text"], None)
    else:
        assert expect.get("ack") is True
        assert msg.is_ack


@pytest.mark.parametrize("frame", _pick(check="decode", transport="tcp"))
def test_real_frame_decodes(frame: dict[str, Any]) -> None:
    raw = bytes.fromhex(frame["hex"])
    _check(_codec(frame).decode_frame(raw), frame["expect"])


@pytest.mark.parametrize("frame", _pick(check="decode", transport="tcp"))
def test_real_frame_decodes_fed_byte_by_byte_after_line_noise(frame: dict[str, Any]) -> None:
    codec = _codec(frame)
    stream = b"\x00\x00\x55noise" + bytes.fromhex(frame["hex"])
    got: list[Message] = []
    for i in range(len(stream)):
        got += codec.feed(stream[i : i + 1])
    assert len(got) == 1
    _check(got[0], frame["expect"])


@pytest.mark.parametrize("frame", _pick(check="decode", transport="udp"))
def test_real_broadcast_decodes(frame: dict[str, Any]) -> None:
    raw = bytes.fromhex(frame["hex"])
    assert decode_datagram(raw) == frame["expect"]["json"]
    if raw[:4] == b"\x00\x00\x66\x99":
        sealed = decode_6699(raw, key=UDP_KEY_MD5, has_retcode=None)
        assert (sealed.seq, sealed.retcode) == (frame["expect"]["seq"], 0)


@pytest.mark.parametrize("frame", _pick(check="framing"))
def test_real_session_frame_framing(frame: dict[str, Any]) -> None:
    """No key is published for these: the splitter cuts them whole and the clear fields read right."""
    raw = bytes.fromhex(frame["hex"])
    expect = frame["expect"]
    assert FrameSplitter().feed(raw) == [raw]
    if raw[:4] == b"\x00\x00\x55\xaa":
        _, seq, cmd, length, retcode = struct.unpack_from(">4sIIII", raw)
        ciphertext = length - 4 - expect["trailer"] - 4
        assert (seq, cmd, retcode, ciphertext) == (
            expect["seq"],
            expect["cmd"],
            expect["retcode"],
            expect["ciphertext"],
        )
        assert ciphertext % 16 == 0  # AES-ECB blocks after the clear return code
        if "request" in expect:
            # The client's START (16-byte nonce, PKCS7-padded: two blocks) and the device's answer
            # are AES-ECB with the same key, so both end in the same padding block.
            request = bytes.fromhex(expect["request"])
            assert request[16 + 16 : 16 + 32] == raw[20 + ciphertext - 16 : 20 + ciphertext]
    else:
        _, reserved, seq, cmd, length = struct.unpack_from(">4sHIII", raw)
        assert (reserved, seq, cmd, length - 12 - 16) == (0, expect["seq"], expect["cmd"], expect["sealed"])
        request = bytes.fromhex(expect["request"])
        assert struct.unpack_from(">I", request, 6)[0] == 1  # START went out as seq 1: the answer is not an echo
    # With a key that is not the device's, the integrity check fails: never a wrong answer.
    codec = MessageCodec(get_spec(frame["version"]), b"not-the-real-key", role=Role.CLIENT)
    with pytest.raises(IntegrityError):
        codec.decode_frame(raw)


def test_every_frame_names_its_source() -> None:
    for frame in FRAMES:
        source = frame["source"]
        assert source.get("url", "").startswith("https://github.com/") or {"repo", "path", "commit"} <= set(source), (
            frame["name"]
        )
        assert len(source.get("commit", "x" * 40)) == 40


def test_the_captures_cover_the_versions() -> None:
    device = [f for f in FRAMES if f["from"] == "device"]
    decoded = [f for f in device if f["check"] == "decode"]
    assert len(decoded) >= 20
    assert {f["version"] for f in device} >= {"3.1", "3.3", "3.4", "3.5", "device22"}
    assert len({f["hex"] for f in FRAMES}) == len(FRAMES)  # no frame counted twice
