"""LAN client: tuyagate against rustuya 0.3.0 and tinytuya 1.20, same emulated devices, same run.

The emulated devices run in separate processes (``benchmarks.lan_devices``; the STATUS that follows
a control's ACK is sent at once, so that the clients' own costs show) so that what is measured is
the client. Every row prints tuyagate's figure over the *faster peer's* of that row. rustuya (Rust,
blocking calls that release the GIL: ``benchmarks.rustuya_peer``) is skipped with a note where its
wheel is not installed. Four measurements (issues 3 and 17):

1. Warm round trip on a persistent connection, per protocol version: a status query (query ->
   reply) and a command (control -> ACK), p50 and p99 and the client's CPU per request, in blocks
   interleaved between the clients. tinytuya runs with its send wait at 0 (and, for reference,
   its default 10 ms).
2. Cold command: construct the client, connect, handshake (3.4/3.5), set a DP, get the ACK, close.
3. Fleet poll (default 200 and 500 devices), each device on its own loopback address on port 6668
   (127.0.1.1, 127.0.1.2, ...), on tuyagate's emulator and on the independent tuyamock (PyPI, in
   ``.venv-tuyamock``: ``benchmarks.tuyamock_devices``): tuyagate with one DeviceConnection per
   device and ``asyncio.gather``; rustuya from a thread pool (``--rustuya-threads``); tinytuya with
   a 32-thread pool. Round 1 is cold (connects and handshakes included), later rounds are warm
   (tuyagate and rustuya keep their connections; tinytuya is run once with ``persist=True``
   objects kept between rounds and once as most scripts use it, a fresh connection per poll).
4. Memory: each client in a fresh process that imports only itself (``benchmarks.memory_client``)
   opens persistent connections (heartbeats on) to 1,000 emulated devices: the RSS after the first
   device (the base) and the growth per connected device.

Run: ``.venv/bin/python -m benchmarks.lan_bench`` (about 6 minutes; ``--quick``: one) with
``--client-loop uvloop`` for the figures in BENCHMARKS.md. ``--first-ip`` moves the fleets to
another part of 127.0.0.0/8 if 127.0.1.x:6668 is taken; ``--peers tinytuya`` leaves rustuya out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import tinytuya

from benchmarks import rustuya_peer, tuyamock_devices
from benchmarks.lan_devices import raise_nofile
from tuyagate.lan import DeviceConnection
from tuyagate.sim.fleet import SimFleet
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
    emulator: str = "tuyagate",
) -> Iterator[list[ManifestDevice]]:
    """Start ``count`` emulated devices in ``procs`` child processes; yield their manifest entries.

    Several processes stand in better for a fleet of real devices (each has its own CPU) and keep
    the emulator from being the bottleneck that hides the clients' differences. ``emulator`` is
    ``tuyagate`` (``tuyagate.sim``) or ``tuyamock`` (the independent one from PyPI).
    """
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        share = -(-count // procs)
        paths, children = [], []
        for k in range(procs):
            offset, n = k * share, min(share, count - k * share)
            if n <= 0:
                break
            path = os.path.join(tmp, f"fleet{k}.json")
            if emulator == "tuyagate":
                argv = [sys.executable, "-m", "benchmarks.lan_devices", "--count", str(n), "--offset", str(offset)]
                argv += ["--first-ip", first_ip, "--port", str(port), "--versions", versions, "--manifest", path]
                argv += ["--uvloop"] if uv else []
            else:
                argv = _tuyamock_argv(tmp, k, n, offset, first_ip=first_ip, port=port, versions=versions)
                argv += ["--manifest", path]
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            stack.callback(_stop, proc)
            paths.append(path)
            children.append(proc)
        for proc in children:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("the emulated devices did not start (is that address range taken?)")
        yield [dev for path in paths for dev in FleetManifest.load(path).devices]


def _tuyamock_argv(tmp: str, k: int, n: int, offset: int, *, first_ip: str, port: int, versions: str) -> list[str]:
    """Run tuyamock's share ``k`` of the fleet with the interpreter of its own venv."""
    python = tuyamock_devices.interpreter()
    if python is None:
        raise RuntimeError("tuyamock is not available")
    fleet = SimFleet.generate(offset + n, versions=versions.split(","), first_ip=first_ip, port=port, kinds=["plug"])
    share = FleetManifest(fleet.devices[offset:])
    wanted = os.path.join(tmp, f"wanted{k}.json")
    share.save(wanted)
    return [python, tuyamock_devices.__file__, "--manifest-in", wanted]


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


def faster_peer(row: dict[str, Samples]) -> tuple[str, Samples]:
    """The peer (not tuyagate) with the lowest p50 in a row of samples."""
    name = min((k for k in row if k != "tuyagate" and row[k].wall), key=lambda k: row[k].p(0.5))
    return name, row[name]


def _figures(row: dict[str, Samples]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, smp in row.items():
        if smp.wall:
            out[name] = {"p50_ms": smp.p(0.5) / 1e6, "p99_ms": smp.p(0.99) / 1e6, "cpu_us": smp.cpu_us}
    peer, best = faster_peer(row)
    out["faster_peer"] = peer
    out["ratio_p50"] = row["tuyagate"].p(0.5) / best.p(0.5)
    out["ratio_cpu"] = row["tuyagate"].cpu_us / best.cpu_us
    return out


def _cell(smp: Samples) -> str:
    return f"{ms(smp.p(0.5))} /{ms(smp.p(0.99))} {smp.cpu_us:4.0f}us" if smp.wall else f"{'-':>30}"


def single_device(args: argparse.Namespace) -> dict[str, Any]:
    """Blocks of each client's requests, interleaved so that machine noise hits all alike.

    Ratios are tuyagate's p50 (and CPU per request) over the faster peer's of the row: rustuya or
    tinytuya with its send wait at 0.
    """
    blocks, n, n_slow, n_cold, n_cold_ru = (3, 100, 30, 20, 3) if args.quick else (10, 200, 40, 30, 6)
    ru = "rustuya" in args.peers and rustuya_peer.module() is not None
    results: dict[str, Any] = {}
    with emulated(len(VERSIONS), first_ip="127.0.0.1", port=0, uv=args.devices_loop == "uvloop") as devices:
        print("\n== 1. warm round trip on a persistent connection: p50 / p99 wall, client CPU per request ==")
        print(
            f"{'ver':4} {'op':6} {'tuyagate':>30} {'rustuya':>30} {'tinytuya wait=0':>30} {'tt wait=10ms':>10}"
            "  tuyagate / faster peer: p50, CPU"
        )
        for dev in devices:
            for op in ("status", "set"):
                row = {"tuyagate": Samples(), "rustuya": Samples(), "tinytuya0": Samples()}
                tt10 = Samples()
                for _ in range(blocks):
                    run_loop(tg_warm(dev, n, op, row["tuyagate"]), args.client_loop == "uvloop")
                    tt_warm(dev, n, op, 0, row["tinytuya0"])
                    if ru:
                        rustuya_peer.warm(dev, n, op, row["rustuya"])
                        time.sleep(rustuya_peer.COLD_PAUSE)  # until the device has seen rustuya's close
                tt_warm(dev, n_slow, op, None, tt10)
                fig = _figures(row)
                fig["tinytuya10_p50_ms"] = tt10.p(0.5) / 1e6
                results[f"warm_{op}_{dev.version}"] = fig
                print(
                    f"{dev.version:4} {op:6} {_cell(row['tuyagate'])} {_cell(row['rustuya'])} "
                    f"{_cell(row['tinytuya0'])} {ms(tt10.p(0.5))}  {fig['ratio_p50']:.2f}x, "
                    f"{fig['ratio_cpu']:.2f}x vs {fig['faster_peer']}"
                )
        print("\n== 2. cold command: connect + handshake + set + ACK: p50 / p99 wall, client CPU per command ==")
        print(f"{'ver':4} {'tuyagate':>30} {'rustuya':>30} {'tinytuya wait=0':>30}  tuyagate / faster peer")
        for dev in devices:
            row = {"tuyagate": Samples(), "rustuya": Samples(), "tinytuya0": Samples()}
            for _ in range(blocks):
                run_loop(tg_cold(dev, n_cold, row["tuyagate"]), args.client_loop == "uvloop")
                tt_cold(dev, n_cold, row["tinytuya0"])
                if ru:
                    rustuya_peer.cold(dev, n_cold_ru, row["rustuya"])
            fig = _figures(row)
            results[f"cold_{dev.version}"] = fig
            print(
                f"{dev.version:4} {_cell(row['tuyagate'])} {_cell(row['rustuya'])} {_cell(row['tinytuya0'])}  "
                f"{fig['ratio_p50']:.2f}x, CPU {fig['ratio_cpu']:.2f}x vs {fig['faster_peer']}"
            )
    return results


# ----------------------------------------------------------------------------- 4: memory


def memory(args: argparse.Namespace) -> dict[str, Any]:
    """Each client in a fresh process of its own: the RSS after one device (base), then per device."""
    count = 200 if args.quick else args.memory
    print(f"\n== 4. memory per connected device, {count} persistent connections (each client in a fresh process) ==")
    clients = ["tuyagate"] + (["rustuya"] if "rustuya" in args.peers and rustuya_peer.module() is not None else [])
    results: dict[str, Any] = {}
    for client in clients:
        with (
            tempfile.TemporaryDirectory() as tmp,
            emulated(
                count, first_ip=args.first_ip, port=6668, uv=args.devices_loop == "uvloop", procs=args.device_procs
            ) as devices,
        ):
            path = os.path.join(tmp, "m.json")
            slim = [{k: getattr(d, k) for k in ("id", "local_key", "ip", "port", "version")} for d in devices]
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w", encoding="utf-8") as fh:
                json.dump({"devices": slim}, fh)  # only what a client needs: the base RSS is the client's
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.memory_client", client, path],
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        results[client] = result
        per = result["per_device_bytes"] / 1024
        print(
            f"{client:9} {result['connected']}/{result['devices']} connected, {result['errors']} errors; "
            f"RSS after one device (base) {result['rss_before'] / 2**20:.1f} MiB -> "
            f"{result['rss_after'] / 2**20:.1f} MiB: {per:.1f} KiB per device"
        )
    if "rustuya" in results:
        tg, peer = results["tuyagate"], results["rustuya"]
        print(
            f"tuyagate / rustuya: per device {tg['per_device_bytes'] / peer['per_device_bytes']:.2f}x, "
            f"base {tg['rss_before'] / peer['rss_before']:.2f}x"
        )
    return results


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
    parser.add_argument("--fleet", default="200,500", help="fleet sizes for the poll (default 200,500)")
    parser.add_argument(
        "--emulator",
        choices=["tuyagate", "tuyamock", "both"],
        default="both",
        help="emulator of the fleet polls (default both; tuyamock where it is installed)",
    )
    parser.add_argument(
        "--peers", default="rustuya,tinytuya", help="peers besides tinytuya to run: rustuya (default rustuya,tinytuya)"
    )
    parser.add_argument("--fleet-reps", type=int, default=3, help="passes over all clients per fleet (default 3)")
    parser.add_argument("--rustuya-threads", type=int, default=64, help="threads polling rustuya's fleet (default 64)")
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
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    raise_nofile()
    cap = rustuya_peer.set_connect_concurrency(max([args.memory, *(int(n) for n in args.fleet.split(","))]))
    print(
        f"tuyagate LAN client vs rustuya {rustuya_peer.version()} (connect cap {cap}) and tinytuya "
        f"{tinytuya.__version__}, python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}; emulated devices on {args.devices_loop}, tuyagate on {args.client_loop}"
    )
    figures: dict[str, Any] = {}
    if args.only in (None, "single"):
        figures["single"] = single_device(args)
    if args.only in (None, "fleet"):
        from benchmarks.lan_fleet import fleet  # it imports this module's helpers

        figures["fleet"] = fleet(args)
    if args.only in (None, "memory"):
        figures["memory"] = memory(args)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(figures, fh, indent=2)


if __name__ == "__main__":
    main()
