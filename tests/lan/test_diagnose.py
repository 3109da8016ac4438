"""`tuyagate.lan.diagnose`: each cause of silence, produced by an emulator mode, is named (loopback only)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tuyagate.lan.connection import DeviceConnection
from tuyagate.lan.diagnose import Diagnosis, diagnose
from tuyagate.sim.device import SimDevice
from tuyagate.sim.device_options import Faults

DEV_ID, KEY, OTHER_KEY = "bfdoctor000000000001", "0123456789abcdef", "fedcba9876543210"


def _free_port(kind: int = socket.SOCK_DGRAM, host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
    return port


@asynccontextmanager
async def _device(**kwargs: object) -> AsyncIterator[SimDevice]:
    sim = SimDevice(device_id=DEV_ID, local_key=KEY, **kwargs)  # type: ignore[arg-type]
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def _diagnose(
    sim: SimDevice | None, key: str | None, version: str | None, listen: int, **kw: object
) -> Diagnosis:
    host = kw.pop("host", sim.host if sim else "127.0.0.1")
    port = kw.pop("port", sim.port if sim else _free_port(socket.SOCK_STREAM))
    return await diagnose(
        DEV_ID,
        host,  # type: ignore[arg-type]
        key,
        version,
        port=port,  # type: ignore[arg-type]
        timeout=1.0,
        listen_for=float(kw.pop("listen_for", 2.0)),  # type: ignore[arg-type]
        listen_host="127.0.0.1",
        listen_ports=[listen],
        probe_port=_free_port(),
    )


async def test_a_healthy_announcing_device() -> None:
    listen = _free_port()
    async with _device(version="3.4", discovery_to=("127.0.0.1", listen), discovery_interval=0.1) as sim:
        result = await _diagnose(sim, KEY, "3.4", listen)
    assert result.healthy
    assert {"announcing", "port_open", "answers"} <= set(result.codes())
    assert result.announced is not None
    assert result.announced["version"] == "3.4"


async def test_wrong_key_offers_the_sync() -> None:
    listen = _free_port()
    async with _device(version="3.3", wrong_key="answer") as sim:
        result = await _diagnose(sim, OTHER_KEY, "3.3", listen, listen_for=0.3)
    assert result.codes()[0] == "wrong_key"
    assert "tuyagate cloud sync" in result.findings[0].advice
    assert OTHER_KEY not in str(result.as_dict())
    assert KEY not in str(result.as_dict())


async def test_wrong_version_is_detected() -> None:
    listen = _free_port()
    async with _device(version="3.4") as sim:
        result = await _diagnose(sim, KEY, "3.3", listen, listen_for=0.3)
    assert result.codes()[0] == "wrong_version"
    assert "3.4" in result.findings[0].message
    assert result.version == "3.4"


async def test_wrong_version_from_the_announcement() -> None:
    listen = _free_port()
    async with _device(version="3.5", discovery_to=("127.0.0.1", listen), discovery_interval=0.1) as sim:
        result = await _diagnose(sim, KEY, "3.5", listen)
        assert result.healthy
        announced = await _diagnose(sim, None, "3.3", listen)
    assert "wrong_version" in announced.codes()
    assert "key_unknown" in announced.codes()


async def test_port_closed() -> None:
    result = await _diagnose(None, KEY, "3.3", _free_port(), listen_for=0.3)
    assert result.codes()[0] == "port_closed"
    assert "not_announcing" in result.codes()
    assert next(f for f in result.findings if f.code == "not_announcing").severity == "warning"


async def test_another_client_holds_the_device() -> None:
    listen = _free_port()
    async with (
        _device(version="3.3", second_client="refuse") as sim,
        DeviceConnection(DEV_ID, sim.host, KEY, "3.3", port=sim.port, heartbeat_interval=None) as holder,
    ):
        await holder.status()
        result = await _diagnose(sim, KEY, "3.3", listen, listen_for=0.3)
    assert result.codes()[0] == "another_client"
    assert "one local client" in result.findings[0].advice


async def test_lan_disabled_in_firmware_accepts_tcp_and_answers_nothing() -> None:
    listen = _free_port()
    async with _device(version="3.3", faults=Faults(silent=True)) as sim:
        result = await _diagnose(sim, KEY, "3.3", listen, listen_for=0.3)
    assert result.codes()[0] == "no_answer"
    assert "LAN" in result.findings[0].advice
    assert "cloud" in result.findings[0].advice


async def test_a_device_that_moved_is_found_by_its_announcement() -> None:
    listen = _free_port()
    async with _device(
        version="3.3", host="127.0.9.7", discovery_to=("127.0.0.1", listen), discovery_interval=0.1
    ) as sim:
        result = await _diagnose(sim, KEY, "3.3", listen, host="127.0.9.8")
    assert "moved" in result.codes()
    assert "127.0.9.7" in next(f for f in result.findings if f.code == "moved").advice


async def test_unknown_address_is_taken_from_the_announcement() -> None:
    listen = _free_port()
    async with _device(version="3.3", discovery_to=("127.0.0.1", listen), discovery_interval=0.1) as sim:
        result = await _diagnose(sim, KEY, "3.3", listen, host=None)
    assert result.healthy
    assert "answers" in result.codes()
