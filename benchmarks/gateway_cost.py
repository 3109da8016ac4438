"""CPU per request of the gateway app itself: ASGI calls in-process, no HTTP server, no HTTP client.

``gateway_bench`` measures the whole server under load, which on a shared 2-core machine moves by
tens of percent between runs. This one calls the app directly (the middleware, routing, token check,
parameter and body validation, the handler, serialization, error rendering) in front of the real
router and the demo fleet of emulated devices, and reports the best of several rounds of CPU time per
request, which is what a change to the gateway's plumbing moves. The emulators run in the same
process, so the command figure includes an emulated device's share.

    .venv/bin/python -m benchmarks.gateway_cost [--requests 3000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

Case = tuple[str, str, str, bytes, bytes, int]  # name, method, path, query, body, expected status


async def call(app: Any, method: str, path: str, query: bytes = b"", body: bytes = b"") -> int:
    """One request through the ASGI app; returns the answer's status."""
    headers = [(b"host", b"127.0.0.1:8780")]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8780),
    }
    received = asyncio.Event()
    status = 0

    async def receive() -> dict[str, Any]:
        if not received.is_set():
            received.set()
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])

    await app(scope, receive, send)
    return status


@contextlib.asynccontextmanager
async def demo_home(first_ip: str) -> AsyncIterator[tuple[Any, Path]]:
    """The demo fleet on loopback, registered in a throw-away data dir and opened with ``tuyagate.open_home``."""
    import tuyagate
    from tuyagate.devices.manifest_import import parse_fleet_manifest
    from tuyagate.devices.registry import Registry
    from tuyagate.devices.tinytuya_import import write_import
    from tuyagate.devices.vault import Vault
    from tuyagate.sim.fleet import SimFleet

    manifest = SimFleet.demo(first_ip=first_ip, port=0)
    async with SimFleet(manifest):
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp)
            registry = Registry.open(data)
            try:
                write_import(parse_fleet_manifest(manifest.to_dict()), registry, Vault.open(registry.db, data))
            finally:
                registry.close()
            async with tuyagate.open_home(data, cloud=False) as home:
                yield home, data


async def measure(requests: int, rounds: int) -> dict[str, float]:
    from tuyagate.gateway.app import create_app
    from tuyagate.gateway.settings import GatewaySettings

    async with demo_home("127.0.6.1") as (hub, data):
        app = create_app(GatewaySettings(data_dir=data), hub, manage_manager=False)
        plug = hub.device("Desk plug").info.id
        await hub.device(plug).status(refresh=True, timeout=5.0)
        cases: list[Case] = [
            ("status (cached)", "GET", f"/api/v1/devices/{plug}/status", b"", b"", 200),
            ("device list", "GET", "/api/v1/devices", b"", b"", 200),
            ("device detail", "GET", f"/api/v1/devices/{plug}", b"", b"", 200),
            ("command (LAN)", "POST", f"/api/v1/devices/{plug}/commands", b"", b'{"dps":{"1":true}}', 200),
            ("unknown device (404)", "GET", "/api/v1/devices/nope/status", b"", b"", 404),
            ("malformed body (422)", "POST", f"/api/v1/devices/{plug}/commands", b"", b'{"dps":{}}', 422),
            ("tasmota Power", "GET", f"/tasmota/{plug}/cm", b"cmnd=Power", b"", 200),
        ]
        out: dict[str, float] = {}
        for name, method, path, query, body, expected in cases:
            got = await call(app, method, path, query, body)
            if got != expected:
                raise RuntimeError(f"{name}: answered {got}, expected {expected}")
            n = requests if method == "GET" else max(1, requests // 3)
            best = float("inf")
            for _ in range(rounds):
                started = time.process_time()
                for _ in range(n):
                    await call(app, method, path, query, body)
                best = min(best, (time.process_time() - started) / n)
            out[name] = best * 1e6
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per round (commands: a third)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]

        results = uvloop.run(measure(args.requests, args.rounds))
    except ImportError:
        results = asyncio.run(measure(args.requests, args.rounds))
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"gateway CPU per request, in-process, best of {args.rounds} rounds")
    for name, us in results.items():
        print(f"{name:<24}{us:>8.0f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
