"""Devices served from the moment the registry has them: ``POST /api/v1/reload`` and the cloud sync action,
on a real server over the real hub, with the SSE stream telling clients."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.conftest import PLUG, GatewayFactory, HomeFactory
from tests.gateway.test_events_and_failures import SSE
from tuyagate.devices.registry import DeviceRecord, Registry, secret_name
from tuyagate.devices.vault import Vault
from tuyagate.gateway.auth import JsonTokenStore, create_token
from tuyagate.sim.device import SimDevice

pytestmark = pytest.mark.asyncio(loop_scope="module")

NEW_ID, NEW_KEY = "bfreloadapi000000001", "0123456789abcdef"


async def _until_event(sse: SSE, kind: str, device_id: str, within: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(within):
        while True:
            for name, data in await sse.events(1, within=within):
                if name == kind and data["device_id"] == device_id:
                    return data


def _vault(registry: Registry) -> Vault:
    return Vault.open(registry.db, registry.db.path.parent, env={})


async def test_reload_serves_a_new_device_and_stops_serving_a_removed_one(
    start_home: HomeFactory, start_gateway: GatewayFactory
) -> None:
    home = await start_home(cloud=False)
    gw = await start_gateway(home=home)
    registry = home.hub.registry
    assert registry is not None
    sim = SimDevice(device_id=NEW_ID, local_key=NEW_KEY, host="127.0.5.200", dps={"1": True, "20": 2290})
    await sim.start()
    try:
        async with gw.client.stream("GET", "/api/v1/events") as response:
            sse = SSE(response)
            await sse.connected()
            registry.add(DeviceRecord(id=NEW_ID, name="Shed plug", address=sim.host, port=sim.port, category="cz"))
            _vault(registry).put(secret_name(NEW_ID), NEW_KEY)
            answer = await gw.client.post("/api/v1/reload")
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"added": [NEW_ID], "removed": [], "replaced": [], "errors": {}}
            added = await _until_event(sse, "added", NEW_ID)
            assert added["kind"] == "added"
            listed = {d["id"]: d for d in (await gw.client.get("/api/v1/devices")).json()["devices"]}
            assert listed[NEW_ID]["name"] == "Shed plug"
            status = (await gw.client.get(f"/api/v1/devices/{NEW_ID}/status", params={"refresh": "true"})).json()
            assert (status["route"], status["values"]["switch_1"]) == ("lan", True)
            home_answer = (await gw.client.get("/api/v1/home")).json()
            assert NEW_ID in {d["id"] for d in home_answer["devices"]}
            assert (await gw.client.get(f"/api/v1/devices/{NEW_ID}/recent-events")).status_code == 200

            registry.remove(NEW_ID)
            answer = await gw.client.post("/api/v1/reload")
            assert answer.json()["removed"] == [NEW_ID]
            await _until_event(sse, "removed", NEW_ID)
            assert (await gw.client.get(f"/api/v1/devices/{NEW_ID}")).status_code == 404
            assert (await gw.client.get(f"/api/v1/devices/{NEW_ID}/recent-events")).status_code == 404
            command = await gw.client.post(f"/api/v1/devices/{NEW_ID}/commands", json={"dps": {"1": False}})
            assert command.status_code == 404
            assert command.json()["error"]["code"] == "not_found"
            assert sim.dps["1"] is True
            assert (await gw.client.post("/api/v1/reload")).json() == {
                "added": [],
                "removed": [],
                "replaced": [],
                "errors": {},
            }
        assert NEW_KEY not in answer.text
    finally:
        await sim.stop()


async def test_reload_needs_the_control_scope(start_gateway: GatewayFactory, tmp_path: Path) -> None:
    store = JsonTokenStore(tmp_path / "api-tokens.json")
    _, reader = create_token(store, "reader", "read")
    _, controller = create_token(store, "controller", "control")
    gw = await start_gateway()
    assert (await gw.client.post("/api/v1/reload")).status_code == 401
    refused = await gw.client.post("/api/v1/reload", headers={"Authorization": f"Bearer {reader}"})
    assert refused.status_code == 403
    allowed = await gw.client.post("/api/v1/reload", headers={"Authorization": f"Bearer {controller}"})
    assert allowed.status_code == 200, allowed.text


async def test_the_reload_action_is_documented(start_gateway: GatewayFactory) -> None:
    gw = await start_gateway()
    operation = (await gw.client.get("/openapi.json")).json()["paths"]["/api/v1/reload"]["post"]
    assert set(operation["responses"]) >= {"200", "409"}
    assert "added" in str(operation)


async def test_a_cloud_sync_serves_what_it_adds_at_once(start_home: HomeFactory, start_gateway: GatewayFactory) -> None:
    home = await start_home()
    gw = await start_gateway(home=home)
    registry = home.hub.registry
    assert registry is not None
    plug = home.id(PLUG)
    registry.remove(plug)  # the plug is in the cloud account but not (any more) in the registry
    assert (await gw.client.post("/api/v1/reload")).json()["removed"] == [plug]
    assert (await gw.client.get(f"/api/v1/devices/{plug}")).status_code == 404
    answer = await gw.client.post("/api/v1/cloud/sync")
    result = [line for line in answer.text.splitlines() if '"type":"result"' in line]
    assert result, answer.text[-500:]
    report = json.loads(result[0])["cloud_sync"]
    assert report["home"]["added"] == [plug]
    assert "restart" not in report["summary"]
    assert "1 added" in report["summary"]
    status = await gw.client.get(f"/api/v1/devices/{plug}/status", params={"refresh": "true"})
    assert status.status_code == 200, status.text
