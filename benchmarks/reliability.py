"""Regenerate every figure of RELIABILITY.md with one command.

``python -m benchmarks.reliability`` runs, one after another: the fault matrix (``benchmarks.faults
--table``, its own section), the load audit with the kill -9 rounds (``benchmarks.soak
--reliability``, its own section), the frame fuzzer, the property tests at a larger example budget,
the security and schemathesis tests, and the dependency audit; it then writes what those printed
into the ``## Figures of the last run`` section. The hand-written sections (the promises, the
tables of what each test checks) are left as they are. ``--quick`` shortens every budget, for a
check that the command itself works; ``--suite`` also runs the whole pytest suite for the
suite-wide secret scan's figure.

Each step runs in its own process, with a deadline; a step that fails is reported in the section
as failed (with its exit code) and makes the command exit non-zero, so stale figures never look
fresh.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # so `benchmarks.*` imports when run as a script
    sys.path.insert(0, str(ROOT))

from benchmarks.reliability_doc import replace_section  # noqa: E402

__all__ = ["HEADING", "Step", "figures_of", "main", "section"]

HEADING = "## Figures of the last run"
PROPERTY_TESTS = (
    "tests/protocol/test_fuzz.py",
    "tests/cloud/test_bad_input.py",
    "tests/flashed/test_bad_input.py",
    "tests/flashed/test_malformed.py",
    "tests/flashed/test_sse.py",
    "tests/mqtt/test_bad_input.py",
    "tests/gateway/test_tasmota_bad_input.py",
)
SECURITY_TESTS = ("tests/gateway/test_security.py", "tests/gateway/test_auth.py", "tests/gateway/test_openapi_fuzz.py")
# What a step prints that carries its figures: such a line may follow pytest's progress dots.
FIGURE = re.compile(r"(?:fuzz_frames: |security: |schemathesis |secret scan: |audit: )[^\n]*|\b\d+ passed[^\n=]*")
FAULT_ROW = re.compile(r"^(\w+) +\d+\.\d s +(ok|\d+ FAILED)$", re.M)
SOAK_PROBLEMS = re.compile(r'"problems": (\d+)')


def figures_of(output: str) -> list[str]:
    """The figure lines of a step's output; the fault matrix and the load audit, summed up."""
    found = [m.group(0).strip() for m in FIGURE.finditer(output)]
    rows = FAULT_ROW.findall(output)
    if rows:
        ok = sum(result == "ok" for _, result in rows)
        found.insert(0, f"{len(rows)} rows, {ok} as expected (table: Fault matrix above)")
    problems = SOAK_PROBLEMS.findall(output)
    if problems:
        found.insert(0, f"audit problems: {' + '.join(problems)} (figures: Load audit above)")
    return found


@dataclass(slots=True)
class Step:
    """One command whose printed figures go into the section."""

    name: str
    argv: list[str]
    timeout: float
    env: dict[str, str] = field(default_factory=dict)
    returncode: int | None = None
    seconds: float = 0.0
    figures: list[str] = field(default_factory=list)

    def run(self) -> None:
        started = time.monotonic()
        env = {**os.environ, **self.env}
        print(f"== {self.name}: {' '.join(self.argv)}", file=sys.stderr, flush=True)
        try:
            done = subprocess.run(
                self.argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            self.returncode = -1
            output = _text(exc.stdout) + _text(exc.stderr)
            self.figures = [f"did not finish within {self.timeout:g} s"]
        else:
            self.returncode = done.returncode
            output = done.stdout + done.stderr
        self.seconds = time.monotonic() - started
        self.figures += figures_of(output)
        sys.stderr.write(output[-4000:])

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", "replace")


def steps(*, output: Path, minutes: float, fuzz_seconds: float, examples: int, suite: bool) -> list[Step]:
    py = sys.executable
    pytest = [py, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    found = [
        Step("fault matrix", [py, "-m", "benchmarks.faults", "--table", "--output", str(output)], 900),
        Step(
            "load audit and kill -9",
            [py, "-m", "benchmarks.soak", "--minutes", f"{minutes:g}", "--reliability", str(output)]
            + (["--json", str(ROOT / "benchmarks" / "soak_results.json")] if output == ROOT / "RELIABILITY.md" else []),
            minutes * 60 + 900,
        ),
        Step(
            "frame fuzzer", [py, "-m", "benchmarks.fuzz_frames", "--seconds", f"{fuzz_seconds:g}"], fuzz_seconds + 120
        ),
        Step(
            f"property tests, {examples} examples each",
            [*pytest, *PROPERTY_TESTS],
            1800,
            env={"TUYAGATE_FUZZ_EXAMPLES": str(examples)},
        ),
        Step("security and schemathesis", [*pytest, "-s", *SECURITY_TESTS], 900),
        Step("dependency audit", [py, str(ROOT / ".ci" / "audit.py")], 300),
    ]
    if suite:
        found.append(Step("whole suite (secret scan)", [*pytest], 3600))
    return found


def section(done: list[Step], *, started: dt.datetime, load: str) -> str:
    rows = [
        f"{HEADING}\n",
        "Written by `.venv/bin/python -m benchmarks.reliability` (the fault matrix and the load audit above are",
        "rewritten by the same run). What each step printed, as it printed it:\n",
        f"Run of {started:%Y-%m-%d %H:%M} UTC; load average before the run {load} on {os.cpu_count()} cores.\n",
        "| step | result | took | figures |",
        "|---|---|---|---|",
    ]
    for step in done:
        result = "passed" if step.ok else f"FAILED (exit {step.returncode})"
        figures = "<br>".join(f.replace("|", "\\|") for f in step.figures) or "(none printed)"
        rows.append(f"| {step.name} | {result} | {step.seconds:,.0f} s | {figures} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "RELIABILITY.md")
    parser.add_argument("--minutes", type=float, default=5.0, help="length of the load audit (default 5)")
    parser.add_argument("--fuzz-seconds", type=float, default=60.0, help="frame fuzzer budget (default 60)")
    parser.add_argument("--examples", type=int, default=1000, help="examples per property test (default 1000)")
    parser.add_argument("--suite", action="store_true", help="also run the whole suite for the secret scan figure")
    parser.add_argument("--quick", action="store_true", help="small budgets: checks that the command works")
    args = parser.parse_args(argv)
    if args.quick:
        args.minutes, args.fuzz_seconds, args.examples = 0.5, 5.0, 50
    started = dt.datetime.now(dt.UTC)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    plan = steps(
        output=args.output,
        minutes=args.minutes,
        fuzz_seconds=args.fuzz_seconds,
        examples=args.examples,
        suite=args.suite,
    )
    for step in plan:
        step.run()
    replace_section(args.output, HEADING, section(plan, started=started, load=load))
    failed = [s.name for s in plan if not s.ok]
    print(f"reliability: {len(plan) - len(failed)} of {len(plan)} steps passed; wrote {args.output}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
