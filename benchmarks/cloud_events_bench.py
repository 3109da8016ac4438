"""Cloud push latency: a DP change of an emulated cloud-only device to the SSE event at a gateway client.

The whole path runs on loopback, as in ``tuyagate demo`` (which this starts, on free ports): the
emulated device changes and the emulated cloud publishes the report on its message service
(Pulsar over a websocket), tuyagate's consumer receives, decrypts, verifies and acknowledges it,
the device's cache emits a ``state`` event on the home's bus, and the gateway writes it to an SSE
stream that an HTTP client reads. Timed from just before the change to the client having parsed
the event's data line. Everything shares one process and event loop (emulator, gateway, client),
so the figures include all three sides' CPU on one core: a pessimistic view of the gateway alone.

Polling, the alternative, takes up to its interval (5 s by default) per change.

Run: ``.venv/bin/python -m benchmarks.cloud_events_bench`` (about 10 s) or ``--quick``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import time

import httpx

from tuyagate.cli.demo import DemoWorld
from tuyagate.devices.hub import HubOptions

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
        backend, broker = world.cloud.state.fleet.backend, world.cloud.state.pulsar
        value = bool((await backend.get_dps(emulated)).get("1"))
        samples: list[float] = []
        async with (
            httpx.AsyncClient(base_url=world.url, timeout=10) as client,
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
                broker.status_report(emulated, {"1": value})
                async for line in lines:
                    if line.startswith("data: ") and json.loads(line[6:]).get("values") == {"switch_1": value}:
                        break
                samples.append(time.perf_counter() - start)
        return samples
    finally:
        await world.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="50 changes instead of 500")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    samples = asyncio.run(run(50 if args.quick else 500))
    ms = [s * 1000 for s in samples]
    print(f"cloud push -> SSE, {len(ms)} changes on loopback:")
    print(
        f"  p50 {statistics.median(ms):.2f} ms   p99 {percentile(ms, 99):.2f} ms   max {max(ms):.2f} ms"
        "   (target p99 <= 50 ms)"
    )


if __name__ == "__main__":
    main()
