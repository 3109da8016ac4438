"""A 3.4/3.5 session key, and the cipher state built for it, go away with the codec that negotiated it.

The per-key caches of :mod:`tuyagate.protocol.crypto` (AES-GCM, ECB, HMAC) used to hold every
session key ever negotiated, up to 4096 per cache: under the load audit, with devices reconnecting
all the time, the gateway's RSS grew with each reconnect, and session keys stayed in memory long
after their connection closed.
"""

from __future__ import annotations

import gc
import os
import sys
import tracemalloc

import pytest

from tuyagate.protocol.codec import MessageCodec, Role
from tuyagate.protocol.commands import Command
from tuyagate.protocol.versions import get_spec

LOCAL_KEY = b"0123456789abcdef"
IV = b"\x01" * 12


def _session(version: str, session_key: bytes) -> None:
    """One connection's worth of traffic under ``session_key``: a control each way, verified."""
    spec = get_spec(version)
    client = MessageCodec(spec, LOCAL_KEY, role=Role.CLIENT)
    device = MessageCodec(spec, LOCAL_KEY, role=Role.DEVICE)
    client.set_session_key(session_key)
    device.set_session_key(session_key)
    body = b'{"dps":{"1":true}}'
    (msg,) = device.feed(client.encode(Command.CONTROL_NEW, body, seq=1, iv=IV))
    assert msg.seq == 1
    (answer,) = client.feed(device.encode(Command.STATUS, body, seq=2, retcode=0, iv=IV))
    assert answer.seq == 2


@pytest.mark.parametrize("version", ["3.4", "3.5"])
def test_a_session_key_is_not_kept_once_its_codec_is_gone(version: str) -> None:
    key = os.urandom(16)
    before = sys.getrefcount(key)
    _session(version, key)
    gc.collect()
    held = sys.getrefcount(key) - before  # references still held after the codecs are gone (a cache)
    assert held == 0


@pytest.mark.parametrize("version", ["3.4", "3.5"])
def test_many_sessions_leave_no_cipher_state_behind(version: str) -> None:
    """Thousands of reconnects (a new session key each) do not grow memory: each session's state
    is freed with its codecs."""
    _session(version, os.urandom(16))  # warm up the code paths
    tracemalloc.start()
    try:
        for _ in range(200):
            _session(version, os.urandom(16))
        gc.collect()
        first, _ = tracemalloc.get_traced_memory()
        for _ in range(2000):
            _session(version, os.urandom(16))
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - first < 50_000, f"{after - first} bytes more after 2000 more sessions"
