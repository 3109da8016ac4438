"""Load audit (issue 16.2): the real gateway under load and faults, then proof that nothing was lost.

``tuyagate serve`` runs in a subprocess in front of 200 emulated devices (plugs, switches and lights,
protocol 3.1/3.3/3.4/3.5, each on its own loopback address); 64 HTTP clients send random tagged
commands and reads, SSE listeners follow every event, and the emulators' fault modes (late, slow,
refusing, silent, garbage, dropping, rebooting) come and go at random on a quarter of the devices.
When the load stops the faults are cleared and the audit runs (:mod:`benchmarks.soak_audit`), the
gateway's recovery, its final state, RSS growth and open descriptors are checked.

    .venv/bin/python -m benchmarks.soak --minutes 10 --reliability RELIABILITY.md --json benchmarks/soak_results.json

writes the figures as JSON and replaces the ``## Load audit`` section of RELIABILITY.md. The CI test
(tests/reliability/test_soak.py) runs the same for 60 s and compares RSS at second 15 with the end
(a run of several minutes compares minute 1 with the end).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.reliability_doc import replace_section
from benchmarks.soak_audit import (
    LATE_SLACK,
    audit_commands,
    audit_latency,
    audit_sse,
    gateway_late,
    loop_lag_max,
    percentiles,
)
from benchmarks.soak_crash import RECONNECT_S, CrashConfig, CrashResult, run_crash
from benchmarks.soak_load import TAG_DPS, Faulter, LagMonitor, Listener, Load, Sampler, WaitMonitor
from benchmarks.soak_world import World

__all__ = ["SoakConfig", "SoakResult", "markdown", "online", "run_soak", "update_reliability"]

SECTION = "## Load audit"


@dataclass(frozen=True, slots=True)
class SoakConfig:
    seconds: float = 60.0
    devices: int = 200
    clients: int = 64
    rate: float = 160.0  # requests per second, all clients together
    listeners: int = 4
    faulty_share: float = 0.25
    request_timeout: float = 2.4  # + LATE_SLACK is 2.5 s, a bound of the gateway's latency histogram
    rss_from: float = 15.0  # the second whose RSS the end is compared with
    seed: int = 16
    first_ip: str = "127.0.20.1"


@dataclass
class SoakResult:
    figures: dict[str, Any]
    problems: list[str] = field(default_factory=list)


async def online(url: str, count: int, *, within: float) -> float:
    """Seconds until the gateway reports ``count`` devices online; raises after ``within``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with httpx.AsyncClient(base_url=url, timeout=5.0) as http:
        while True:
            devices = (await http.get("/api/v1/devices")).json()["devices"]
            if sum(d["online"] for d in devices) >= count:
                return loop.time() - start
            if loop.time() - start > within:
                offline = [d["name"] for d in devices if not d["online"]]
                raise TimeoutError(f"{len(offline)} devices still offline after {within:g} s: {offline[:5]}")
            await asyncio.sleep(0.1)


async def _final_states(url: str, world: World, *, refresh: bool) -> list[str]:
    """Devices whose state the gateway reports differently from the emulator's (cached or asked)."""
    problems: list[str] = []
    gate = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=url, timeout=10.0) as http:

        async def one(device_id: str) -> None:
            async with gate:
                answer = await http.get(f"/api/v1/devices/{device_id}/status", params={"refresh": str(refresh).lower()})
            sim = world.fleet.sims[device_id]
            if answer.status_code != 200:
                problems.append(f"{device_id}: final {'refresh' if refresh else 'read'} answered {answer.status_code}")
            elif answer.json()["dps"] != sim.dps:
                problems.append(f"{device_id}: the gateway says {answer.json()['dps']}, the device holds {sim.dps}")

        await asyncio.gather(*(one(d) for d in world.fleet.sims))
    return problems


async def _settle(check: Any, *, within: float) -> None:
    """Poll ``check()`` (a list of problems) until it is empty or ``within`` seconds passed."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while check() and loop.time() < end:  # noqa: ASYNC110 - the checks read other processes' state
        await asyncio.sleep(0.1)


def _load_figure() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} / {five:.2f} (1 / 5 min), {os.cpu_count()} cores"


async def run_soak(config: SoakConfig) -> SoakResult:
    """One load run and its audit."""
    rnd = random.Random(config.seed)
    loop = asyncio.get_running_loop()
    problems: list[str] = []
    async with World(config.devices, first_ip=config.first_ip, request_timeout=config.request_timeout) as world:
        gateway, manifest = world.gateway, world.fleet.manifest
        await online(gateway.url, config.devices, within=30.0)
        fds_before, rss_before = gateway.fds(), gateway.rss_kib()
        listeners = [Listener(gateway.url) for _ in range(config.listeners)]
        for listener in listeners:
            listener.start()
        await asyncio.wait_for(asyncio.gather(*(lis.connected.wait() for lis in listeners)), 10.0)
        sims = list(world.fleet.sims.values())
        faulty = rnd.sample(sims, round(len(sims) * config.faulty_share))
        healthy = [s.device_id for s in sims if s not in faulty]
        load = Load(
            gateway.url,
            manifest.devices,
            clients=config.clients,
            rate=config.rate,
            request_timeout=config.request_timeout,
            rnd=rnd,
        )
        faulter = Faulter(faulty, request_timeout=config.request_timeout, rnd=rnd)
        sampler = Sampler(gateway.rss_kib, gateway.fds)
        lag, waits = LagMonitor(), WaitMonitor(gateway.runqueue_wait_s)
        stop, stop_sampling = asyncio.Event(), asyncio.Event()
        sampling = asyncio.create_task(sampler.run(stop_sampling))
        load_start, cpu_start, own_start = loop.time(), gateway.cpu_s(), time.process_time()
        running = asyncio.gather(load.run(stop), faulter.run(stop), lag.run(stop), waits.run(stop))
        await asyncio.sleep(config.seconds)  # the run's length, not a synchronisation
        stop.set()
        await running
        load_seconds = loop.time() - load_start
        cpu = {
            "gateway": round((gateway.cpu_s() - cpu_start) / load_seconds, 2),
            "harness": round((time.process_time() - own_start) / load_seconds, 2),
        }
        stop_sampling.set()
        await sampling
        load_avg = _load_figure()
        recovery = await online(gateway.url, config.devices, within=30.0)
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10.0) as http:
            metrics_text = (await http.get("/metrics")).text
            bound, late_inside = gateway_late(metrics_text, config.request_timeout)
            loop_lag = loop_lag_max(metrics_text)

        applied = {s.device_id: s.applied for s in sims}
        initial = {d.id: {dp: d.status[dp] for dp, _ in TAG_DPS[d.category]} for d in manifest.devices}
        await _settle(lambda: audit_sse(listeners, applied, initial, healthy)[1], within=10.0)
        for listener in listeners:
            await listener.stop()
        cached = await _final_states(gateway.url, world, refresh=False)
        asked = await _final_states(gateway.url, world, refresh=True)
        problems += cached + asked
        await _settle(lambda: gateway.fds() > fds_before, within=10.0)
        fds_after, rss_after = gateway.fds(), gateway.rss_kib()

    tag_dps = {d.id: tuple(dp for dp, _ in TAG_DPS[d.category]) for d in manifest.devices}
    commands, command_problems = audit_commands(load.calls, applied, tag_dps)
    late, late_problems = audit_latency(load.calls, config.request_timeout, faulter.windows, lag.worst, waits.waited)
    sse, sse_problems = audit_sse(listeners, applied, initial, healthy)
    if late_problems:  # whose lateness: the gateway times each request from its head to its answer
        late_problems.append(
            f"the gateway itself timed {late_inside} device requests slower than {bound:g} s; "
            f"its event loop ran up to {loop_lag * 1000:.0f} ms late"
        )
    problems += command_problems + late_problems + sse_problems
    ref = next((s for s in sampler.samples if s[0] >= config.rss_from), sampler.samples[-1])
    end = sampler.samples[-1]
    growth = (end[1] - ref[1]) / ref[1]
    if growth >= 0.10:
        problems.append(f"RSS grew {growth:.1%} from second {ref[0]:.0f} to the end ({ref[1]} -> {end[1]} KiB)")
    if fds_after > fds_before:
        problems.append(f"open descriptors {fds_after} at the end, {fds_before} before the load")
    calls = load.calls
    errors = Counter(f"{c.status} {c.code}" for c in calls if not c.ok)
    figures: dict[str, Any] = {
        "config": {
            "seconds": config.seconds,
            "devices": config.devices,
            "faulty_devices": len(faulty),
            "clients": config.clients,
            "target_rate": config.rate,
            "sse_listeners": config.listeners,
            "request_timeout_s": config.request_timeout,
            "seed": config.seed,
        },
        "machine_load": load_avg,
        "cpu_cores_used": cpu,
        "requests": len(calls),
        "requests_per_s": round(len(calls) / load_seconds, 1),
        "by_kind": dict(Counter(c.kind for c in calls)),
        "commands": commands,
        "errors_by_code": dict(sorted(errors.items())),
        "latency": {
            kind: percentiles([c.latency for c in calls if c.kind == kind]) for kind in ("command", "read", "refresh")
        },
        "latency_ok": percentiles([c.latency for c in calls if c.ok]),
        "late_answers": late["late"],
        "late_machine_stalled": late["late_stalled"],
        "gateway_cpu_wait_share": round(
            (waits.samples[-1][1] - waits.samples[0][1]) / (waits.samples[-1][0] - waits.samples[0][0]), 3
        ),
        "client_worst_stall_ms": round(max((x for _, x in lag.lags), default=0.0) * 1000, 1),
        "gateway_histogram": {"bound_s": bound, "slower": late_inside},
        "gateway_loop_lag_max_ms": round(loop_lag * 1000, 1),
        "late_slack_s": LATE_SLACK,
        "faults": dict(Counter(mode for _, mode, _, _ in faulter.windows)),
        "recovery_s": round(recovery, 2),
        "sse": {
            **sse,
            "events": [len(lis.events) for lis in listeners],
            "lost": [lis.lost for lis in listeners],
            "healthy_devices": len(healthy),
        },
        "rss_kib": {"before_load": rss_before, f"at_{config.rss_from:g}s": ref[1], "end": end[1], "after": rss_after},
        "rss_growth": round(growth, 4),
        "fds": {"before_load": fds_before, "peak": max(s[2] for s in sampler.samples), "after": fds_after},
        "final_state_mismatches": len(cached) + len(asked),
        "problems": len(problems),
    }
    return SoakResult(figures, problems)


def markdown(result: SoakResult, command: str, crash: CrashResult | None = None) -> str:
    """The ``## Load audit`` section of RELIABILITY.md (self-contained, with the command that made it)."""
    f = result.figures
    c, cmd = f["config"], f["commands"]
    lat = f["latency"]
    errors = ", ".join(f"{k.strip()}: {v}" for k, v in f["errors_by_code"].items()) or "none"
    faults = ", ".join(f"{k} {v}" for k, v in sorted(f["faults"].items()))
    rss = f["rss_kib"]
    ref_key = next(k for k in rss if k.startswith("at_"))
    lines = [
        SECTION,
        "",
        "Nothing lost, nothing duplicated: the real gateway (`tuyagate serve`, a subprocess) in front of "
        f"{c['devices']} emulated devices (plugs, switches, lights; protocol 3.1, 3.3, 3.4, 3.5), {c['clients']} HTTP "
        f"clients paced to {c['target_rate']:g} requests/s in all (random tagged commands, cached and refreshed reads) "
        f"and {c['sse_listeners']} SSE listeners, for {c['seconds']:g} s, while faults come and go at random on "
        f"{c['faulty_devices']} devices. Every command carries a value no other command to its device uses, and every "
        "emulated device logs each command it applies, so the audit can count applications per command.",
        "",
        f"Regenerate: `{command}`. Machine load during the run: {f['machine_load']}.",
        "",
        "| Promise | Figure |",
        "| --- | --- |",
        f"| Requests answered | {f['requests']} ({f['requests_per_s']}/s): {f['by_kind'].get('command', 0)} commands, "
        f"{f['by_kind'].get('read', 0)} cached reads, {f['by_kind'].get('refresh', 0)} device reads |",
        f"| Commands answered 2xx and applied exactly once | {cmd.get('ok', 0)} of {cmd.get('ok', 0)} "
        f"(lost {cmd.get('lost', 0)}, duplicated {cmd.get('duplicated', 0)}, out of order {cmd.get('reordered', 0)}) |",
        f"| Applications no client asked for | {cmd.get('unaccounted', 0)} of {cmd.get('applications', 0)} |",
        f"| Commands refused, all with a documented code | {cmd.get('refused', 0)} (undocumented: "
        f"{cmd.get('undocumented', 0)}; applied although refused, i.e. the device's ACK came after the deadline: "
        f"{cmd.get('applied_after_error', 0)}) |",
        f"| Errors by status and code | {errors} |",
        f"| Answers later than the deadline ({c['request_timeout_s']:g} s) + {f['late_slack_s'] * 1000:.0f} ms | "
        f"{f['late_answers']} (and {f['late_machine_stalled']} more whose lateness is covered by the time the gateway "
        f"waited for a CPU or the clients' loop stalled; the gateway waited for a CPU "
        f"{f['gateway_cpu_wait_share']:.0%} of the run; its own histogram counts {f['gateway_histogram']['slower']} "
        f"device requests over {f['gateway_histogram']['bound_s']:g} s; its event loop ran at most "
        f"{f.get('gateway_loop_lag_max_ms', '-')} ms late) |",
        f"| Latency p50 / p99 / max, commands | {lat['command']['p50_ms']} / {lat['command']['p99_ms']} / "
        f"{lat['command']['max_ms']} ms |",
        f"| Latency p50 / p99 / max, cached reads | {lat['read']['p50_ms']} / {lat['read']['p99_ms']} / "
        f"{lat['read']['max_ms']} ms |",
        f"| Latency p50 / p99 / max, device reads | {lat['refresh']['p50_ms']} / {lat['refresh']['p99_ms']} / "
        f"{lat['refresh']['max_ms']} ms |",
        f"| Faults injected | {faults} |",
        f"| Every device online again after the faults cleared | {f['recovery_s']} s |",
        f"| SSE: every change of the {f['sse']['healthy_devices']} devices without faults seen, in order | "
        f"{f['sse']['listeners_checked']} of {c['sse_listeners']} listeners checked (the others reported a loss); "
        f"events per listener {f['sse']['events']}, lost {f['sse']['lost']} |",
        f"| Final state (cached and asked) equals each device's | {f['final_state_mismatches']} mismatches |",
        f"| Gateway RSS, {ref_key[3:]} into the load -> end | {rss[ref_key]} -> {rss['end']} KiB "
        f"({f['rss_growth']:+.1%}; limit +10 %) |",
        f"| Open descriptors before the load / peak / after | {f['fds']['before_load']} / {f['fds']['peak']} / "
        f"{f['fds']['after']} |",
        f"| Problems found by the audit | {f['problems']} |",
        "",
        "Faults: `late` answers after the deadline, `slow` 0.3 s late, `refuse` closes new connections, "
        "`silent` reads and never answers, `garbage` sends noise and a bad CRC before each answer, `corrupt` answers "
        "with a wrong CRC/HMAC/GCM tag, `drop` closes the connection at its second frame, `drop_requests` closes it "
        "when a request arrives, `restart` closes the port for the fault's length (1-6 s each).",
        "",
    ]
    if crash is not None:
        lines += _crash_markdown(crash)
    return "\n".join(lines)


def _crash_markdown(crash: CrashResult) -> list[str]:
    f = crash.figures
    c, cmd, rounds = f["config"], f["commands"], f["rounds"]
    online = ", ".join(f"{r['all_online_s']}" for r in rounds)
    ready = ", ".join(f"{r['ready_s']}" for r in rounds)
    return [
        "### Crash safety: kill -9 under load",
        "",
        f"The gateway (over {c['devices']} emulated devices, {c['clients']} clients paced to {c['rate']:g} requests/s) "
        f"is killed with SIGKILL {c['kills']} times in a row, each time after 5.5-9 s of load (past the registry's 5 s "
        "state flush), and restarted on the same port and data directory.",
        "",
        "| Promise | Figure |",
        "| --- | --- |",
        f"| Registry and vault intact after every kill (integrity check, {f['records']} device records, "
        f"{f['secrets']} secrets unchanged) | {sum(r['registry_and_vault_intact'] for r in rounds)} "
        f"of {c['kills']} |",
        f"| Restart to ready line, s | {ready} |",
        f"| Ready line to every device online, s (limit {RECONNECT_S:g}) | {online} |",
        f"| Cached reads after the restart that answered older values than the device's | "
        f"{sum(r['stale_devices'] for r in rounds)} |",
        f"| Commands answered 2xx before a kill, lost / applied twice | {cmd.get('ok', 0)}: {cmd.get('lost', 0)} / "
        f"{cmd.get('duplicated', 0)} |",
        f"| Requests in flight at a kill (no answer; applied at most once) | {f['in_flight_at_kills']} |",
        f"| Problems found | {f['problems']} |",
        "",
    ]


def update_reliability(path: Path, section: str) -> None:
    """Replace (or add) the Load audit section of RELIABILITY.md, leaving the other sections as they are."""
    replace_section(path, SECTION, section)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="length of the load (default 1)")
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--rate", type=float, default=160.0, help="requests/s of all clients together (paced)")
    parser.add_argument("--listeners", type=int, default=4, help="SSE listeners")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--first-ip", default="127.0.20.1", help="loopback address of the first emulated device")
    parser.add_argument("--kills", type=int, default=5, help="kill -9 rounds after the load audit (0: none)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures (and problems) here")
    parser.add_argument("--reliability", type=Path, default=None, help="replace the Load audit section of this file")
    args = parser.parse_args(argv)
    seconds = args.minutes * 60
    config = SoakConfig(
        seconds=seconds,
        devices=args.devices,
        clients=args.clients,
        rate=args.rate,
        listeners=args.listeners,
        seed=args.seed,
        first_ip=args.first_ip,
        rss_from=60.0 if seconds > 120 else 15.0,
    )
    result = asyncio.run(run_soak(config))
    crash = asyncio.run(run_crash(CrashConfig(kills=args.kills))) if args.kills > 0 else None
    problems = result.problems + (crash.problems if crash is not None else [])
    figures = {"load_audit": result.figures, "crash": crash.figures if crash is not None else None}
    print(json.dumps(figures, indent=2))
    for problem in problems[:50]:
        print("PROBLEM:", problem, file=sys.stderr)
    if args.json is not None:
        args.json.write_text(json.dumps({**figures, "problem_list": problems}, indent=2) + "\n")
    if args.reliability is not None:
        command = f".venv/bin/python -m benchmarks.soak --minutes {args.minutes:g} --reliability {args.reliability}"
        if args.json is not None:
            command += f" --json {args.json}"
        update_reliability(args.reliability, markdown(result, command, crash))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
