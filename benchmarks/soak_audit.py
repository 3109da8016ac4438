"""The audit at the end of a load run: nothing lost, nothing duplicated, every refusal documented.

Pure functions of what the run recorded (the clients' calls, the emulators' application logs, the
SSE listeners' messages), so each rule can be read on its own:

- a command answered 2xx took effect exactly once, with the values it asked for, and commands to
  one device whose answers did not overlap took effect in the order they were answered;
- a command answered otherwise took effect at most once (a device may apply a control whose answer
  was late), and its answer carries a documented code (:mod:`tuyagate.error_codes`); no other 5xx;
- no application the device logged is unaccounted for (a retried control would show up here);
- no answer came later than the request's deadline plus 100 ms;
- every SSE listener that lost nothing (no ``lost`` marker, no gap in its ids) saw every change of
  every device that never had a fault, in the order the device applied them.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from benchmarks.soak_load import Call, Listener
from tuyagate.error_codes import ERROR_CODES
from tuyagate.sim.device import Applied

__all__ = [
    "DOCUMENTED",
    "LATE_SLACK",
    "audit_commands",
    "audit_latency",
    "audit_sse",
    "gateway_late",
    "percentiles",
]

DOCUMENTED = frozenset(code for _, _, code in ERROR_CODES)
LATE_SLACK = 0.1  # seconds past the deadline an answer may take (the "+100 ms")


def _collapse(values: Iterable[Any]) -> list[Any]:
    """Drop repeats that follow each other: a change is a new value."""
    return [v for v, _ in itertools.groupby(values)]


def audit_commands(
    calls: list[Call],
    applied: Mapping[str, Sequence[Applied]],
    tag_dps: Mapping[str, tuple[str, ...]],
    *,
    excused: Callable[[Call], bool] = lambda call: False,
) -> tuple[dict[str, Any], list[str]]:
    """Match every command to the device's application log by its tag; figures and problems.

    ``excused`` names failed calls that need no documented code (the crash test's requests that were
    in flight when the gateway was killed: they get no HTTP answer at all).
    """
    problems: list[str] = []
    figures = Counter[str]()
    by_device: dict[str, list[Call]] = {}
    for call in calls:
        if call.kind == "command":
            by_device.setdefault(call.device, []).append(call)
    for device_id, log in applied.items():
        dps = tag_dps[device_id]
        where: dict[tuple[tuple[str, Any], ...], list[int]] = {}
        for index, entry in enumerate(log):
            tag = tuple(sorted((dp, entry.dps[dp]) for dp in dps if dp in entry.dps))
            where.setdefault(tag, []).append(index)
        figures["applications"] += len(log)
        commands = by_device.get(device_id, [])
        known = {c.tag for c in commands}
        for tag, indices in where.items():
            if tag not in known:
                figures["unaccounted"] += len(indices)
                problems.append(f"{device_id}: applied {dict(tag)} that no client sent")
        position: dict[int, int] = {}  # id(call) -> its index in the log, for the 2xx ones
        for call in commands:
            found = where.get(call.tag, [])
            if len(found) > 1:
                figures["duplicated"] += 1
                problems.append(f"{device_id}: command {dict(call.tag)} applied {len(found)} times")
            if call.ok:
                figures["ok"] += 1
                if not found:
                    figures["lost"] += 1
                    problems.append(f"{device_id}: command {dict(call.tag)} answered {call.status} never applied")
                    continue
                if log[found[0]].dps != call.values:
                    figures["altered"] += 1
                    problems.append(f"{device_id}: command {call.values} applied as {log[found[0]].dps}")
                position[id(call)] = found[0]
            else:
                figures["refused"] += 1
                if found:
                    figures["applied_after_error"] += 1  # e.g. answered 504, the ACK came too late
        reordered = _reordered([(c.sent, c.answered, position[id(c)]) for c in commands if id(c) in position])
        if reordered:
            figures["reordered"] += reordered
            problems.append(f"{device_id}: {reordered} command(s) applied before one answered before they were sent")
    for call in calls:
        if call.ok:
            continue
        if call.code not in DOCUMENTED and not excused(call):
            figures["undocumented"] += 1
            problems.append(f"{call.kind} to {call.device}: answer {call.status} with undocumented code {call.code!r}")
    return dict(figures), problems


def _reordered(done: list[tuple[float, float, int]]) -> int:
    """Commands (sent, answered, place in the log) applied before one that was answered before they were sent."""
    by_answer = sorted(done, key=lambda c: c[1])
    count, j, highest = 0, 0, -1
    for sent, _, place in sorted(done):
        while j < len(by_answer) and by_answer[j][1] < sent:
            highest = max(highest, by_answer[j][2])
            j += 1
        count += highest > place
    return count


def audit_latency(
    calls: list[Call],
    request_timeout: float,
    windows: list[tuple[str, str, float, float]],
    client_lag: Callable[[float, float], float],
    gateway_wait: Callable[[float, float], float] = lambda start, end: 0.0,
) -> tuple[dict[str, int], list[str]]:
    """Answers later than the deadline + LATE_SLACK, each named with the fault its device had then.

    ``client_lag(sent, answered)`` is how long the measuring loop itself stalled meanwhile (time the
    answer may have waited in the client's socket) and ``gateway_wait(sent, answered)`` how long the
    gateway waited for a CPU: a lateness they cover is the machine's, counted apart as ``late_stalled``.
    """
    limit = request_timeout + LATE_SLACK
    late = [c for c in calls if c.answered and c.latency > limit]
    blamed = [c for c in late if c.latency - client_lag(c.sent, c.answered) - gateway_wait(c.sent, c.answered) > limit]
    problems = []
    for c in blamed[:20]:
        modes = [m for d, m, start, end in windows if d == c.device and start <= c.answered and end >= c.sent]
        stalled, waited = client_lag(c.sent, c.answered), gateway_wait(c.sent, c.answered)
        problems.append(
            f"{c.kind} to {c.device} answered {c.status} {c.code} after {c.latency:.3f} s "
            f"(deadline {request_timeout:g} s; fault then: {', '.join(modes) or 'none'}; meanwhile this "
            f"client stalled {stalled * 1000:.0f} ms at most, the gateway waited {waited * 1000:.0f} ms for a CPU)"
        )
    return {"late": len(blamed), "late_stalled": len(late) - len(blamed)}, problems


def gateway_late(metrics_text: str, request_timeout: float) -> tuple[float, int]:
    """From the gateway's own latency histogram: device requests slower than the first bucket bound at or
    above the deadline + LATE_SLACK (the bound, and the count)."""
    bound = min(float(b) for b in _buckets(metrics_text) if float(b) >= request_timeout + LATE_SLACK - 1e-9)
    total = over = 0
    for line in metrics_text.splitlines():
        if not line.startswith("tuyagate_http_request_duration_seconds_bucket{") or "/api/v1/devices/" not in line:
            continue
        labels, value = line.rsplit(" ", 1)
        le = labels.rsplit('le="', 1)[1].rstrip('"}')
        if le == "+Inf":
            total += int(value)
        elif float(le) == bound:
            over -= int(value)
    return bound, total + over


def loop_lag_max(metrics_text: str) -> float:
    """The worst lateness of the gateway's event loop since it started (its own metric), in seconds."""
    for line in metrics_text.splitlines():
        if line.startswith("tuyagate_event_loop_lag_max_seconds "):
            return float(line.split()[1])
    raise ValueError("no tuyagate_event_loop_lag_max_seconds in the metrics")


def _buckets(metrics_text: str) -> set[str]:
    return {
        line.rsplit('le="', 1)[1].split('"', 1)[0]
        for line in metrics_text.splitlines()
        if line.startswith("tuyagate_http_request_duration_seconds_bucket{") and 'le="+Inf"' not in line
    }


def audit_sse(
    listeners: list[Listener],
    applied: Mapping[str, Sequence[Applied]],
    initial: Mapping[str, Mapping[str, Any]],
    healthy: Iterable[str],
) -> tuple[dict[str, Any], list[str]]:
    """Every change of a healthy device, in order, in each listener that lost nothing."""
    problems: list[str] = []
    checked = excused = 0
    healthy = list(healthy)
    for n, listener in enumerate(listeners):
        if listener.lost:
            excused += 1  # it was told (lost marker) or can tell (id gap): it must re-read, not trust
            continue
        checked += 1
        seen: dict[str, list[dict[str, Any]]] = {}
        for _, kind, data in listener.events:
            if kind == "state":
                seen.setdefault(str(data["device_id"]), []).append(data["dps"])
        for device_id in healthy:
            events = seen.get(device_id, [])
            for dp, start in initial[device_id].items():
                want = _collapse([start, *(e.dps[dp] for e in applied[device_id] if dp in e.dps)])
                got = _collapse([start, *(e[dp] for e in events if dp in e)])
                if got != want:
                    problems.append(f"listener {n}: {device_id} DP {dp}: saw {got[-5:]}, device went {want[-5:]}")
    return {"listeners_checked": checked, "listeners_with_loss": excused}, problems


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p99 and max in milliseconds."""
    if not values:
        return {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(p99 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }
