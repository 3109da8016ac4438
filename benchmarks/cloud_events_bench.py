"""Cloud push latency: a DP change of an emulated cloud-only device to the SSE event at a gateway client.

The whole path runs on loopback, as in ``tuyagate demo`` (which this starts, on free ports): the
emulated device changes and the emulated cloud publishes the report on its message service
(Pulsar over a websocket), tuyagate's consumer receives, decrypts, verifies and acknowledges it,
the device's cache emits a ``state`` event on the home's bus, and the gateway writes it to an SSE
stream that an HTTP client reads. Timed from just before the change to the client having parsed
the event's data line. Everything shares one process and event loop (emulator, gateway, client),
so the figures include all three sides' CPU on one core: a pessimistic view of the gateway alone.

The second path is an app login's (``cloud login --app``): the emulated cloud publishes the report
on the Smart Life app's MQ, a real Mosquitto with TLS on a free loopback port (a throwaway CA, as
in the tests; needs ``mosquitto``), and tuyagate's aiomqtt consumer takes it from there. Timed the
same way; the broker is a second process, so this path crosses two more sockets and one TLS hop.

Polling, the alternative, takes up to its interval (5 s by default) per change.

Run: ``.venv/bin/python -m benchmarks.cloud_events_bench`` (about 20 s) or ``--quick``;
``--path pulsar`` or ``--path app-mq`` for one of them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # so `tests.*` (the TLS broker, the QR login) import when run as a script
    sys.path.insert(0, str(ROOT))

from tuyagate.cli.demo import DemoWorld  # noqa: E402
from tuyagate.devices.hub import HubOptions  # noqa: E402

CELLAR = "Cellar plug (cloud only)"


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(rounds: int) -> list[float]:
    world = DemoWorld(port=0, fleet_ip="127.0.6.1", fleet_port=0, options=HubOptions(timeout=3.0, lan_timeout=1.0))
    await world.start()
    try:
        assert world.hub is not None
        assert world.cloud is not None
        assert world.cloud_events is not None
        await asyncio.wait_for(world.cloud_events.connected.wait(), 10)
        device_id = world.hub.device(CELLAR).info.id
        emulated = world.cloud.state.fleet.get(device_id)
        assert emulated is not None
        broker = world.cloud.state.pulsar
        return await _time_changes(
            world.url, device_id, world.cloud.state.fleet.backend, emulated, broker.status_report, rounds
        )
    finally:
        await world.stop()


async def _time_changes(
    url: str, device_id: str, backend: Any, emulated: Any, publish: Callable[[Any, dict[str, Any]], Any], rounds: int
) -> list[float]:
    """Change the device ``rounds`` times; each sample: the change until the SSE client parsed it."""
    value = bool((await backend.get_dps(emulated)).get("1"))
    samples: list[float] = []
    async with (
        httpx.AsyncClient(base_url=url, timeout=10) as client,
        client.stream("GET", "/api/v1/events", params={"device": device_id}) as response,
    ):
        lines = response.aiter_lines()
        async for line in lines:
            if line == ": connected":
                break
        for _ in range(rounds):
            value = not value
            start = time.perf_counter()
            await backend.set_dps(emulated, {"1": value})
            publish(emulated, {"1": value})
            async for line in lines:
                if line.startswith("data: ") and json.loads(line[6:]).get("values") == {"switch_1": value}:
                    break
            samples.append(time.perf_counter() - start)
    return samples


@contextlib.asynccontextmanager
async def _app_mq_gateway(directory: Path) -> AsyncIterator[tuple[str, str, Any, Any, Any]]:
    """The demo fleet, the emulated cloud with its app MQ on a TLS Mosquitto, an app login, the gateway."""
    import os

    from tests.cloud.app_mq_support import running_tls_broker
    from tests.cloud.app_support import app_login
    from tests.emulated_home import emulated_home, registry_with

    from tuyagate.cloud.app_client import AppCloudClient
    from tuyagate.devices.cloud_events import app_mq_events
    from tuyagate.devices.hub import build_hub
    from tuyagate.gateway.app import create_app
    from tuyagate.gateway.server import serve_app
    from tuyagate.gateway.settings import GatewaySettings

    with running_tls_broker(directory / "mq") as broker:
        async with emulated_home("127.0.6.101", "benchappmq", "b" * 32, tls=True, app_mq=broker.settings()) as home:
            registry, vault = registry_with(home.manifest, directory)
            app = AppCloudClient(await app_login(home.cloud), ca_bundle=str(home.cloud.cert_path), timeout=5.0)
            hub = build_hub(registry, vault, cloud=app, options=HubOptions(timeout=3.0, lan_timeout=1.0))
            await hub.start()
            consumer = app_mq_events(hub, app, ca_bundle=str(broker.ca.ca))
            settings = GatewaySettings(
                host="127.0.0.1",
                port=0,
                data_dir=directory,
                cloud_client_id="benchgw",
                cloud_client_secret=os.urandom(8).hex(),
            )
            served = await serve_app(create_app(settings, hub, manage_manager=False), "127.0.0.1", 0)
            try:
                await consumer.start()
                await asyncio.wait_for(consumer.connected.wait(), 10)
                device_id = hub.device(CELLAR).info.id
                emulated = home.cloud.state.fleet.get(device_id)
                yield served.url, device_id, home.fleet.backend, emulated, home.cloud.state.app_mq
            finally:
                await consumer.close()
                await served.stop()
                await hub.close()
                registry.close()


async def run_app_mq(rounds: int) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="tuyagate-bench-appmq-") as tmp:
        async with _app_mq_gateway(Path(tmp)) as (url, device_id, backend, emulated, mq):
            return await _time_changes(url, device_id, backend, emulated, mq.status_report, rounds)


def report(title: str, samples: list[float]) -> None:
    ms = [s * 1000 for s in samples]
    print(f"{title}, {len(ms)} changes on loopback:")
    print(
        f"  p50 {statistics.median(ms):.2f} ms   p99 {percentile(ms, 99):.2f} ms   max {max(ms):.2f} ms"
        "   (target p99 <= 50 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="50 changes instead of 500")
    parser.add_argument("--path", choices=("both", "pulsar", "app-mq"), default="both", help="which push path")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rounds = 50 if args.quick else 500
    if args.path in ("both", "pulsar"):
        report("cloud push (message service, Pulsar websocket) -> SSE", asyncio.run(run(rounds)))
    if args.path in ("both", "app-mq"):
        report("cloud push (app MQ, MQTT over TLS via Mosquitto) -> SSE", asyncio.run(run_app_mq(rounds)))


if __name__ == "__main__":
    main()
