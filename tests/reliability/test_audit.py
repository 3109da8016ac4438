"""The audit's rules catch what they are there to catch: a lost, a doubled, a reordered or an invented
application, an undocumented code, a late answer, a change an SSE listener missed."""

from __future__ import annotations

import pytest
from benchmarks.soak_audit import audit_commands, audit_latency, audit_sse, gateway_late, loop_lag_max
from benchmarks.soak_load import Call, Listener

from tuyagate.sim.device import Applied

DEV = "bf00000000000000aaaa"
TAGS = {DEV: ("9",)}


def command(n: int, sent: float, answered: float, status: int = 200, code: str = "") -> Call:
    return Call("command", DEV, sent, answered, status, code, values={"9": n}, tag=(("9", n),))


def applied(*values: int) -> dict[str, list[Applied]]:
    return {DEV: [Applied(float(i), {"9": v}) for i, v in enumerate(values)]}


def test_a_clean_run_has_no_problems() -> None:
    calls = [command(1, 0.0, 0.1), command(2, 0.2, 0.3), command(3, 0.4, 2.5, 504, "timeout")]
    figures, problems = audit_commands(calls, applied(1, 2, 3), TAGS)
    assert problems == []
    assert figures == {"applications": 3, "ok": 2, "refused": 1, "applied_after_error": 1}


def test_lost_doubled_invented_and_reordered_applications_are_problems() -> None:
    calls = [command(1, 0.0, 0.1), command(2, 0.2, 0.3), command(3, 0.4, 0.5)]
    figures, problems = audit_commands(calls, applied(2, 1, 1, 7), TAGS)  # 3 lost, 1 twice, 7 unasked, 2 before 1
    assert (figures["lost"], figures["duplicated"], figures["unaccounted"], figures["reordered"]) == (1, 1, 1, 1)
    assert len(problems) == 4


def test_undocumented_codes_are_problems_unless_excused() -> None:
    calls = [command(1, 0.0, 0.1, 500, "internal_error"), command(2, 0.2, 0.3, 0, "transport:ReadError")]
    _, problems = audit_commands(calls, applied(), TAGS)
    assert len(problems) == 2
    _, problems = audit_commands(calls, applied(), TAGS, excused=lambda c: c.code.startswith("transport:"))
    assert len(problems) == 1


def test_late_answers_unless_the_client_or_the_gateway_could_not_run() -> None:
    calls = [command(1, 0.0, 2.45), command(2, 0.0, 2.6), command(3, 10.0, 12.7)]
    figures, problems = audit_latency(
        calls, 2.4, [], lambda s, e: 0.2 if s >= 10 else 0.0, lambda s, e: 0.2 if s >= 10 else 0.0
    )
    assert figures == {"late": 1, "late_stalled": 1}
    assert "2.600 s" in problems[0]


def test_gateway_histogram_counts_requests_past_the_bound() -> None:
    text = "\n".join(
        [
            'tuyagate_http_request_duration_seconds_bucket{route="/api/v1/devices/{device_id}/status",le="1.0"} 5',
            'tuyagate_http_request_duration_seconds_bucket{route="/api/v1/devices/{device_id}/status",le="2.5"} 9',
            'tuyagate_http_request_duration_seconds_bucket{route="/api/v1/devices/{device_id}/status",le="+Inf"} 11',
            'tuyagate_http_request_duration_seconds_bucket{route="/api/v1/events",le="2.5"} 0',
            'tuyagate_http_request_duration_seconds_bucket{route="/api/v1/events",le="+Inf"} 4',
        ]
    )
    assert gateway_late(text, 2.4) == (2.5, 2)


def test_sse_listeners_must_see_every_change_of_healthy_devices() -> None:
    log = applied(5, 6, 6, 7)
    whole, gap = Listener("http://127.0.0.1:1"), Listener("http://127.0.0.1:1")
    whole.events = [(i, "state", {"device_id": DEV, "dps": {"9": v}}) for i, v in enumerate((5, 6, 7), 1)]
    gap.events = [(1, "state", {"device_id": DEV, "dps": {"9": 5}}), (3, "state", {"device_id": DEV, "dps": {"9": 7}})]
    figures, problems = audit_sse([whole, gap], log, {DEV: {"9": 0}}, [DEV])
    assert problems == []  # the gap is seen (ids 1, 3): that listener must re-read, it is not audited
    assert figures == {"listeners_checked": 1, "listeners_with_loss": 1}
    whole.events = whole.events[:1] + whole.events[2:]
    whole.events = [(i + 1, k, d) for i, (_, k, d) in enumerate(whole.events)]  # ids without a gap, 6 missing
    _, problems = audit_sse([whole], log, {DEV: {"9": 0}}, [DEV])
    assert len(problems) == 1


def test_the_gateway_loop_lag_is_read_from_its_metrics() -> None:
    text = "tuyagate_event_loop_lag_seconds_count 12\ntuyagate_event_loop_lag_max_seconds 0.004200\n"
    assert loop_lag_max(text) == 0.0042
    with pytest.raises(ValueError, match="loop_lag_max"):
        loop_lag_max("tuyagate_uptime_seconds 3.0\n")
