"""The shapes of the fault matrix: what one row expects, what one run measured, and the Markdown table.

Kept apart from the rows so the test module and ``benchmarks/faults.py`` read one definition of
"expected" and the same checks: the outcome (HTTP status and stable error code, see
:mod:`tuyagate.error_codes`), an answer within the request's deadline + 100 ms (a timeout no
earlier than the deadline - 100 ms), and a right answer again within the row's recovery bound.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.fault_rig import Answer, Rig

__all__ = ["SLACK", "Measured", "Result", "Row", "markdown_table"]

SLACK = 0.1  # seconds: an answer may come this much past the deadline (and a timeout this much before it)


@dataclass(frozen=True, slots=True)
class Measured:
    """One fault on one target: the answer while it lasted, and the seconds until answers were right again."""

    answer: Answer
    recovery: float | None  # None: no right answer within the row's wait
    request: str  # "read", "command", "MQTT command", ...
    note: str = ""
    # A 200 carried the device's real values (a command: reached it); an error left the device as it was.
    correct: bool = True


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the matrix: a fault, where it applies, what the gateway must answer, how fast it recovers.

    ``expect`` maps each target (a protocol version, ``cloud``, ``tasmota``, ``mqtt``) to its outcome
    (``"200 ok"`` or ``"<status> <code>"``). ``run(rig, target)`` injects the fault on one target of a
    started rig (built with ``rig_options``) and measures it; the targets of a row run concurrently
    unless ``together`` is false.
    """

    key: str
    fault: str
    expect: Mapping[str, str]
    run: Callable[[Rig, str], Awaitable[Measured]]
    recovery_bound: float
    rig_options: Mapping[str, Any] = field(default_factory=dict)
    together: bool = True  # run the targets at once (False: one after another, for a row that loads the CPU)

    @property
    def targets(self) -> list[str]:
        return list(self.expect)


@dataclass(frozen=True, slots=True)
class Result:
    """A measured row and target, checked against the row's expectation."""

    row: Row
    target: str
    measured: Measured
    deadline: float

    @property
    def outcome(self) -> str:
        return self.measured.answer.outcome

    @property
    def elapsed(self) -> float:
        return self.measured.answer.elapsed

    def problems(self) -> list[str]:
        """What is wrong with this result (empty when it meets the row's expectation)."""
        wanted = self.row.expect[self.target]
        found: list[str] = []
        if self.outcome != wanted:
            found.append(f"answered {self.outcome}, expected {wanted}: {self.measured.answer.body}")
        if not self.measured.correct and self.measured.answer.status == 200:
            found.append(f"answered 200 with values the device does not have: {self.measured.answer.body}")
        elif not self.measured.correct:
            found.append("answered an error, yet the device applied the command")
        if self.elapsed > self.deadline + SLACK:
            found.append(f"answered after {self.elapsed:.3f} s, past the {self.deadline:g} s deadline")
        if wanted.endswith(" timeout") and self.elapsed < self.deadline - SLACK:
            found.append(f"timed out after {self.elapsed:.3f} s, before the {self.deadline:g} s deadline")
        recovery = self.measured.recovery
        if recovery is None:
            found.append("no right answer after the fault cleared")
        elif recovery > self.row.recovery_bound:
            found.append(f"recovered after {recovery:.2f} s, over the {self.row.recovery_bound:g} s bound")
        return found


def _code(outcome: str, request: str) -> str:
    status, _, code = outcome.partition(" ")
    if request.startswith("MQTT"):  # no HTTP status: the answer on the device's result topic
        return "`ok`, applied" if code == "ok" else f"`{code}`"
    return f"{status} `{code}`" if code != "ok" else f"{status} correct answer"


def markdown_table(results: list[Result]) -> str:
    """The matrix as a Markdown table, one line per row and target, in the order given."""
    lines = [
        "| fault | target | request | outcome | answered in | recovery | bound | |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        recovery = "none" if r.measured.recovery is None else f"{r.measured.recovery * 1000:,.0f} ms"
        fault = r.row.fault + (f" ({r.measured.note})" if r.measured.note else "")
        mark = "ok" if not r.problems() else "**FAIL**"
        outcome = _code(r.outcome, r.measured.request)
        lines.append(
            f"| {fault} | {r.target} | {r.measured.request} | {outcome} | {r.elapsed * 1000:,.0f} ms "
            f"| {recovery} | {r.row.recovery_bound:g} s | {mark} |"
        )
    return "\n".join(lines) + "\n"
