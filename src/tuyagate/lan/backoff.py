"""Exponential backoff with jitter for reconnecting to a device.

A device that is off, rebooting or wedged must not be hammered: every failed attempt doubles the
wait (up to a cap) and a random jitter spreads many clients (a whole fleet after a Wi-Fi outage)
so they do not all reconnect in the same instant. The random source is passed in so tests can
make it deterministic. A :class:`Pacer` holds the resulting "not before" time of one connection,
shared by the connection itself and its background reconnects.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from tuyagate.errors import TuyaConnectionError, TuyaConnectionLost, TuyaError

__all__ = ["Backoff", "Pacer"]


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


class Pacer:
    """When the next attempt to open one connection is allowed, and how the last attempt failed.

    One object shared by a :class:`~tuyagate.lan.connection.DeviceConnection` (requests wait for
    it, or fail at once when it lies past their deadline) and its keep-alive (background
    reconnects wait for it), so both follow one backoff. Times are event-loop times. Without a
    ``backoff`` the default one is made on the first failure: most connections never need one (a
    one-shot command made and dropped it every time).
    """

    __slots__ = ("_backoff", "last_error", "not_before")

    def __init__(self, backoff: Backoff | None = None) -> None:
        self._backoff = backoff
        self.not_before = 0.0
        self.last_error: TuyaError | None = None  # why the last opening failed, None after a success

    @property
    def backoff(self) -> Backoff:
        """The backoff that paces the attempts (the default one unless given)."""
        backoff = self._backoff
        if backoff is None:
            backoff = self._backoff = Backoff()
        return backoff

    def wait(self, now: float) -> float:
        """Seconds until the next attempt is allowed (zero or less: now)."""
        return self.not_before - now

    async def wait_turn(self, deadline: float, name: str) -> None:
        """Sleep until the next attempt is allowed; fail at once when that lies past ``deadline``.

        The error then is the last opening's again (without touching the device during its
        backoff), or, after the device dropped us, one that says when the next attempt may be.
        """
        wait = self.wait(asyncio.get_running_loop().time())
        if wait <= 0:
            return
        if self.not_before > deadline:  # never sleep past the caller's deadline
            if self.last_error is not None:
                raise _again(self.last_error, wait)
            raise TuyaConnectionLost(
                f"{name} dropped the connection; to let the device recover, the next attempt is allowed in {wait:.1f} s"
            )
        await asyncio.sleep(wait)

    def failed(self, now: float, error: TuyaError | None = None) -> None:
        """An attempt failed (``error``) or the device dropped us (no error): back off one more step."""
        self.not_before = now + self.backoff.failure()
        if error is not None:
            self.last_error = error

    def pause(self, now: float) -> None:
        """Make sure the next attempt lies in the future, whatever failed: a retry loop never spins."""
        if self.not_before <= now:
            self.failed(now)

    def succeeded(self) -> None:
        if self._backoff is not None:
            self._backoff.reset()
        self.last_error = None

    def clear(self) -> None:
        """Forget every failure: the next attempt may start now (what failed has changed)."""
        self.succeeded()
        self.not_before = 0.0


def _again(exc: TuyaError, wait: float) -> TuyaError:
    """The last opening error again, saying when the next attempt is allowed."""
    message = f"{exc} (last attempt failed; the next is allowed in {wait:.1f} s)"
    try:
        return type(exc)(message)
    except TypeError:
        return TuyaConnectionError(message)
