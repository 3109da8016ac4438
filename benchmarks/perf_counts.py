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
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
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
async def emulated_device(version: str) -> AsyncIterator[tuple[str, int]]:
    """``tuyagate sim device`` in its own process on a free loopback port, answering controls with an ACK only
    (a STATUS push after it would arrive at a varying point of the next request and blur the count)."""
    command = [sys.executable, "-m", "tuyagate.cli", "sim", "device", "--version", version, "--key", KEY]
    command += ["--id", "bfperfcounts00000001", "--host", "127.0.0.1", "--port", "0", "--control-reply", "ack"]
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
    return {**(await lan_cases()), **(await gateway_cases()), **(await mqtt_cases())}


def measure() -> dict[str, float]:
    results = codec_cases()
    results.update(asyncio.run(_async_cases()))
    return {name: round(value, 1) for name, value in results.items()}


def compare(results: dict[str, float], baseline: dict[str, float]) -> list[str]:
    """One line per case that grew beyond the tolerance, or is missing from either side."""
    problems = []
    for name, count in results.items():
        if name not in baseline:
            problems.append(f"{name}: {count} calls, not in the baseline (run --update)")
        elif count > baseline[name] * TOLERANCE:
            problems.append(
                f"{name}: {count} calls per operation, baseline {baseline[name]} (+{count / baseline[name] - 1:.0%})"
            )
    problems += [f"{name}: in the baseline but no longer measured" for name in baseline if name not in results]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help=f"write the counts to {BASELINE.name}")
    args = parser.parse_args(argv)
    results = measure()
    width = max(len(n) for n in results)
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    for name, count in results.items():
        before = baseline.get(name)
        print(f"{name:<{width}}  {count:8.1f} calls" + (f"  (baseline {before})" if before is not None else ""))
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
