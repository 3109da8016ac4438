"""LAN client: tuyagate against tinytuya 1.20, same emulated devices, same run, ratios printed.

The emulated devices run in a separate process (``benchmarks.lan_devices``) so that what is
measured is the client. Four measurements (issue 3):

1. Warm round trip on a persistent connection, per protocol version: a status query (query ->
   reply) and a command (control -> ACK), p50 and p99. tinytuya runs with its default 10 ms
   send wait and with the wait set to 0.
2. Cold command: construct the client, connect, handshake (3.4/3.5), set a DP, get the ACK, close.
3. Fleet poll: the status of every device of a fleet, each on its own loopback address on port
   6668 (127.0.1.1, 127.0.1.2, ...): tuyagate with one DeviceConnection per device and
   ``asyncio.gather``; tinytuya with a 32-thread pool. Round 1 is cold (connects and handshakes
   included) for both; later rounds are warm (tuyagate keeps its connections; tinytuya is run
   once with ``persist=True`` objects kept between rounds and once as most scripts use it, a
   fresh connection per poll).
4. Memory per connected device: a fresh client process opens persistent connections (heartbeats
   on) to 1,000 emulated devices; the growth of its resident set divided by the device count.

Run: ``.venv/bin/python -m benchmarks.lan_bench`` (about a minute) or ``--quick``. Use
``--first-ip`` to move the fleet to another part of 127.0.0.0/8 if 127.0.1.x:6668 is taken.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import tinytuya

from benchmarks.lan_devices import raise_nofile
from tuyagate.lan import DeviceConnection
from tuyagate.sim.manifest import FleetManifest, ManifestDevice

VERSIONS = ("3.1", "3.3", "3.4", "3.5")


# ----------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def emulated(
    count: int,
    *,
    first_ip: str,
    port: int,
    versions: str = ",".join(VERSIONS),
    uv: bool = False,
    procs: int = 1,
) -> Iterator[list[ManifestDevice]]:
    """Start ``count`` emulated devices in ``procs`` child processes; yield their manifest entries.

    Several processes stand in better for a fleet of real devices (each has its own CPU) and keep
    the emulator from being the bottleneck that hides the clients' differences.
    """
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        share = -(-count // procs)
        paths, children = [], []
        for k in range(procs):
            offset, n = k * share, min(share, count - k * share)
            if n <= 0:
                break
            path = os.path.join(tmp, f"fleet{k}.json")
            argv = [sys.executable, "-m", "benchmarks.lan_devices", "--count", str(n), "--offset", str(offset)]
            argv += ["--first-ip", first_ip, "--port", str(port), "--versions", versions, "--manifest", path]
            proc = subprocess.Popen(
                argv + (["--uvloop"] if uv else []), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            stack.callback(_stop, proc)
            paths.append(path)
            children.append(proc)
        for proc in children:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("the emulated devices did not start (is that address range taken?)")
        yield [dev for path in paths for dev in FleetManifest.load(path).devices]


def _stop(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(ns: float) -> str:
    return f"{ns / 1e6:7.3f} ms"


def tt_device(dev: ManifestDevice, *, persist: bool, send_wait: float | None) -> Any:
    d = tinytuya.Device(
        dev.id, dev.ip, dev.local_key, version=float(dev.version), port=dev.port, persist=persist, connection_timeout=5
    )
    if send_wait is not None:
        d.set_sendWait(send_wait)
    return d


def tg_device(dev: ManifestDevice, **kwargs: Any) -> DeviceConnection:
    kwargs.setdefault("heartbeat_interval", None)
    return DeviceConnection(dev.id, dev.ip, dev.local_key, dev.version, port=dev.port, **kwargs)


def tt_ok(reply: Any) -> bool:
    return isinstance(reply, dict) and "Error" not in reply


# ----------------------------------------------------------------------------- 1 and 2: one device


class Samples:
    """Wall-clock samples (ns) and the client process's CPU time over them."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu = 0.0

    def p(self, q: float) -> float:
        return pct(self.wall, q)

    @property
    def cpu_us(self) -> float:
        return self.cpu / max(1, len(self.wall)) * 1e6


async def tg_warm(dev: ManifestDevice, n: int, op: str, out: Samples) -> None:
    async with tg_device(dev) as conn:
        for _ in range(20):
            await conn.status()
        c0 = time.process_time()
        for i in range(n):
            t0 = time.perf_counter_ns()
            if op == "status":
                await conn.status()
            else:
                await conn.set_dps({"1": i % 2 == 0})
            out.wall.append(time.perf_counter_ns() - t0)
        out.cpu += time.process_time() - c0


def tt_warm(dev: ManifestDevice, n: int, op: str, send_wait: float | None, out: Samples) -> None:
    d = tt_device(dev, persist=True, send_wait=send_wait)
    for _ in range(5 if send_wait is None else 20):
        assert tt_ok(d.status())
    c0 = time.process_time()
    for i in range(n):
        t0 = time.perf_counter_ns()
        reply = d.status() if op == "status" else d.set_status(i % 2 == 0, 1)
        out.wall.append(time.perf_counter_ns() - t0)
        assert tt_ok(reply), reply
    out.cpu += time.process_time() - c0
    d.close()


async def tg_cold(dev: ManifestDevice, n: int, out: Samples) -> None:
    for i in range(n):
        c0 = time.process_time()
        t0 = time.perf_counter_ns()
        async with tg_device(dev) as conn:
            await conn.set_dps({"1": i % 2 == 0})
        out.wall.append(time.perf_counter_ns() - t0)
        out.cpu += time.process_time() - c0
        await asyncio.sleep(0.002)  # let the device see the close, as for tinytuya below


def tt_cold(dev: ManifestDevice, n: int, out: Samples) -> None:
    for i in range(n):
        c0 = time.process_time()
        t0 = time.perf_counter_ns()
        d = tt_device(dev, persist=False, send_wait=0)
        reply = d.set_status(i % 2 == 0, 1)
        out.wall.append(time.perf_counter_ns() - t0)
        out.cpu += time.process_time() - c0
        assert tt_ok(reply), reply
        time.sleep(0.002)


def run_loop(coro: Any, uv: bool) -> None:
    if uv:
        import uvloop  # type: ignore[import-not-found,unused-ignore]

        uvloop.run(coro)
    else:
        asyncio.run(coro)


def single_device(args: argparse.Namespace) -> dict[str, Any]:
    """Blocks of tuyagate and tinytuya requests, interleaved so that machine noise hits both alike."""
    blocks, n, n_slow, n_cold = (3, 100, 30, 20) if args.quick else (10, 200, 40, 30)
    results: dict[str, Any] = {}
    with emulated(len(VERSIONS), first_ip="127.0.0.1", port=0, uv=args.devices_loop == "uvloop") as devices:
        print("\n== 1. warm round trip on a persistent connection: p50 / p99 wall, client CPU per request ==")
        print(f"{'ver':4} {'op':6} {'tuyagate':>32} {'tinytuya wait=0':>32} {'tinytuya wait=10ms':>12}  p50 ratio")
        for dev in devices:
            for op in ("status", "set"):
                tg, tt0, tt10 = Samples(), Samples(), Samples()
                for _ in range(blocks):
                    run_loop(tg_warm(dev, n, op, tg), args.client_loop == "uvloop")
                    tt_warm(dev, n, op, 0, tt0)
                tt_warm(dev, n_slow, op, None, tt10)
                ratio = tg.p(0.5) / tt0.p(0.5)
                results[f"warm_{op}_{dev.version}"] = {
                    "tuyagate_p50_ms": tg.p(0.5) / 1e6,
                    "tuyagate_p99_ms": tg.p(0.99) / 1e6,
                    "tuyagate_cpu_us": tg.cpu_us,
                    "tinytuya0_p50_ms": tt0.p(0.5) / 1e6,
                    "tinytuya0_p99_ms": tt0.p(0.99) / 1e6,
                    "tinytuya0_cpu_us": tt0.cpu_us,
                    "tinytuya10_p50_ms": tt10.p(0.5) / 1e6,
                    "ratio_p50": ratio,
                }
                print(
                    f"{dev.version:4} {op:6} {ms(tg.p(0.5))} /{ms(tg.p(0.99))} {tg.cpu_us:4.0f}us "
                    f"{ms(tt0.p(0.5))} /{ms(tt0.p(0.99))} {tt0.cpu_us:4.0f}us {ms(tt10.p(0.5))}"
                    f"  {ratio:.2f}x {'ok' if ratio <= 0.6 else 'MISSED'} (target <= 0.6x)"
                )
        print("\n== 2. cold command: connect + handshake + set + ACK: p50 / p99 wall, client CPU per command ==")
        for dev in devices:
            tg, tt = Samples(), Samples()
            for _ in range(blocks):
                run_loop(tg_cold(dev, n_cold, tg), args.client_loop == "uvloop")
                tt_cold(dev, n_cold, tt)
            ratio = tg.p(0.5) / tt.p(0.5)
            results[f"cold_{dev.version}"] = {
                "tuyagate_p50_ms": tg.p(0.5) / 1e6,
                "tuyagate_cpu_us": tg.cpu_us,
                "tinytuya0_p50_ms": tt.p(0.5) / 1e6,
                "tinytuya0_cpu_us": tt.cpu_us,
                "ratio_p50": ratio,
            }
            print(
                f"{dev.version:4} tuyagate {ms(tg.p(0.5))} /{ms(tg.p(0.99))} {tg.cpu_us:4.0f}us   "
                f"tinytuya(wait=0) {ms(tt.p(0.5))} /{ms(tt.p(0.99))} {tt.cpu_us:4.0f}us   "
                f"{ratio:.2f}x {'ok' if ratio <= 1.0 else 'MISSED'} (target <= 1x)"
            )
    return results


# ----------------------------------------------------------------------------- 3: fleet poll

Round = tuple[float, int, float]  # wall seconds, failed polls, client CPU seconds
TT_SETUPS = {  # name: (persist, send_wait)
    "tinytuya 32 threads, persistent": (True, None),
    "tinytuya 32 threads, new conn per poll": (False, None),
    "tinytuya 32 thr, new conn, wait=0": (False, 0.0),
}


def tt_round(pool: ThreadPoolExecutor, objs: list[Any]) -> Round:
    poll: Callable[[Any], Any] = lambda d: d.status()  # noqa: E731
    c0, t0 = time.process_time(), time.perf_counter()
    replies = list(pool.map(poll, objs))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall, sum(not tt_ok(r) for r in replies), cpu


async def fleet_rounds(devices: list[ManifestDevice], rounds: int) -> dict[str, list[Round]]:
    """All rounds of tuyagate, then of each tinytuya setup.

    Not interleaved round by round: a device serves one client at a time, so another client's
    connection would evict the persistent ones being measured.
    """
    out: dict[str, list[Round]] = {"tuyagate": [], **{name: [] for name in TT_SETUPS}}
    conns = [tg_device(dev, timeout=10.0) for dev in devices]
    try:
        for _ in range(rounds):
            c0, t0 = time.process_time(), time.perf_counter()
            replies = await asyncio.gather(*(c.status() for c in conns), return_exceptions=True)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            out["tuyagate"].append((wall, sum(not isinstance(r, dict) for r in replies), cpu))
    finally:
        for c in conns:
            await c.close()
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(32) as pool:
        for name, (persist, wait) in TT_SETUPS.items():
            objs = [tt_device(d, persist=persist, send_wait=wait) for d in devices]
            for _ in range(rounds):
                out[name].append(await loop.run_in_executor(None, tt_round, pool, objs))
            for d in objs:
                d.close()
    return out


def fleet(args: argparse.Namespace) -> dict[str, Any]:
    count = 100 if args.quick else args.fleet
    rounds = 4 if args.quick else 7
    print(f"\n== 3. poll the status of {count} devices on {args.first_ip}.. port 6668 (3.1/3.3/3.4/3.5 mixed) ==")
    print("round 1 is cold (connect + handshake) for everyone, then warm rounds: best, median, client CPU")
    uv = args.devices_loop == "uvloop"
    with emulated(count, first_ip=args.first_ip, port=6668, uv=uv, procs=args.device_procs) as devices:
        holder: list[dict[str, list[Round]]] = []

        async def run() -> None:
            holder.append(await fleet_rounds(devices, rounds))

        run_loop(run(), args.client_loop == "uvloop")
    results = holder[0]
    print(f"{'client':40} {'cold':>7} {'warm best':>10} {'median':>7} {'CPU/warm':>9} errors")
    for name, runs in results.items():
        label = f"tuyagate ({args.client_loop}, persistent)" if name == "tuyagate" else name
        warm = runs[1:]
        print(
            f"{label:40} {runs[0][0]:6.3f}s {min(r[0] for r in warm):9.3f}s "
            f"{statistics.median(r[0] for r in warm):6.3f}s {statistics.median(r[2] for r in warm):8.3f}s "
            f"{sum(r[1] for r in runs)}"
        )

    def best(name: str) -> float:
        return min(r[0] for r in results[name][1:])

    def med(name: str, i: int = 0) -> float:
        return statistics.median(r[i] for r in results[name][1:])

    names = list(TT_SETUPS)
    tg_best, tg_med = best("tuyagate"), med("tuyagate")
    print(
        f"warm ratios tinytuya/tuyagate (best; median): persistent {best(names[0]) / tg_best:.1f}x; "
        f"{med(names[0]) / tg_med:.1f}x, CPU {med(names[0], 2) / med('tuyagate', 2):.1f}x | new conn per poll "
        f"{best(names[1]) / tg_best:.1f}x; {med(names[1]) / tg_med:.1f}x | new conn, wait=0 "
        f"{best(names[2]) / tg_best:.1f}x; {med(names[2]) / tg_med:.1f}x | cold round "
        f"{results[names[0]][0][0] / results['tuyagate'][0][0]:.1f}x.  Target >= 5x and < 2 s"
    )
    return {"fleet": count, "rounds": results}


# ----------------------------------------------------------------------------- 4: memory


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def _memory_client(devices: list[ManifestDevice]) -> dict[str, Any]:
    async with tg_device(devices[0]) as warm:  # first-use allocations (imports, caches) are not per device
        await warm.status()
        await warm.set_dps({"1": True})
    gc.collect()
    before = rss_bytes()
    conns = [tg_device(dev, heartbeat_interval=10.0, timeout=20.0) for dev in devices]
    replies = await asyncio.gather(*(c.status() for c in conns), return_exceptions=True)
    await asyncio.sleep(0.5)
    gc.collect()
    after = rss_bytes()
    connected = sum(c.connected for c in conns)
    for c in conns:
        await c.close()
    return {
        "devices": len(devices),
        "connected": connected,
        "errors": sum(not isinstance(r, dict) for r in replies),
        "rss_before": before,
        "rss_after": after,
        "per_device_bytes": (after - before) / max(1, connected),
    }


def memory(args: argparse.Namespace) -> dict[str, Any]:
    count = 200 if args.quick else args.memory
    print(f"\n== 4. memory per connected device, {count} persistent connections ==")
    with (
        tempfile.TemporaryDirectory() as tmp,
        emulated(
            count, first_ip=args.first_ip, port=6668, uv=args.devices_loop == "uvloop", procs=args.device_procs
        ) as devices,
    ):
        path = os.path.join(tmp, "m.json")
        FleetManifest(devices).save(path)
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.lan_bench", "--memory-client", path],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    per = result["per_device_bytes"] / 1024
    print(
        f"{result['connected']}/{result['devices']} connected, {result['errors']} errors; client RSS "
        f"{result['rss_before'] / 2**20:.1f} MiB -> {result['rss_after'] / 2**20:.1f} MiB: "
        f"{per:.1f} KiB per device ({'ok' if per <= 100 else 'MISSED'}, target <= 100 KB)"
    )
    return result


# ----------------------------------------------------------------------------- main


def _has_uvloop() -> bool:
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer samples and devices (a few seconds)")
    parser.add_argument("--fleet", type=int, default=500, help="fleet size for the poll (default 500)")
    parser.add_argument("--memory", type=int, default=1000, help="connections for the memory figure (default 1000)")
    parser.add_argument("--first-ip", default="127.0.1.1", help="first loopback address of the fleets")
    parser.add_argument("--only", choices=["single", "fleet", "memory"], help="run one part")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    parser.add_argument(
        "--devices-loop",
        choices=["asyncio", "uvloop"],
        default="uvloop" if _has_uvloop() else "asyncio",
        help="event loop of the emulated devices (default uvloop when installed: a faster stand-in for real "
        "devices, so that the clients' own costs show)",
    )
    parser.add_argument("--device-procs", type=int, default=2, help="processes running the emulated fleets (default 2)")
    parser.add_argument(
        "--client-loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="event loop of tuyagate (default asyncio)",
    )
    parser.add_argument("--memory-client", metavar="MANIFEST", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    raise_nofile()
    if args.memory_client:
        print(json.dumps(asyncio.run(_memory_client(FleetManifest.load(args.memory_client).devices))))
        return
    print(
        f"tuyagate LAN client vs tinytuya {tinytuya.__version__}, "
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
        f"emulated devices on {args.devices_loop}, tuyagate on {args.client_loop}"
    )
    figures: dict[str, Any] = {}
    if args.only in (None, "single"):
        figures["single"] = single_device(args)
    if args.only in (None, "fleet"):
        figures["fleet"] = fleet(args)
    if args.only in (None, "memory"):
        figures["memory"] = memory(args)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(figures, fh, indent=2)


if __name__ == "__main__":
    main()
