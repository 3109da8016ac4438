"""Client-side rate limiting: a token bucket for QPS and a daily call quota.

The Tuya trial plan allows tens of thousands of calls a month (cloud-api.md §6), and every
call over it fails with 28841004 until the next month. Spending the budget on purpose is
better than finding out from the cloud, so the client counts its own calls: the bucket
spaces calls out to ``qps``, and a call that would go over ``daily_quota`` is refused
*before* it is sent, with a CloudError that says so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from tuyagate.cloud.codes import CLIENT_QUOTA
from tuyagate.errors import CloudError, ConfigError

__all__ = ["RateLimiter"]

_DAY = 86400


class RateLimiter:
    """QPS token bucket plus a per-UTC-day call counter. Both limits are optional."""

    def __init__(
        self,
        *,
        qps: float | None = None,
        burst: int = 1,
        daily_quota: int | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if qps is not None and qps <= 0:
            raise ConfigError("qps must be positive (or None for no limit)")
        if daily_quota is not None and daily_quota < 0:
            raise ConfigError("daily_quota must be >= 0 (or None for no limit)")
        self.qps = qps
        self.burst = max(1, burst)
        self.daily_quota = daily_quota
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._stamp: float | None = None
        self._day = -1
        self._used = 0
        self._lock = asyncio.Lock()

    @property
    def used_today(self) -> int:
        """Calls counted in the current UTC day."""
        self._roll_day(self._clock())
        return self._used

    def remaining_today(self) -> int | None:
        """Calls left today, or None without a quota."""
        if self.daily_quota is None:
            return None
        return max(0, self.daily_quota - self.used_today)

    def _roll_day(self, now: float) -> None:
        day = int(now // _DAY)
        if day != self._day:
            self._day = day
            self._used = 0

    def _check_quota(self, now: float) -> None:
        self._roll_day(now)
        if self.daily_quota is not None and self._used >= self.daily_quota:
            reset_in = _DAY - (now % _DAY)
            raise CloudError(
                CLIENT_QUOTA,
                f"this call would exceed the client's daily quota of {self.daily_quota} Tuya cloud calls "
                f"({self._used} used today); it was not sent",
                hint=f"the count resets at 00:00 UTC (in {reset_in / 3600:.1f} h); "
                "raise daily_quota to match your plan",
            )

    async def acquire(self) -> None:
        """Wait for a QPS slot and count the call; raise CloudError when the daily quota is spent."""
        async with self._lock:
            self._check_quota(self._clock())
            if self.qps is not None:
                await self._take_slot(self.qps)
                self._check_quota(self._clock())
            self._used += 1

    async def _take_slot(self, qps: float) -> None:
        while True:
            now = self._clock()
            if self._stamp is not None:
                self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * qps)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return
            await self._sleep((1.0 - self._tokens) / qps)
