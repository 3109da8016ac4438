"""An app login's live events in the gateway: a cloud-only device's change reaches an SSE client.

The demo fleet and the emulated cloud share one state; the home's cloud client is the app login
(``AppCloudClient``), so :func:`cloud_events_for` picks the app MQ (a real Mosquitto with TLS).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import httpx
import pytest

from tests.cloud.app_mq_support import TlsBroker
from tests.cloud.app_support import app_login
from tests.emulated_home import emulated_home, registry_with
from tests.gateway.conftest import make_settings
from tuyagate.cloud.app_client import AppCloudClient
from tuyagate.cloud.app_mq import AppMqConsumer
from tuyagate.devices.cloud_events import cloud_events_for
from tuyagate.devices.hub import HubOptions, build_hub
from tuyagate.gateway.app import create_app
from tuyagate.gateway.server import serve_app

pytest.importorskip("aiomqtt")
pytest.importorskip("tuya_sharing")
CELLAR = "Cellar plug (cloud only)"


async def test_a_cloud_only_device_changes_live_in_sse_with_an_app_login(
    tmp_path: Path, tls_broker: TlsBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_broker.ca.ca))  # the gateway trusts the system store
    async with emulated_home("127.0.2.41", "appmqgw", "a" * 32, tls=True, app_mq=tls_broker.settings()) as home:
        registry, vault = registry_with(home.manifest, tmp_path)
        login = await app_login(home.cloud)
        app = AppCloudClient(login, ca_bundle=str(home.cloud.cert_path), timeout=5.0)
        hub = build_hub(registry, vault, cloud=app, options=HubOptions(timeout=3.0, lan_timeout=1.0))
        await hub.start()
        events = cloud_events_for(hub)
        assert isinstance(events, AppMqConsumer)  # an app login: the app's MQ, not the message service
        served = await serve_app(create_app(make_settings(tmp_path), hub, manage_manager=False), "127.0.0.1", 0)
        cellar = hub.device(CELLAR)
        verify = ssl.create_default_context(cafile=str(home.cloud.cert_path))
        try:
            await events.start()
            async with asyncio.timeout(10):
                await events.connected.wait()
            async with (
                httpx.AsyncClient(base_url=served.url, timeout=10.0) as client,
                client.stream("GET", "/api/v1/events", params={"device": cellar.info.id}) as response,
                httpx.AsyncClient(verify=verify) as sim,
            ):
                assert response.status_code == 200
                lines = response.aiter_lines()
                async with asyncio.timeout(5):
                    async for line in lines:
                        if line == ": connected":
                            break
                answer = await sim.post(
                    home.cloud.base_url + f"/_sim/devices/{cellar.info.id}", json={"dps": {"1": True}}
                )
                assert answer.status_code == 200
                name = ""
                async with asyncio.timeout(5):
                    async for line in lines:
                        if line.startswith("event: "):
                            name = line[7:]
                        elif line.startswith("data: ") and name == "state":
                            data = json.loads(line[6:])
                            break
            assert data["values"] == {"switch_1": True}
            assert data["route"] == "cloud"
            assert events.delivered >= 1
            assert events.bad == 0
        finally:
            await events.close()
            await served.stop()
            await hub.close()
            registry.close()
