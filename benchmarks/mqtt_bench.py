"""The MQTT bridge under load: 500 emulated devices bridged through a local Mosquitto.

Four processes, so each figure is one process's: the emulated fleet (real LAN protocol, one device
per loopback address), the gateway (the devices' router and the MQTT bridge, as ``tuyagate serve
--mqtt`` runs them), Mosquitto, and this one, an MQTT client playing Home Assistant. Phases:

- ``paced``: commands published on ``<prefix>/<id>/set`` at 100/s; latency = until the state topic
  shows the new value (the whole round trip: broker, bridge, device, bridge, broker);
- ``full``: the same closed loop with ``--concurrency`` commands in flight;
- ``push 1/s``: every device pushes a change once a second; the rate of state messages received and
  the gateway's CPU per state message (its process CPU time / the state messages it published);
- ``push max``: every device pushes every ``--flood-period`` seconds (more than the bridge's coalescing
  lets through per device); the sustained rate of state messages.

Targets (issue 12): p99 <= 50 ms at 100 commands/s; >= 2,000 state messages/s sustained; the bridge's
CPU per state message <= 150 us.

    .venv/bin/python benchmarks/mqtt_bench.py [--devices 500] [--seconds 10] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # so `tests.mqtt.broker` and `benchmarks.*` import when run as a script
    sys.path.insert(0, str(ROOT))

from benchmarks.gateway_bench import _cpu_seconds  # noqa: E402
from benchmarks.lan_devices import raise_nofile  # noqa: E402

TARGETS = {"p99_ms": 50.0, "state_rate": 2000.0, "cpu_us": 150.0}
FIRST_IP = "127.0.30.1"


# ---------------------------------------------------------------------------------------------- processes


def _fleet_process(count: int, manifest_path: str, conn: Connection) -> None:
    """The emulated devices; on ("push", period, seconds) each pushes a new power reading every period."""
    from tuyagate.sim.fleet import SimFleet

    logging.basicConfig(level=logging.ERROR)
    raise_nofile()

    async def push(fleet: SimFleet, period: float, seconds: float) -> int:
        sims = list(fleet.sims.values())
        loop = asyncio.get_running_loop()
        interval = period / len(sims)
        start = next_at = loop.time()
        sent = 0
        while loop.time() - start < seconds:
            sim = sims[sent % len(sims)]
            await sim.set_dps({"19": sent % 50000})  # a new reading every time, so every push is a change
            sent += 1
            next_at += interval
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing the offered load
        return sent

    async def main() -> None:
        manifest = SimFleet.generate(count, first_ip=FIRST_IP, port=0, kinds=["plug"])
        async with SimFleet(manifest, idle_timeout=3600.0) as fleet:
            fleet.manifest.save(manifest_path)
            conn.send("ready")
            loop = asyncio.get_running_loop()
            while True:
                command = await loop.run_in_executor(None, conn.recv)
                if command[0] == "push":
                    conn.send(await push(fleet, command[1], command[2]))
                else:
                    return

    asyncio.run(main())


def _gateway_process(data_dir: str, url: str, conn: Connection) -> None:
    """The devices' router and the MQTT bridge on them; answers ("stats",) with its counters."""
    from tuyagate.devices.hub import build_hub
    from tuyagate.devices.registry import Registry
    from tuyagate.devices.vault import Vault
    from tuyagate.mqtt.bridge import MqttBridge
    from tuyagate.mqtt.config import parse_mqtt_url

    logging.basicConfig(level=logging.WARNING)
    raise_nofile()

    async def main() -> None:
        registry = Registry.open(data_dir)
        vault = Vault.open(registry.db, data_dir, env={})
        config = parse_mqtt_url(url + "?node_id=bench&discovery=false")
        async with build_hub(registry, vault) as home:
            bridge: MqttBridge | None = MqttBridge(home, config)
            assert bridge is not None
            await bridge.start()
            await bridge.wait_connected(120)
            conn.send("ready")
            loop = asyncio.get_running_loop()
            published = 0  # state messages of bridges already closed
            while True:
                command = await loop.run_in_executor(None, conn.recv)
                if command[0] == "stats":
                    states = published + (bridge.stats.state_messages if bridge is not None else 0)
                    conn.send({"state_messages": states})
                elif command[0] == "bridge":  # on/off, to measure the gateway's CPU without it
                    if command[1] and bridge is None:
                        bridge = MqttBridge(home, config)
                        await bridge.start()
                        await bridge.wait_connected(120)
                    elif not command[1] and bridge is not None:
                        published += bridge.stats.state_messages
                        await bridge.close()
                        bridge = None
                    conn.send("ok")
                else:
                    break
            if bridge is not None:
                await bridge.close()
        registry.close()

    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


# ---------------------------------------------------------------------------------------------- the client


@dataclass
class Phase:
    name: str
    sent: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    state_messages: int = 0
    gateway_cpu: float = float("nan")
    bridge_states: int = 0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class Client:
    """Home Assistant's side: publishes commands and waits for the state topics to show them."""

    def __init__(self, port: int, devices: list[str]) -> None:
        self.port = port
        self.devices = devices
        self.switch: dict[str, bool] = {}
        self.waiting: dict[str, tuple[bool, float, asyncio.Future[float]]] = {}
        self.states = 0
        self._client: Any = None
        self._reader: asyncio.Task[None] | None = None
        self.all_seen = asyncio.Event()

    async def __aenter__(self) -> Client:
        import aiomqtt

        nodelay = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
        self._client = aiomqtt.Client("127.0.0.1", self.port, socket_options=nodelay)
        self._client.pending_calls_threshold = 1_000_000
        await self._client.__aenter__()
        await self._client.subscribe("tuyagate/+/state", qos=0)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        await self._client.__aexit__(None, None, None)

    async def _read(self) -> None:
        async for message in self._client.messages:
            self.states += 1
            device_id = message.topic.value.split("/")[1]
            wanted = self.waiting.get(device_id)
            if wanted is None and device_id in self.switch:
                continue
            body = json.loads(message.payload)
            if "switch_1" not in body:
                continue
            self.switch[device_id] = body["switch_1"]
            if len(self.switch) == len(self.devices):
                self.all_seen.set()
            if wanted is not None and body["switch_1"] is wanted[0] and not wanted[2].done():
                wanted[2].set_result(time.perf_counter() - wanted[1])

    async def command(self, device_id: str, timeout: float = 5.0) -> float:
        target = not self.switch.get(device_id, False)
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[device_id] = (target, time.perf_counter(), future)
        try:
            await self._client.publish(f"tuyagate/{device_id}/set", json.dumps({"switch_1": target}), qos=0)
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self.waiting.pop(device_id, None)


async def _paced(client: Client, rate: float, seconds: float) -> Phase:
    phase = Phase(f"paced {rate:g}/s")
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[float]] = []
    start = loop.time()
    index = 0
    while loop.time() - start < seconds:
        device = client.devices[index % len(client.devices)]
        index += 1
        if device in client.waiting:
            continue
        tasks.append(asyncio.create_task(client.command(device)))
        delay = start + len(tasks) / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the offered load
    for result in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(result, float):
            phase.latencies.append(result)
        else:
            phase.errors += 1
    phase.sent, phase.seconds = len(tasks), loop.time() - start
    return phase


async def _full(client: Client, concurrency: int, seconds: float) -> Phase:
    phase = Phase(f"full ({concurrency} in flight)")
    loop = asyncio.get_running_loop()
    start = loop.time()
    cursor = 0

    async def worker(slot: int) -> None:
        nonlocal cursor
        while loop.time() - start < seconds:
            device = client.devices[cursor % len(client.devices)]
            cursor += 1
            if device in client.waiting:
                continue
            phase.sent += 1
            try:
                phase.latencies.append(await client.command(device))
            except TimeoutError:
                phase.errors += 1

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    phase.seconds = loop.time() - start
    return phase


def _ask(conn: Connection, *message: Any) -> Any:
    conn.send(message)
    return conn.recv()


async def _push(
    client: Client,
    fleet: Connection,
    gateway: Connection,
    gateway_pid: int,
    period: float,
    seconds: float,
    *,
    bridged: bool = True,
) -> Phase:
    phase = Phase(f"push every {period:g} s" + ("" if bridged else " (no bridge)"))
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, _ask, gateway, "bridge", bridged)
    before_states = client.states
    before = await loop.run_in_executor(None, _ask, gateway, "stats")
    cpu = _cpu_seconds(gateway_pid)
    start = loop.time()
    phase.sent = await loop.run_in_executor(None, _ask, fleet, "push", period, seconds)
    await asyncio.sleep(0.3)  # the last coalesced messages are due within 100 ms; let them arrive
    phase.seconds = loop.time() - start
    phase.gateway_cpu = _cpu_seconds(gateway_pid) - cpu
    after = await loop.run_in_executor(None, _ask, gateway, "stats")
    phase.bridge_states = after["state_messages"] - before["state_messages"]
    phase.state_messages = client.states - before_states
    return phase


async def run(args: argparse.Namespace) -> list[Phase]:
    from tests.mqtt.broker import MOSQUITTO, MosquittoBroker

    from tuyagate.devices.manifest_import import parse_fleet_manifest
    from tuyagate.devices.registry import Registry
    from tuyagate.devices.tinytuya_import import write_import
    from tuyagate.devices.vault import Vault

    if MOSQUITTO is None:
        raise SystemExit("mosquitto is not installed (apt-get install mosquitto)")
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp, MosquittoBroker(Path(tmp) / "broker") as broker:
        manifest_path = Path(tmp) / "fleet.json"
        fleet_conn, fleet_child = context.Pipe()
        fleet = context.Process(target=_fleet_process, args=(args.devices, str(manifest_path), fleet_child))
        fleet.start()
        gateway_conn, gateway_child = context.Pipe()
        gateway = None
        try:
            if not fleet_conn.poll(120) or fleet_conn.recv() != "ready":
                raise SystemExit("the emulated fleet did not start")
            manifest = json.loads(manifest_path.read_text())
            registry = Registry.open(tmp)
            vault = Vault.open(registry.db, tmp, env={})
            write_import(parse_fleet_manifest(manifest), registry, vault)
            registry.close()
            devices = [d["id"] for d in manifest["devices"]]
            async with Client(broker.port, devices) as client:
                gateway = context.Process(target=_gateway_process, args=(tmp, broker.url, gateway_child))
                gateway.start()
                loop = asyncio.get_running_loop()
                if not await loop.run_in_executor(None, gateway_conn.poll, 180):
                    raise SystemExit("the gateway did not connect")
                gateway_conn.recv()
                async with asyncio.timeout(60):
                    await client.all_seen.wait()
                assert gateway.pid is not None
                phases = [
                    await _paced(client, args.rate, args.seconds),
                    await _full(client, args.concurrency, args.seconds),
                    await _push(client, fleet_conn, gateway_conn, gateway.pid, 1.0, args.seconds),
                    await _push(client, fleet_conn, gateway_conn, gateway.pid, 1.0, args.seconds, bridged=False),
                    await _push(client, fleet_conn, gateway_conn, gateway.pid, args.flood_period, args.seconds),
                    await _push(
                        client, fleet_conn, gateway_conn, gateway.pid, args.flood_period, args.seconds, bridged=False
                    ),
                ]
                gateway_conn.send(("stop",))
                gateway.join(30)
            return phases
        finally:
            with contextlib.suppress(OSError):
                fleet_conn.send(("stop",))
            fleet.join(30)
            for process in (fleet, gateway):
                if process is not None and process.is_alive():
                    process.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--rate", type=float, default=100.0, help="commands per second of the paced phase")
    parser.add_argument("--concurrency", type=int, default=32, help="commands in flight in the full-load phase")
    parser.add_argument("--flood-period", type=float, default=0.2, help="seconds between pushes of one device")
    args = parser.parse_args(argv)
    phases = asyncio.run(run(args))
    print(
        f"MQTT bridge, {args.devices} emulated devices (LAN protocol 3.1-3.5), local mosquitto, {args.seconds:g} s each"
    )
    print(f"{'phase':<26}{'sent':>7}{'errors':>7}{'per s':>9}{'p50 ms':>8}{'p99 ms':>8}")
    for phase in phases[:2]:
        rate = len(phase.latencies) / phase.seconds
        print(
            f"{phase.name:<26}{phase.sent:>7}{phase.errors:>7}{rate:>9.0f}"
            f"{phase.percentile(0.5):>8.1f}{phase.percentile(0.99):>8.1f}"
        )
    print(f"{'phase':<34}{'pushes':>7}{'published':>10}{'received':>9}{'received/s':>11}{'gateway CPU/push':>18}")
    for phase in phases[2:]:
        per_push = phase.gateway_cpu / max(phase.sent, 1) * 1e6
        print(
            f"{phase.name:<34}{phase.sent:>7}{phase.bridge_states:>10}{phase.state_messages:>9}"
            f"{phase.state_messages / phase.seconds:>11.0f}{per_push:>15.0f} us"
        )
    paced, _, push1, bare1, flood, bare_flood = phases

    def bridge_cpu(with_bridge: Phase, without: Phase) -> float:
        """The bridge's own CPU per state message: the gateway's CPU with it, less without it."""
        extra = with_bridge.gateway_cpu - without.gateway_cpu * with_bridge.sent / max(without.sent, 1)
        return extra / max(with_bridge.bridge_states, 1) * 1e6

    gateway_cpu = push1.gateway_cpu / max(push1.bridge_states, 1) * 1e6
    print(
        f"bridge CPU per state message (gateway CPU with the bridge minus without): "
        f"{bridge_cpu(push1, bare1):.0f} us at 1 push/s per device, {bridge_cpu(flood, bare_flood):.0f} us at "
        f"{flood.state_messages / flood.seconds:.0f} states/s; whole gateway (LAN decoding included) "
        f"{gateway_cpu:.0f} us per state message at 1 push/s"
    )
    print(
        f"targets: p99 at {args.rate:g}/s {paced.percentile(0.99):.1f} ms (<= {TARGETS['p99_ms']:g}); "
        f"sustained {flood.state_messages / flood.seconds:.0f} states/s (>= {TARGETS['state_rate']:g}); "
        f"bridge CPU {bridge_cpu(push1, bare1):.0f} us per state message (<= {TARGETS['cpu_us']:g})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
