"""Like-for-like gateway load: the same devices and one load generator (wrk) for any HTTP gateway.

The gateway runs as ``tuyagate serve`` does (uvicorn on uvloop, one process) in front of the real
router and ``--devices`` emulated devices speaking the Tuya LAN protocol in another process. The
load generator is **wrk** (Debian's ``wrk`` 4.1: C, epoll, its own HdrHistogram), the same
program whatever server is measured, so two gateways compare on equal terms; it is installed with
``apt-get install wrk`` when missing and this runs as root, and otherwise the benchmark stops
saying how to install it. Three phases, each ``--seconds`` long with ``--connections`` keep-alive
connections on ``--threads`` threads, requests spread round-robin over every device:

- cached reads: ``GET /api/v1/devices/{id}/status`` (the router's last known state);
- forced-fresh reads: ``GET /api/v1/devices/{id}/status?refresh=true`` (each one asks the device);
- commands: ``POST /api/v1/devices/{id}/commands`` with ``{"dps": {"1": ...}}``.

wrk is a closed-loop generator (a connection sends again once answered), so its percentiles are
those of a saturated server; ``--rate`` adds open-loop phases of the async generator of
``benchmarks.gateway_bench`` (latency from each request's scheduled time) at that many requests
per second. The gateway's own CPU per request is read from /proc.

The gateway's CPU per request moves by tens of percent between runs when its process, the devices
and wrk are left to share both cores as the scheduler likes (how well work batches per event-loop
turn depends on who runs beside whom). ``--pin`` puts the gateway alone on core 0 and the devices
and wrk on the others: throughput is then the gateway's one core, and its CPU per request is
steady enough to compare two versions of the code run after run.

Another server is measured with the same wrk phases through ``--url`` (a template with ``{id}``)
and ``--ids``; only the phases its API has. tinytuya's API server has its own runner, which starts
it and its devices too: ``benchmarks.tinytuya_server_peer`` (BENCHMARKS.md section 12).

    .venv/bin/python -m benchmarks.gateway_load [--devices 20] [--connections 16] [--threads 2] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # so `benchmarks.*` resolves when run as a script
    sys.path.insert(0, str(ROOT))

from benchmarks.gateway_bench import _cpu_seconds, _phase, _server_process, stop_process  # noqa: E402

PHASES = ("cached", "fresh", "commands")

# The Lua side of wrk: round-robin over the devices (each thread starts at its own offset), and a
# summary line of JSON at the end with HdrHistogram percentiles in microseconds.
_LUA = """
local ids = {%(ids)s}
local template = "%(template)s"
local kind = "%(kind)s"
local bodies = {'{"dps": {"1": true}}', '{"dps": {"1": false}}'}
local threads = {}
local counter = 0

function setup(thread)
  thread:set("offset", #threads * 7)
  table.insert(threads, thread)
end

function init(args)
  counter = offset or 0
end

function request()
  counter = counter + 1
  local id = ids[(counter %% #ids) + 1]
  local path = string.gsub(template, "{id}", id)
  if kind == "commands" then
    return wrk.format("POST", path, {["Content-Type"] = "application/json"}, bodies[(counter %% 2) + 1])
  end
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local e = summary.errors
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("bad") or 0) end
  io.write(string.format(
    'WRK-JSON {"requests": %%d, "duration_us": %%d, "non2xx": %%d, "socket_errors": %%d, "error_bodies": %%d, ' ..
    '"p50": %%d, "p90": %%d, "p99": %%d, "p999": %%d, "max": %%d, "mean": %%f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout, bad,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
"""

# With an error marker: a 2xx answer whose body holds it is an error too (servers that report failures
# in a 200's body). Only then, since defining response() makes wrk hand every body to Lua.
_LUA_MARKER = """
bad = 0
local marker = %(marker)s

function response(status, headers, body)
  if body and string.find(body, marker, 1, true) then bad = bad + 1 end
end
"""


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package when missing and possible; exits with advice otherwise."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("== wrk is missing: installing Debian's wrk (apt-get install wrk) for the load generator", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, env=env)
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit(
        "wrk (the load generator of this benchmark) is not installed and cannot be installed here: "
        "run `sudo apt-get install wrk` (Debian/Ubuntu) or build it from https://github.com/wg/wrk"
    )


def wrk_phase(
    wrk: str,
    base: str,
    template: str,
    ids: list[str],
    kind: str,
    *,
    threads: int,
    connections: int,
    seconds: float,
    error_marker: str | None = None,
) -> dict[str, Any]:
    """One wrk run; its summary (requests/s, errors, percentiles in ms). ``error_marker``: a string whose
    presence in an answer's body makes it an error (counted apart as ``error_bodies`` too)."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp, "phase.lua")
        quoted = ", ".join(json.dumps(i) for i in ids)
        lua = _LUA % {"ids": quoted, "template": template, "kind": kind}
        if error_marker is not None:
            lua += _LUA_MARKER % {"marker": json.dumps(error_marker)}
        script.write_text(lua)
        command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(script)]
        spent = _children_cpu()
        out = subprocess.run([*command, base], capture_output=True, text=True, check=True, timeout=seconds + 60)
        spent = _children_cpu() - spent
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("WRK-JSON "))
    raw = json.loads(line.removeprefix("WRK-JSON "))
    result: dict[str, Any] = {
        "requests": raw["requests"],
        "rate": raw["requests"] / (raw["duration_us"] / 1e6),
        "errors": raw["non2xx"] + raw["socket_errors"] + raw["error_bodies"],
        "error_bodies": raw["error_bodies"],
        "wrk_cpu_us": spent / max(1, raw["requests"]) * 1e6,
    }
    result.update({q: raw[q] / 1000 for q in ("p50", "p90", "p99", "p999", "max", "mean")})
    return result


TEMPLATES = {
    "cached": "/api/v1/devices/{id}/status",
    "fresh": "/api/v1/devices/{id}/status?refresh=true",
    "commands": "/api/v1/devices/{id}/commands",
}


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (wrk, once it has exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _descendants(pid: int) -> list[int]:
    """The processes ``pid`` started (the emulated devices of the gateway's process), from /proc."""
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            found += [int(child), *_descendants(int(child))]
    return found


def _device_ids(port: int) -> list[str]:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/devices", timeout=10) as answer:
        devices = json.load(answer)["devices"]
    return [d["id"] for d in devices if d["category"] == "cz"]  # plugs: DP 1 is switch_1


HEADER = f"{'phase':<22}{'req/s':>9}{'errors':>7}{'p50 ms':>8}{'p90':>8}{'p99':>8}{'p99.9':>8}{'max':>8}"


def print_row(name: str, r: dict[str, Any], cpu_us: float | None, *, who: str = "gateway") -> None:
    """One phase's row under ``HEADER``; with ``cpu_us`` (the measured server's CPU per request, named
    ``who``) also the devices' and wrk's CPU per request and the rate at which they fill every core."""
    cpu = ""
    if cpu_us is not None:
        total = cpu_us + r["devices_cpu_us"] + r["wrk_cpu_us"]
        ceiling = (os.cpu_count() or 1) / (total / 1e6)
        cpu = (
            f"  CPU us/req: {who} {cpu_us:.0f}, devices {r['devices_cpu_us']:.0f}, wrk {r['wrk_cpu_us']:.0f}"
            f" (all cores busy at {ceiling:,.0f} req/s)"
        )
    print(
        f"{name:<22}{r['rate']:>9.0f}{r['errors']:>7}{r['p50']:>8.2f}{r['p90']:>8.2f}{r['p99']:>8.2f}"
        f"{r['p999']:>8.2f}{r['max']:>8.1f}{cpu}"
    )


def measured_phase(
    args: argparse.Namespace, wrk: str, base: str, kind: str, ids: list[str], server_pid: int
) -> dict[str, Any]:
    """One wrk phase after a one-second warm-up, with the CPU per request of the server process
    (``server_cpu_us``) and of the processes it started, the emulated devices (``devices_cpu_us``)."""
    wrk_phase(wrk, base, TEMPLATES[kind], ids, kind, threads=1, connections=4, seconds=1)
    devices = _descendants(server_pid)
    before = _cpu_seconds(server_pid)
    devices_before = sum(_cpu_seconds(pid) for pid in devices)
    r = wrk_phase(
        wrk, base, TEMPLATES[kind], ids, kind, threads=args.threads, connections=args.connections, seconds=args.seconds
    )
    requests = max(1, r["requests"])
    r["server_cpu_us"] = (_cpu_seconds(server_pid) - before) / requests * 1e6
    r["devices_cpu_us"] = (sum(_cpu_seconds(pid) for pid in devices) - devices_before) / requests * 1e6
    return r


def _pin(server_pid: int) -> str:
    """The gateway's threads on core 0; this process (so wrk), and the devices, on the other cores."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return "not pinned: one core"
    rest = set(cores[1:])
    os.sched_setaffinity(0, rest)
    for pid in _descendants(server_pid):
        for task in Path(f"/proc/{pid}/task").iterdir():
            os.sched_setaffinity(int(task.name), rest)
    for task in Path(f"/proc/{server_pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), {cores[0]})
    return f"gateway pinned to core {cores[0]}, devices and wrk to {','.join(map(str, sorted(rest)))}"


def run_tuyagate(args: argparse.Namespace, wrk: str) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    port_queue = ctx.Queue()
    server = ctx.Process(target=_server_process, args=(args.devices, port_queue, True, not args.no_freeze), daemon=True)
    server.start()
    results: dict[str, Any] = {}
    try:
        port = port_queue.get(timeout=60)
        assert server.pid is not None
        ids = _device_ids(port)
        base = f"http://127.0.0.1:{port}"
        pinned = f"; {_pin(server.pid)}" if args.pin else ""
        print(
            f"tuyagate gateway (uvicorn on uvloop, start-up heap {'not ' if args.no_freeze else ''}frozen), "
            f"{len(ids)} emulated LAN devices; wrk {args.threads} threads, "
            f"{args.connections} connections, {args.seconds:g} s per phase; load {os.getloadavg()[0]:.1f}{pinned}"
        )
        print(HEADER)
        for kind in args.phases.split(","):
            r = measured_phase(args, wrk, base, kind, ids, server.pid)
            results[kind] = r
            print_row(kind, r, r["server_cpu_us"])
        for rate in args.rate:
            for kind in ("fresh", "commands") if rate else ():
                paced = asyncio.run(
                    _phase("fresh-reads" if kind == "fresh" else "commands", port, ids, args.connections, 5.0, rate)
                )
                r = {
                    "rate": paced.rate,
                    "errors": paced.errors,
                    **{k: paced.percentile(q) for k, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999))},
                    "max": max(paced.latencies) * 1000 if paced.latencies else float("nan"),
                }
                results[f"{kind}@{rate:g}"] = r
                print_row(f"{kind} paced {rate:g}/s", r, None)
    finally:
        stop_process(server)
    return results


def run_floor(args: argparse.Namespace, wrk: str) -> dict[str, Any]:
    """The same wrk phases on the bare server of ``benchmarks.gateway_floor`` (HTTP alone, no gateway)."""
    from benchmarks.gateway_floor import floor_process

    ctx = multiprocessing.get_context("spawn")
    port_queue = ctx.Queue()
    server = ctx.Process(target=floor_process, args=(port_queue,), daemon=True)
    server.start()
    results: dict[str, Any] = {}
    try:
        port = port_queue.get(timeout=60)
        assert server.pid is not None
        if args.pin:
            _pin(server.pid)
        base = f"http://127.0.0.1:{port}"
        ids = [f"bf{n:018d}" for n in range(args.devices)]
        print(
            "the floor: the same HTTP server and protocol with an app that answers at once (benchmarks.gateway_floor)"
        )
        for kind in args.phases.split(","):
            if kind == "fresh":
                continue  # a GET, as cached reads: the floor does not tell them apart
            r = measured_phase(args, wrk, base, kind, ids, server.pid)
            results[f"floor {kind}"] = r
            print_row(f"floor {'GET' if kind == 'cached' else 'POST'}", r, r["server_cpu_us"], who="server")
    finally:
        stop_process(server)
    return results


def run_other(args: argparse.Namespace, wrk: str) -> dict[str, Any]:
    """The same wrk phases against another server: ``--url`` is e.g. http://127.0.0.1:8888/status/{id}."""
    from urllib.parse import urlsplit

    parts = urlsplit(args.url)
    base, template = f"{parts.scheme}://{parts.netloc}", parts.path + (f"?{parts.query}" if parts.query else "")
    ids = args.ids.split(",")
    print(f"{args.url}: {len(ids)} devices; wrk {args.threads} threads, {args.connections} connections")
    r = wrk_phase(
        wrk, base, template, ids, "reads", threads=args.threads, connections=args.connections, seconds=args.seconds
    )
    print_row("reads", r, None)
    return {"reads": r}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--rate",
        type=float,
        action="append",
        default=[],
        help="also run open-loop forced-fresh reads and commands at this many requests/s (repeatable)",
    )
    parser.add_argument("--phases", default=",".join(PHASES), help=f"phases to run (default {','.join(PHASES)})")
    parser.add_argument(
        "--no-freeze", action="store_true", help="leave the start-up heap unfrozen (what gc.freeze changes)"
    )
    parser.add_argument("--url", help="measure another server instead: a URL template with {id}")
    parser.add_argument("--ids", help="with --url: the device ids, comma-separated")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="then the same phases on a bare server (HTTP alone: benchmarks.gateway_floor)",
    )
    parser.add_argument(
        "--pin", action="store_true", help="the gateway alone on core 0, devices and wrk on the others (steadier CPU)"
    )
    args = parser.parse_args(argv)
    wrk = ensure_wrk()
    if args.url and not args.ids:
        parser.error("--url needs --ids")
    results = run_other(args, wrk) if args.url else run_tuyagate(args, wrk)
    if args.floor:
        results.update(run_floor(args, wrk))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
