"""Part 3 of ``benchmarks.lan_bench``: poll a fleet, each device on its own loopback address on port 6668.

tuyagate with one DeviceConnection per device and ``asyncio.gather``; rustuya from a thread pool
(its calls block with the GIL released); tinytuya with a 32-thread pool, once with ``persist=True``
objects kept between rounds and once as most scripts use it (a fresh connection per poll). Each
client's first round is cold (connects and handshakes included), its later rounds warm.

Clients cannot be interleaved round by round (a device serves one client at a time, so another
client's connection would evict the persistent ones being measured), so the whole sequence of
clients is repeated ``--fleet-reps`` times instead and the medians are taken over all repetitions:
a burst of load from the rest of the machine then hits every client alike.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks import rustuya_peer, tuyamock_devices
from benchmarks.lan_bench import emulated, run_loop, tg_device, tt_device, tt_ok
from tuyagate.sim.manifest import ManifestDevice

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


async def one_pass(devices: list[ManifestDevice], rounds: int, ru_threads: int, out: dict[str, list[Round]]) -> None:
    """``rounds`` rounds of tuyagate, then of rustuya (persistent), then of each tinytuya setup."""
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
    if "rustuya" in out:
        with ThreadPoolExecutor(ru_threads) as pool:
            objs = [rustuya_peer.device(d) for d in devices]
            for _ in range(rounds):
                out["rustuya"].append(await loop.run_in_executor(None, rustuya_peer.fleet_round, pool, objs))
            for d in objs:
                rustuya_peer.release(d)
        await asyncio.sleep(3 * rustuya_peer.COLD_PAUSE)  # until the devices have seen rustuya's closes
    with ThreadPoolExecutor(32) as pool:
        for name, (persist, wait) in TT_SETUPS.items():
            objs = [tt_device(d, persist=persist, send_wait=wait) for d in devices]
            for _ in range(rounds):
                out[name].append(await loop.run_in_executor(None, tt_round, pool, objs))
            for d in objs:
                d.close()


def fleet_once(args: argparse.Namespace, count: int, emulator: str) -> dict[str, Any]:
    rounds, reps = (4, 1) if args.quick else (6, args.fleet_reps)
    ru = "rustuya" in args.peers and rustuya_peer.module() is not None
    print(
        f"\n== 3. poll {count} devices on {args.first_ip}.. port 6668 (3.1/3.3/3.4/3.5 mixed), {emulator} "
        f"emulator: {reps} passes of {rounds} rounds per client =="
    )
    uv = args.devices_loop == "uvloop"
    with emulated(count, first_ip=args.first_ip, port=6668, uv=uv, procs=args.device_procs, emulator=emulator) as devs:
        names = ["tuyagate", *(["rustuya"] if ru else []), *TT_SETUPS]
        passes: list[dict[str, list[Round]]] = []

        async def run() -> None:
            for _ in range(reps):
                out: dict[str, list[Round]] = {name: [] for name in names}
                await one_pass(devs, rounds, args.rustuya_threads, out)
                passes.append(out)

        run_loop(run(), args.client_loop == "uvloop")
    cold = {n: [p[n][0] for p in passes] for n in names}
    warm = {n: [r for p in passes for r in p[n][1:]] for n in names}

    def med(rs: list[Round], i: int = 0) -> float:
        return statistics.median(r[i] for r in rs)

    print(f"{'client':40} {'cold med':>8} {'warm best':>10} {'median':>7} {'CPU/warm':>9} errors")
    for name in names:
        label = {
            "tuyagate": f"tuyagate ({args.client_loop}, persistent)",
            "rustuya": f"rustuya {args.rustuya_threads} threads, persistent",
        }.get(name, name)
        print(
            f"{label:40} {med(cold[name]):7.3f}s {min(r[0] for r in warm[name]):9.3f}s {med(warm[name]):6.3f}s "
            f"{med(warm[name], 2):8.3f}s {sum(r[1] for r in cold[name] + warm[name])}"
        )
    peers = names[1:]
    peer = min(peers, key=lambda n: med(warm[n]))
    cold_peer = min(peers, key=lambda n: med(cold[n]))
    summary = {
        "passes": reps,
        "rounds": rounds,
        "warm_median_s": {n: med(warm[n]) for n in names},
        "warm_best_s": {n: min(r[0] for r in warm[n]) for n in names},
        "warm_cpu_s": {n: med(warm[n], 2) for n in names},
        "cold_median_s": {n: med(cold[n]) for n in names},
        "errors": {n: sum(r[1] for r in cold[n] + warm[n]) for n in names},
        "faster_peer": peer,
        "ratio_warm": med(warm["tuyagate"]) / med(warm[peer]),
        "ratio_warm_cpu": med(warm["tuyagate"], 2) / med(warm[peer], 2),
        "cold_faster_peer": cold_peer,
        "ratio_cold": med(cold["tuyagate"]) / med(cold[cold_peer]),
    }
    print(
        f"tuyagate / faster peer: warm round median {summary['ratio_warm']:.2f}x, CPU "
        f"{summary['ratio_warm_cpu']:.2f}x ({peer}); cold round {summary['ratio_cold']:.2f}x ({cold_peer})"
    )
    return summary


def fleet(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [100] if args.quick else [int(n) for n in args.fleet.split(",")]
    emulators = ["tuyagate", "tuyamock"] if args.emulator == "both" else [args.emulator]
    if "tuyamock" in emulators and tuyamock_devices.interpreter() is None:
        emulators.remove("tuyamock")
    return {f"{emu}_{n}": fleet_once(args, n, emu) for emu in emulators for n in sizes}
