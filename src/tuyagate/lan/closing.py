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
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuyagate.lan.link import Link

__all__ = ["DRAIN_WAIT", "STATUS_WAIT", "close_gracefully"]

STATUS_WAIT = 0.5  # seconds a device may take to push STATUS after ACKing a control
DRAIN_WAIT = 1.0  # seconds to wait for the device's FIN after ours


async def close_gracefully(
    link: Link,
    *,
    status_due: asyncio.Event | None = None,
    status_wait: float = STATUS_WAIT,
    drain_wait: float = DRAIN_WAIT,
) -> bool:
    """Close ``link`` as described above; True when the device closed its side in time.

    Never takes longer than ``status_wait + drain_wait``; a device that does not close its side
    by then is closed on anyway.
    """
    loop = link.loop
    if status_due is not None and not status_due.is_set() and not link.lost:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(loop.time() + status_wait):
                await status_due.wait()
    transport = link.transport
    clean = False
    if transport is not None and not link.lost and not transport.is_closing() and transport.can_write_eof():
        gone = link.wait_lost()
        try:
            transport.write_eof()
        except OSError:
            pass  # the device is already gone: nothing to drain
        else:
            try:
                async with asyncio.timeout_at(loop.time() + drain_wait):
                    await gone
                clean = True
            except TimeoutError:
                pass
    link.close()
    return clean
