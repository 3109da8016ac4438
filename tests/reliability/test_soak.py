"""The load audit in CI (issue 16.2): 60 s of load on the real gateway, then nothing lost or duplicated.

:func:`benchmarks.soak.run_soak` with its defaults: ``tuyagate serve`` in a subprocess over 200
emulated devices, 64 HTTP clients paced to 160 requests/s in all (what two shared cores carry with
the gateway, the emulators and the clients on them), 4 SSE listeners, faults at random on 50 devices.
RSS is compared between second 15 of the load and its end (``benchmarks/soak.py --minutes N``
compares minute 1 with the end). Marked ``soak``: ``pytest -m soak`` runs it alone.
"""

from __future__ import annotations

import pytest
from benchmarks.soak import SoakConfig, run_soak

pytestmark = [pytest.mark.soak, pytest.mark.timeout(300)]


async def test_load_audit_finds_nothing_lost_or_duplicated() -> None:
    result = await run_soak(SoakConfig(seconds=60.0))
    assert result.problems == []
    f = result.figures
    # The run was a real one: commands went through, faults bit, and every listener was audited.
    assert f["commands"]["ok"] >= 2000
    assert f["commands"]["refused"] >= 20
    assert sum(f["faults"].values()) >= 100
    assert f["sse"]["listeners_checked"] == 4
    assert f["rss_growth"] < 0.10
    assert f["fds"]["after"] <= f["fds"]["before_load"]
