"""Outer frames: 0x55AA (3.1-3.4) and 0x6699 (3.5), and the incremental splitter.

Two steps, on purpose. :class:`FrameSplitter` cuts a byte stream into whole raw frames: it
skips garbage before a prefix, checks the announced length against a limit *before*
buffering, and checks the suffix. :func:`decode_55aa` / :func:`decode_6699` then verify a raw
frame's CRC, HMAC or GCM tag with whatever key is current at that moment (the key changes in
the middle of a stream when a 3.4/3.5 session key is agreed). Any malformed input is a
:class:`~tuyagate.errors.ProtocolError`; a failed integrity check is an
:class:`~tuyagate.errors.IntegrityError`. Nothing else is ever raised.
"""

from __future__ import annotations

import struct
import zlib  # zlib.crc32 is already unsigned on Python 3: no wrapper needed on the hot path
from dataclasses import dataclass

from tuyagate.errors import IntegrityError, ProtocolError
from tuyagate.protocol.crypto import GcmCipher, HmacSha256, gcm_cipher, hmac_sha256
from tuyagate.protocol.versions import FrameKind

__all__ = [
    "DEFAULT_MAX_FRAME",
    "PREFIX_55AA",
    "PREFIX_6699",
    "Frame",
    "FrameSplitter",
    "check_55aa",
    "decode_55aa",
    "decode_6699",
    "encode_55aa",
    "encode_6699",
    "frame_command",
    "open_6699",
    "retcode_present",
]

PREFIX_55AA = b"\x00\x00\x55\xaa"
SUFFIX_55AA = b"\x00\x00\xaa\x55"
PREFIX_6699 = b"\x00\x00\x66\x99"
SUFFIX_6699 = b"\x00\x00\x99\x66"
_PREFIXES = (PREFIX_55AA, PREFIX_6699)
# Real devices send at most ~1.5 KB (IR learning frames are the largest); 32 KiB leaves room for
# gateways with many sub-devices while bounding what a broken or hostile peer can make us buffer.
DEFAULT_MAX_FRAME = 32 * 1024

_HDR_55AA = struct.Struct(">4sIII")  # prefix, seq, cmd, length
_HDR_55AA_RC = struct.Struct(">4sIIII")  # the same, then a device's retcode
_HDR_6699 = struct.Struct(">4sHIII")  # prefix, reserved, seq, cmd, length
_U32 = struct.Struct(">I")
_HMAC_LEN = 32
_CRC_LEN = 4
_IV_LEN = 12
_TAG_LEN = 16
_MIN_6699 = 18 + _IV_LEN + _TAG_LEN + 4


@dataclass(frozen=True, slots=True)
class Frame:
    """One verified frame. ``payload`` is still version-encoded for 55AA; decrypted for 6699."""

    seq: int
    cmd: int
    payload: bytes
    retcode: int | None = None
    kind: FrameKind = FrameKind.P55AA
    iv: bytes | None = None


def encode_55aa(
    seq: int, cmd: int, payload: bytes, *, retcode: int | None = None, hmac_key: bytes | HmacSha256 | None = None
) -> bytes:
    """Build a 0x55AA frame; with ``hmac_key`` the trailer is HMAC-SHA256 (3.4), else CRC32."""
    trailer_len = _HMAC_LEN if hmac_key is not None else _CRC_LEN
    if retcode is None:
        signed = _HDR_55AA.pack(PREFIX_55AA, seq & 0xFFFFFFFF, cmd, len(payload) + trailer_len + 4) + payload
    else:
        head = _HDR_55AA_RC.pack(PREFIX_55AA, seq & 0xFFFFFFFF, cmd, len(payload) + trailer_len + 8, retcode)
        signed = head + payload
    if hmac_key is not None:
        return signed + hmac_sha256(hmac_key, signed) + SUFFIX_55AA
    return signed + _U32.pack(zlib.crc32(signed)) + SUFFIX_55AA


def encode_6699(
    seq: int, cmd: int, plaintext: bytes, *, key: bytes | GcmCipher, iv: bytes, retcode: int | None = None
) -> bytes:
    """Build a 0x6699 frame: GCM over [retcode] + plaintext, the 14 header bytes as AAD.

    ``key`` is the key, or the :class:`~tuyagate.protocol.crypto.GcmCipher` a connection keeps for it.
    """
    body = plaintext if retcode is None else _U32.pack(retcode) + plaintext
    length = _IV_LEN + len(body) + _TAG_LEN
    head = _HDR_6699.pack(PREFIX_6699, 0, seq & 0xFFFFFFFF, cmd, length)
    sealed = (key if type(key) is GcmCipher else gcm_cipher(key)).encrypt(iv, body, head[4:])
    return head + iv + sealed + SUFFIX_6699


def frame_command(raw: bytes) -> int | None:
    """The command number in the header of a whole frame (as :class:`FrameSplitter` yields them), read
    without verifying anything: the header is plaintext in both framings. None when too short."""
    if raw[:4] == PREFIX_6699:
        return _U32.unpack_from(raw, 10)[0] if len(raw) >= 14 else None
    return _U32.unpack_from(raw, 8)[0] if len(raw) >= 12 else None


def check_55aa(raw: bytes, hmac_key: bytes | HmacSha256 | None = None) -> tuple[int, int, int]:
    """Verify a whole 0x55AA frame; return its seq, cmd and where the body ends.

    The body (retcode, if any, and payload) is ``raw[16:end]``. This is :func:`decode_55aa`
    without building a :class:`Frame`, for the codec's hot path.
    """
    size = len(raw)
    if size < 24:
        raise ProtocolError(f"55AA frame of {size} bytes is shorter than the minimum of 24")
    prefix, seq, cmd, length = _HDR_55AA.unpack_from(raw)
    if prefix != PREFIX_55AA or not raw.endswith(SUFFIX_55AA) or size != 16 + length:
        raise ProtocolError("not a well-formed 55AA frame (prefix, suffix or length mismatch)")
    if hmac_key is not None:
        end = size - 4 - _HMAC_LEN
        if end < 16:
            raise ProtocolError(f"55AA frame too short for a {_HMAC_LEN}-byte trailer")
        signed = raw[:end]
        if hmac_sha256(hmac_key, signed) != raw[end:-4]:
            raise IntegrityError(
                f"HMAC mismatch on a 55AA frame (cmd {cmd:#x}): the key is wrong or the frame is corrupt"
            )
    else:
        end = size - 8
        if _U32.unpack_from(raw, end)[0] != zlib.crc32(raw[:end]):
            raise IntegrityError(f"CRC mismatch on a 55AA frame (cmd {cmd:#x})")
    return seq, cmd, end


def retcode_present(buf: bytes, start: int, end: int, *, blocks: bool = False) -> bool:
    """Whether a device's body ``buf[start:end]`` begins with a 4-byte return code.

    Most devices put one in front of every answer, but some (and older stacks) leave it out, and
    reading ``{"de`` as return code 2065851493 loses the answer. Real return codes are small
    (0, 1, a few more), so their first byte is 0: a body that begins with ``{`` (JSON) or with a
    ``3.x`` version header has none. With ``blocks`` (3.2/3.3 AES-ECB) the length decides the
    rest exactly: ciphertext comes in 16-byte blocks, so a bare body is 0 mod 16 (15 with the
    clear version header in front) and one with a code 4 (3) mod 16. Anything else, such as the
    plaintext error texts of some firmware, keeps the code, as tinytuya and tuyapi assume.
    """
    size = end - start
    if size < 4:
        return False
    first = buf[start]
    if first == 0x7B or (first == 0x33 and buf[start + 1] == 0x2E):  # "{" or "3."
        return False
    if blocks:
        return (size & 15) not in (0, 15)
    return True


def decode_55aa(raw: bytes, *, hmac_key: bytes | HmacSha256 | None = None, has_retcode: bool | None = False) -> Frame:
    """Verify and split a whole 0x55AA frame (as cut by :class:`FrameSplitter`).

    ``has_retcode=None`` applies :func:`retcode_present` (a device's frame whose code may be missing).
    """
    seq, cmd, end = check_55aa(raw, hmac_key)
    start = _HDR_55AA.size
    retcode = None
    if has_retcode is None:
        has_retcode = retcode_present(raw, start, end)
    if has_retcode and end - start >= 4:
        retcode = _U32.unpack_from(raw, start)[0]
        start += 4
    return Frame(seq, cmd, raw[start:end], retcode, FrameKind.P55AA)


def open_6699(raw: bytes, key: bytes | GcmCipher) -> tuple[int, int, bytes]:
    """Verify and decrypt a whole 0x6699 frame; return its seq, cmd and plaintext.

    This is :func:`decode_6699` without the retcode handling and without building a
    :class:`Frame`, for the codec's hot path.
    """
    size = len(raw)
    if size < _MIN_6699:
        raise ProtocolError(f"6699 frame of {size} bytes is shorter than the minimum of {_MIN_6699}")
    prefix, _reserved, seq, cmd, length = _HDR_6699.unpack_from(raw)
    if prefix != PREFIX_6699 or not raw.endswith(SUFFIX_6699) or size != 22 + length:
        raise ProtocolError("not a well-formed 6699 frame (prefix, suffix or length mismatch)")
    plain = (key if type(key) is GcmCipher else gcm_cipher(key)).decrypt(raw[18:30], raw[30:-4], raw[4:18])
    return seq, cmd, plain


def decode_6699(raw: bytes, *, key: bytes, has_retcode: bool | None = False) -> Frame:
    """Verify and decrypt a whole 0x6699 frame.

    ``has_retcode=None`` applies :func:`retcode_present` (UDP, and devices that omit the code).
    """
    seq, cmd, plain = open_6699(raw, key)
    iv = raw[_HDR_6699.size : _HDR_6699.size + _IV_LEN]
    retcode = None
    if has_retcode is None:
        has_retcode = retcode_present(plain, 0, len(plain))
    if has_retcode and len(plain) >= 4:
        retcode = _U32.unpack_from(plain)[0]
        plain = plain[4:]
    return Frame(seq, cmd, plain, retcode, FrameKind.P6699, iv)


class FrameSplitter:
    """Cut a TCP byte stream into whole raw frames, whatever the chunking.

    Garbage before a prefix is skipped (counted in ``discarded``). An announced length above
    ``max_frame`` or a wrong suffix raises ProtocolError at once, without buffering the body;
    the splitter then resynchronises on the next prefix, so a caller may keep feeding.
    """

    __slots__ = ("_buf", "_error", "discarded", "max_frame")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self._buf = bytearray()
        self._error: ProtocolError | None = None
        self.max_frame = max_frame
        self.discarded = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return every whole frame now available (raises on a corrupt one).

        When good frames come before a corrupt one in the same chunk, they are returned and the
        error is raised by the next call, so no good frame is ever lost to a bad neighbour.
        """
        if self._error is not None:
            error, self._error = self._error, None
            self._buf += data
            raise error
        out: list[bytes] = []
        pos = 0
        if not self._buf:
            # Fast path for the usual case, whole frames at the start of a chunk: cut them
            # straight out of ``data``. Anything else (garbage, a partial frame, a bad length or
            # suffix) goes through the buffered path below, which does the checks and raises.
            end = len(data)
            while True:
                head = data[pos : pos + 4]
                if head == PREFIX_55AA and end - pos >= 16:
                    length = _U32.unpack_from(data, pos + 12)[0]
                    stop = pos + 16 + length
                    if length < 8 or stop - pos > self.max_frame or stop > end:
                        break
                    if data[stop - 4 : stop] != SUFFIX_55AA:
                        break
                elif head == PREFIX_6699 and end - pos >= 18:
                    length = _U32.unpack_from(data, pos + 14)[0]
                    stop = pos + 22 + length
                    if length < _IV_LEN + _TAG_LEN or stop - pos > self.max_frame or stop > end:
                        break
                    if data[stop - 4 : stop] != SUFFIX_6699:
                        break
                else:
                    break
                out.append(bytes(data[pos:stop]))
                pos = stop
            if pos == end:
                return out
        self._buf += data[pos:] if pos else data
        try:
            while (raw := self._next()) is not None:
                out.append(raw)
        except ProtocolError as exc:
            if not out:
                raise
            # Good frames came first: return them and raise this error on the next call. Keep
            # cutting after the resync, so the buffer stays bounded; a later error here is dropped.
            self._error = exc
            while True:
                try:
                    raw = self._next()
                except ProtocolError:
                    continue
                if raw is None:
                    break
                out.append(raw)
        return out

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    def _next(self) -> bytes | None:
        buf = self._buf
        start = self._find_prefix()
        if start < 0:
            return None
        if start:
            self.discarded += start
            del buf[:start]
        if buf[2] == 0x55:
            if len(buf) < 16:
                return None
            length = _U32.unpack_from(buf, 12)[0]
            total = 16 + length
            suffix = SUFFIX_55AA
            min_length = 8
        else:
            if len(buf) < 18:
                return None
            length = _U32.unpack_from(buf, 14)[0]
            total = 18 + length + 4
            suffix = SUFFIX_6699
            min_length = _IV_LEN + _TAG_LEN
        if length < min_length or total > self.max_frame:
            self._skip_prefix()
            raise ProtocolError(
                f"frame announces a length of {length} bytes (allowed {min_length}..{self.max_frame}): stream corrupt"
            )
        if len(buf) < total:
            return None
        if buf[total - 4 : total] != suffix:
            self._skip_prefix()
            raise ProtocolError("frame suffix missing where the length says it ends: stream corrupt")
        raw = bytes(buf[:total])
        del buf[:total]
        return raw

    def _find_prefix(self) -> int:
        buf = self._buf
        if buf[:4] in _PREFIXES:
            # The usual case while a frame arrives in pieces. Without this check, the search for
            # the *other* prefix scanned the whole partial frame on every chunk: quadratic time
            # for a peer sending one byte at a time (1 s of CPU for one 32 KiB frame).
            return 0
        a = buf.find(PREFIX_55AA)
        b = buf.find(PREFIX_6699)
        if a < 0 and b < 0:
            # Keep the last 3 bytes: they may be the start of a prefix split across chunks.
            keep = min(len(buf), 3)
            self.discarded += len(buf) - keep
            del buf[: len(buf) - keep]
            return -1
        if a < 0:
            return b
        if b < 0:
            return a
        return min(a, b)

    def _skip_prefix(self) -> None:
        self.discarded += 4
        del self._buf[:4]
