"""The shared HTTP rules: credentials out of URLs, retries only before the request left, the factory."""

from __future__ import annotations

import asyncio

import pytest

from tuyagate.errors import ConfigError, ProtocolError, TuyaTimeoutError
from tuyagate.flashed.device import make_device
from tuyagate.flashed.http_base import HttpOptions, HttpTransport, excerpt, parse_json
from tuyagate.flashed.tasmota import TasmotaClient


async def test_credentials_in_the_url_move_out_of_it() -> None:
    transport = HttpTransport("http://admin:hunter2@127.0.0.1:8080/", label="Tasmota")
    try:
        assert (transport.host, transport.port, transport.user) == ("127.0.0.1", 8080, "admin")
        assert transport.credentials() == ("admin", "hunter2")
        assert "hunter2" not in repr(transport) + str(transport.base_url) + transport.where
        assert transport.where == "Tasmota at 127.0.0.1:8080"
    finally:
        await transport.close()
    with pytest.raises(ConfigError, match="not an http"):
        HttpTransport("ftp://127.0.0.1/")


def test_excerpts_are_short_and_printable() -> None:
    assert excerpt("a\r\nb") == "a\\r\\nb"
    assert excerpt("x" * 500) == "x" * 120 + "..."
    with pytest.raises(ProtocolError, match=r"dev answered with something that is not JSON: 'oops'"):
        parse_json(b"oops", "dev")


async def test_connect_errors_are_retried_until_the_device_is_back(tasmota) -> None:
    sim = await tasmota()
    port = sim.server.port
    await sim.stop()
    client = TasmotaClient(f"http://127.0.0.1:{port}", options=HttpOptions(timeout=3.0, retries=6, backoff=0.05))
    try:
        call = asyncio.create_task(client.command("Power ON"))
        await asyncio.sleep(0.2)  # a few refused attempts happen meanwhile
        back = await tasmota(port=port)
        assert await asyncio.wait_for(call, 3) == {"POWER": "ON"}
        assert back.emulator.commands == ["Power ON"]
    finally:
        await client.close()


async def test_a_request_that_may_have_arrived_is_never_sent_twice(tasmota) -> None:
    sim = await tasmota()
    sim.emulator.faults.delay = 0.4
    client = TasmotaClient(sim.url, options=HttpOptions(timeout=0.15, retries=5))
    try:
        with pytest.raises(TuyaTimeoutError):
            await client.command("Power TOGGLE")
        await asyncio.sleep(0.6)  # the slow device finishes the one request it got
        assert sim.emulator.commands == ["Power TOGGLE"]
    finally:
        await client.close()


async def test_make_device_picks_the_backend() -> None:
    for backend in ("tasmota", "openbeken", "esphome"):
        dev = make_device(backend, "http://127.0.0.1:9", password="pw", device_id=f"d-{backend}")
        try:
            assert (dev.info.backend, dev.info.id) == (backend, f"d-{backend}")
        finally:
            await dev.close()
    with pytest.raises(ConfigError, match="unknown flashed backend 'shelly'"):
        make_device("shelly", "http://127.0.0.1:9")
