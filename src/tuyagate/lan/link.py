"""One TCP connection to a device, as an asyncio Protocol: bytes in, decoded messages out.

A Protocol instead of a stream reader task keeps a persistent connection cheap (no task and no
read buffer per device while idle: the 1,000-connection target is 100 KB each) and lets a reply
wake its waiter directly from ``data_received``. The 3.4/3.5 handshake answer is handled right
here, synchronously, so no frame can be decoded with the wrong key in between.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, cast

from tuyagate.errors import HandshakeError, ProtocolError
from tuyagate.protocol.codec import Message, MessageCodec
from tuyagate.protocol.commands import Command
from tuyagate.protocol.frames import PREFIX_6699
from tuyagate.protocol.handshake import ClientHandshake

if TYPE_CHECKING:
    from tuyagate.lan.connection import DeviceConnection

__all__ = ["Link", "ProbeNotes"]

_LOGGER = logging.getLogger(__name__)
_LEGACY_BODY_AT = 20  # 55AA header (16) + retcode (4): where a device's payload starts


class ProbeNotes:
    """What a version probe learned from frames it could not decode (see :mod:`tuyagate.lan.detect`)."""

    __slots__ = ("foreign_6699", "handshake_answer", "plain_reply")

    def __init__(self) -> None:
        self.foreign_6699 = False  # the device speaks 3.5 framing
        self.handshake_answer = False  # the device sent a 55AA SESS_KEY_NEG_RESP: it wants a 3.4 handshake
        self.plain_reply = False  # a 55AA reply had a plaintext JSON body: a 3.1 device


class Link(asyncio.Protocol):
    """The protocol object of one TCP connection; the owning DeviceConnection does the routing."""

    __slots__ = ("_gone", "codec", "handshake", "handshake_done", "lost", "owner", "transport")

    def __init__(self, owner: DeviceConnection, codec: MessageCodec) -> None:
        self.owner = owner
        self.codec = codec
        self.transport: asyncio.Transport | None = None
        self.handshake: ClientHandshake | None = None
        self.handshake_done: asyncio.Future[None] | None = None
        self.lost = False
        self._gone: asyncio.Future[None] | None = None

    # ---------------------------------------------------------------- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)  # uvloop's transports do not subclass it

    def data_received(self, data: bytes) -> None:
        for raw in self._split(data):
            try:
                msg = self.codec.decode_frame(raw)
            except HandshakeError as exc:  # KeyMismatchError: the handshake answer failed its check
                self._fail_handshake(type(exc)(f"{self.owner.name}: {exc}"))
                continue
            except ProtocolError as exc:
                self._note_foreign(raw)
                self.owner._bad_frame(exc)
                continue
            notes = self.owner._notes
            if notes is not None and raw[:4] != PREFIX_6699 and raw[_LEGACY_BODY_AT : _LEGACY_BODY_AT + 1] == b"{":
                notes.plain_reply = True
            if self.handshake is not None:
                self._on_handshake(msg)
            else:
                self.owner._on_message(self, msg)

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
        self.owner._on_lost(self, exc)

    # ---------------------------------------------------------------- helpers

    def write(self, frame: bytes) -> None:
        if self.transport is None or self.lost:
            return
        self.transport.write(frame)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def wait_lost(self) -> asyncio.Future[None]:
        """A future that completes when the connection is gone (see :mod:`tuyagate.lan.closing`)."""
        if self._gone is None:
            self._gone = asyncio.get_running_loop().create_future()
            if self.lost:
                self._gone.set_result(None)
        return self._gone

    def start_handshake(self, handshake: ClientHandshake, first_frame: bytes) -> asyncio.Future[None]:
        """Send START; the returned future completes when FINISH has been sent."""
        self.handshake = handshake
        self.handshake_done = asyncio.get_running_loop().create_future()
        self.write(first_frame)
        return self.handshake_done

    def _split(self, data: bytes) -> list[bytes]:
        raws: list[bytes] = []
        while True:
            try:
                raws += self.codec.split(data)
                return raws
            except ProtocolError as exc:  # corrupt length or suffix: the splitter resyncs, keep going
                self.owner._bad_frame(exc)
                data = b""

    def _on_handshake(self, msg: Message) -> None:
        handshake, done = self.handshake, self.handshake_done
        assert handshake is not None
        assert done is not None
        try:
            finish = handshake.receive(msg, seq=self.owner._next_seq(), iv=self.owner._iv())
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

    def _note_foreign(self, raw: bytes) -> None:
        notes = self.owner._notes
        if notes is None:
            return
        if raw[:4] == PREFIX_6699:
            notes.foreign_6699 = True
        elif len(raw) >= 12 and int.from_bytes(raw[8:12], "big") == Command.SESS_KEY_NEG_RESP:
            notes.handshake_answer = True
        else:
            return
        self.owner._foreign_frame(self)  # a probe of the wrong version: fail it now, not at its deadline
