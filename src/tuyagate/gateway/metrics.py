"""Prometheus metrics in the text exposition format, written by hand.

A gateway that people run on their network needs to say how it is doing (requests, latency, which
devices are connected, how often the LAN route failed over to the cloud, which errors) without a
metrics library as a dependency. Counters live on one :class:`Metrics` object held by the app;
label values are route templates and stable error codes, never raw paths, so cardinality stays small.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from tuyagate.gateway.loop_lag import LoopLag

__all__ = ["LATENCY_BUCKETS", "Metrics"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0
    n: int = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds
        self.n += 1


@dataclass
class Metrics:
    """The gateway's counters; rendered on ``GET /metrics``."""

    started_at: float = field(default_factory=time.time)
    requests: dict[tuple[str, str, str], int] = field(default_factory=dict)
    latency: dict[str, _Histogram] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    fallbacks: dict[str, int] = field(default_factory=dict)
    device_calls: dict[tuple[str, str], int] = field(default_factory=dict)
    auth_failures: int = 0
    sse_dropped: int = 0
    loop_lag: LoopLag = field(default_factory=LoopLag)  # sampled while the app runs (its lifespan)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, str(status))
        self.requests[key] = self.requests.get(key, 0) + 1
        hist = self.latency.get(route)
        if hist is None:
            hist = self.latency[route] = _Histogram()
        hist.observe(seconds)

    def count_error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1

    def count_device_call(self, kind: str, route: str, *, fallback: bool = False) -> None:
        key = (kind, route)
        self.device_calls[key] = self.device_calls.get(key, 0) + 1
        if fallback:
            self.fallbacks[route] = self.fallbacks.get(route, 0) + 1

    def render(self, *, devices_total: int, devices_online: int, sse_clients: int) -> str:
        """The text format (version 0.0.4) that every Prometheus scraper reads."""
        out: list[str] = []

        def family(name: str, kind: str, help_text: str, samples: Iterable[str]) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(samples)

        family(
            "tuyagate_http_requests_total",
            "counter",
            "HTTP requests by method, route template and status.",
            (
                f"tuyagate_http_requests_total{_labels(method=m, route=r, status=s)} {n}"
                for (m, r, s), n in sorted(self.requests.items())
            ),
        )
        hist_lines: list[str] = []
        for route, hist in sorted(self.latency.items()):
            cumulative = 0
            for bound, count in zip(LATENCY_BUCKETS, hist.counts, strict=False):
                cumulative += count
                hist_lines.append(
                    f"tuyagate_http_request_duration_seconds_bucket{_labels(route=route, le=repr(bound))} {cumulative}"
                )
            name = "tuyagate_http_request_duration_seconds"
            hist_lines.append(f"{name}_bucket{_labels(route=route, le='+Inf')} {hist.n}")
            hist_lines.append(f"{name}_sum{_labels(route=route)} {hist.total:.6f}")
            hist_lines.append(f"{name}_count{_labels(route=route)} {hist.n}")
        family("tuyagate_http_request_duration_seconds", "histogram", "HTTP request latency.", hist_lines)
        family(
            "tuyagate_errors_total",
            "counter",
            "Error answers by stable error code.",
            (f"tuyagate_errors_total{_labels(code=c)} {n}" for c, n in sorted(self.errors.items())),
        )
        family(
            "tuyagate_device_calls_total",
            "counter",
            "Device reads and commands by the route that served them.",
            (
                f"tuyagate_device_calls_total{_labels(kind=k, route=r)} {n}"
                for (k, r), n in sorted(self.device_calls.items())
            ),
        )
        family(
            "tuyagate_route_fallbacks_total",
            "counter",
            "Commands served by a fallback route because the preferred one failed.",
            (f"tuyagate_route_fallbacks_total{_labels(route=r)} {n}" for r, n in sorted(self.fallbacks.items())),
        )
        family("tuyagate_devices", "gauge", "Configured devices.", [f"tuyagate_devices {devices_total}"])
        family(
            "tuyagate_device_connections",
            "gauge",
            "Devices that are online (connected on some route).",
            [f"tuyagate_device_connections {devices_online}"],
        )
        family("tuyagate_sse_clients", "gauge", "Open SSE streams.", [f"tuyagate_sse_clients {sse_clients}"])
        family(
            "tuyagate_sse_dropped_events_total",
            "counter",
            "Events dropped because an SSE client read too slowly.",
            [f"tuyagate_sse_dropped_events_total {self.sse_dropped}"],
        )
        family(
            "tuyagate_auth_failures_total",
            "counter",
            "Requests refused for a missing or wrong API token.",
            [f"tuyagate_auth_failures_total {self.auth_failures}"],
        )
        lag = self.loop_lag
        family(
            "tuyagate_event_loop_lag_seconds",
            "histogram",
            f"How late the event loop ran a timer, sampled every {lag.interval:g} s (anything blocking it shows here).",
            lag.exposition(),
        )
        family(
            "tuyagate_event_loop_lag_max_seconds",
            "gauge",
            "The worst event-loop lateness sampled since start.",
            [f"tuyagate_event_loop_lag_max_seconds {lag.worst:.6f}"],
        )
        uptime = time.time() - self.started_at
        family("tuyagate_uptime_seconds", "gauge", "Seconds since start.", [f"tuyagate_uptime_seconds {uptime:.1f}"])
        return "\n".join(out) + "\n"
