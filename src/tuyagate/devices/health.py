"""Per-route health: how a route is doing and when a failed one may be tried again.

A route that fails is not hammered: it is skipped (when another route can serve) until its
retry time, which grows exponentially with jitter, capped. One success makes it healthy again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from tuyagate.device_api import RouteHealth

__all__ = ["RouteTracker"]


class RouteTracker:
    """Health bookkeeping of one route (``lan``, ``cloud``)."""

    __slots__ = ("_clock", "_jitter", "base", "cap", "failures", "last_error", "last_ok", "name", "next_retry")

    def __init__(
        self,
        name: str,
        *,
        base: float = 1.0,
        cap: float = 30.0,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.name = name
        self.base = base
        self.cap = cap
        self.failures = 0
        self.last_ok: float | None = None
        self.last_error: str | None = None
        self.next_retry: float | None = None
        self._clock = clock
        self._jitter = jitter

    @property
    def healthy(self) -> bool:
        return self.failures == 0

    def due(self) -> bool:
        """True when the route may be tried (healthy, or its retry time has come)."""
        return self.next_retry is None or self._clock() >= self.next_retry

    def delay(self) -> float:
        """Seconds until the route may be tried again (0 when it may be tried now)."""
        return 0.0 if self.next_retry is None else max(0.0, self.next_retry - self._clock())

    def ok(self) -> None:
        self.failures = 0
        self.last_ok = self._clock()
        self.next_retry = None

    def failed(self, error: BaseException) -> None:
        self.failures += 1
        self.last_error = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        wait = min(self.cap, self.base * 2 ** (self.failures - 1))
        self.next_retry = self._clock() + wait * (0.5 + self._jitter() / 2)

    def snapshot(self) -> RouteHealth:
        return RouteHealth(
            name=self.name,
            healthy=self.healthy,
            last_ok=self.last_ok,
            last_error=self.last_error,
            failures=self.failures,
            next_retry=self.next_retry,
        )
