"""The one command behind RELIABILITY.md: its steps' figures reach the section, failures show as failures."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from benchmarks.reliability import HEADING, Step, figures_of, section
from benchmarks.reliability_doc import replace_section


def test_a_step_keeps_the_lines_that_carry_figures() -> None:
    code = "print('warming up'); print('fuzz_frames: atheris, 1.0 s, inputs tried: 12, failures: 0'); print('3 passed')"
    step = Step("fuzzer", [sys.executable, "-c", code], timeout=30)
    step.run()
    assert step.ok
    assert step.figures == ["fuzz_frames: atheris, 1.0 s, inputs tried: 12, failures: 0", "3 passed"]


def test_figures_follow_progress_dots_and_tables_are_summed_up() -> None:
    output = (
        "..security: scopes on 9 read routes\n.schemathesis open: 28 operations\n"
        "refuses      1.2 s  ok\nlate         1.7 s  1 FAILED\n"
        '{"load_audit": {"problems": 0}, "crash": {"problems": 2}}\n'
    )
    assert figures_of(output) == [
        "audit problems: 0 + 2 (figures: Load audit above)",
        "2 rows, 1 as expected (table: Fault matrix above)",
        "security: scopes on 9 read routes",
        "schemathesis open: 28 operations",
    ]


def test_a_failed_or_stuck_step_is_reported_as_failed() -> None:
    failed = Step("broken", [sys.executable, "-c", "raise SystemExit(3)"], timeout=30)
    failed.run()
    stuck = Step("stuck", [sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    stuck.run()
    text = section([failed, stuck], started=dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC), load="1.0")
    assert text.startswith(HEADING + "\n")
    assert "| broken | FAILED (exit 3) |" in text
    assert "| stuck | FAILED (exit -1) |" in text
    assert "did not finish within 0.5 s" in text


def test_a_section_is_replaced_in_place_and_its_neighbours_kept(tmp_path: Path) -> None:
    doc = tmp_path / "RELIABILITY.md"
    doc.write_text("# Reliability\n\n## A\n\nold a\n\n### A.1\n\nstill a\n\n## B\n\nb\n")
    replace_section(doc, "## A", "## A\n\nnew a\n")
    assert doc.read_text() == "# Reliability\n\n## A\n\nnew a\n\n## B\n\nb\n"
    replace_section(doc, "## C", "## C\n\nc\n")
    assert doc.read_text().endswith("## B\n\nb\n\n## C\n\nc\n")
