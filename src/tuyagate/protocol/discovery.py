"""UDP discovery datagrams, both ways (pure functions).

Devices announce themselves on UDP 6666 (3.1, plaintext JSON in a 55AA frame), 6667 (3.2-3.4:
ECB with the well-known UDP key in a 55AA frame; 3.5: a 6699 GCM frame with the UDP key) and
answer the app's ``REQ_DEVINFO`` probe (6699, UDP 7000). Decoding accepts any of these, or a
bare ECB blob, and returns the JSON object; anything else is a ProtocolError.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tuyagate.errors import ProtocolError, TuyaError
from tuyagate.protocol.commands import Command
from tuyagate.protocol.crypto import UDP_KEY, ecb_decrypt, ecb_encrypt
from tuyagate.protocol.frames import PREFIX_55AA, PREFIX_6699, decode_55aa, decode_6699, encode_55aa, encode_6699
from tuyagate.protocol.versions import FrameKind, VersionSpec, get_spec

__all__ = [
    "MAX_DATAGRAM",
    "decode_datagram",
    "encode_announcement",
    "encode_devinfo_reply",
    "encode_devinfo_request",
    "is_app_probe",
]

MAX_DATAGRAM = 4096  # discovery JSON is a few hundred bytes; anything bigger is not ours
DISCOVERY_PORT_PLAIN = 6666
DISCOVERY_PORT_ENCRYPTED = 6667
DISCOVERY_PORT_APP = 7000


def _loads(body: bytes) -> dict[str, Any]:
    body = body.rstrip(b"\x00")
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: "[[[[..." nested too deep
        raise ProtocolError("discovery datagram does not hold JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError("discovery datagram JSON is not an object")
    return obj


def decode_datagram(data: bytes) -> dict[str, Any]:
    """Decode any Tuya discovery datagram into its JSON object."""
    if len(data) > MAX_DATAGRAM:
        raise ProtocolError(f"discovery datagram of {len(data)} bytes exceeds {MAX_DATAGRAM}")
    try:
        if data[:4] == PREFIX_6699:
            frame = decode_6699(data, key=UDP_KEY, has_retcode=None)
            return _loads(frame.payload)
        if data[:4] == PREFIX_55AA:
            body = decode_55aa(data, has_retcode=False).payload
            if body[:1] == b"{":  # 3.1 plaintext without a retcode
                return _loads(body)
            if body[4:5] == b"{":  # 3.1 plaintext after a retcode
                return _loads(body[4:])
            if len(body) % 16 == 4:  # ciphertext after a retcode
                body = body[4:]
            return _loads(ecb_decrypt(UDP_KEY, body))
        return _loads(ecb_decrypt(UDP_KEY, data))
    except ProtocolError:
        raise
    except TuyaError as exc:  # ConfigError and friends cannot come from data, but keep the promise
        raise ProtocolError(str(exc)) from None


def encode_announcement(
    info: Mapping[str, Any], *, version: str | VersionSpec, iv: bytes | None = None, seq: int = 0
) -> bytes:
    """A device's broadcast for ``version``, protected as the version table says.

    6699 framing (3.5) is GCM with the UDP key and needs ``iv``; a version that announces in the
    clear (3.1) sends plaintext JSON; the others ECB with the UDP key, in a 55AA frame.
    """
    spec = version if isinstance(version, VersionSpec) else get_spec(version)
    body = json.dumps(dict(info), separators=(",", ":")).encode()
    if spec.frame is FrameKind.P6699:
        if iv is None:
            raise ProtocolError(f"a {spec.name} announcement needs a 12-byte IV")
        return encode_6699(seq, Command.UDP_NEW, body, key=UDP_KEY, iv=iv, retcode=0)
    if not spec.encrypted_announcement:
        return encode_55aa(seq, Command.UDP_NEW, body, retcode=0)
    return encode_55aa(seq, Command.UDP_NEW, ecb_encrypt(UDP_KEY, body), retcode=0)


def encode_devinfo_request(local_ip: str, *, iv: bytes) -> bytes:
    """The app's 3.5 solicitation (``REQ_DEVINFO``), sent to UDP 7000."""
    body = json.dumps({"from": "app", "ip": local_ip}).encode()
    return encode_6699(0, Command.REQ_DEVINFO, body, key=UDP_KEY, iv=iv)


def encode_devinfo_reply(info: Mapping[str, Any], *, iv: bytes, seq: int = 0) -> bytes:
    """A device's unicast answer to ``REQ_DEVINFO``."""
    body = json.dumps(dict(info), separators=(",", ":")).encode()
    return encode_6699(seq, Command.REQ_DEVINFO, body, key=UDP_KEY, iv=iv, retcode=0)


def is_app_probe(obj: Mapping[str, Any]) -> bool:
    """True for the app's own solicitation, which listeners must not mistake for a device."""
    return obj.get("from") == "app"
