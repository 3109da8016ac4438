"""The coverage-guided frame fuzzer (benchmarks/fuzz_frames.py) runs with its one command, and catches a failure."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from benchmarks import fuzz_frames

ROOT = Path(__file__).resolve().parents[2]


def test_the_documented_command_fuzzes_and_reports(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.fuzz_frames", "--seconds", "3", "--seed", "1", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    match = re.search(r"inputs tried: (\d+), failures: (\d+)", done.stdout)
    assert match, done.stdout
    assert int(match.group(1)) > 200
    assert int(match.group(2)) == 0
    assert not list(tmp_path.glob("fuzz-failure-*"))


def test_a_failure_is_counted_and_its_input_saved(tmp_path: Path) -> None:
    run = fuzz_frames.Run(60.0, tmp_path)

    def broken(data: bytes) -> None:
        if data.startswith(b"\xff"):
            raise KeyError("not a ProtocolError")
        fuzz_frames.one_input(data)

    target = fuzz_frames.guarded(run, broken)
    for seed in fuzz_frames.seeds():
        target(seed)
    target(b"\xff\x01garbage")
    assert (run.inputs, run.failures) == (len(fuzz_frames.seeds()) + 1, 1)
    (saved,) = tmp_path.glob("fuzz-failure-*.bin")
    assert saved.read_bytes() == b"\xff\x01garbage"
    assert "failures: 1" in run.summary()
