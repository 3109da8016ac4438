"""A battery-powered ("sleepy") Tuya device: awake for a few seconds, then radio off.

Real battery Wi-Fi sensors (door contacts, temperature/humidity sensors, leak and smoke
detectors) wake every few minutes or on an event, join Wi-Fi, announce themselves, push their
values to whoever connects, and sleep again. While asleep nothing listens: a connection is
refused. :class:`SleepyRunner` gives a :class:`~tuyagate.sim.device.SimDevice` that life cycle
(``tuyagate sim device --sleep-every N --awake-for M``): it starts the device (which announces
when ``discovery_to`` is set), pushes every DP as soon as a client has connected, stops it after
``awake_for`` seconds, and starts it again ``sleep_every`` seconds later on the same port. Each
wake-up may take ``battery_step`` percent off the battery DP, so the level visibly drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType

from tuyagate.sim.device import SimDevice

__all__ = ["SleepyRunner"]

_LOGGER = logging.getLogger(__name__)
_CONNECT_POLL = 0.02  # how often an awake device looks for a new client to push its values to


class SleepyRunner:
    """Run ``device`` awake ``awake_for`` seconds, then asleep ``sleep_every`` seconds, until stopped.

    ``async with SleepyRunner(dev, sleep_every=5, awake_for=2) as runner:``; :attr:`wakes` counts
    wake-ups, :meth:`wait_awake` / :meth:`wait_asleep` let a caller follow the cycle without sleeping.
    """

    def __init__(
        self,
        device: SimDevice,
        *,
        sleep_every: float,
        awake_for: float,
        battery_dp: str | None = None,
        battery_step: int = 0,
    ) -> None:
        if sleep_every <= 0 or awake_for <= 0:
            raise ValueError("sleep_every and awake_for must be positive")
        self.device = device
        self.sleep_every = sleep_every
        self.awake_for = awake_for
        self.battery_dp = battery_dp
        self.battery_step = battery_step
        self.wakes = 0
        self._awake = asyncio.Event()
        self._asleep = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"SleepyRunner({self.device!r}, sleep_every={self.sleep_every}, awake_for={self.awake_for})"

    @property
    def awake(self) -> bool:
        return self._awake.is_set()

    async def start(self) -> None:
        """Wake the device at once (binding its port, so :attr:`SimDevice.port` is known), then cycle."""
        await self._wake()
        self._task = asyncio.create_task(self._cycle(), name=f"sim-sleepy-{self.device.device_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.device.stop()
        self._awake.clear()
        self._asleep.set()

    async def __aenter__(self) -> SleepyRunner:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def wait_awake(self, timeout: float) -> None:
        """Until the device is awake (TimeoutError after ``timeout`` seconds)."""
        async with asyncio.timeout(timeout):
            await self._awake.wait()

    async def wait_asleep(self, timeout: float) -> None:
        """Until the device is asleep (TimeoutError after ``timeout`` seconds)."""
        async with asyncio.timeout(timeout):
            await self._asleep.wait()

    async def _wake(self) -> None:
        self.wakes += 1
        if self.battery_dp is not None and self.wakes > 1 and self.battery_step:
            level = self.device.dps.get(self.battery_dp)
            if isinstance(level, int) and not isinstance(level, bool):
                self.device.dps[self.battery_dp] = max(0, level - self.battery_step)
        await self.device.start()
        self._asleep.clear()
        self._awake.set()
        _LOGGER.debug("sim %s: awake (wake-up %d)", self.device.device_id, self.wakes)

    async def _cycle(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            end = loop.time() + self.awake_for
            pushed_to = 0
            while loop.time() < end:
                # Push everything to each new client, as a sensor does right after it joined.
                # (A 3.4/3.5 client is pushed to once its session key is agreed: until then nothing is sent.)
                stats = self.device.stats
                if self.device.clients and stats.connections_accepted > pushed_to:
                    sent = stats.frames_sent
                    await self.device.push_status()
                    if stats.frames_sent > sent:
                        pushed_to = stats.connections_accepted
                await asyncio.sleep(min(_CONNECT_POLL, max(0.0, end - loop.time())))
            self._awake.clear()
            await self.device.stop()
            self._asleep.set()
            _LOGGER.debug("sim %s: asleep for %.1f s", self.device.device_id, self.sleep_every)
            await asyncio.sleep(self.sleep_every)
            await self._wake()
