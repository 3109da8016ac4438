"""The Tuya LAN protocol, sans-IO: bytes in, messages out.

No sockets, no asyncio, no clock reads: time, nonces and IVs are passed in by the caller. Only
the standard library and ``cryptography`` are imported (tests/test_layering.py).

- :mod:`~tuyagate.protocol.versions`: the one version table.
- :mod:`~tuyagate.protocol.frames`: 55AA/6699 frames and the incremental splitter.
- :mod:`~tuyagate.protocol.codec`: messages of one connection (:class:`MessageCodec`).
- :mod:`~tuyagate.protocol.payloads`: the JSON bodies of requests and answers.
- :mod:`~tuyagate.protocol.handshake`: the 3.4/3.5 session-key negotiation, both roles.
- :mod:`~tuyagate.protocol.discovery`: UDP discovery datagrams.
"""

from __future__ import annotations

from tuyagate.protocol.codec import Message, MessageCodec, Role
from tuyagate.protocol.commands import Command
from tuyagate.protocol.discovery import decode_datagram, encode_announcement, encode_devinfo_request
from tuyagate.protocol.frames import FrameSplitter
from tuyagate.protocol.handshake import ClientHandshake, DeviceHandshake, derive_session_key
from tuyagate.protocol.versions import VERSIONS, VersionSpec, get_spec

__all__ = [
    "VERSIONS",
    "ClientHandshake",
    "Command",
    "DeviceHandshake",
    "FrameSplitter",
    "Message",
    "MessageCodec",
    "Role",
    "VersionSpec",
    "decode_datagram",
    "derive_session_key",
    "encode_announcement",
    "encode_devinfo_request",
    "get_spec",
]
