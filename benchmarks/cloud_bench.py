"""Tuya cloud client: signing throughput and per-call overhead, against the emulator on loopback.

Four measurements, all in one process on this machine:

1. Signing: ``compute_sign`` for a GET with a query (current scheme), a POST with a JSON body,
   the old scheme, and ``verify_sign`` as the emulator and the gateway run it.
2. Client overhead without a network: ``TuyaCloudClient.status()`` on an ``httpx.MockTransport``
   that answers at once, against a bare ``httpx`` GET on the same transport. The difference is
   what the client adds per call (signing, token and limiter checks, envelope and model parsing).
3. Loopback HTTP against ``tuyagate sim cloud``: the client's ``status()`` against a minimal
   hand-signed ``httpx`` request to the same endpoint (sequential; then 50 concurrent callers).
4. Loopback HTTPS: the client against tinytuya's ``Cloud.getstatus`` (sequential, same emulator).

Run: ``.venv/bin/python -m benchmarks.cloud_bench`` (about 30 s) or with ``--quick``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import tinytuya

from tuyagate.cloud.client import TuyaCloudClient
from tuyagate.cloud.signing import SignScheme, compute_sign, sign_headers, verify_sign
from tuyagate.sim.cloud_sample import sample_fleet
from tuyagate.sim.cloud_server import RunningCloud, start_cloud_server
from tuyagate.sim.cloud_state import CloudConfig

CLIENT_ID = "benchclientid0000001"
SECRET = "benchsecret0123456789abcdefabcde"  # a made-up value for the emulator
TOKEN = "3f4eda2bdec17232f67c0b188af3eec1"
PLUG = "bfdemoplug0000000001"
STATUS_PATH = f"/v1.0/iot-03/devices/{PLUG}/status"


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds``."""
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            fn()
        n += 200
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def bench_signing(seconds: float) -> list[tuple[str, float]]:
    body = json.dumps({"commands": [{"code": "switch_1", "value": True}]}, separators=(",", ":")).encode()
    query = [("type", "1,7"), ("start_time", "1700000000000"), ("end_time", "1700086400000"), ("size", "100")]
    common: dict[str, Any] = {"client_id": CLIENT_ID, "secret": SECRET, "t": "1700000000000", "access_token": TOKEN}
    good = compute_sign(**common, method="GET", path="/v1.0/devices/x/logs", query=query)
    cases: list[tuple[str, Callable[[], object]]] = [
        (
            "sign GET + 4 query params (current)",
            lambda: compute_sign(**common, path="/v1.0/devices/x/logs", query=query),
        ),
        ("sign POST + JSON body (current)", lambda: compute_sign(**common, method="POST", path="/v1.0/x", body=body)),
        ("sign (old scheme)", lambda: compute_sign(**common, scheme=SignScheme.OLD)),
        (
            "verify, both schemes allowed",
            lambda: verify_sign(
                good,
                **common,
                path="/v1.0/devices/x/logs",
                query=query,
                schemes=(SignScheme.CURRENT, SignScheme.OLD),
            ),
        ),
    ]
    return [(name, rate(fn, seconds)) for name, fn in cases]


def _canned(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v1.0/token":
        result: Any = {"access_token": TOKEN, "refresh_token": "r", "expire_time": 7200, "uid": "u"}
    else:
        result = [{"code": "switch_1", "value": True}, {"code": "cur_voltage", "value": 2301}]
    return httpx.Response(200, json={"success": True, "result": result, "t": int(time.time() * 1000), "tid": "x"})


async def per_call(fn: Callable[[], Awaitable[object]], n: int) -> list[float]:
    """Latencies (seconds) of ``n`` sequential calls, after 20 warm-up calls."""
    for _ in range(20):
        await fn()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - start)
    return out


async def bench_overhead(n: int) -> tuple[float, float]:
    transport = httpx.MockTransport(_canned)
    async with (
        TuyaCloudClient(CLIENT_ID, SECRET, base_url="http://mock", transport=transport) as client,
        httpx.AsyncClient(base_url="http://mock", transport=transport) as bare,
    ):
        ours = await per_call(lambda: client.status(PLUG), n)
        base = await per_call(lambda: bare.get(STATUS_PATH), n)
    return statistics.mean(ours), statistics.mean(base)


def _signed_get(cloud: RunningCloud, http: httpx.AsyncClient, token: str) -> Callable[[], Awaitable[object]]:
    async def call() -> object:
        headers = sign_headers(
            client_id=CLIENT_ID, secret=SECRET, t=int(time.time() * 1000), access_token=token, path=STATUS_PATH
        )
        response = await http.get(cloud.base_url + STATUS_PATH, headers=headers)
        return response.json()["result"]

    return call


async def bench_loopback(n: int, concurrency: int) -> dict[str, Any]:
    config = CloudConfig(CLIENT_ID, SECRET)
    async with (
        await start_cloud_server(config, sample_fleet()) as cloud,
        TuyaCloudClient(CLIENT_ID, SECRET, base_url=cloud.base_url) as client,
        httpx.AsyncClient() as http,
    ):
        token = (await client.token()).access_token
        ours = await per_call(lambda: client.status(PLUG), n)
        bare = await per_call(_signed_get(cloud, http, token), n)
        per_worker = max(1, n * 2 // concurrency)

        async def worker() -> None:
            for _ in range(per_worker):
                await client.status(PLUG)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        throughput = per_worker * concurrency / (time.perf_counter() - start)
    return {"ours": ours, "bare": bare, "throughput": throughput}


async def bench_tls_vs_tinytuya(n: int) -> tuple[list[float], list[float]]:
    config = CloudConfig(CLIENT_ID, SECRET)
    async with await start_cloud_server(config, sample_fleet(), tls=True) as cloud:
        os.environ["REQUESTS_CA_BUNDLE"] = str(cloud.cert_path)
        async with TuyaCloudClient(CLIENT_ID, SECRET, base_url=cloud.base_url, verify=str(cloud.cert_path)) as client:
            ours = await per_call(lambda: client.status(PLUG), n)
        host = cloud.base_url.removeprefix("https://")

        class EmulatedCloud(tinytuya.Cloud):  # type: ignore[misc]
            def setregion(self, apiRegion: str | None = None) -> None:
                super().setregion(apiRegion)
                self.urlhost = host

        def tinytuya_run() -> list[float]:
            tt = EmulatedCloud(apiRegion="eu", apiKey=CLIENT_ID, apiSecret=SECRET)
            for _ in range(5):
                tt.getstatus(PLUG)
            out = []
            for _ in range(n):
                start = time.perf_counter()
                tt.getstatus(PLUG)
                out.append(time.perf_counter() - start)
            return out

        theirs = await asyncio.to_thread(tinytuya_run)
    return ours, theirs


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    mean, p50 = statistics.mean(samples), statistics.median(samples)
    return f"mean {mean * 1000:6.3f} ms  p50 {p50 * 1000:6.3f}  p99 {p99 * 1000:6.3f}"


async def main(quick: bool) -> None:
    seconds = 0.3 if quick else 2.0
    n = 100 if quick else 1000
    logging.getLogger("tinytuya").setLevel(logging.WARNING)

    print("== 1. signing (pure functions, one core)")
    for name, ops in bench_signing(seconds):
        print(f"  {name:40s} {ops:10,.0f} /s  ({1e6 / ops:5.2f} us)")

    print("== 2. client overhead per call, no network (httpx.MockTransport)")
    ours, base = await bench_overhead(n)
    print(f"  TuyaCloudClient.status()                 {ours * 1e6:8.1f} us")
    print(f"  bare httpx GET, same transport           {base * 1e6:8.1f} us")
    print(f"  overhead added by the client             {(ours - base) * 1e6:8.1f} us per call")

    print("== 3. loopback HTTP against tuyagate sim cloud (client and emulator share this process)")
    loop = await bench_loopback(n, 50)
    print(f"  TuyaCloudClient.status()    {_ms(loop['ours'])}")
    print(f"  hand-signed httpx GET       {_ms(loop['bare'])}")
    extra = statistics.mean(loop["ours"]) - statistics.mean(loop["bare"])
    print(f"  client overhead on loopback {extra * 1e6:8.1f} us per call")
    print(f"  50 concurrent callers       {loop['throughput']:8.0f} calls/s")

    print("== 4. loopback HTTPS: tuyagate client vs tinytuya Cloud.getstatus (sequential)")
    tls_n = max(50, n // 5)
    ours_tls, theirs = await bench_tls_vs_tinytuya(tls_n)
    print(f"  tuyagate   {_ms(ours_tls)}")
    print(f"  tinytuya   {_ms(theirs)}")
    print(f"  ratio (tinytuya / tuyagate mean): {statistics.mean(theirs) / statistics.mean(ours_tls):.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few seconds instead of about 30")
    asyncio.run(main(parser.parse_args().quick))
