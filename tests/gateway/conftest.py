"""Fixtures: a real uvicorn server on 127.0.0.1:0 in front of a device manager, and httpx clients.

``fleet`` is the only place that decides which DeviceManager the gateway serves. Today it is the
in-memory one; switching to the router over an emulated fleet is a change of this fixture (the
tests that poke device knobs -- push, vanish, recover -- go through ``fleet.get(...)``).
"""

from __future__ import annotations

import ssl as _ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.gateway.memory_devices import MemoryDeviceManager, make_fleet
from tuyagate.gateway.app import create_app
from tuyagate.gateway.server import ServedApp, serve_app
from tuyagate.gateway.settings import GatewaySettings

CLOUD_CLIENT_ID = "localclientid0000001"
CLOUD_CLIENT_SECRET = "localsecret0123456789abcdefabcdef"


@dataclass
class Gateway:
    url: str
    app: FastAPI
    served: ServedApp
    fleet: MemoryDeviceManager
    client: httpx.AsyncClient
    settings: GatewaySettings


GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
def fleet() -> MemoryDeviceManager:
    return make_fleet()


def make_settings(data_dir: Path, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "request_timeout": 0.5,
        "sse_heartbeat": 0.3,
        "cloud_client_id": CLOUD_CLIENT_ID,
        "cloud_client_secret": CLOUD_CLIENT_SECRET,
    }
    values.update(overrides)
    return GatewaySettings(**values)


@pytest.fixture
async def start_gateway(fleet: MemoryDeviceManager, tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    """Start gateways with setting overrides; every one is stopped at the end of the test."""
    started: list[Gateway] = []

    async def start(**overrides: Any) -> Gateway:
        host = overrides.pop("listen_host", "127.0.0.1")
        ssl = {k: overrides.pop(k) for k in ("ssl_certfile", "ssl_keyfile") if k in overrides}
        settings = make_settings(tmp_path, **overrides)
        app = create_app(settings, fleet)
        served = await serve_app(app, host, 0, **ssl)
        verify: Any = _ssl.create_default_context(cafile=ssl["ssl_certfile"]) if ssl else True
        client = httpx.AsyncClient(base_url=served.url, timeout=10.0, verify=verify)
        gw = Gateway(served.url, app, served, fleet, client, settings)
        started.append(gw)
        return gw

    yield start
    for gw in reversed(started):
        await gw.client.aclose()
        await gw.served.stop()


@pytest.fixture
async def gateway(start_gateway: GatewayFactory) -> Gateway:
    return await start_gateway()
