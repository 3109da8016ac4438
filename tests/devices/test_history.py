"""The history of numeric DPs on a real SQLite file: one point per change, coalesced, aged, size-capped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuyagate.device_api import DeviceEvent
from tuyagate.devices.db import Database
from tuyagate.devices.history import History, HistorySettings


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def state(device: str, at: float, **values: object) -> DeviceEvent:
    return DeviceEvent(device, "state", values=dict(values), at=at)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "tuyagate.sqlite3")


def test_one_point_per_change_and_only_numbers(db: Database) -> None:
    clock = Clock()
    history = History(db, clock=clock)
    history.record(state("plug", clock.now, cur_power=12.5, switch_1=True, mode="eco"))
    history.flush()
    clock.now += 30
    history.record(state("plug", clock.now, cur_power=12.5))  # unchanged: no point
    history.flush()
    clock.now += 30
    history.record(state("plug", clock.now, cur_power=20))
    history.flush()
    points = history.points("plug", "cur_power")
    assert [(p.at - 1_000_000.0, p.value) for p in points] == [(0.0, 12.5), (60.0, 20.0)]
    assert history.codes() == {"plug": ["cur_power"]}  # booleans and strings are no series
    assert history.points("plug", "switch_1") == []


def test_changes_between_flushes_are_coalesced_and_visible_before_the_flush(db: Database) -> None:
    clock = Clock()
    history = History(db, clock=clock)
    for i in range(10):
        history.record(state("plug", clock.now + i, cur_power=float(i)))
    assert history.pending == 1
    # Not written yet, but answered: the page shows a value at once.
    assert [p.value for p in history.points("plug", "cur_power")] == [9.0]
    assert history.flush() == 1
    assert [p.value for p in history.points("plug", "cur_power")] == [9.0]
    assert history.flush() == 0


def test_old_points_are_deleted(db: Database) -> None:
    clock = Clock()
    history = History(db, HistorySettings(retention=100.0), clock=clock)
    for i in range(5):
        history.record(state("s", clock.now, temp=float(i)))
        history.flush()
        clock.now += 40
    # now = start + 200: points at 0 and 40..80 are older than 100 s
    history.record(state("s", clock.now, temp=99.0))
    history.flush()
    ages = [clock.now - p.at for p in history.points("s", "temp")]
    assert ages
    assert max(ages) <= 100.0
    assert len(ages) == 3  # at 120, 160 and 200


def test_the_point_count_is_capped(db: Database) -> None:
    clock = Clock()
    history = History(db, HistorySettings(max_points=50), clock=clock)
    for i in range(200):
        history.record(state("a", clock.now, power=float(i)))
        history.record(state("b", clock.now, power=float(-i)))
        history.flush()
        clock.now += 10
    with db.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM history_points").fetchone()[0] == 50
    newest = history.points("a", "power")
    assert newest[-1].value == 199.0
    assert newest[0].value >= 170.0


def test_a_long_span_is_averaged_into_the_limit(db: Database) -> None:
    clock = Clock()
    history = History(db, clock=clock)
    for i in range(1000):
        history.record(state("m", clock.now, energy=float(i)))
        history.flush()
        clock.now += 10
    points = history.points("m", "energy", limit=100)
    assert 95 <= len(points) <= 100
    assert points == sorted(points, key=lambda p: p.at)
    assert points[0].value < 10
    assert points[-1].value > 990


def test_the_history_survives_a_restart_without_repeating_a_value(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "tuyagate.sqlite3"
    with Database(path) as db:
        history = History(db, clock=clock)
        history.record(state("plug", clock.now, cur_power=5.0))
        history.flush()
    clock.now += 60
    with Database(path) as db:
        again = History(db, clock=clock)
        again.record(state("plug", clock.now, cur_power=5.0))  # the same value as before the restart
        again.flush()
        assert [p.value for p in again.points("plug", "cur_power")] == [5.0]
        assert again.codes() == {"plug": ["cur_power"]}


def test_since_selects_the_span(db: Database) -> None:
    clock = Clock()
    history = History(db, clock=clock)
    for i in range(10):
        history.record(state("p", clock.now, v=float(i)))
        history.flush()
        clock.now += 10
    assert [p.value for p in history.points("p", "v", since=clock.now - 35)] == [7.0, 8.0, 9.0]


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        HistorySettings(max_points=0)
