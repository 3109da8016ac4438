"""One TCP connection to a device, as an asyncio Protocol: bytes in, decoded messages out.

A Protocol instead of a stream reader task keeps a persistent connection cheap (no task and no
read buffer per device while idle: the 1,000-connection target is 100 KB each) and lets a reply
wake its waiter directly from ``data_received``. The 3.4/3.5 handshake answer is handled right
here, synchronously, so no frame can be decoded with the wrong key in between.

A Link knows nothing of requests: it hands every decoded message, every lost connection and
every frame that proves the link useless to its owner through :class:`LinkOwner`, the small
interface a :class:`~tuyagate.lan.connection.DeviceConnection` implements.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Protocol, cast

from tuyagate.errors import HandshakeError, IntegrityError, LocalKeyError, ProtocolError, TuyaError
from tuyagate.protocol.codec import Message, MessageCodec
from tuyagate.protocol.commands import Command
from tuyagate.protocol.frames import PREFIX_6699, check_55aa, frame_command
from tuyagate.protocol.handshake import ClientHandshake
from tuyagate.protocol.versions import Encryption

__all__ = ["Link", "LinkOwner", "ProbeNotes"]

_LOGGER = logging.getLogger(__name__)
_LEGACY_BODY_AT = 20  # 55AA header (16) + retcode (4): where a device's payload starts
_GCM_SESSION = Encryption.GCM_SESSION  # an enum member lookup per request costs more than the test it feeds


class ProbeNotes:
    """What a version probe learned from frames it could not decode (see :mod:`tuyagate.lan.detect`)."""

    __slots__ = ("foreign_6699", "handshake_answer", "other_key", "plain_reply")

    def __init__(self) -> None:
        self.foreign_6699 = False  # the device speaks 3.5 framing
        self.handshake_answer = False  # the device sent a 55AA SESS_KEY_NEG_RESP: it wants a 3.4 handshake
        self.plain_reply = False  # a 55AA reply had a plaintext JSON body: a 3.1 device
        self.other_key = False  # a frame in this version's framing was encrypted with another key


class LinkOwner(Protocol):
    """What a :class:`Link` needs from the connection that owns it.

    The link calls these from asyncio callbacks; the owner routes messages to requests and
    subscribers and decides what a lost or failed link means for the request in flight.
    """

    @property
    def name(self) -> str:
        """How messages name the device."""
        ...

    closed: bool  # the owner was closed: a link that finishes opening meanwhile is not used

    def next_seq(self) -> int:
        """The sequence number of the next frame we send (the handshake's FINISH needs one)."""
        ...

    def on_link_message(self, link: Link, msg: Message) -> None:
        """A decoded message arrived."""
        ...

    def on_link_lost(self, link: Link, exc: Exception | None) -> None:
        """The TCP connection closed (``exc`` None: the device closed it in an orderly way)."""
        ...

    def on_link_failed(self, link: Link, error: TuyaError) -> None:
        """A frame proved the link useless: another protocol version, or another local key."""
        ...

    def on_bad_frame(self, exc: TuyaError, cmd: int | None = None) -> None:
        """An undecodable frame was skipped (the stream goes on); ``cmd`` is its header's command when
        the frame was whole but failed its integrity check (CRC, HMAC, GCM tag)."""
        ...


class _ReceiveBuffer(threading.local):
    """One receive buffer per thread, shared by every link of that thread's event loop.

    asyncio's plain protocols receive into a fresh 256 KiB bytes per read, which the allocator
    maps and unmaps each time (three syscalls and a page fault per answer, ~40 % of a warm
    request on the standard loop); a buffered protocol reads into this buffer instead, and each
    read is copied out at once in :meth:`Link.buffer_updated`, before the next read can reuse it.
    Per thread, because a read releases the GIL while it fills the buffer.
    """

    def __init__(self) -> None:
        self.view = memoryview(bytearray(_RECV_SIZE))


_RECV_SIZE = 65536
_RECV = _ReceiveBuffer()


class _RandomPool(threading.local):
    """Random bytes for 3.5's IVs drawn from ``os.urandom`` 4 KiB at a time, per thread.

    A GCM IV must never repeat under one key; twelve bytes from the OS's CSPRNG make that certain
    in practice. Drawing them in batches keeps that guarantee and saves the ``getrandom`` syscall
    each request made (one in five of a warm 3.5 request's syscalls).
    """

    def __init__(self) -> None:
        self.data = b""
        self.at = 0

    def forget(self) -> None:
        self.data, self.at = b"", 0

    def take(self, n: int) -> bytes:
        at = self.at
        if at + n > len(self.data):
            self.data, at = os.urandom(4096), 0
        self.at = at + n
        return self.data[at : at + n]


_RANDOM = _RandomPool()
os.register_at_fork(after_in_child=_RANDOM.forget)  # a forked child never reuses its parent's bytes


class Link(asyncio.BufferedProtocol):
    """The protocol object of one TCP connection; the owner does the routing.

    ``trusted`` is the owner's note that the device answered a request sealed with our key on
    this link: until then, an orderly close while such a request waits means it was refused.
    """

    __slots__ = (
        "_gone",
        "codec",
        "handshake",
        "handshake_done",
        "loop",
        "lost",
        "notes",
        "owner",
        "transport",
        "trusted",
    )

    def __init__(
        self,
        owner: LinkOwner,
        codec: MessageCodec,
        notes: ProbeNotes | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        # The loop it runs on (the running one unless given), kept for the request path:
        # asyncio.get_running_loop() makes a getpid syscall on every call (its check against a fork).
        self.loop = loop or asyncio.get_running_loop()
        self.owner = owner
        self.codec = codec
        self.notes = notes  # set on version probes only
        self.transport: asyncio.Transport | None = None
        self.handshake: ClientHandshake | None = None
        self.handshake_done: asyncio.Future[None] | None = None
        self.lost = False
        self.trusted = False
        self._gone: asyncio.Future[None] | None = None

    # ---------------------------------------------------------------- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)  # uvloop's transports do not subclass it

    def get_buffer(self, sizehint: int) -> memoryview:
        return _RECV.view

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(_RECV.view[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        for raw in self._split(data):
            try:
                msg = self.codec.decode_frame(raw)
            except HandshakeError as exc:  # KeyMismatchError: the handshake answer failed its check
                self._fail_handshake(type(exc)(f"{self.owner.name}: {exc}"))
                continue
            except ProtocolError as exc:
                if isinstance(exc, IntegrityError):
                    if self._sealed_with_another_key(raw):
                        continue
                    self._note_foreign(raw)
                    self.owner.on_bad_frame(exc, frame_command(raw))
                    continue
                self._note_foreign(raw)
                self.owner.on_bad_frame(exc)
                continue
            notes = self.notes
            if notes is not None and raw[:4] != PREFIX_6699 and raw[_LEGACY_BODY_AT : _LEGACY_BODY_AT + 1] == b"{":
                notes.plain_reply = True
            if self.handshake is not None:
                self._on_handshake(msg)
            else:
                self.owner.on_link_message(self, msg)

    def eof_received(self) -> None:
        # The device closed its side: a graceful close that waits for this is done (returning None
        # lets the transport close, and connection_lost follows on the next loop turn).
        gone = self._gone
        if gone is not None and not gone.done():
            gone.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(None)
        if self.handshake is not None:
            self._fail_handshake(
                HandshakeError(
                    f"{self.owner.name} closed the connection during the {self.codec.spec.name} handshake: the local "
                    "key or the version is probably wrong, or another client holds the device's only connection"
                )
            )
        self.owner.on_link_lost(self, exc)

    # ---------------------------------------------------------------- helpers

    def write(self, frame: bytes) -> None:
        if self.transport is None or self.lost:
            return
        self.transport.write(frame)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def new_iv(self) -> bytes | None:
        """A fresh IV for the next frame when the version needs one (3.5's GCM), else None."""
        return _RANDOM.take(12) if self.codec.spec.encryption is _GCM_SESSION else None

    def wait_lost(self) -> asyncio.Future[None]:
        """A future that completes when the device has closed its side (EOF) or the connection is gone
        (see :mod:`tuyagate.lan.closing`)."""
        if self._gone is None:
            self._gone = self.loop.create_future()
            if self.lost:
                self._gone.set_result(None)
        return self._gone

    def start_handshake(self, handshake: ClientHandshake, first_frame: bytes) -> asyncio.Future[None]:
        """Send START; the returned future completes when FINISH has been sent."""
        self.handshake = handshake
        self.handshake_done = self.loop.create_future()
        self.write(first_frame)
        return self.handshake_done

    def _split(self, data: bytes) -> list[bytes]:
        raws: list[bytes] = []
        while True:
            try:
                raws += self.codec.split(data)
                return raws
            except ProtocolError as exc:  # corrupt length or suffix: the splitter resyncs, keep going
                self.owner.on_bad_frame(exc)
                data = b""

    def _on_handshake(self, msg: Message) -> None:
        handshake, done = self.handshake, self.handshake_done
        assert handshake is not None
        assert done is not None
        try:
            finish = handshake.receive(msg, seq=self.owner.next_seq(), iv=self.new_iv())
        except HandshakeError as exc:
            self._fail_handshake(exc)
            return
        self.write(finish)
        self.handshake = None
        if not done.done():
            done.set_result(None)

    def _fail_handshake(self, exc: HandshakeError) -> None:
        done = self.handshake_done
        if self.handshake is not None and done is not None and not done.done():
            done.set_exception(exc)
        self.handshake = None

    def _sealed_with_another_key(self, raw: bytes) -> bool:
        """Report a frame that is intact but encrypted with another key; True when reported.

        Only where the version encrypts with the local key itself (3.1-3.3): the 55AA CRC covers
        the whole frame and needs no key, so a frame that passes it but fails decryption (or the
        3.1 MD5 tag) was sealed by a device that holds another key. Real 3.2/3.3 devices answer a
        request they cannot decrypt exactly so: return code 1 and an error text in their key.
        """
        spec = self.codec.spec
        if not spec.local_key_encrypts or raw[:4] == PREFIX_6699:
            return False
        try:
            check_55aa(raw)
        except ProtocolError:
            return False  # corrupt in transit: skip it like any bad frame
        if self.notes is not None:
            self.notes.other_key = True
        self.owner.on_link_failed(
            self,
            LocalKeyError(
                f"{self.owner.name} answered with a frame that does not decrypt with our local key: the local key is "
                f"wrong (it changes when the device is re-paired; copy it again from the Tuya cloud), or the device "
                f"does not speak protocol {spec.label}"
            ),
        )
        return True

    def _note_foreign(self, raw: bytes) -> None:
        notes = self.notes
        if notes is None:
            return
        if raw[:4] == PREFIX_6699:
            notes.foreign_6699 = True
            reason = "the device speaks 3.5 framing"
        elif len(raw) >= 12 and int.from_bytes(raw[8:12], "big") == Command.SESS_KEY_NEG_RESP:
            notes.handshake_answer = True
            reason = "the device answered with a handshake frame"
        else:
            return
        # A probe of the wrong version: fail it now, not at its deadline.
        self.owner.on_link_failed(
            self, ProtocolError(f"{self.owner.name}: {reason}, not protocol {self.codec.spec.name}")
        )
