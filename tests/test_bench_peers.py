"""The LAN benchmark's peers work against the emulated devices they are measured on.

A broken adapter would make ``benchmarks.lan_bench`` fail (or, worse, time something other than a
request) only when someone runs it; these run a few real requests through each on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from benchmarks import rustuya_peer
from benchmarks.lan_bench import Samples, emulated, tt_cold, tt_warm

from tuyagate.sim.manifest import ManifestDevice


@pytest.fixture(scope="module")
def devices() -> Iterator[list[ManifestDevice]]:
    with emulated(2, first_ip="127.0.0.1", port=0, versions="3.3,3.5") as devs:
        yield devs


def test_tinytuya_warm_and_cold(devices: list[ManifestDevice]) -> None:
    for dev in devices:
        warm, cold = Samples(), Samples()
        tt_warm(dev, 5, "set", 0, warm)
        tt_cold(dev, 2, cold)
        assert len(warm.wall) == 5
        assert len(cold.wall) == 2
        assert warm.cpu > 0


def test_rustuya_warm_cold_and_round(devices: list[ManifestDevice]) -> None:
    if rustuya_peer.module() is None:
        pytest.skip("rustuya has no wheel for this platform")
    from concurrent.futures import ThreadPoolExecutor

    for dev in devices:
        warm, cold = Samples(), Samples()
        rustuya_peer.warm(dev, 5, "status", warm)
        rustuya_peer.warm(dev, 5, "set", warm)
        rustuya_peer.cold(dev, 1, cold)
        assert len(warm.wall) == 10
        assert len(cold.wall) == 1
    objs = [rustuya_peer.device(dev) for dev in devices]
    try:
        with ThreadPoolExecutor(2) as pool:
            wall, failed, _cpu = rustuya_peer.fleet_round(pool, objs)
    finally:
        for d in objs:
            rustuya_peer.release(d)
    assert failed == 0
    assert wall > 0


def test_rustuya_reply_checks() -> None:
    assert rustuya_peer.ok({"devId": "x", "dps": {"1": True}})
    assert rustuya_peer.ok({"data": {"dps": {"1": True}}, "protocol": 4})
    assert not rustuya_peer.ok({"errorCode": 900, "errorMsg": "Invalid JSON Response from Device"})
    assert not rustuya_peer.set_ok({"errorCode": 914})
    assert rustuya_peer.set_ok("")
