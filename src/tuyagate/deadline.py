"""One absolute deadline per request, on one clock, handed down through every layer.

A front end (library call, CLI command, HTTP request, MQTT command) decides once how long a request
may take; every layer below (the router, each route, the LAN connection, the cloud client and its
retries) spends from that same budget instead of starting a timer of its own, so a fallback gets only
what is left and nothing can add up to more than the caller allowed.

The clock is the running event loop's (``loop.time()``): it is monotonic, it is what
``asyncio.timeout_at`` and ``loop.call_at`` take, and reading it costs no system call on uvloop.
"""

from __future__ import annotations

import asyncio
from typing import Final

__all__ = ["Deadline"]

_NEVER: Final = float("inf")


def _now() -> float:
    return asyncio.get_running_loop().time()


class Deadline:
    """A point on the event loop's clock by which a request must be answered."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """The deadline ``seconds`` from now."""
        return cls(_now() + seconds)

    @classmethod
    def resolve(cls, deadline: Deadline | None, timeout: float | None, default: float) -> Deadline:
        """The deadline a call runs under: the caller's, else ``timeout`` (or ``default``) from now.

        Public methods take both (``timeout`` is what people type, ``deadline`` what layers pass
        down); when both are given the earlier one wins.
        """
        own = cls.after(default if timeout is None else timeout) if timeout is not None or deadline is None else None
        if deadline is None:
            assert own is not None
            return own
        if own is None or deadline.at <= own.at:
            return deadline
        return own

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.at - _now())

    def expired(self) -> bool:
        return _now() >= self.at

    def capped(self, seconds: float) -> Deadline:
        """This deadline, or ``seconds`` from now if that comes first (a route's share of the budget)."""
        return Deadline(min(self.at, _now() + seconds))

    def timeout(self) -> asyncio.Timeout:
        """``async with deadline.timeout():`` cancels the block when the deadline passes."""
        return asyncio.timeout_at(self.at)

    def __repr__(self) -> str:
        if self.at == _NEVER:
            return "Deadline(never)"
        try:
            return f"Deadline(in {self.at - _now():.3f}s)"
        except RuntimeError:  # no running loop (a repr in a traceback after the loop closed)
            return f"Deadline(at={self.at:.3f})"
