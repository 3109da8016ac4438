"""Small pieces of the LAN client: counters, the in-flight request, the call deadline, the request timer,
the wait for a connection's turn."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuyagate.deadline import Deadline
from tuyagate.errors import DeviceBusyError
from tuyagate.protocol.codec import Message

if TYPE_CHECKING:
    from tuyagate.lan.link import Link

__all__ = ["ConnectionStats", "Pending", "ends_at", "expire", "wait_turn_by"]


@dataclass(slots=True)
class ConnectionStats:
    """Counters for metrics and tests."""

    connects: int = 0
    requests: int = 0
    timeouts: int = 0
    bad_frames: int = 0
    events: int = 0


class Pending:
    """The one request in flight: the next frame with its command answers it."""

    __slots__ = ("cid", "cmd", "future", "want_data")

    def __init__(self, cmd: int, want_data: bool, future: asyncio.Future[Message], cid: str | None = None) -> None:
        self.cmd = cmd
        self.want_data = want_data
        self.future = future
        self.cid = cid  # a reply about another sub-device is not this request's answer


def ends_at(deadline: Deadline | None, timeout: float | None, default: float, link: Link | None = None) -> float:
    """The loop time a call must end by: ``Deadline.resolve(deadline, timeout, default).at``.

    Without a caller's deadline that is just ``timeout`` from now, computed without building a
    Deadline: this runs on every request, and the object would be dropped at once. The clock is
    that of the connection's open ``link`` when there is one (the running loop's, without the
    getpid syscall of ``asyncio.get_running_loop``).
    """
    if deadline is None:
        loop = link.loop if link is not None and not link.lost else asyncio.get_running_loop()
        return loop.time() + (default if timeout is None else timeout)
    return Deadline.resolve(deadline, timeout, default).at


def expire(future: asyncio.Future[Any]) -> None:
    """Fail ``future`` with TimeoutError unless it is done: the timer a wait arms with ``loop.call_at``.

    A timer on the awaited future itself instead of ``asyncio.timeout``, which builds a context
    manager, looks up the current task and reschedules a timer per wait: the request, the 3.4/3.5
    handshake and the close's waits all wait on one future of their own.
    """
    if not future.done():
        future.set_exception(TimeoutError())


async def wait_turn_by(lock: asyncio.Lock, deadline: float, name: str, stats: ConnectionStats) -> None:
    """Take ``lock`` (a connection's, held by an earlier request) by loop time ``deadline``, else fail
    with :class:`DeviceBusyError`: the device works, it is only busy."""
    try:
        async with asyncio.timeout_at(deadline):
            await lock.acquire()
    except TimeoutError:
        stats.timeouts += 1
        raise DeviceBusyError(
            f"{name}: the deadline passed while waiting behind earlier requests to the same device"
        ) from None
