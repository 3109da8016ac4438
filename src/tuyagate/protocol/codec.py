"""Messages of one protocol version: bytes in, :class:`Message` out, and back.

A :class:`MessageCodec` holds what the wire format depends on at a given moment: the version
spec, which side we are (client or device), and the current key (the local key, replaced by
the session key once a 3.4/3.5 negotiation finishes). It owns the frame splitter, so a caller
feeds raw TCP chunks and gets decoded messages. It does no I/O, reads no clock and keeps no
sequence counter: the caller passes ``seq`` (and the 3.5 IV) in.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from tuyagate.errors import IntegrityError, KeyMismatchError, ProtocolError
from tuyagate.protocol.commands import NO_VERSION_HEADER, Command
from tuyagate.protocol.crypto import EcbCipher, GcmCipher, HmacSha256, ecb_cipher
from tuyagate.protocol.frames import (
    DEFAULT_MAX_FRAME,
    FrameSplitter,
    check_55aa,
    encode_55aa,
    encode_6699,
    open_6699,
    retcode_present,
)
from tuyagate.protocol.payloads import dump_json
from tuyagate.protocol.versions import VERSIONS, Encryption, FrameKind, VersionSpec

__all__ = ["Message", "MessageCodec", "Role"]

_HEADER_LEN = 15
_md5 = hashlib.md5
_U32 = struct.Struct(">I")
# Module-level aliases: on Python 3.11 an enum member lookup (Role.DEVICE) costs ~150 ns, ten
# times the identity comparison it feeds.
_GCM_SESSION = Encryption.GCM_SESSION
_ECB_SESSION = Encryption.ECB_SESSION
_ECB = Encryption.ECB
_P6699 = FrameKind.P6699
_ENCRYPTED_31 = frozenset({int(Command.CONTROL), int(Command.STATUS)})
_HANDSHAKE_INTEGRITY = (
    "the handshake answer failed its integrity check: the local key is wrong or was changed by re-pairing the device"
)
_HANDSHAKE_CMDS = frozenset(
    {int(Command.SESS_KEY_NEG_START), int(Command.SESS_KEY_NEG_RESP), int(Command.SESS_KEY_NEG_FINISH)}
)
_HEADERS = {name: spec.header for name, spec in VERSIONS.items()}
_MAX_EXCERPT = 60


class Role(Enum):
    """Which end of the connection a codec serves."""

    CLIENT = "client"
    DEVICE = "device"


_CLIENT = Role.CLIENT


@dataclass(frozen=True, slots=True)
class Message:
    """One decoded message.

    ``payload`` is the decrypted body with any version header removed; ``data`` is its JSON
    object (with a nested ``data.dps`` also lifted to ``dps``); ``text`` is set instead when the
    body is not JSON (devices answer errors as bare text such as ``data format error``).
    """

    seq: int
    cmd: int
    retcode: int | None
    payload: bytes
    data: dict[str, Any] | None = None
    text: str | None = None

    @property
    def dps(self) -> dict[str, Any] | None:
        """The DP values carried, if any."""
        if self.data is None:
            return None
        dps = self.data.get("dps")
        return dps if isinstance(dps, dict) else None

    @property
    def cid(self) -> str | None:
        """The sub-device id the message is about, if any."""
        if self.data is None:
            return None
        cid = self.data.get("cid")
        if cid is None and isinstance(self.data.get("data"), dict):
            cid = self.data["data"].get("cid")
        return str(cid) if cid is not None else None

    @property
    def is_ack(self) -> bool:
        """An empty answer: the device accepted the request and has nothing to say."""
        return not self.payload

    @property
    def data_unvalid(self) -> bool:
        """The device22 symptom: the device rejected a plain DP_QUERY."""
        return self.text is not None and "data unvalid" in self.text


def _excerpt(data: bytes) -> str:
    text = data[:_MAX_EXCERPT].decode("ascii", "replace")
    return text + ("..." if len(data) > _MAX_EXCERPT else "")


# The C scanner behind json.loads: (text, index) -> (object, end). It is an instance attribute
# of JSONDecoder that the type stubs do not declare, hence vars().
_json_scan: Callable[[str, int], tuple[Any, int]] = vars(json.JSONDecoder())["scan_once"]


def parse_body(seq: int, cmd: int, retcode: int | None, payload: bytes) -> Message:
    """Turn a decrypted body into a Message (JSON object or text)."""
    if not payload or cmd in _HANDSHAKE_CMDS:
        # Handshake payloads are raw nonces and HMACs: 1 in 256 starts with "{" by chance, and
        # parsing those as JSON failed the negotiation.
        return Message(seq, cmd, retcode, payload)
    stripped = payload.rstrip(b"\x00") if payload.endswith(b"\x00") else payload
    if stripped[:1] == b"{":
        try:
            # JSON on the wire is UTF-8. Scanning the text directly skips json.loads' encoding
            # sniffing and whitespace regexes; text after the object must be JSON whitespace.
            text = stripped.decode("utf-8")
            data, end = _json_scan(text, 0)
            if end != len(text) and text[end:].strip(" \t\n\r"):
                raise ValueError("extra data after the JSON object")
        except (ValueError, UnicodeDecodeError, StopIteration, RecursionError):
            # RecursionError: a peer can nest arrays thousands deep within one frame.
            raise ProtocolError(f"payload of cmd {cmd:#x} looks like JSON but is not: {_excerpt(stripped)!r}") from None
        if type(data) is not dict:
            raise ProtocolError(f"payload of cmd {cmd:#x} is JSON but not an object")
        if "dps" not in data:
            inner = data.get("data")
            if isinstance(inner, dict) and isinstance(inner.get("dps"), dict):
                data["dps"] = inner["dps"]
        return Message(seq, cmd, retcode, payload, data)
    return Message(seq, cmd, retcode, payload, text=stripped.decode("utf-8", "replace"))


class MessageCodec:
    """Encode and decode the messages of one connection (sans-IO)."""

    __slots__ = ("_ecb", "_gcm", "_hmac", "_key", "_retcodes", "_splitter", "handshaking", "local_key", "role", "spec")

    def __init__(
        self,
        spec: VersionSpec,
        local_key: bytes,
        *,
        role: Role = Role.CLIENT,
        max_frame: int = DEFAULT_MAX_FRAME,
        retcodes: bool = True,
    ) -> None:
        """``retcodes=False`` makes a device-role codec leave the return code out, as some devices do."""
        if spec.encryption is not Encryption.CONTROL_ONLY or local_key:
            if len(local_key) != 16:
                raise ProtocolError(f"the local key must be 16 bytes, got {len(local_key)}")
        self.spec = spec
        self.local_key = local_key
        self._key = b""
        self._ecb: EcbCipher | None = None
        self._gcm: GcmCipher | None = None
        self._hmac: HmacSha256 | None = None
        self.key = local_key
        self.role = role
        self._retcodes = role is Role.DEVICE and retcodes
        self.handshaking = False
        self._splitter = FrameSplitter(max_frame)

    @property
    def key(self) -> bytes:
        """The key in use: the local key, or the session key once one is agreed."""
        return self._key

    @key.setter
    def key(self, key: bytes) -> None:
        # The ECB contexts are bound to the key, so they change with it; they are opened on first
        # use, as 3.5 frames never need them and each costs OpenSSL memory per connection.
        self._key = key
        self._ecb = None
        self._gcm = None
        self._hmac = None  # likewise the 3.4 HMAC state: a session key's dies with the session

    def reset(self) -> None:
        """Forget the session key and any buffered bytes (a new TCP connection)."""
        self.key = self.local_key
        self.handshaking = False
        self._splitter = FrameSplitter(self._splitter.max_frame)

    def set_session_key(self, key: bytes) -> None:
        """Switch to the negotiated session key (3.4/3.5)."""
        if len(key) != 16:
            raise ProtocolError("a session key must be 16 bytes")
        self.key = key
        self.handshaking = False

    # ---------------------------------------------------------------- encoding

    def encode(
        self,
        cmd: int,
        body: bytes | dict[str, Any],
        *,
        seq: int,
        retcode: int | None = None,
        iv: bytes | None = None,
    ) -> bytes:
        """One frame carrying ``body`` (a JSON object or raw bytes) as ``cmd``.

        A device-role codec adds a retcode (0 unless given) unless it was made with
        ``retcodes=False``; a client never sends one. 3.5 needs a fresh 12-byte ``iv`` per frame
        from the caller.
        """
        raw = dump_json(body) if isinstance(body, dict) else body
        if not self._retcodes:
            retcode = None
        elif retcode is None:
            retcode = 0
        spec = self.spec
        header = b"" if cmd in NO_VERSION_HEADER else (_HEADERS.get(spec.name) or spec.header)
        enc = spec.encryption
        if enc is _GCM_SESSION:
            if iv is None:
                raise ProtocolError("3.5 frames need a 12-byte IV from the caller")
            gcm = self._gcm or self._aead()
            return encode_6699(seq, cmd, header + raw if raw else raw, key=gcm, iv=iv, retcode=retcode)
        if enc is _ECB_SESSION:
            payload = self._cipher().encrypt(header + raw) if raw else b""
            return encode_55aa(seq, cmd, payload, retcode=retcode, hmac_key=self._hmac or self._mac())
        if enc is _ECB:
            payload = header + self._cipher().encrypt(raw) if raw else b""
            return encode_55aa(seq, cmd, payload, retcode=retcode)
        # 3.1: only CONTROL (and a device's STATUS) is encrypted, as "3.1" + md5 tag + base64(ECB).
        if raw and cmd in _ENCRYPTED_31 and self._key:
            b64 = binascii.b2a_base64(self._cipher().encrypt(raw), newline=False)
            raw = b"3.1" + self._tag_31(b64) + b64
        return encode_55aa(seq, cmd, raw, retcode=retcode)

    def _tag_31(self, b64: bytes) -> bytes:
        # The 16 hex digits 8..24 of md5("data=" + base64 + "||lpv=3.1||" + key). One hash of the
        # joined bytes is faster than feeding a copied hash in parts (measured: 0.96 against 1.5 us).
        return _md5(b"data=" + b64 + b"||lpv=3.1||" + self._key).hexdigest()[8:24].encode("ascii")

    # ---------------------------------------------------------------- decoding

    def feed(self, data: bytes) -> list[Message]:
        """Feed received bytes; return every message they complete (raises on the first bad frame)."""
        raws = self._splitter.feed(data)
        if not raws:
            return []
        try:
            return [self._decode(raw) for raw in raws]  # decode_frame, inlined for the hot path
        except IntegrityError:
            if self.handshaking:
                raise KeyMismatchError(_HANDSHAKE_INTEGRITY) from None
            raise

    def split(self, data: bytes) -> list[bytes]:
        """Feed received bytes; return whole raw frames, to be decoded one by one with :meth:`decode_frame`.

        Lets a caller skip one bad frame without losing the good ones that arrived with it.
        """
        return self._splitter.feed(data)

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return self._splitter.buffered

    def decode_frame(self, raw: bytes) -> Message:
        """Verify, decrypt and parse one whole raw frame."""
        try:
            return self._decode(raw)
        except IntegrityError:
            if self.handshaking:
                raise KeyMismatchError(_HANDSHAKE_INTEGRITY) from None
            raise

    def _decode(self, raw: bytes) -> Message:
        spec = self.spec
        from_device = self.role is _CLIENT
        is_6699 = raw[2:4] == b"\x66\x99"
        if is_6699 != (spec.frame is _P6699):
            got = "6699 (3.5)" if is_6699 else "55AA (3.1-3.4)"
            raise ProtocolError(
                f"the peer sent {got} framing, which protocol {spec.name} does not use: check the version"
            )
        if is_6699:
            seq, cmd, plain = open_6699(raw, self._gcm or self._aead())
            retcode = None
            if from_device and (
                len(plain) & 15 == 4 if cmd in _HANDSHAKE_CMDS else retcode_present(plain, 0, len(plain))
            ):
                # A handshake answer is 48 bytes of nonce and HMAC, which may begin with anything.
                retcode = _U32.unpack_from(plain)[0]
                plain = plain[4:]
            return parse_body(seq, cmd, retcode, self._strip_header(cmd, plain))
        enc = spec.encryption
        if enc is _ECB_SESSION:
            seq, cmd, end = check_55aa(raw, self._hmac or self._mac())
            # Some 3.4 frames from devices omit the retcode; the ciphertext length tells.
            start, retcode = 16, None
            if from_device and (end - 16) % 16 == 4:
                retcode = _U32.unpack_from(raw, 16)[0]
                start = 20
            body = self._cipher().decrypt(raw[start:end]) if end > start else b""
            return parse_body(seq, cmd, retcode, self._strip_header(cmd, body))
        seq, cmd, end = check_55aa(raw)
        start, retcode = 16, None
        if from_device and retcode_present(raw, 16, end, blocks=enc is _ECB):
            retcode = _U32.unpack_from(raw, 16)[0]
            start = 20
        body = raw[start:end]
        if enc is _ECB:
            body = self._open_ecb(body)
        else:
            body = self._open_31(body)
        return parse_body(seq, cmd, retcode, body)

    def _aead(self) -> GcmCipher:
        # This connection's own GCM contexts: a session key's die with the session (not cached).
        gcm = self._gcm = GcmCipher(self._key)
        return gcm

    def _mac(self) -> HmacSha256:
        mac = self._hmac = HmacSha256(self._key)
        return mac

    def _cipher(self) -> EcbCipher:
        ecb = self._ecb
        if ecb is None:
            key = self._key
            if len(key) != 16:  # a 3.1 codec may have no key
                raise ProtocolError("this message needs the local key, and the codec was given none")
            # 3.1-3.3 use the local key for good: its shared contexts. A 3.4 session uses it for the
            # handshake only, then a session key: contexts of its own (they die with the session).
            ecb = self._ecb = ecb_cipher(key) if self.spec.local_key_encrypts else EcbCipher(key)
        return ecb

    @staticmethod
    def _strip_header(cmd: int, body: bytes) -> bytes:
        # Strips both the all-zero version header and the "source header" (3.x|CRC32|seq|srcid).
        # Handshake payloads are raw nonces and HMACs that never carry one, and 1 in 65,536 of
        # them starts with b"3." by chance: stripping those broke the negotiation.
        if cmd in _HANDSHAKE_CMDS:
            return body
        if len(body) >= _HEADER_LEN and body[:2] == b"3." and body[3:4] != b"{":
            return body[_HEADER_LEN:]
        return body

    def _open_ecb(self, body: bytes) -> bytes:
        # A 15-byte header before block-aligned ciphertext makes the length 15 mod 16, so a
        # block-aligned body has no header even when its first ciphertext bytes read b"3.".
        size = len(body)
        if size >= _HEADER_LEN and size % 16 and body[:2] == b"3." and body[3:4] != b"{":
            body = body[_HEADER_LEN:]
        elif self.spec.device22 and size > _HEADER_LEN and size % 16 == _HEADER_LEN % 16:
            body = body[_HEADER_LEN:]
        if not body or len(body) % 16:
            return body  # plaintext, e.g. an error text such as "data format error"
        if body[:1] != b"{":
            return self._cipher().decrypt(body)
        # 1 in 256 ciphertexts starts with "{" too: decrypt first, and take the body as
        # plaintext JSON only if that fails and it is text.
        try:
            return self._cipher().decrypt(body)
        except IntegrityError:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                raise IntegrityError(
                    "bad padding after AES-ECB decryption: the key is wrong or the data is corrupt"
                ) from None
            return body

    def _open_31(self, body: bytes) -> bytes:
        if body[:3] != b"3.1" or len(body) <= 19:
            return body
        b64 = body[19:]
        if self._tag_31(b64) != body[3:19]:
            raise IntegrityError("3.1 MD5 tag mismatch: the local key is wrong or the frame is corrupt")
        try:
            cipher = binascii.a2b_base64(b64, strict_mode=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("3.1 payload is not valid base64") from None
        return self._cipher().decrypt(cipher)
