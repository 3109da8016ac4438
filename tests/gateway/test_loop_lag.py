"""The loop-lag sampler on its own: buckets, the worst sample, and a restart after stop."""

from __future__ import annotations

import asyncio

import pytest

from tuyagate.gateway.loop_lag import LAG_BUCKETS, LoopLag


def test_samples_fall_into_cumulative_buckets() -> None:
    lag = LoopLag()
    for late in (0.0, 0.0004, 0.003, 0.3, 2.0):
        lag.observe(late)
    lines = dict(line.rsplit(" ", 1) for line in lag.exposition())
    assert lines['tuyagate_event_loop_lag_seconds_bucket{le="0.001"}'] == "2"
    assert lines['tuyagate_event_loop_lag_seconds_bucket{le="0.005"}'] == "3"
    assert lines['tuyagate_event_loop_lag_seconds_bucket{le="0.5"}'] == "4"
    assert lines['tuyagate_event_loop_lag_seconds_bucket{le="1.0"}'] == "4"  # 2 s is past the last bound
    assert lines['tuyagate_event_loop_lag_seconds_bucket{le="+Inf"}'] == "5"
    assert lines["tuyagate_event_loop_lag_seconds_count"] == "5"
    assert float(lines["tuyagate_event_loop_lag_seconds_sum"]) == pytest.approx(2.3034)
    assert lag.worst == 2.0
    assert len(lines) == len(LAG_BUCKETS) + 3


async def test_it_samples_the_running_loop_and_stops() -> None:
    lag = LoopLag(interval=0.01)
    lag.start()
    lag.start()  # once is enough: no second timer
    await asyncio.sleep(0.1)
    lag.stop()
    taken = lag.samples
    assert taken >= 1  # about ten; fewer when the machine is busy
    await asyncio.sleep(0.05)
    assert lag.samples == taken  # stopped: no more samples
    lag.start()
    await asyncio.sleep(0.05)
    lag.stop()
    assert lag.samples > taken


def test_a_bad_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        LoopLag(interval=0)
