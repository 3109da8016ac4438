"""Fixtures: the cloud emulator on a real loopback socket, and tuyagate clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.app_mq_support import TlsBroker, running_tls_broker
from tuyagate.cloud.client import TuyaCloudClient
from tuyagate.sim.cloud_sample import sample_fleet
from tuyagate.sim.cloud_server import RunningCloud, start_cloud_server
from tuyagate.sim.cloud_state import CloudConfig

CLIENT_ID = "emuclientid000000001"
SECRET = "emusecret0123456789abcdefabcdef0"  # a test value, not a real secret
PLUG = "bfdemoplug0000000001"
BULB = "bfdemobulb0000000002"
GATEWAY = "bfdemogateway0000003"
SENSOR = "bfdemosensor00000004"
OFFLINE = "bfdemooffline0000005"

CloudFactory = Callable[..., Awaitable[RunningCloud]]
ClientFactory = Callable[..., TuyaCloudClient]


class FakeClock:
    """A wall clock the test moves by hand."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def start_cloud() -> AsyncIterator[CloudFactory]:
    """Start emulators (``tls=``, ``manifest=``, ``backend=``, ``clock=`` and CloudConfig fields)."""
    running: list[RunningCloud] = []

    async def start(**kw: Any) -> RunningCloud:
        server_kw = {k: kw.pop(k) for k in ("tls", "backend", "clock", "host", "port") if k in kw}
        manifest = kw.pop("manifest", None) or sample_fleet()
        cloud = await start_cloud_server(CloudConfig(CLIENT_ID, SECRET, **kw), manifest, **server_kw)
        running.append(cloud)
        return cloud

    yield start
    for cloud in reversed(running):
        await cloud.stop()


@pytest.fixture
async def cloud(start_cloud: CloudFactory) -> RunningCloud:
    return await start_cloud()


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., TuyaCloudClient]]:
    """Clients with fast retries (``backoff=0.01``); closed at the end of the test."""
    made: list[TuyaCloudClient] = []

    def make(cloud: RunningCloud, **kw: Any) -> TuyaCloudClient:
        kw.setdefault("backoff", 0.01)
        kw.setdefault("timeout", 5.0)
        if cloud.cert_path is not None:
            kw.setdefault("verify", str(cloud.cert_path))
        client = TuyaCloudClient(
            kw.pop("client_id", CLIENT_ID), kw.pop("secret", SECRET), base_url=cloud.base_url, **kw
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[TlsBroker]:
    """A Mosquitto with TLS only (a throwaway CA) for the app MQ; skipped without mosquitto."""
    with running_tls_broker(tmp_path) as broker:
        yield broker
