"""Helper of ``benchmarks.lan_bench``: one client's memory, in a fresh process that imports only that client.

``python -m benchmarks.memory_client tuyagate|rustuya MANIFEST`` connects to the first device of the
fleet manifest (so first-use allocations, imports and caches, are not counted per device: this
RSS is the client's *base*), then opens a persistent connection (heartbeats on) to every device,
reads its status, and prints one JSON line: the RSS before and after, and the growth per
connected device. The manifest is read as plain JSON so that nothing but the client under test
(and the standard library) is imported.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from types import SimpleNamespace
from typing import Any


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _result(devices: list[Any], connected: int, errors: int, before: int, after: int) -> dict[str, Any]:
    return {
        "devices": len(devices),
        "connected": connected,
        "errors": errors,
        "rss_before": before,
        "rss_after": after,
        "per_device_bytes": (after - before) / max(1, connected),
    }


async def tuyagate_client(devices: list[Any]) -> dict[str, Any]:
    import asyncio

    from tuyagate.lan import DeviceConnection

    def conn(d: Any, **kw: Any) -> DeviceConnection:
        return DeviceConnection(d.id, d.ip, d.local_key, d.version, port=d.port, **kw)

    async with conn(devices[0], heartbeat_interval=None) as first:
        await first.status()
        await first.set_dps({"1": True})
    gc.collect()
    before = rss_bytes()
    conns = [conn(d, heartbeat_interval=10.0, timeout=20.0) for d in devices]
    replies = await asyncio.gather(*(c.status() for c in conns), return_exceptions=True)
    await asyncio.sleep(0.5)
    gc.collect()
    after = rss_bytes()
    connected = sum(c.connected for c in conns)
    for c in conns:
        await c.close()
    return _result(devices, connected, sum(not isinstance(r, dict) for r in replies), before, after)


def rustuya_client(devices: list[Any]) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    import rustuya  # type: ignore[import-not-found,import-untyped,unused-ignore]

    rustuya.set_connect_concurrency(len(devices))

    def dev(d: Any) -> Any:
        return rustuya.Device(d.id, d.local_key, address=d.ip, version=d.version, port=d.port, persist=True)

    def ok(reply: Any) -> bool:
        return isinstance(reply, dict) and "errorCode" not in reply

    first = dev(devices[0])
    assert ok(first.status())
    first.close()
    first.stop()
    time.sleep(0.3)  # until the device has seen the close (rustuya releases it some tens of ms later)
    gc.collect()
    before = rss_bytes()
    objs = [dev(d) for d in devices]
    with ThreadPoolExecutor(64) as pool:  # its calls block (the GIL released): a pool reaches them all
        replies = list(pool.map(lambda d: d.status(), objs))
    time.sleep(0.5)
    gc.collect()
    after = rss_bytes()
    connected = sum(bool(d.is_connected) for d in objs)
    for d in objs:
        d.close()
        d.stop()
    return _result(devices, connected, sum(not ok(r) for r in replies), before, after)


def main() -> None:
    client, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as fh:
        devices = [SimpleNamespace(**d) for d in json.load(fh)["devices"]]
    if client == "rustuya":
        result = rustuya_client(devices)
    else:
        import asyncio

        result = asyncio.run(tuyagate_client(devices))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
