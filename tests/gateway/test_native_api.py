"""The native REST API against a real server: devices, status, commands, health, errors."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.gateway.conftest import Gateway, GatewayFactory
from tests.gateway.many_clients import many_clients
from tests.gateway.memory_devices import BULB_ID, PLUG_ID, STRIP_ID


async def test_list_devices(gateway: Gateway) -> None:
    r = await gateway.client.get("/api/v1/devices")
    assert r.status_code == 200
    devices = r.json()["devices"]
    assert [d["id"] for d in devices] == [PLUG_ID, STRIP_ID, BULB_ID]
    assert devices[0] == {
        "id": PLUG_ID,
        "name": "plug",
        "backend": "tuya-lan",
        "category": "cz",
        "product_name": "Smart Plug",
        "version": "3.3",
        "online": True,
        "parent_id": None,
    }


async def test_device_detail_by_id_and_name(gateway: Gateway) -> None:
    by_id = (await gateway.client.get(f"/api/v1/devices/{PLUG_ID}")).json()
    by_name = (await gateway.client.get("/api/v1/devices/plug")).json()
    assert by_id == by_name
    assert by_id["routes"][0]["name"] == "lan"
    assert by_id["routes"][0]["healthy"] is True
    assert by_id["schema"][0] == {"dp_id": 1, "code": "switch_1", "type": "Boolean", "values": {}, "mode": "rw"}
    assert by_id["ip"] == "127.0.0.11"
    assert by_id["version"] == "3.3"
    assert "key" not in str(by_id).lower()


async def test_status_by_code_and_dp(gateway: Gateway) -> None:
    r = await gateway.client.get(f"/api/v1/devices/{PLUG_ID}/status")
    assert r.status_code == 200
    body = r.json()
    assert body["values"] == {"switch_1": True, "countdown_1": 0, "cur_power": 12.3, "cur_voltage": 230.1}
    assert body["dps"] == {"1": True, "9": 0, "19": 123, "20": 2301}
    assert body["route"] == "cache"
    fresh = (await gateway.client.get(f"/api/v1/devices/{PLUG_ID}/status", params={"refresh": "true"})).json()
    assert fresh["route"] == "lan"


async def test_command_by_code_and_by_dp(gateway: Gateway) -> None:
    plug = gateway.fleet.get(PLUG_ID)
    r = await gateway.client.post(
        f"/api/v1/devices/{PLUG_ID}/commands", json={"commands": [{"code": "switch_1", "value": False}]}
    )
    assert r.status_code == 200
    assert r.json() == {
        "device_id": PLUG_ID,
        "success": True,
        "dps": {"1": False},
        "route": "lan",
        "fallback": False,
        "validated": True,
    }
    r = await gateway.client.post("/api/v1/devices/strip/commands", json={"dps": {"2": False, "3": True}})
    assert r.status_code == 200
    assert r.json()["dps"] == {"2": False, "3": True}
    assert plug.commands == [{"1": False}]
    status = (await gateway.client.get("/api/v1/devices/strip/status")).json()
    assert status["values"] == {"switch_1": False, "switch_2": False, "switch_3": True}


async def test_bad_value_is_422_with_range(gateway: Gateway) -> None:
    r = await gateway.client.post(
        f"/api/v1/devices/{BULB_ID}/commands", json={"commands": [{"code": "bright_value_v2", "value": 5000}]}
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_value"
    assert "between 10 and 1000" in r.json()["error"]["message"]
    r = await gateway.client.post(f"/api/v1/devices/{BULB_ID}/commands", json={"dps": {"99": 1}})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_value"


async def test_malformed_bodies_are_422_in_the_error_shape(gateway: Gateway) -> None:
    url = f"/api/v1/devices/{PLUG_ID}/commands"
    bodies: list[dict[str, Any]] = [
        {},
        {"commands": []},
        {"commands": [{"code": "switch_1"}]},
        {"dps": {"1": True}, "commands": []},
    ]
    for body in bodies:
        r = await gateway.client.post(url, json=body)
        assert r.status_code == 422, body
        assert r.json()["error"]["code"] == "invalid_request"
        assert isinstance(r.json()["error"]["message"], str)
    r = await gateway.client.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"


async def test_unknown_device_and_route_are_404(gateway: Gateway) -> None:
    r = await gateway.client.get("/api/v1/devices/nope/status")
    assert r.status_code == 404
    assert r.json() == {"error": {"code": "not_found", "message": "no device with id or name 'nope'"}}
    r = await gateway.client.get("/no/such/path")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    r = await gateway.client.delete("/api/v1/devices")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"


async def test_oversized_body_is_413(gateway: Gateway) -> None:
    big = {"dps": {"1": "x" * (gateway.settings.max_body_bytes + 10)}}
    r = await gateway.client.post(f"/api/v1/devices/{PLUG_ID}/commands", json=big)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"

    async def chunks():
        for _ in range(100):
            yield b"x" * 1024

    r = await gateway.client.post(
        f"/api/v1/devices/{PLUG_ID}/commands", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


async def test_healthz_index_and_openapi(gateway: Gateway) -> None:
    index = (await gateway.client.get("/")).json()
    assert index["name"] == "tuyagate"
    assert index["docs"] == "/docs"
    r = await gateway.client.get("/healthz")
    assert r.json() == {"status": "ok", "devices": 3, "online": 3}
    spec = (await gateway.client.get("/openapi.json")).json()
    for path in (
        "/api/v1/devices",
        "/api/v1/devices/{device_id}",
        "/api/v1/devices/{device_id}/status",
        "/api/v1/devices/{device_id}/commands",
        "/api/v1/events",
        "/v1.0/token",
        "/v1.0/iot-03/devices/{device_id}/commands",
        "/tasmota/{device_id}/cm",
    ):
        assert path in spec["paths"], path
    docs = await gateway.client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_metrics_text(gateway: Gateway) -> None:
    await gateway.client.get(f"/api/v1/devices/{PLUG_ID}/status")
    await gateway.client.get("/api/v1/devices/nope")
    text = (await gateway.client.get("/metrics")).text
    assert (
        'tuyagate_http_requests_total{method="GET",route="/api/v1/devices/{device_id}/status",status="200"} 1' in text
    )
    assert 'tuyagate_errors_total{code="not_found"} 1' in text
    assert "tuyagate_device_connections 3" in text
    assert 'tuyagate_device_calls_total{kind="status",route="cache"} 1' in text
    assert "# TYPE tuyagate_http_request_duration_seconds histogram" in text


async def test_many_concurrent_clients_share_one_device_connection(start_gateway: GatewayFactory) -> None:
    gateway = await start_gateway(request_timeout=10.0)
    plug = gateway.fleet.get(PLUG_ID)
    plug.delay = 0.002
    answers = await asyncio.wait_for(asyncio.to_thread(asyncio.run, many_clients(gateway.url, PLUG_ID)), 30)
    assert answers == [(200, "lan")] * 200
    assert plug.max_in_flight == 1  # serialized through the device's one connection
    assert plug.device_calls == 200


async def test_fast_path_validates_like_fastapi(gateway: Gateway) -> None:
    r = await gateway.client.get(f"/api/v1/devices/{PLUG_ID}/status", params={"refresh": "maybe"})
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "invalid_request",
        "message": "refresh: Input should be a valid boolean",
        "details": [{"loc": ["query", "refresh"], "msg": "Input should be a valid boolean"}],
    }
    r = await gateway.client.get(f"/api/v1/devices/{'x' * 129}")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"
    r = await gateway.client.post(f"/api/v1/devices/{PLUG_ID}/commands", json={"dps": {"1": True}, "extra": 1})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["loc"] == ["body", "extra"]


async def test_openapi_documents_bearer_security_and_shapes(gateway: Gateway) -> None:
    spec = (await gateway.client.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["APIToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token created with `tuyagate tokens create`.",
    }
    status_op = spec["paths"]["/api/v1/devices/{device_id}/status"]["get"]
    assert status_op["security"] == [{"APIToken": []}]
    assert [p["name"] for p in status_op["parameters"]] == ["device_id", "refresh"]
    assert set(status_op["responses"]) == {"200", "401", "404", "422", "502", "504"}
    commands_op = spec["paths"]["/api/v1/devices/{device_id}/commands"]["post"]
    assert commands_op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/CommandsIn")
