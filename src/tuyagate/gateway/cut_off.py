"""The gateway's last guard against a device call that overruns its deadline, with one timer for all.

Every device call the gateway makes carries the request's deadline, and the devices keep it (the
LAN connection, the cloud client and the flashed backends all spend from it). The gateway still cuts
off a call that is still running a little past that deadline, so that no request can hang on a
device implementation that forgets it. ``asyncio.timeout`` would do, but it arms a loop timer and
cancels it for every call (5.7 us on uvloop: more than a cached read, a tenth of a command's gateway
CPU), although the cut-off almost never fires.

:class:`CutOff` notes each running call and its deadline in a dict instead, and keeps one timer, for
the earliest deadline noted when it was armed. When it fires it cancels the calls past their
deadline and re-arms for the earliest of the rest; a call cancelled so raises :class:`TimeoutError`,
as under ``asyncio.timeout``. Under load the timer fires about once per request timeout.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable
from typing import Any, TypeVar

__all__ = ["CutOff"]

T = TypeVar("T")


class CutOff:
    """Cancels calls still running past their deadline (see the module docstring)."""

    def __init__(self) -> None:
        self._calls: dict[object, tuple[asyncio.Task[Any], float]] = {}
        self._cut: set[object] = set()  # calls cancelled by the timer, not yet returned
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def __len__(self) -> int:
        """How many calls are running under it."""
        return len(self._calls)

    async def run(self, at: float, call: Awaitable[T]) -> T:
        """Await ``call`` in the current task; :class:`TimeoutError` once the loop's clock passes ``at``."""
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - awaited outside a task: there is nothing to cancel
            return await call
        token = object()
        self._calls[token] = (task, at)
        if at < self._timer_at:
            self._arm(task.get_loop(), at)
        cancelling = task.cancelling()
        try:
            return await call
        except asyncio.CancelledError:
            if token in self._cut and task.uncancel() <= cancelling:
                raise TimeoutError from None
            raise
        finally:
            del self._calls[token]
            if self._cut:
                self._cut.discard(token)

    def _arm(self, loop: asyncio.AbstractEventLoop, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = loop.call_at(at, self._fire, loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer, self._timer_at = None, math.inf
        now = loop.time()
        earliest = math.inf
        for token, (task, at) in list(self._calls.items()):
            if at <= now:
                if token not in self._cut:
                    self._cut.add(token)
                    task.cancel()
            elif at < earliest:
                earliest = at
        if earliest < math.inf:
            self._arm(loop, earliest)
