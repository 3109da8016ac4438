"""A bounded time series of every numeric DP (power, energy, temperature, brightness, ...).

People want to see how the power draw or the room temperature went, not only what it is now. The
history keeps one point per change of each numeric value a device reports, in the same SQLite file
as the registry, within three bounds:

- **coalesced**: at most one point per ``resolution`` seconds per series (device + DP code): a value
  that changes faster keeps only its latest value of each window, and an unchanged value adds nothing;
- **aged**: points older than ``retention`` seconds (7 days by default) are deleted;
- **size-capped**: at most ``max_points`` points in all (the oldest go first), about 50 bytes each.

It is fed by :meth:`record`, a bus listener (``home.listen(history.record)``): a function call inside
the device's publish that only folds the event into a dict in memory, never touching the disk.
:meth:`flush` writes what is pending in one transaction (the gateway calls it every
``resolution`` seconds and on shutdown); :meth:`points` answers from the disk and from what is
pending, so a value is visible at once. The tables are created on first use (``IF NOT EXISTS``)
rather than by a registry migration: the history is disposable, derived data that the registry's
own schema version does not need to know about.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tuyagate.device_api import DeviceEvent
from tuyagate.devices.db import Database

__all__ = ["History", "HistoryPoint", "HistorySettings"]

_LOGGER = logging.getLogger(__name__)

_TABLES = (
    """CREATE TABLE IF NOT EXISTS history_series (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL,
        code TEXT NOT NULL,
        UNIQUE (device_id, code)
    )""",
    # Ids grow with time (points are written in the order they are flushed), so "the oldest" is
    # "the lowest ids": both bounds are enforced with range deletes on the primary key.
    """CREATE TABLE IF NOT EXISTS history_points (
        id INTEGER PRIMARY KEY,
        series INTEGER NOT NULL,
        at REAL NOT NULL,
        value REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS history_points_by_series ON history_points (series, at)",
)


@dataclass(frozen=True, slots=True)
class HistorySettings:
    """The bounds of the history (see the module docstring)."""

    retention: float = 7 * 86400.0  # seconds a point is kept
    resolution: float = 10.0  # seconds between flushes: at most one point per series in each
    max_points: int = 1_000_000  # points kept in all (~50 MB)
    max_series: int = 10_000  # series followed (devices x numeric DPs); more are ignored

    def __post_init__(self) -> None:
        if self.retention <= 0 or self.resolution <= 0 or self.max_points < 1 or self.max_series < 1:
            raise ValueError("history retention, resolution, max_points and max_series must be positive")


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    at: float  # unix time
    value: float


def _numeric(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class History:
    """The time series of numeric DPs, kept in ``db`` (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        settings: HistorySettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.settings = settings or HistorySettings()
        self._clock = clock
        self._series: dict[tuple[str, str], int] = {}
        self._pending: dict[tuple[str, str], HistoryPoint] = {}  # the latest value of the current window
        self._last: dict[tuple[str, str], HistoryPoint] = {}  # the last point written (or pending)
        self._ignored = 0
        with db.transaction() as conn:
            for statement in _TABLES:
                conn.execute(statement)
        with db.read() as conn:
            for sid, device_id, code in conn.execute("SELECT id, device_id, code FROM history_series"):
                self._series[(str(device_id), str(code))] = int(sid)
            # The newest point of each series, so a restart does not write an unchanged value again.
            rows = conn.execute(
                "SELECT s.device_id, s.code, p.at, p.value FROM history_series s JOIN history_points p "
                "ON p.id = (SELECT id FROM history_points WHERE series = s.id ORDER BY at DESC LIMIT 1)"
            ).fetchall()
        for device_id, code, at, value in rows:
            self._last[(str(device_id), str(code))] = HistoryPoint(float(at), float(value))

    def __repr__(self) -> str:
        return f"History({len(self._series)} series, {len(self._pending)} pending)"

    @property
    def pending(self) -> int:
        """Points waiting for the next :meth:`flush`."""
        return len(self._pending)

    # ---------------------------------------------------------------- feeding (a bus listener)

    def record(self, event: DeviceEvent) -> None:
        """Fold a device event into the pending points (quick, never raises, no I/O)."""
        if event.kind != "state" or not event.values:
            return
        at = event.at or self._clock()
        for code, raw in event.values.items():
            value = _numeric(raw)
            if value is None:
                continue
            key = (event.device_id, str(code))
            last = self._last.get(key)
            if last is not None and last.value == value:
                continue  # unchanged: a point per change, not per report
            if last is None and len(self._last) >= self.settings.max_series:
                self._ignored += 1
                continue
            # Coalesced: until the next flush only the latest value of a series is kept.
            point = HistoryPoint(at, value)
            self._pending[key] = point
            self._last[key] = point

    # ---------------------------------------------------------------- writing

    def flush(self) -> int:
        """Write the pending points and enforce the bounds, in one transaction; returns the points written.

        Called every ``resolution`` seconds, so each series gets at most one point per window.
        """
        return self.write(self.take())

    def take(self) -> dict[tuple[str, str], HistoryPoint]:
        """The pending points, handed over (in the thread that records: the event loop's)."""
        ready, self._pending = self._pending, {}
        return ready

    def write(self, ready: Mapping[tuple[str, str], HistoryPoint]) -> int:
        """Write points :meth:`take` handed over and enforce the bounds (from any one thread at a time:
        the gateway calls it in a worker thread, as the commit's fsync may take long)."""
        if not ready:
            return 0
        now = self._clock()
        with self.db.transaction() as conn:
            rows = [
                (self._series_id(conn, key), point.at, point.value)
                for key, point in sorted(ready.items(), key=lambda item: item[1].at)
            ]
            conn.executemany("INSERT INTO history_points (series, at, value) VALUES (?, ?, ?)", rows)
            self._prune(conn, now)
        return len(rows)

    def _series_id(self, conn: sqlite3.Connection, key: tuple[str, str]) -> int:
        sid = self._series.get(key)
        if sid is None:
            conn.execute("INSERT OR IGNORE INTO history_series (device_id, code) VALUES (?, ?)", key)
            row = conn.execute("SELECT id FROM history_series WHERE device_id = ? AND code = ?", key).fetchone()
            sid = self._series[key] = int(row[0])
        return sid

    def _prune(self, conn: sqlite3.Connection, now: float) -> None:
        # Age: find the first point still young enough (a scan over the old points only, which go).
        row = conn.execute(
            "SELECT id FROM history_points WHERE at >= ? ORDER BY id LIMIT 1", (now - self.settings.retention,)
        ).fetchone()
        if row is None:
            conn.execute("DELETE FROM history_points")
        else:
            conn.execute("DELETE FROM history_points WHERE id < ?", (int(row[0]),))
        # Size: keep the newest max_points ids.
        top = conn.execute("SELECT MAX(id) FROM history_points").fetchone()[0]
        if top is not None:
            conn.execute("DELETE FROM history_points WHERE id <= ?", (int(top) - self.settings.max_points,))

    # ---------------------------------------------------------------- reading

    def codes(self) -> dict[str, list[str]]:
        """The DP codes that have a history, by device id."""
        by_device: dict[str, list[str]] = {}
        for device_id, code in sorted(self._last):
            by_device.setdefault(device_id, []).append(code)
        return by_device

    def points(self, device_id: str, code: str, *, since: float = 0.0, limit: int = 2000) -> list[HistoryPoint]:
        """The points of one series from ``since`` (unix time) on, oldest first.

        At most ``limit`` points: a longer span is averaged into ``limit`` equal time buckets, so a
        week of a power meter still draws as one quick chart.
        """
        limit = max(2, limit)
        key = (device_id, code)
        found: list[HistoryPoint] = []
        sid = self._series.get(key)
        if sid is not None:
            with self.db.read() as conn:
                count, first, last = conn.execute(
                    "SELECT COUNT(*), MIN(at), MAX(at) FROM history_points WHERE series = ? AND at >= ?", (sid, since)
                ).fetchone()
                if count and count > limit:
                    bucket = max((float(last) - float(first)) / (limit - 1), 1e-9)
                    rows = conn.execute(
                        "SELECT MIN(at), AVG(value) FROM history_points WHERE series = ? AND at >= ? "
                        "GROUP BY CAST((at - ?) / ? AS INTEGER) ORDER BY 1",
                        (sid, since, float(first), bucket),
                    ).fetchall()
                else:
                    rows = conn.execute(
                        "SELECT at, value FROM history_points WHERE series = ? AND at >= ? ORDER BY at", (sid, since)
                    ).fetchall()
            found = [HistoryPoint(float(at), float(value)) for at, value in rows]
        pending = self._pending.get(key)
        if pending is not None and pending.at >= since:
            found.append(pending)
        return found[-limit:] if len(found) > limit else found
