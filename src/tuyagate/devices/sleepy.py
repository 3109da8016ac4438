"""Battery-powered ("sleepy") Wi-Fi devices: what the router needs to know to treat them right.

A battery sensor (door contact, temperature/humidity, leak, smoke) keeps its Wi-Fi radio off most
of the time: it wakes every few minutes or on an event, connects, pushes its values, and sleeps
again. While it sleeps its port is closed, which for a mains device would mean "broken". The
registry marks such a device with the setting ``sleepy: true`` (``tuyagate devices add --sleepy``)
and optionally ``wakes_every`` (seconds between wake-ups, default 300). The router then answers
reads from the values of the last wake-up, with their age and the age past which they are stale
(two wake intervals: one missed wake-up is normal radio luck), refuses commands while the device
sleeps (:class:`~tuyagate.errors.DeviceAsleepError`), and never marks it offline for sleeping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tuyagate.devices.registry import DeviceRecord

__all__ = ["BATTERY_CODES", "DEFAULT_WAKES_EVERY", "SleepyPolicy", "battery_level", "sleepy_policy"]

DEFAULT_WAKES_EVERY = 300.0
# The DP codes Tuya battery devices report their charge with, in percent (most specific first).
BATTERY_CODES = ("battery_percentage", "va_battery", "battery_value", "residual_electricity", "battery")


@dataclass(frozen=True, slots=True)
class SleepyPolicy:
    """How often a sleepy device wakes, and how old its values may get before they count as stale."""

    wakes_every: float = DEFAULT_WAKES_EVERY

    @property
    def stale_after(self) -> float:
        return 2.0 * self.wakes_every


def sleepy_policy(record: DeviceRecord) -> SleepyPolicy | None:
    """The policy of a record whose settings say ``sleepy: true``; None for every other device."""
    settings = record.settings
    if settings.get("sleepy") is not True:
        return None
    wakes = settings.get("wakes_every")
    if isinstance(wakes, int | float) and not isinstance(wakes, bool) and wakes > 0:
        return SleepyPolicy(float(wakes))
    return SleepyPolicy()


def battery_level(values: Mapping[str, Any]) -> int | None:
    """The battery charge in percent from a device's values by code, None when it reports none."""
    for code in BATTERY_CODES:
        value = values.get(code)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return max(0, min(100, round(value)))
    return None
