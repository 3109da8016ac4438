"""Discovery: `tuyagate.lan.scanner.scan` against tinytuya 1.20's scanner, same fleet, same run (issue 14).

200 emulated devices (3.1, 3.3, 3.4 and 3.5 in turn), each on its own loopback address
(127.0.75.1 ...; tinytuya keys its table by IP, so one address per device is what lets it count
them), announce themselves every ``--interval`` seconds (default 5 s, what real devices do) to two
loopback UDP ports that stand in for 6666 (3.1) and 6667 (3.2-3.5). They run in a child process
that staggers their first announcement evenly over one interval, so each scanner meets a fleet
mid-cycle, as on a real LAN. The time measured is from the call until the scanner returns with
every device found:

- tuyagate: ``scan(..., want_count=200)``;
- tinytuya: ``tinytuya.scanner.devices(poll=False, wantids=[all 200 ids])``, its best case (without
  ``wantids`` it listens for its whole ``SCANTIME``, 18 s). Its module constants ``UDPPORT``,
  ``UDPPORTS`` and ``UDPPORTAPP`` are set to the loopback ports, and its 3.5 probe sender
  (``send_discovery_request``, which broadcasts to every interface) and interface lookup are
  replaced by no-ops for the run, so nothing leaves the loopback.

Neither scanner sends anything here: the probe matters for quiet 3.5 devices, and the
``tests/lan/test_scanner.py`` tests cover it. Each scanner runs ``--rounds`` times; the
medians and worst cases are printed. Run: ``.venv/bin/python -m benchmarks.scan_bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import tinytuya
import tinytuya.scanner

from benchmarks.lan_devices import raise_nofile
from tuyagate.lan.scanner import scan
from tuyagate.sim.device import SimDevice

VERSIONS = ("3.1", "3.3", "3.4", "3.5")
KEY = "0123456789abcdef"


def _device_id(n: int) -> str:
    return f"bfscanbench{n:09d}"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# ----------------------------------------------------------------------------- the fleet (child process)


async def _fleet(count: int, first_octet: int, port31: int, port33: int, interval: float, probe: int) -> None:
    devices = []
    for n in range(count):
        version = VERSIONS[n % len(VERSIONS)]
        devices.append(
            SimDevice(
                device_id=_device_id(n),
                local_key=KEY,
                version=version,
                host=f"127.0.{first_octet + n // 250}.{1 + n % 250}",
                port=6668,
                probe_port=probe,
                discovery_to=("127.0.0.1", port31 if version == "3.1" else port33),
                discovery_interval=interval,
            )
        )
    loop = asyncio.get_running_loop()
    start = loop.time()
    for n, device in enumerate(devices):  # spread the first announcements over one interval
        delay = start + interval * n / count - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await device.start()
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes it
    for device in devices:
        await device.stop()


@contextlib.contextmanager
def fleet(count: int, first_octet: int, port31: int, port33: int, interval: float, probe: int) -> Iterator[None]:
    argv = [sys.executable, "-m", "benchmarks.scan_bench", "--serve-fleet", str(count), str(first_octet)]
    argv += [str(port31), str(port33), str(interval), str(probe)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the emulated fleet did not start (is 127.0.75.x taken?)")
        yield
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ----------------------------------------------------------------------------- the two scanners


def run_tuyagate(count: int, ports: list[int], limit: float, sweep: tuple[str, int] | None) -> tuple[float, int]:
    subnet, probe = sweep if sweep is not None else (None, 7000)
    t0 = time.perf_counter()
    result = asyncio.run(
        scan(
            limit,
            listen_host="127.0.0.1",
            ports=ports,
            probe_to=[],
            want_count=count,
            subnet=subnet,
            sweep_probe_port=probe,
        )
    )
    return time.perf_counter() - t0, len(result.devices)


@contextlib.contextmanager
def tinytuya_on_loopback(port31: int, port33: int, port_app: int) -> Iterator[None]:
    """Point tinytuya's scanner at the loopback ports and keep its probe broadcasts from being sent."""
    saved = {
        name: getattr(tinytuya.scanner, name)
        for name in ("UDPPORT", "UDPPORTS", "UDPPORTAPP", "send_discovery_request", "get_ip_to_broadcast")
    }

    def no_probe(iface_list: Any = None) -> Any:
        return iface_list or {}

    tinytuya.scanner.UDPPORT, tinytuya.scanner.UDPPORTS, tinytuya.scanner.UDPPORTAPP = port31, port33, port_app
    tinytuya.scanner.send_discovery_request = no_probe
    tinytuya.scanner.get_ip_to_broadcast = dict
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # it looks for devices.json and snapshot.json in the working directory
        try:
            yield
        finally:
            os.chdir(cwd)
            for name, value in saved.items():
                setattr(tinytuya.scanner, name, value)


def run_tinytuya(count: int, limit: float) -> tuple[float, int]:
    t0 = time.perf_counter()
    found = tinytuya.scanner.devices(
        verbose=False, scantime=limit, color=False, poll=False, byID=True, wantids=[_device_id(n) for n in range(count)]
    )
    return time.perf_counter() - t0, len(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between a device's announcements")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--first-octet", type=int, default=75, help="the fleet lives on 127.0.N.x")
    parser.add_argument("--serve-fleet", nargs=6, metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_nofile()
    if args.serve_fleet:
        count, octet, p31, p33, interval, probe = args.serve_fleet
        asyncio.run(_fleet(int(count), int(octet), int(p31), int(p33), float(interval), int(probe)))
        return
    port31, port33, port_app, probe = (_free_udp_port() for _ in range(4))
    limit = max(18.0, 3 * args.interval)
    subnet = f"127.0.{args.first_octet}.0/24" if args.count <= 250 else f"127.0.{args.first_octet}.0/23"
    results: dict[str, list[tuple[float, int]]] = {"tuyagate": [], "tuyagate --subnet": [], "tinytuya": []}
    with fleet(args.count, args.first_octet, port31, port33, args.interval, probe):
        for _ in range(args.rounds):
            ports = [port31, port33, port_app]
            results["tuyagate"].append(run_tuyagate(args.count, ports, limit, None))
            results["tuyagate --subnet"].append(run_tuyagate(args.count, ports, limit, (subnet, probe)))
            with tinytuya_on_loopback(port31, port33, port_app):
                results["tinytuya"].append(run_tinytuya(args.count, limit))
    print(f"{args.count} devices announcing every {args.interval:g} s on loopback, {args.rounds} rounds")
    for name, rows in results.items():
        times = [t for t, _ in rows]
        counts = [n for _, n in rows]
        print(
            f"{name:17s} all found in: median {statistics.median(times):5.2f} s, worst {max(times):5.2f} s; "
            f"devices found per round {counts}"
        )


if __name__ == "__main__":
    main()
