"""Exponential backoff with jitter for reconnecting to a device.

A device that is off, rebooting or wedged must not be hammered: every failed attempt doubles the
wait (up to a cap) and a random jitter spreads many clients (a whole fleet after a Wi-Fi outage)
so they do not all reconnect in the same instant. The random source is passed in so tests can
make it deterministic.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Delays of ``initial * factor**n``, capped at ``maximum``, each scaled by ``1 ± jitter``."""

    __slots__ = ("_rand", "factor", "failures", "initial", "jitter", "maximum")

    def __init__(
        self,
        initial: float = 0.2,
        maximum: float = 10.0,
        *,
        factor: float = 2.0,
        jitter: float = 0.2,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if initial <= 0 or maximum < initial or factor < 1 or not 0 <= jitter < 1:
            raise ValueError("backoff needs 0 < initial <= maximum, factor >= 1 and 0 <= jitter < 1")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.failures = 0
        self._rand = rand

    def failure(self) -> float:
        """Record a failed attempt; return how long to wait before the next one."""
        base = min(self.maximum, self.initial * self.factor ** min(self.failures, 64))
        self.failures += 1
        return base * (1.0 + self.jitter * (2.0 * self._rand() - 1.0))

    def reset(self) -> None:
        """A success: the next failure starts again from ``initial``."""
        self.failures = 0
