"""Gateway HTTP throughput and tail latency on loopback.

The gateway runs in its own process (uvicorn, one worker) in front of the real router and emulated
devices speaking the Tuya LAN protocol in a third process; the load generator is a minimal
keep-alive HTTP/1.1 client on raw asyncio streams in this process, so the figures measure the
gateway rather than a heavyweight client library. Two phases:
cached status reads (``GET /api/v1/devices/{id}/status``) and commands
(``POST /api/v1/devices/{id}/commands``), each with ``--clients`` concurrent connections spread over
all devices. Targets on a 2-core machine: >= 2,000 reads/s, >= 500 commands/s, p99 <= 50 ms.

    .venv/bin/python -m benchmarks.gateway_bench [--devices 50] [--clients 64] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # so `benchmarks.lan_devices` resolves when run as a script
    sys.path.insert(0, str(ROOT))

TARGETS = {"reads": 2000.0, "commands": 500.0, "p99_ms": 50.0}


async def _lan_manager(devices: int, data_dir: Path, *, uv: bool = False) -> tuple[Any, subprocess.Popen[str]]:
    """The real router over emulated devices speaking the LAN protocol in another process, opened as a
    library user would: ``tuyagate.open_home`` on a data dir whose registry lists them. ``uv`` runs
    the devices on uvloop (real devices cost the gateway's machine nothing; the emulator should cost
    it as little as it can)."""
    import tuyagate
    from tuyagate.devices.manifest_import import parse_fleet_manifest
    from tuyagate.devices.registry import Registry
    from tuyagate.devices.tinytuya_import import write_import
    from tuyagate.devices.vault import Vault

    manifest_path = data_dir / "fleet.json"
    command = [sys.executable, "-m", "benchmarks.lan_devices", "--count", str(devices), "--first-ip", "127.0.9.1"]
    command += ["--port", "0", "--manifest", str(manifest_path), *(["--uvloop"] if uv else [])]
    # a blocking start on purpose: nothing else runs in this process until the fleet is up
    emulators = subprocess.Popen(  # noqa: ASYNC220
        command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert emulators.stdout is not None
    if emulators.stdout.readline().strip() != "ready":
        raise RuntimeError("the emulated fleet did not start")
    registry = Registry.open(data_dir)
    try:
        vault = Vault.open(registry.db, data_dir)
        write_import(parse_fleet_manifest(json.loads(manifest_path.read_text())), registry, vault)
    finally:
        registry.close()
    return await tuyagate.open_home(data_dir, cloud=False), emulators


def _server_process(devices: int, port_queue: Any, uv: bool = False, freeze: bool | None = None) -> None:
    """The gateway's process; ``uv`` runs it as ``tuyagate serve`` does: on uvloop, start-up heap frozen
    (``freeze=False`` leaves the heap as it is, to measure what freezing changes)."""
    import logging

    from tuyagate.cli.main import run_async
    from tuyagate.gateway.app import create_app
    from tuyagate.gateway.server import freeze_startup_heap, serve_app
    from tuyagate.gateway.settings import GatewaySettings

    logging.basicConfig(level=logging.WARNING)

    async def main() -> None:
        with tempfile.TemporaryDirectory() as data_dir:
            manager, emulators = await _lan_manager(devices, Path(data_dir), uv=uv)
            settings = GatewaySettings(data_dir=Path(data_dir), request_timeout=5.0)
            served = await serve_app(create_app(settings, manager), "127.0.0.1", 0)
            if uv if freeze is None else freeze:
                freeze_startup_heap()
            port_queue.put(served.port)
            try:
                await served.wait()
            finally:
                emulators.kill()

    if uv:
        run_async(main())
    else:
        asyncio.run(main())


def stop_process(process: Any) -> None:
    """Stop a benchmark's server process (``multiprocessing.Process``): TERM, then KILL after 10 s."""
    process.terminate()
    process.join(10)
    if process.is_alive():
        process.kill()
        process.join(5)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to report cost per request independently of
    how busy the rest of the machine is."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class PhaseResult:
    name: str
    kind: str
    paced: float | None
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    server_cpu: float = float("nan")  # CPU seconds the gateway process used during the phase

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class Connection:
    """One keep-alive HTTP/1.1 connection; just enough protocol for JSON answers with Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(self, method: str, path: str, body: bytes = b"") -> int:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        header = await self.reader.readuntil(b"\r\n\r\n")
        status = int(header[9:12])
        length = 0
        for line in header.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length:
            await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def _phase(
    kind: str, port: int, device_ids: list[str], clients: int, seconds: float, rate: float | None = None
) -> PhaseResult:
    """Closed loop (each client sends its next request as soon as it has the answer) or, with
    ``rate``, paced: the clients together send ``rate`` requests per second on a fixed schedule and
    latency counts from the scheduled time, so a stalled server cannot hide its queue."""
    connections = [await Connection.open(port) for _ in range(clients)]
    latencies: list[float] = []
    errors = 0
    interval = clients / rate if rate else 0.0

    async def worker(i: int, conn: Connection) -> None:
        nonlocal errors
        n = i
        scheduled = begin + interval * i / clients
        while time.perf_counter() < deadline:
            device = device_ids[n % len(device_ids)]
            if rate:
                await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
                start = scheduled
                scheduled += interval
            else:
                start = time.perf_counter()
            if kind in ("reads", "fresh-reads"):
                query = "?refresh=true" if kind == "fresh-reads" else ""
                status = await conn.request("GET", f"/api/v1/devices/{device}/status{query}")
            else:
                body = json.dumps({"dps": {"1": bool(n % 2)}}).encode()
                status = await conn.request("POST", f"/api/v1/devices/{device}/commands", body)
            latencies.append(time.perf_counter() - start)
            if status != 200:
                errors += 1
            n += clients

    # Warm-up so connection set-up and first-request costs are not measured.
    for conn in connections:
        await conn.request("GET", "/healthz")
    begin = time.perf_counter()
    deadline = begin + seconds
    await asyncio.gather(*(worker(i, c) for i, c in enumerate(connections)))
    elapsed = time.perf_counter() - begin
    for conn in connections:
        await conn.close()
    name = f"{kind}@{rate:.0f}/s" if rate else kind
    return PhaseResult(name, kind, rate, len(latencies), errors, elapsed, latencies)


async def _run(port: int, pid: int, clients: int, seconds: float) -> list[PhaseResult]:
    conn = await Connection.open(port)
    conn.writer.write(b"GET /api/v1/devices HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    header = await conn.reader.readuntil(b"\r\n\r\n")
    length = next(int(h.split(b":")[1]) for h in header.split(b"\r\n") if h.lower().startswith(b"content-length"))
    devices = json.loads(await conn.reader.readexactly(length))["devices"]
    await conn.close()
    ids = [d["id"] for d in devices if d["category"] == "cz"]  # plugs: DP 1 is switch_1
    results = []
    plan: list[tuple[str, float | None]] = [("reads", None), ("commands", None)]
    plan += [("reads", TARGETS["reads"]), ("commands", TARGETS["commands"])]
    for kind, rate in plan:
        before = _cpu_seconds(pid)
        result = await _phase(kind, port, ids, clients, seconds, rate)
        result.server_cpu = _cpu_seconds(pid) - before
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)

    ctx = multiprocessing.get_context("spawn")
    port_queue = ctx.Queue()
    server = ctx.Process(target=_server_process, args=(args.devices, port_queue), daemon=True)
    server.start()
    try:
        port = port_queue.get(timeout=60)
        assert server.pid is not None
        results = asyncio.run(_run(port, server.pid, args.clients, args.seconds))
    finally:
        stop_process(server)

    print(
        f"gateway benchmark: {args.devices} emulated LAN devices, {args.clients} concurrent keep-alive clients, "
        "loopback"
    )
    print("closed loop = every client sends again as soon as answered (throughput); paced = the target rate")
    print(f"{'phase':<18}{'requests':>9}{'errors':>7}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}  target")
    ok = True
    for r in results:
        target = TARGETS[r.kind]
        p50, p99 = r.percentile(0.50), r.percentile(0.99)
        if r.paced:
            met = r.rate >= 0.97 * target and p99 <= TARGETS["p99_ms"] and r.errors == 0
            goal = f"{target:.0f}/s with p99 <= {TARGETS['p99_ms']:.0f} ms"
        else:
            met = r.rate >= target and r.errors == 0
            goal = f">= {target:.0f}/s"
        ok = ok and met
        print(
            f"{r.name:<18}{r.requests:>9}{r.errors:>7}{r.rate:>8.0f}{p50:>8.1f}{p99:>8.1f}"
            f"  {goal}: {'met' if met else 'MISSED'}"
        )
        if r.latencies:
            per_request = r.server_cpu / max(1, r.requests) * 1e6
            print(
                f"{'':<18}mean {statistics.fmean(r.latencies) * 1000:.1f} ms, max {max(r.latencies) * 1000:.1f} ms; "
                f"gateway CPU {per_request:.0f} us/request (= {1e6 / per_request:.0f} req/s per core)"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
