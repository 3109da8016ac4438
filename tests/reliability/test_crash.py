"""Crash safety (issue 16.5): ``kill -9`` the gateway under load, five times in a row.

The procedure and its checks are :func:`benchmarks.soak_crash.run_crash` (also run by
``benchmarks/soak.py`` for RELIABILITY.md): registry and vault intact after each kill, every device
online within 10 s of the restart with its real state, and no command answered 2xx before a kill
lost or applied twice. Only the gateway PID started there is ever signalled.
"""

from __future__ import annotations

import pytest
from benchmarks.soak_crash import RECONNECT_S, CrashConfig, run_crash

pytestmark = [pytest.mark.soak, pytest.mark.timeout(300)]


async def test_kill_9_under_load_five_times_loses_nothing() -> None:
    result = await run_crash(CrashConfig(devices=40, kills=5))
    assert result.problems == []
    figures = result.figures
    assert len(figures["rounds"]) == 5
    assert all(r["commands_answered_before"] >= 50 for r in figures["rounds"])  # each kill landed under load
    assert figures["commands"]["ok"] >= 250
    assert figures["worst_all_online_s"] <= RECONNECT_S
    assert (figures["records"], figures["secrets"]) == (40, 40)
