"""rustuya (PyPI, Rust with Python bindings) as a peer of ``benchmarks.lan_bench``.

rustuya's Python calls block and release the GIL while its Rust core does the I/O, so a fleet is
polled from a thread pool (``--rustuya-threads``). Its connects go through a global limiter
(``set_connect_concurrency``, set once before any device exists, to the largest fleet of the run so
that the cold round is not capped below tuyagate's, which has no cap). Two behaviours of its own
that the figures show rather than hide: on 3.4/3.5 it takes about 40 ms to connect (its session
handshake), and a device it closed is released some tens of milliseconds later (so the next cold
command waits ``COLD_PAUSE`` first: a device accepts one client, and a refused connect backs
rustuya off for seconds).

The wheel exists for some platforms only: where it does not install, ``module()`` prints a note
once and the benchmark runs without this peer.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tuyagate.sim.manifest import ManifestDevice

COLD_PAUSE = 0.1  # seconds between cold commands to one device (20 ms is too short for rustuya 0.3.0)
_state: dict[str, Any] = {}


def module() -> Any | None:
    """The rustuya module, or None (with a printed note) where its wheel did not install."""
    if "mod" not in _state:
        try:
            import rustuya  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError:
            print("note: rustuya is not installed here (no wheel for this platform?): its columns are skipped")
            rustuya = None
        _state["mod"] = rustuya
    return _state["mod"]


def version() -> str:
    mod = module()
    return "-" if mod is None else str(mod.version())


def set_connect_concurrency(n: int) -> int:
    """Set rustuya's global connect cap once (later calls are no-ops in rustuya); return the cap in force."""
    mod = module()
    if mod is None:
        return 0
    mod.set_connect_concurrency(n)
    return int(mod.connect_concurrency())


def device(dev: ManifestDevice, *, persist: bool = True) -> Any:
    mod = module()
    assert mod is not None
    return mod.Device(dev.id, dev.local_key, address=dev.ip, version=dev.version, port=dev.port, persist=persist)


def ok(reply: Any) -> bool:
    """A status reply with DPs (rustuya answers errors as a dict with ``errorCode`` instead of raising)."""
    if not isinstance(reply, dict) or "errorCode" in reply:
        return False
    return "dps" in reply or "dps" in reply.get("data", {})


def set_ok(reply: Any) -> bool:
    return not (isinstance(reply, dict) and "errorCode" in reply)


def warm(dev: ManifestDevice, n: int, op: str, out: Any) -> None:
    """``n`` requests on one persistent connection into ``out`` (a ``lan_bench.Samples``)."""
    d = device(dev)
    try:
        for _ in range(20):
            assert ok(d.status())
        c0 = time.process_time()
        for i in range(n):
            t0 = time.perf_counter_ns()
            reply = d.status() if op == "status" else d.set_value(1, i % 2 == 0)
            out.wall.append(time.perf_counter_ns() - t0)
            assert ok(reply) if op == "status" else set_ok(reply), reply
        out.cpu += time.process_time() - c0
    finally:
        release(d)


def cold(dev: ManifestDevice, n: int, out: Any) -> None:
    """Construct, connect (and handshake), set a DP, get the ACK: ``n`` times."""
    for i in range(n):
        c0 = time.process_time()
        t0 = time.perf_counter_ns()
        d = device(dev, persist=False)
        reply = d.set_value(1, i % 2 == 0)
        out.wall.append(time.perf_counter_ns() - t0)
        out.cpu += time.process_time() - c0
        assert set_ok(reply), reply
        release(d)
        time.sleep(COLD_PAUSE)


def release(d: Any) -> None:
    d.close()
    d.stop()


def fleet_round(pool: ThreadPoolExecutor, objs: list[Any]) -> tuple[float, int, float]:
    """Poll every device once from the pool: wall seconds, failed polls, process CPU seconds."""
    c0, t0 = time.process_time(), time.perf_counter()
    replies = list(pool.map(lambda d: d.status(), objs))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall, sum(not ok(r) for r in replies), cpu
