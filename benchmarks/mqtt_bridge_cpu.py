"""The MQTT bridge's own CPU per state message, in one process: bus events -> bridge -> a local Mosquitto.

``benchmarks/mqtt_bench.py`` measures the bridge inside a whole gateway (500 emulated devices in another
process, LAN decoding, the router) and subtracts the gateway's CPU without the bridge: realistic, but two
noisy figures on a shared machine. This one hands the bridge state events directly at ``--rate`` per second
(one device after another of the demo home, each event a new value, so each is one state message) and
subtracts the same pacing loop without events, round by round, in the same process:

    .venv/bin/python -m benchmarks.mqtt_bridge_cpu [--rate 500] [--seconds 6] [--rounds 3]

Coalescing is off (``coalesce=0``: each event is a message), the batching window is the default one.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
from dataclasses import replace
from pathlib import Path

from tests.mqtt.broker import MOSQUITTO, MosquittoBroker

from benchmarks.gateway_cost import demo_home
from benchmarks.perf_counts import BusHome


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _pace(rate: float, seconds: float, publish: object) -> None:
    """Call ``publish(i)`` ``rate`` times a second (or only pace, when it is None)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(int(rate * seconds)):
        if callable(publish):
            publish(i)
        delay = start + (i + 1) / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the offered load
    await asyncio.sleep(0.05)  # the last batching window


async def run(args: argparse.Namespace) -> list[float]:
    from tuyagate.device_api import DeviceEvent
    from tuyagate.mqtt.bridge import MqttBridge
    from tuyagate.mqtt.config import parse_mqtt_url

    if MOSQUITTO is None:
        raise SystemExit("mosquitto is not installed (apt-get install mosquitto)")
    results: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, MosquittoBroker(Path(tmp)) as broker:
        async with demo_home("127.0.7.1") as (home, _):
            bus_home = BusHome(home)
            ids = [d.info.id for d in home.devices()]
            config = replace(parse_mqtt_url(broker.url + "?node_id=cpu&discovery=false"), coalesce=0.0)
            async with MqttBridge(bus_home, config) as bridge:
                await bridge.wait_connected(30)
                offset = 0

                def event(i: int) -> None:
                    device_id = ids[i % len(ids)]
                    bus_home.bus.publish(DeviceEvent(device_id, "state", values={"cur_power": offset + i}))

                await _pace(args.rate, 2.0, event)  # warm-up
                for round_ in range(args.rounds):
                    offset = (round_ + 1) * 10**7
                    before, sent = _cpu(), bridge.stats.state_messages
                    await _pace(args.rate, args.seconds, event)
                    bridged, messages = _cpu() - before, bridge.stats.state_messages - sent
                    before = _cpu()
                    await _pace(args.rate, args.seconds, None)
                    idle = _cpu() - before
                    results.append((bridged - idle) / max(messages, 1) * 1e6)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0, help="state events per second")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # the gateway runs on uvloop where it is installed
        results = asyncio.run(run(args))
    else:
        results = uvloop.run(run(args))
    rounds = ", ".join(f"{r:.0f}" for r in results)
    print(f"bridge CPU per state message at {args.rate:g}/s: {rounds} us (target <= 150 us)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
