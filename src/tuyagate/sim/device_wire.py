"""The emulated device's side of the wire: its connections, its frame numbering, its delayed STATUS.

Kept apart from :mod:`tuyagate.sim.device` (what the device *says*) because these are the parts
real devices differ in and clients trip on: how frames are numbered, when the STATUS after a
control goes out, and what a client's close looks like from the device.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from typing import Any

from tuyagate.protocol.codec import MessageCodec, Role
from tuyagate.protocol.handshake import DeviceHandshake
from tuyagate.protocol.versions import VersionSpec
from tuyagate.sim.device_options import SeqMode

__all__ = ["IdleWatch", "Numbering", "SimConnection", "StatusSchedule", "reset_after_eof"]


class SimConnection:
    """One accepted TCP connection and its protocol state."""

    __slots__ = ("codec", "ended_by_device", "established", "frames", "handshake", "writer")

    def __init__(self, spec: VersionSpec, key: bytes, writer: asyncio.StreamWriter, *, retcodes: bool) -> None:
        self.codec = MessageCodec(spec, key, role=Role.DEVICE, retcodes=retcodes)
        self.handshake = DeviceHandshake(self.codec, os.urandom(16)) if spec.session_key else None
        self.established = not spec.session_key
        self.writer = writer
        self.frames = 0
        self.ended_by_device = ""  # why the device closed it, once it did

    def end(self, reason: str) -> None:
        """The device closes this connection."""
        if not self.ended_by_device:
            self.ended_by_device = reason
        self.writer.close()


class IdleWatch:
    """Ends a connection that has received nothing for ``seconds``, as real devices drop silent clients.

    One timer per connection, re-armed only when it fires early: the connection notes when it last
    heard from its client (:meth:`heard`, a clock read). A timeout around every read cost the
    emulator a ``call_at`` and a cancel per frame, a tenth of what it spends answering a command.
    """

    __slots__ = ("_client", "_handle", "_loop", "last", "seconds")

    def __init__(self, client: SimConnection, seconds: float) -> None:
        self._client = client
        self._loop = asyncio.get_running_loop()
        self.seconds = seconds
        self.last = self._loop.time()
        self._handle: asyncio.TimerHandle | None = self._loop.call_at(self.last + seconds, self._check)

    def heard(self) -> None:
        self.last = self._loop.time()

    def _check(self) -> None:
        due = self.last + self.seconds
        if self._loop.time() < due:
            self._handle = self._loop.call_at(due, self._check)
            return
        self._handle = None
        self._client.end(f"idle for {self.seconds:g} s")

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class Numbering:
    """The sequence numbers of the frames a device sends.

    ``device``: one device-wide counter that moves only when a frame is sent (answers, pushes and
    handshake answers alike; a received frame never moves it), as 3.5 devices do: the first frame
    gets ``first``. ``echo``: the request's number, and 0 for pushes and heartbeat answers, as
    captured 3.1-3.3 devices send.
    """

    __slots__ = ("_last", "mode")

    def __init__(self, mode: SeqMode, first: int) -> None:
        self.mode = mode
        self._last = (first - 1) & 0xFFFFFFFF

    def next(self, request_seq: int | None) -> int:
        """The number of the frame about to be sent (``request_seq`` None for a push or a heartbeat)."""
        if self.mode == "device":
            self._last = (self._last + 1) & 0xFFFFFFFF
            return self._last
        return 0 if request_seq is None else request_seq

    @property
    def last(self) -> int:
        """The number of the last frame sent in ``device`` mode."""
        return self._last


class StatusSchedule:
    """STATUS pushes that follow a control's ACK after ``delay`` seconds, as on real devices."""

    __slots__ = ("_due", "_push", "delay")

    def __init__(self, push: Callable[[dict[str, Any], str | None], None], delay: float) -> None:
        self._push = push
        self.delay = delay
        self._due: dict[object, tuple[asyncio.TimerHandle, dict[str, Any], str | None]] = {}

    def __bool__(self) -> bool:
        return bool(self._due)

    def later(self, dps: dict[str, Any], cid: str | None) -> None:
        if self.delay <= 0 or not dps:
            self._push(dps, cid)
            return
        key = object()
        handle = asyncio.get_running_loop().call_later(self.delay, self._fire, key)
        self._due[key] = (handle, dps, cid)

    def _fire(self, key: object) -> None:
        due = self._due.pop(key, None)
        if due is not None:
            self._push(due[1], due[2])

    def flush(self) -> None:
        """Send every pending push now."""
        due, self._due = self._due, {}
        for handle, dps, cid in due.values():
            handle.cancel()
            self._push(dps, cid)

    def cancel(self) -> None:
        for handle, _, _ in self._due.values():
            handle.cancel()
        self._due.clear()


async def reset_after_eof(writer: asyncio.StreamWriter, *, wait: float = 0.1) -> bool:
    """After writing to a client that sent FIN: did its kernel answer with a reset?

    A client that half-closed (``shutdown(SHUT_WR)``) still reads and takes the data; one that
    closed its socket answers it with a reset, which shows as the socket's pending error.
    """
    with contextlib.suppress(ConnectionError, OSError):
        await writer.drain()
    sock = writer.get_extra_info("socket")
    if sock is None:
        return False
    steps = max(1, int(wait / 0.01))
    for _ in range(steps):  # on loopback the reset comes back within microseconds
        await asyncio.sleep(0.01)
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            return True
    return False
