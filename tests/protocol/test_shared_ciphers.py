"""The ECB cipher a device's local key shares between the connections of one thread (crypto.ecb_cipher).

Sharing is safe only because every use leaves the OpenSSL contexts as it found them; these tests
interleave codecs that share one, across a bad frame, and check the per-thread and size bounds.
"""

from __future__ import annotations

import threading

import pytest

from tuyagate.errors import IntegrityError
from tuyagate.protocol import crypto
from tuyagate.protocol.codec import MessageCodec, Role
from tuyagate.protocol.commands import Command
from tuyagate.protocol.versions import get_spec

KEY = b"0123456789abcdef"


def test_one_cipher_per_key_and_thread() -> None:
    first = crypto.ecb_cipher(KEY)
    assert crypto.ecb_cipher(KEY) is first
    assert crypto.ecb_cipher(b"fedcba9876543210") is not first
    elsewhere: list[crypto.EcbCipher] = []
    thread = threading.Thread(target=lambda: elsewhere.append(crypto.ecb_cipher(KEY)))
    thread.start()
    thread.join(5)
    assert len(elsewhere) == 1
    assert elsewhere[0] is not first  # contexts are never shared between threads


def test_the_cache_keeps_at_most_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto, "LOCAL_KEY_CIPHERS", 3)
    keys = [bytes([n]) * 16 for n in range(10)]
    seen: list[bool] = []

    def in_a_fresh_thread() -> None:  # its own cache, whatever other tests left in this thread's
        held = [crypto.ecb_cipher(k) for k in keys]
        seen.append(crypto.ecb_cipher(keys[-1]) is held[-1])  # among the newest three: kept
        seen.append(crypto.ecb_cipher(keys[0]) is not held[0])  # dropped long ago: made anew

    thread = threading.Thread(target=in_a_fresh_thread)
    thread.start()
    thread.join(5)
    assert seen == [True, True]
    with pytest.raises(Exception, match="16 bytes"):
        crypto.ecb_cipher(b"short")


@pytest.mark.parametrize("version", ["3.1", "3.2", "3.3"])
def test_codecs_sharing_a_cipher_interleave_and_survive_a_bad_frame(version: str) -> None:
    spec = get_spec(version)
    clients = [MessageCodec(spec, KEY) for _ in range(3)]
    devices = [MessageCodec(spec, KEY, role=Role.DEVICE) for _ in range(3)]
    for round_ in range(4):
        for n, (client, device) in enumerate(zip(clients, devices, strict=True)):
            body = {"dps": {"1": round_ % 2 == 0, "2": n * 100 + round_}}
            frame = device.encode(Command.STATUS, body, seq=round_)
            (msg,) = client.feed(frame)
            assert msg.dps == body["dps"]
        if version != "3.1":
            # A frame sealed with another key fails on one codec; the shared contexts stay sound.
            other = MessageCodec(spec, b"fedcba9876543210", role=Role.DEVICE)
            with pytest.raises(IntegrityError):
                clients[0].feed(other.encode(Command.STATUS, {"dps": {"1": True}}, seq=9))


def test_a_34_codec_round_trips_with_the_local_key_then_its_session_key() -> None:
    # 3.4 uses the local key for its handshake only, with contexts of its own (not the shared ones,
    # which would outlive the session); the switch to the session key must replace them.
    codec = MessageCodec(get_spec("3.4"), KEY)
    device = MessageCodec(get_spec("3.4"), KEY, role=Role.DEVICE)
    (msg,) = codec.feed(device.encode(Command.STATUS, {"dps": {"1": True}}, seq=1))
    assert msg.dps == {"1": True}
    codec.set_session_key(b"S" * 16)
    device.set_session_key(b"S" * 16)
    (msg,) = codec.feed(device.encode(Command.STATUS, {"dps": {"1": False}}, seq=2))
    assert msg.dps == {"1": False}
    with pytest.raises(IntegrityError):  # a frame in the local key no longer decrypts
        codec.feed(MessageCodec(get_spec("3.4"), KEY, role=Role.DEVICE).encode(Command.STATUS, {"a": 1}, seq=3))
