"""RateLimiter: QPS spacing and the daily quota refused before sending."""

from __future__ import annotations

import pytest

from tests.cloud.conftest import FakeClock
from tuyagate.cloud.codes import CLIENT_QUOTA
from tuyagate.cloud.ratelimit import RateLimiter
from tuyagate.errors import CloudError, ConfigError


class FakeSleep:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.slept: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(seconds)


async def test_qps_spaces_calls() -> None:
    clock = FakeClock()
    sleep = FakeSleep(clock)
    limiter = RateLimiter(qps=4, clock=clock, sleep=sleep)
    start = clock()
    for _ in range(9):
        await limiter.acquire()
    assert clock() - start == pytest.approx(2.0)  # 1 immediately, then 8 at 0.25 s each
    assert limiter.used_today == 9


async def test_burst_allows_calls_back_to_back_then_spaces() -> None:
    clock = FakeClock()
    sleep = FakeSleep(clock)
    limiter = RateLimiter(qps=2, burst=3, clock=clock, sleep=sleep)
    for _ in range(3):
        await limiter.acquire()
    assert sleep.slept == []
    await limiter.acquire()
    assert sum(sleep.slept) == pytest.approx(0.5)


async def test_daily_quota_refuses_before_sending_and_resets_next_utc_day() -> None:
    clock = FakeClock(start=86400 * 20000 + 3600)  # 01:00 UTC
    limiter = RateLimiter(daily_quota=3, clock=clock)
    for _ in range(3):
        await limiter.acquire()
    with pytest.raises(CloudError) as info:
        await limiter.acquire()
    err = info.value
    assert err.code == CLIENT_QUOTA
    assert "daily quota of 3" in str(err)
    assert "not sent" in str(err)
    assert "00:00 UTC" in str(err)
    assert limiter.remaining_today() == 0
    clock.advance(23 * 3600)
    await limiter.acquire()
    assert limiter.used_today == 1


async def test_no_limits_never_waits() -> None:
    clock = FakeClock()
    sleep = FakeSleep(clock)
    limiter = RateLimiter(clock=clock, sleep=sleep)
    for _ in range(1000):
        await limiter.acquire()
    assert sleep.slept == []
    assert limiter.remaining_today() is None


def test_bad_settings() -> None:
    with pytest.raises(ConfigError):
        RateLimiter(qps=0)
    with pytest.raises(ConfigError):
        RateLimiter(daily_quota=-1)
