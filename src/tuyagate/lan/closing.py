"""Closing a device connection without a reset.

A device keeps talking after the answer a client waits for: a control is ACKed first, and the
STATUS push with the changed DPs follows some milliseconds later. A client that closes its socket
on the ACK makes the kernel answer that STATUS with a reset, and cheap firmware has been seen to
lock up on resets until power-cycled (users meet it as tinytuya's error 914). So a close goes:

1. if a control was ACKed and its STATUS has not come yet, wait briefly for it;
2. half-close (``shutdown(SHUT_WR)``: our FIN tells the device we are done);
3. keep reading until the device closes its side (EOF), with a short deadline;
4. close.

Frames read meanwhile are handled as usual (a late STATUS still updates the last known state).

Each wait is one future with a timer of its own on the loop (``loop.call_at``), not
``asyncio.timeout``, which builds a context manager, looks up the current task and arms and
disarms a timer per wait: this is most of a one-shot command's close. Step 3 ends on the
device's FIN itself (:meth:`~tuyagate.lan.link.Link.wait_lost` completes on EOF), one loop turn
before the transport reports the connection lost; the socket is then released on that turn. The
wire sees the same: our FIN, the device's FIN, no reset (nothing is left unread when the socket
closes, since EOF comes after every byte the device sent).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from tuyagate.lan.support import expire

if TYPE_CHECKING:
    from tuyagate.lan.link import Link

__all__ = ["DRAIN_WAIT", "STATUS_WAIT", "StatusOwed", "close_gracefully"]

STATUS_WAIT = 0.5  # seconds a device may take to push STATUS after ACKing a control
DRAIN_WAIT = 1.0  # seconds to wait for the device's FIN after ours


class StatusOwed:
    """The STATUS a device owes after acknowledging a control, which a graceful close waits for (step 1).

    A flag while nobody waits; a close that must wait gets a future (:meth:`waiter`), completed when
    the STATUS comes or can no longer come (:meth:`clear`).
    """

    __slots__ = ("_waiter", "due")

    def __init__(self) -> None:
        self.due = False
        self._waiter: asyncio.Future[None] | None = None

    def expect(self) -> None:
        """A control is about to be sent: its STATUS will be owed once it is acknowledged."""
        self.due = True

    def clear(self) -> None:
        """The STATUS came, or none will (the control failed, the answer carried the values, the link
        went): a close waiting for it goes on."""
        self.due = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def waiter(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        """What a close waits on while the STATUS is owed; :meth:`done_waiting` after."""
        self._waiter = loop.create_future()
        return self._waiter

    def done_waiting(self) -> None:
        self._waiter = None


async def close_gracefully(
    link: Link,
    *,
    owed: StatusOwed | None = None,
    status_wait: float = STATUS_WAIT,
    drain_wait: float = DRAIN_WAIT,
) -> bool:
    """Close ``link`` as described above; True when the device closed its side in time.

    ``owed`` says whether the STATUS that follows a control's ACK is still to come (None: none is).
    Never takes longer than ``status_wait + drain_wait``; a device that does not close its side
    by then is closed on anyway.
    """
    loop = link.loop
    if owed is not None and owed.due and not link.lost:
        try:
            await _wait(loop, owed.waiter(loop), loop.time() + status_wait)
        finally:
            owed.done_waiting()
    transport = link.transport
    clean = False
    if transport is not None and not link.lost and not transport.is_closing() and transport.can_write_eof():
        gone = link.wait_lost()
        try:
            transport.write_eof()
        except OSError:
            pass  # the device is already gone: nothing to drain
        else:
            clean = await _wait(loop, gone, loop.time() + drain_wait)
    link.close()
    return clean


async def _wait(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], at: float) -> bool:
    """Wait for ``future`` until loop time ``at``; True when it completed by then.

    The timer fails the future itself, which is this close's own (a cancelled close cancels it too).
    """
    timer = loop.call_at(at, expire, future)
    try:
        await future
    except TimeoutError:
        return False
    finally:
        timer.cancel()
    return True
