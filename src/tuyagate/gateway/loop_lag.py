"""How late the gateway's event loop runs: the one figure that says whether anything blocks it.

Every answer, every deadline's timeout and every device's reader run on one event loop, so anything
that blocks it (a fsync'd commit, a slow DNS lookup, a CPU-bound call) delays them all at once,
and no request metric shows why. :class:`LoopLag` arms a loop timer every ``interval`` seconds and
notes how much later than due it ran. The lateness goes into a histogram on ``/metrics``
(``tuyagate_event_loop_lag_seconds``), with the worst seen (``tuyagate_event_loop_lag_max_seconds``).
A healthy gateway stays under a millisecond or two. The load audit reads the histogram to tell the
gateway's own stalls from the machine's. One timer handle per interval; no task, no thread.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Iterator

__all__ = ["LAG_BUCKETS", "LoopLag"]

LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class LoopLag:
    """The event loop's lateness, sampled by a timer (see the module docstring)."""

    def __init__(self, interval: float = 0.25) -> None:
        if interval <= 0:
            raise ValueError("the loop-lag interval must be positive")
        self.interval = interval
        self.counts = [0] * (len(LAG_BUCKETS) + 1)
        self.total = 0.0
        self.samples = 0
        self.worst = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._due = 0.0

    def start(self) -> None:
        """Begin sampling on the running loop (again after :meth:`stop`)."""
        if self._timer is None:
            self._arm(asyncio.get_running_loop())

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        self._due = loop.time() + self.interval
        self._timer = loop.call_at(self._due, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self.observe(max(0.0, loop.time() - self._due))
        self._arm(loop)

    def observe(self, late: float) -> None:
        """Note one sample: the loop ran ``late`` seconds after a timer was due."""
        self.counts[bisect.bisect_left(LAG_BUCKETS, late)] += 1
        self.total += late
        self.samples += 1
        self.worst = max(self.worst, late)

    def exposition(self) -> Iterator[str]:
        """The histogram's sample lines in the Prometheus text format."""
        name = "tuyagate_event_loop_lag_seconds"
        cumulative = 0
        for bound, count in zip(LAG_BUCKETS, self.counts, strict=False):
            cumulative += count
            yield f'{name}_bucket{{le="{bound!r}"}} {cumulative}'
        yield f'{name}_bucket{{le="+Inf"}} {self.samples}'
        yield f"{name}_sum {self.total:.6f}"
        yield f"{name}_count {self.samples}"
