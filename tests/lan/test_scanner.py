"""`tuyagate.lan.scanner.scan`: early stop, shared ports, the subnet sweep; all on loopback."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest

from tuyagate.errors import ConfigError, TuyaConnectionError
from tuyagate.lan.scanner import SweepProgress, parse_subnet, scan
from tuyagate.sim.device import SimDevice

KEY = "0123456789abcdef"
SWEEP_NET = "127.0.73.0/24"  # loopback only: the sweep is never pointed anywhere else in tests


def _free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
    return port


@asynccontextmanager
async def _running(*devices: SimDevice) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        for device in devices:
            await device.start()
            stack.push_async_callback(device.stop)
        yield


def _announcer(n: int, listen: int, interval: float = 0.1) -> SimDevice:
    return SimDevice(
        device_id=f"bfscan{n:014d}",
        local_key=KEY,
        version="3.3",
        discovery_to=("127.0.0.1", listen),
        discovery_interval=interval,
    )


async def test_stops_as_soon_as_the_wanted_count_is_heard() -> None:
    listen = _free_udp_port()
    async with _running(*(_announcer(n, listen) for n in range(3))):
        result = await scan(10.0, listen_host="127.0.0.1", ports=[listen], probe_to=[], want_count=3)
    assert len(result.devices) == 3
    assert result.elapsed < 3.0  # not the 10 s it was allowed


async def test_stops_as_soon_as_the_wanted_ids_are_heard() -> None:
    listen = _free_udp_port()
    async with _running(_announcer(1, listen), _announcer(2, listen)):
        result = await scan(
            10.0, listen_host="127.0.0.1", ports=[listen], probe_to=[], want_ids={"bfscan00000000000002"}
        )
    assert "bfscan00000000000002" in {d.device_id for d in result.devices}
    assert result.elapsed < 3.0


async def test_shares_a_port_another_listener_holds_with_reuse() -> None:
    """Home Assistant binds 6667 with address reuse; the scan must hear devices beside it."""
    listen = _free_udp_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("0.0.0.0", listen))
        async with _running(_announcer(1, listen)):
            result = await scan(5.0, listen_host="127.0.0.1", ports=[listen], probe_to=[], want_count=1)
    assert result.ports == [listen]
    assert [d.device_id for d in result.devices] == ["bfscan00000000000001"]


async def test_a_port_held_without_reuse_is_named(caplog: pytest.LogCaptureFixture) -> None:
    taken, free = _free_udp_port(), _free_udp_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", taken))  # no SO_REUSEADDR/SO_REUSEPORT: nobody may share it
        with caplog.at_level(logging.WARNING, logger="tuyagate.lan.scanner"):
            result = await scan(0.2, listen_host="127.0.0.1", ports=[taken, free], probe_to=[])
        assert result.ports == [free]
        assert f"127.0.0.1:{taken}" in caplog.text
        with pytest.raises(TuyaConnectionError, match=str(taken)):
            await scan(0.2, listen_host="127.0.0.1", ports=[taken], probe_to=[])


async def test_the_sweep_finds_devices_no_broadcast_reaches() -> None:
    """A 3.5 device answers the unicast probe; an older one is reported as an open Tuya port."""
    listen, probe_port = _free_udp_port(), _free_udp_port()
    quiet35 = SimDevice(
        device_id="bfsweep35000000000001",
        local_key=KEY,
        version="3.5",
        host="127.0.73.5",
        port=6668,
        probe_port=probe_port,
    )
    old33 = SimDevice(device_id="bfsweep33000000000002", local_key=KEY, version="3.3", host="127.0.73.9", port=6668)
    seen: list[SweepProgress] = []
    async with _running(quiet35, old33):
        result = await scan(
            10.0,
            listen_host="127.0.0.1",
            ports=[listen],
            probe_to=[],
            subnet=SWEEP_NET,
            sweep_probe_port=probe_port,
            sweep_concurrency=32,
            progress=seen.append,
        )
    assert [(d.device_id, d.ip, d.version) for d in result.devices] == [("bfsweep35000000000001", "127.0.73.5", "3.5")]
    assert result.unidentified == ["127.0.73.9"]
    assert seen[-1] == SweepProgress(SWEEP_NET, 254, 254, 2)
    assert [p.tried for p in seen] == sorted(p.tried for p in seen)
    assert result.elapsed < 5.0


def test_bad_subnets_are_refused_clearly() -> None:
    with pytest.raises(ConfigError, match="CIDR"):
        parse_subnet("127.0.73.0/33")
    with pytest.raises(ConfigError, match="/16"):
        parse_subnet("10.0.0.0/8")
    assert parse_subnet("127.0.73.7/24").num_addresses == 256
