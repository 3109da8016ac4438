"""The performance regression check: calls, syscalls and heap bytes per operation may not grow 20 % over the baseline.

Counts, not times (see benchmarks/perf_counts.py): deterministic on a busy CI machine. After a
deliberate change, refresh the baseline with ``.venv/bin/python -m benchmarks.perf_counts --update``
and say why in the commit.
"""

from __future__ import annotations

import json

import pytest
from benchmarks import perf_counts

from tests.mqtt.broker import MOSQUITTO

# The secret scan's DEBUG level on tuyagate.* would add the formatting of log records to every count.
pytestmark = pytest.mark.default_logging


def test_no_operation_makes_more_calls_than_its_baseline_allows() -> None:
    baseline = json.loads(perf_counts.BASELINE.read_text())
    results = perf_counts.measure()
    if MOSQUITTO is None:  # the MQTT case needs a real broker (CI has one: a skip there fails the run)
        baseline = {name: count for name, count in baseline.items() if not name.startswith("mqtt ")}
    assert perf_counts.compare(results, baseline) == []


def test_the_check_catches_growth_and_missing_cases() -> None:
    baseline = {"a": 100.0, "b": 50.0}
    assert perf_counts.compare({"a": 119.0, "b": 50.0}, baseline) == []
    problems = perf_counts.compare({"a": 121.0, "c": 1.0}, baseline)
    assert [p.split(":")[0] for p in problems] == ["a", "c", "b"]
    assert "+21%" in problems[0]
