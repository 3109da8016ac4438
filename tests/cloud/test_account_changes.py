"""Devices paired into or removed from the cloud account, and renames, reach the registry (and the
running home) through both push services: the message service (Pulsar) and the app MQ."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cloud.app_mq_support import TlsBroker
from tests.cloud.app_support import app_login
from tests.cloud.conftest import CLIENT_ID, SECRET
from tests.emulated_home import emulated_home, registry_with
from tuyagate.cloud.app_client import AppCloudClient
from tuyagate.cloud.client import TuyaCloudClient
from tuyagate.cloud.credentials import CloudCredentials
from tuyagate.deadline import Deadline
from tuyagate.device_api import DeviceEvent
from tuyagate.devices.cloud_account import AccountChanges
from tuyagate.devices.cloud_events import app_mq_events, cloud_events
from tuyagate.devices.hub import Home, HubOptions, build_hub
from tuyagate.devices.registry import Registry, secret_name
from tuyagate.sim.cloud_server import RunningCloud

pytest.importorskip("aiomqtt")
pytest.importorskip("tuya_sharing")
NEW = "bfnewplug00000000009"


async def until(predicate: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = Deadline.after(seconds)
    while not predicate():
        assert deadline.remaining() > 0, "the change never arrived"
        await asyncio.sleep(0.02)  # polling, bounded by the deadline


@pytest.fixture(params=["pulsar", "app_mq"])
async def account_world(
    request: pytest.FixtureRequest, tls_broker: TlsBroker, tmp_path: Path
) -> AsyncIterator[tuple[RunningCloud, Home, Registry, Any]]:
    """The demo fleet (real emulated LAN devices on their own loopback addresses) behind the emulated
    cloud, a home over it with a developer login (Pulsar) or an app login (app MQ), and the consumer."""
    first_ip = "127.0.2.101" if request.param == "pulsar" else "127.0.2.131"
    async with emulated_home(first_ip, CLIENT_ID, SECRET, tls=True, app_mq=tls_broker.settings()) as home:
        cloud = home.cloud
        registry, vault = registry_with(home.manifest, tmp_path)
        client: TuyaCloudClient | AppCloudClient
        if request.param == "pulsar":
            client = TuyaCloudClient(CLIENT_ID, SECRET, base_url=cloud.base_url, verify=str(cloud.cert_path), timeout=5)
        else:
            client = AppCloudClient(await app_login(cloud), ca_bundle=str(cloud.cert_path), timeout=5.0)
        hub = build_hub(registry, vault, cloud=client, options=HubOptions(timeout=3.0, lan_timeout=1.0))
        await hub.start()
        account = AccountChanges(hub, client, vault)
        consumer: Any
        if isinstance(client, AppCloudClient):
            consumer = app_mq_events(hub, client, ca_bundle=str(tls_broker.ca.ca), account=account, backoff_base=0.05)
        else:
            creds = CloudCredentials(CLIENT_ID, SECRET, base_url=cloud.base_url, ca_bundle=str(cloud.cert_path))
            consumer = cloud_events(hub, creds, account=account)
        try:
            async with consumer:
                async with asyncio.timeout(10):
                    await consumer.connected.wait()
                yield cloud, hub, registry, vault
        finally:
            await hub.close()
            registry.close()


async def test_paired_renamed_and_removed_devices_follow_into_the_registry(
    account_world: tuple[RunningCloud, Home, Registry, Any],
) -> None:
    cloud, hub, registry, vault = account_world
    verify = ssl.create_default_context(cafile=str(cloud.cert_path))
    plug = cloud.state.fleet.devices[0]
    new = dict(plug.to_dict(), id=NEW, name="Garage plug", local_key="0123456789abcdef", lan=False)
    seen: list[DeviceEvent] = []
    stop_listening = hub.listen(seen.append)
    async with httpx.AsyncClient(base_url=cloud.base_url, verify=verify) as sim:
        assert (await sim.post("/_sim/devices", json={"device": new})).status_code == 201
        await until(lambda: NEW in {d.info.id for d in hub.devices()})  # served at once (Home.reload)
        record = registry.get(NEW)
        assert record.name == "Garage plug"
        assert vault.get(secret_name(NEW)) == "0123456789abcdef"  # its key came with it
        assert len(record.schema) > 0  # and its DP schema

        assert (await sim.post(f"/_sim/devices/{plug.id}", json={"name": "Hall plug"})).status_code == 200
        await until(lambda: hub.device(plug.id).info.name == "Hall plug")
        assert registry.get(plug.id).name == "Hall plug"

        assert (await sim.delete(f"/_sim/devices/{NEW}")).status_code == 200
        await until(lambda: NEW not in {d.info.id for d in hub.devices()})
        assert registry.find(NEW) is None
        assert vault.get(secret_name(NEW)) is None  # its key left with it
    stop_listening()
    kinds = [(e.kind, e.device_id) for e in seen if e.kind in ("added", "removed") and e.device_id == NEW]
    assert kinds == [("added", NEW), ("removed", NEW)]  # what SSE, MQTT and the dashboard are told
