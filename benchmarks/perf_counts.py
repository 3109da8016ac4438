"""Performance regression check by counting, not timing: Python and C calls per operation.

Timings on a shared 2-core machine swing by +-40 % between runs, so a timing threshold in CI would
either flap or catch nothing. The number of function calls an operation makes is deterministic
(to a call or two per request, from the event loop's batching) and moves with real cost: a new
allocation-heavy helper, an extra copy, a lookup that went from a dict hit to a loop all show up.

Each case runs its operation a few hundred times under ``sys.setprofile`` and reports calls per
operation (Python ``call`` events plus C ``c_call`` events). The committed baseline
``benchmarks/perf_baseline.json`` holds the accepted counts; ``tests/test_perf_counts.py`` fails when
a count grows more than 20 % over it. After a deliberate change, refresh it with one command::

    .venv/bin/python -m benchmarks.perf_counts --update

The emulated device of the LAN cases runs in another process, so only the client's calls count.
Everything runs on the standard asyncio loop (uvloop's C internals would hide calls).

Two more kinds of count, as deterministic and closer to what a request costs outside Python:

- **syscalls per warm request**: a child process makes warm requests under ``strace -f -c``,
  twice with different numbers of requests, and the difference is divided by the difference
  (start-up cancels out). A syscall costs about a microsecond of kernel time here, and the ones
  that crept in before (a getpid per ``asyncio.get_running_loop()``, a 256 KiB mmap/munmap per
  read) were invisible to the call count. Skipped, with a note, where strace is missing.
- **Python heap per connection**: ``tracemalloc`` over 40 persistent connections opened after a
  first one (so imports and caches are not counted), in bytes (the 1,000-device RSS figure of
  BENCHMARKS.md section 10 also holds OpenSSL's contexts, which tracemalloc does not see).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BASELINE = Path(__file__).with_name("perf_baseline.json")
TOLERANCE = 1.20  # a count may grow by 20 % before the check fails
KEY = "0123456789abcdef"
REPEAT = 300


class CallCounter:
    """Counts call events of the current thread while active."""

    def __init__(self) -> None:
        self.calls = 0

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event in ("call", "c_call"):
            self.calls += 1

    def __enter__(self) -> CallCounter:
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(None)


def count_sync(op: Callable[[], object], repeat: int = REPEAT) -> float:
    for _ in range(20):  # warm caches (imports, interned strings, lazily built tables)
        op()
    with CallCounter() as counter:
        for _ in range(repeat):
            op()
    return counter.calls / repeat


async def count_async(op: Callable[[], Awaitable[object]], repeat: int = REPEAT) -> float:
    for _ in range(20):
        await op()
    with CallCounter() as counter:
        for _ in range(repeat):
            await op()
    return counter.calls / repeat


# ----------------------------------------------------------------------------- cases


def codec_cases() -> dict[str, float]:
    from benchmarks.codec import tuyagate_case

    return {f"codec {v} status round trip": count_sync(tuyagate_case(v, "status")) for v in ("3.1", "3.3", "3.5")}


@contextlib.asynccontextmanager
async def emulated_device(version: str, *, status_push: bool = False) -> AsyncIterator[tuple[str, int]]:
    """``tuyagate sim device`` in its own process on a free loopback port, answering controls with an ACK only
    (a STATUS push after it would arrive at a varying point of the next request and blur the count), or with
    ``status_push`` with the ACK and, 2 ms later, the STATUS push, as real devices do: always a read of its
    own then (the one-shot command's close waits for that push), so the count does not depend on timing."""
    command = [sys.executable, "-m", "tuyagate.cli", "sim", "device", "--version", version, "--key", KEY]
    command += ["--id", "bfperfcounts00000001", "--host", "127.0.0.1", "--port", "0"]
    reply = ["ack+status", "--status-delay", "0.002"] if status_push else ["ack"]
    command += ["--control-reply", *reply]
    proc = await asyncio.create_subprocess_exec(*command, cwd=ROOT, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        ready = json.loads(line)
        yield str(ready["host"]), int(ready["port"])
    finally:
        proc.terminate()
        with contextlib.suppress(ProcessLookupError):
            await asyncio.wait_for(proc.wait(), 10)


async def lan_cases() -> dict[str, float]:
    from tuyagate.lan.connection import DeviceConnection

    out: dict[str, float] = {}
    for version in ("3.3", "3.5"):
        async with emulated_device(version) as (host, port):
            conn = DeviceConnection("bfperfcounts00000001", host, KEY, version, port=port, heartbeat_interval=None)
            try:
                out[f"lan {version} warm status"] = await count_async(partial(conn.status, timeout=5.0))
                out[f"lan {version} warm set"] = await count_async(partial(conn.set_dps, {"1": True}, timeout=5.0))
            finally:
                await conn.close()
    return out


async def cold_command_case() -> dict[str, float]:
    """One-shot commands on 3.3 to a device in another process: construct the client, connect, set a DP,
    get the ACK, close cleanly (wait for the STATUS push, half-close, read to the device's FIN)."""
    from tuyagate.lan.connection import DeviceConnection

    async with emulated_device("3.3", status_push=True) as (host, port):
        sent = 0

        async def cold_command() -> None:
            nonlocal sent
            sent += 1
            conn = DeviceConnection("bfperfcounts00000001", host, KEY, "3.3", port=port, heartbeat_interval=None)
            async with conn:
                await conn.set_dps({"1": sent % 2 == 0}, timeout=5.0)
            await asyncio.sleep(0)  # the transport reports the connection lost on this turn

        return {"lan 3.3 cold command": await count_async(cold_command, repeat=COLD_REPEAT)}


COLD_REPEAT = 200
STRACE_SHORT, STRACE_LONG = 50, 550  # requests of the two traced runs


def syscall_cases() -> dict[str, float]:
    """Syscalls per warm status (3.3 and 3.5) on the standard loop, from strace; {} without strace."""
    if shutil.which("strace") is None:
        print("note: strace is not installed: the syscall counts are not measured (apt-get install strace)")
        return {}
    return asyncio.run(_syscall_cases())


async def _syscall_cases() -> dict[str, float]:
    out: dict[str, float] = {}
    for version in ("3.3", "3.5"):
        async with emulated_device(version) as (host, port):
            calls = [await _traced_syscalls(version, host, port, n) for n in (STRACE_SHORT, STRACE_LONG)]
        out[f"lan {version} warm status syscalls"] = (calls[1] - calls[0]) / (STRACE_LONG - STRACE_SHORT)
    return out


async def _traced_syscalls(version: str, host: str, port: int, n: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "strace.txt")
        command = ["strace", "-f", "-c", "-o", report, sys.executable, "-m", "benchmarks.perf_counts"]
        command += ["--warm-child", version, host, str(port), str(n)]
        proc = await asyncio.create_subprocess_exec(*command, cwd=ROOT)
        if await asyncio.wait_for(proc.wait(), 60) != 0:
            raise RuntimeError(f"the traced warm-request child failed: {' '.join(command)}")
        return strace_total(await asyncio.to_thread(Path(report).read_text))


def strace_total(report: str) -> int:
    """The total number of calls in an ``strace -c`` report."""
    for line in report.splitlines():
        fields = line.split()
        if fields and fields[-1] == "total":
            return int(fields[3])
    raise ValueError("no total line in the strace report")


async def warm_child(version: str, host: str, port: int, n: int) -> None:
    """The traced side of :func:`syscall_cases`: 20 warm-up requests, then ``n`` warm statuses."""
    from tuyagate.lan.connection import DeviceConnection

    conn = DeviceConnection("bfperfcounts00000001", host, KEY, version, port=port, heartbeat_interval=None)
    try:
        for _ in range(20 + n):
            await conn.status()
    finally:
        await conn.close()


def heap_cases() -> dict[str, float]:
    """Python heap bytes per persistent connection (3.3 and 3.5), each to its own emulated device."""
    from benchmarks.lan_bench import emulated

    out: dict[str, float] = {}
    for version in ("3.3", "3.5"):
        with emulated(HEAP_CONNECTIONS + 1, first_ip="127.0.0.1", port=0, versions=version) as devices:
            out[f"lan {version} heap bytes per connection"] = asyncio.run(_heap_per_connection(devices))
    return out


async def _heap_per_connection(devices: list[Any]) -> float:
    from tuyagate.lan.connection import DeviceConnection

    def conn(d: Any) -> DeviceConnection:
        return DeviceConnection(d.id, d.ip, d.local_key, d.version, port=d.port, heartbeat_interval=10.0)

    first = conn(devices[0])  # imports, caches and the loop's own first allocations are not counted
    await first.status()
    conns: list[DeviceConnection] = []
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        conns += [conn(d) for d in devices[1:]]
        for c in conns:
            await c.status()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
        opened = sum(c.connected for c in conns)
    finally:
        tracemalloc.stop()
        for c in (first, *conns):
            await c.close()
    if opened != HEAP_CONNECTIONS:
        raise RuntimeError(f"only {opened} of {HEAP_CONNECTIONS} connections stayed open")
    return grown / HEAP_CONNECTIONS


HEAP_CONNECTIONS = 40


async def gateway_cases() -> dict[str, float]:
    from benchmarks.gateway_cost import call, demo_home
    from tuyagate.gateway.app import create_app
    from tuyagate.gateway.settings import GatewaySettings

    async with demo_home("127.0.6.1") as (home, data):
        app = create_app(GatewaySettings(data_dir=data), home, manage_manager=False)
        plug = home.device("Desk plug")
        await plug.status(refresh=True)
        path = f"/api/v1/devices/{plug.info.id}/status"
        return {
            "router cached status": await count_async(lambda: plug.status(refresh=False)),
            "gateway cached status (ASGI)": await count_async(lambda: call(app, "GET", path)),
            "gateway device list (ASGI)": await count_async(lambda: call(app, "GET", "/api/v1/devices")),
        }


async def gateway_command_case() -> dict[str, float]:
    """A command through the gateway app (in-process ASGI) to a 3.3 device emulated in another process,
    so that only the gateway's side counts: body, validation, router, LAN exchange, the STATUS push
    that follows and its event. The push may land inside or just after a command: +-2 % between runs."""
    from benchmarks.gateway_bench import _lan_manager
    from benchmarks.gateway_cost import call
    from tuyagate.gateway.app import create_app
    from tuyagate.gateway.settings import GatewaySettings

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        manager, emulators = await _lan_manager(4, data)
        try:
            app = create_app(GatewaySettings(data_dir=data), manager, manage_manager=False)
            device = next(d for d in manager.devices() if d.info.version == "3.3")
            await device.status()
            path = f"/api/v1/devices/{device.info.id}/commands"
            bodies = (b'{"dps": {"1": true}}', b'{"dps": {"1": false}}')
            sent = 0

            async def command() -> None:
                nonlocal sent
                sent += 1
                if await call(app, "POST", path, body=bodies[sent % 2]) != 200:
                    raise RuntimeError("the command failed")
                await asyncio.sleep(0)

            return {"gateway command, LAN 3.3 (ASGI)": await count_async(command)}
        finally:
            await manager.close()
            emulators.kill()
            emulators.wait(10)
            for pipe in (emulators.stdin, emulators.stdout):
                if pipe is not None:
                    pipe.close()


class BusHome:
    """The demo home with an event bus of the benchmark's own, so a case can hand the MQTT bridge state
    events directly: only the bridge's path (event -> JSON -> outbox -> MQTT client) is counted."""

    def __init__(self, home: Any) -> None:
        from tuyagate.bus import EventBus
        from tuyagate.device_api import DeviceEvent

        self.home = home
        self.bus: EventBus[DeviceEvent] = EventBus(lost=DeviceEvent.lost)

    def devices(self) -> list[Any]:
        return list(self.home.devices())

    def device(self, id_or_name: str) -> Any:
        return self.home.device(id_or_name)

    def events(self, *, devices: Any = None, maxsize: int | None = None) -> Any:
        return self.bus.subscribe(maxsize=maxsize or 256)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


async def mqtt_cases() -> dict[str, float]:
    """One state message of the MQTT bridge on a real Mosquitto (left out where it is not installed)."""
    from tests.mqtt.broker import MOSQUITTO, MosquittoBroker

    if MOSQUITTO is None:
        return {}
    from benchmarks.gateway_cost import demo_home
    from tuyagate.device_api import DeviceEvent
    from tuyagate.mqtt.bridge import MqttBridge
    from tuyagate.mqtt.config import parse_mqtt_url

    with tempfile.TemporaryDirectory() as tmp, MosquittoBroker(Path(tmp)) as broker:
        async with demo_home("127.0.6.1") as (home, _):
            bus_home = BusHome(home)
            plug = home.device("Desk plug")
            # No coalescing interval nor batching window: each event is one message, with no timer in between.
            url = broker.url + "?node_id=perf&discovery=false"
            config = replace(parse_mqtt_url(url), coalesce=0.0, batch_window=0.0)
            async with MqttBridge(bus_home, config) as bridge:
                await bridge.wait_connected(30)
                reading = iter(range(10**9))

                async def state_message() -> None:
                    target = bridge.stats.state_messages + 1
                    bus_home.bus.publish(DeviceEvent(plug.info.id, "state", values={"cur_power": next(reading)}))
                    # Yielding to the loop until the bridge has published: a few turns, as nothing waits on I/O
                    # (state goes out at QoS 0); an event set by a subscriber would count that client's calls too.
                    for _ in range(1000):
                        if bridge.stats.state_messages >= target:
                            return
                        await asyncio.sleep(0)
                    raise RuntimeError("the bridge published no state message")

                return {"mqtt bridge state message": await count_async(state_message)}


async def _async_cases() -> dict[str, float]:
    return {
        **(await lan_cases()),
        **(await cold_command_case()),
        **(await gateway_cases()),
        **(await gateway_command_case()),
        **(await mqtt_cases()),
    }


def measure() -> dict[str, float]:
    results = codec_cases()
    results.update(asyncio.run(_async_cases()))
    results.update(heap_cases())
    results.update(syscall_cases())
    return {name: round(value, 1) for name, value in results.items()}


def unmeasurable() -> set[str]:
    """Cases this machine cannot measure (their baseline entries are not required)."""
    return set() if shutil.which("strace") else {f"lan {v} warm status syscalls" for v in ("3.3", "3.5")}


def compare(results: dict[str, float], baseline: dict[str, float]) -> list[str]:
    """One line per case that grew beyond the tolerance, or is missing from either side."""
    problems = []
    for name, count in results.items():
        if name not in baseline:
            problems.append(f"{name}: {count}, not in the baseline (run --update)")
        elif count > baseline[name] * TOLERANCE:
            growth = count / baseline[name] - 1
            problems.append(f"{name}: {count} per operation, baseline {baseline[name]} (+{growth:.0%})")
    skipped = unmeasurable()
    problems += [
        f"{name}: in the baseline but no longer measured"
        for name in baseline
        if name not in results and name not in skipped
    ]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help=f"write the counts to {BASELINE.name}")
    parser.add_argument("--warm-child", nargs=4, metavar=("VERSION", "HOST", "PORT", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.warm_child:
        version, host, port, n = args.warm_child
        asyncio.run(warm_child(version, host, int(port), int(n)))
        return 0
    results = measure()
    width = max(len(n) for n in results)
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    for name, count in results.items():
        before = baseline.get(name)
        unit = "bytes" if "bytes" in name else "" if "syscalls" in name else "calls"
        print(f"{name:<{width}}  {count:8.1f} {unit}" + (f"  (baseline {before})" if before is not None else ""))
    if args.update:
        BASELINE.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        print(f"wrote {BASELINE}")
        return 0
    problems = compare(results, baseline)
    for line in problems:
        print("REGRESSION " + line)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
