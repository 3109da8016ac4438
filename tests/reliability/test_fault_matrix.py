"""The fault matrix through the real gateway (benchmarks/faults.py): every row's outcome and recovery.

Each row runs on its own rig (emulated plugs of 3.1, 3.3, 3.4 and 3.5, the emulated cloud, the
Tasmota emulator or a real Mosquitto broker, the real hub and the real gateway over HTTP on
loopback, a 1 s request deadline). A row passes when every target answered the documented outcome
(HTTP status and stable error code) within the deadline + 100 ms (a timeout no earlier than the
deadline - 100 ms), a 200 carried the device's real values, and a right answer came back within the
row's recovery bound once the fault cleared. ``python benchmarks/faults.py --table`` writes the same
rows, measured, into RELIABILITY.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks.fault_remote import broker_available
from benchmarks.fault_rig import DEADLINE, Answer
from benchmarks.fault_types import Measured, Result, Row, markdown_table
from benchmarks.faults import HEADING, ROWS, run_row, write_section

from tuyagate.error_codes import ERROR_CODES

DOCUMENTED = {f"{status} {code}" for _, status, code in ERROR_CODES} | {"200 ok"}


@pytest.mark.parametrize("row", ROWS, ids=[r.key for r in ROWS])
async def test_fault_row(row: Row) -> None:
    if row.key == "broker" and not broker_available():
        pytest.skip("mosquitto is not installed (Debian: apt-get install mosquitto; ./run installs it when it can)")
    results = await run_row(row)
    assert [r.target for r in results] == row.targets
    problems = [f"{r.target}: {p}" for r in results for p in r.problems()]
    assert not problems, f"{row.fault}:\n" + "\n".join(problems) + "\n" + markdown_table(results)


def test_every_expected_outcome_is_a_documented_code() -> None:
    for row in ROWS:
        assert set(row.expect.values()) <= DOCUMENTED, row.key


def test_the_lan_rows_cover_every_version() -> None:
    lan = [r for r in ROWS if not r.rig_options]
    assert len(lan) >= 10
    for row in lan:
        if row.key != "broker":
            assert row.targets == ["3.1", "3.3", "3.4", "3.5"], row.key


def _result(outcome: str, elapsed: float, recovery: float | None, *, correct: bool = True) -> Result:
    status, _, code = outcome.partition(" ")
    answer = Answer(int(status), None if code == "ok" else code, {}, elapsed)
    return Result(ROWS[2], "3.3", Measured(answer, recovery, "read", correct=correct), DEADLINE)


def test_the_checks_catch_a_wrong_code_a_late_answer_an_early_timeout_and_no_recovery() -> None:
    assert ROWS[2].expect["3.3"] == "504 timeout"
    assert _result("504 timeout", 1.02, 0.1).problems() == []
    assert "expected 504 timeout" in _result("502 device_error", 1.0, 0.1).problems()[0]
    assert "past the 1 s deadline" in _result("504 timeout", 1.2, 0.1).problems()[0]
    assert "before the 1 s deadline" in _result("504 timeout", 0.5, 0.1).problems()[0]
    assert "no right answer" in _result("504 timeout", 1.0, None).problems()[0]
    assert "over the 3 s bound" in _result("504 timeout", 1.0, 3.5).problems()[0]


def test_the_table_replaces_only_its_own_section(tmp_path: Path) -> None:
    path = tmp_path / "RELIABILITY.md"
    path.write_text(f"# Reliability\n\n## Promises\n\nkept\n\n{HEADING}\n\nold table\n\n## Load audit\n\nkept too\n")
    write_section(path, f"{HEADING}\n\nnew table\n")
    text = path.read_text()
    assert "old table" not in text
    assert text.count(HEADING) == 1
    assert text.index("## Promises") < text.index("new table") < text.index("## Load audit")
    assert "kept\n" in text
    assert "kept too\n" in text
    fresh = tmp_path / "NEW.md"
    write_section(fresh, f"{HEADING}\n\nnew table\n")
    assert fresh.read_text().startswith("# Reliability\n\n" + HEADING)
