"""The native REST API against a real server and the real hub: devices, status, commands, health, errors."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest

from tests.devices.waiting import until
from tests.gateway.conftest import BULB, PLUG, SWITCH, Gateway, LiveHome
from tests.gateway.many_clients import many_clients
from tuyagate.gateway.endpoints import EndpointRoute

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_list_devices(gateway: Gateway, home: LiveHome) -> None:
    r = await gateway.client.get("/api/v1/devices")
    assert r.status_code == 200
    devices = r.json()["devices"]
    assert [d["id"] for d in devices] == [d.info.id for d in home.hub.devices()]
    assert next(d for d in devices if d["id"] == home.id(PLUG)) == {
        "id": home.id(PLUG),
        "name": PLUG,
        "backend": "tuya-lan",
        "category": "cz",
        "product_name": "Smart plug with energy metering",
        "version": "3.3",
        "online": True,
        "parent_id": None,
    }
    sensor = next(d for d in devices if d["name"] == "Garden sensor")
    assert sensor["parent_id"] == home.id("Zigbee gateway")


async def test_device_detail_by_id_and_name(gateway: Gateway, home: LiveHome) -> None:
    r = await gateway.client.get(f"/api/v1/devices/{home.id(PLUG)}")
    by_id = r.json()
    by_name = (await gateway.client.get(f"/api/v1/devices/{PLUG}")).json()
    assert {k: v for k, v in by_id.items() if k != "routes"} == {k: v for k, v in by_name.items() if k != "routes"}
    assert [route["name"] for route in by_id["routes"]] == ["lan", "cloud"]
    assert by_id["routes"][0]["healthy"] is True
    first = by_id["schema"][0]
    assert {k: first[k] for k in ("dp_id", "code", "type", "values", "mode", "label")} == {
        "dp_id": 1,
        "code": "switch_1",
        "type": "Boolean",
        "values": {},
        "mode": "rw",
        "label": "Switch 1",
    }
    sim = home.sim(PLUG)
    assert (by_id["ip"], by_id["port"], by_id["version"]) == (sim.host, sim.port, "3.3")
    assert not [key for key in home.local_keys() if key in r.text]


async def test_status_by_code_and_dp(gateway: Gateway, home: LiveHome) -> None:
    fresh = await gateway.client.get(f"/api/v1/devices/{PLUG}/status", params={"refresh": "true"})
    assert fresh.status_code == 200
    body = fresh.json()
    assert body["route"] == "lan"
    assert body["dps"] == home.sim(PLUG).dps
    assert body["values"]["cur_voltage"] == body["dps"]["20"] / 10 == 230.1
    assert body["values"]["add_ele"] == body["dps"]["17"] / 1000
    cached = (await gateway.client.get(f"/api/v1/devices/{PLUG}/status")).json()
    assert cached["route"] == "cache"
    assert (cached["values"], cached["dps"]) == (body["values"], body["dps"])


async def test_command_by_code_and_by_dp(gateway: Gateway, home: LiveHome) -> None:
    plug, switch = home.sim(PLUG), home.sim(SWITCH)
    wanted = not plug.dps["1"]
    r = await gateway.client.post(
        f"/api/v1/devices/{home.id(PLUG)}/commands", json={"commands": [{"code": "switch_1", "value": wanted}]}
    )
    assert r.status_code == 200
    assert r.json() == {
        "device_id": home.id(PLUG),
        "success": True,
        "dps": {"1": wanted},
        "route": "lan",
        "fallback": False,
        "validated": True,
    }
    assert plug.dps["1"] is wanted
    r = await gateway.client.post(f"/api/v1/devices/{SWITCH}/commands", json={"dps": {"1": False, "2": True}})
    assert r.status_code == 200
    assert r.json()["dps"] == {"1": False, "2": True}
    assert (switch.dps["1"], switch.dps["2"]) == (False, True)
    status = (await gateway.client.get(f"/api/v1/devices/{SWITCH}/status")).json()
    assert {k: status["values"][k] for k in ("switch_1", "switch_2")} == {"switch_1": False, "switch_2": True}
    # Scaled values are converted: countdown_1 is in seconds, unscaled; the thermostat's temp_set has scale 1.
    r = await gateway.client.post(
        "/api/v1/devices/Office thermostat/commands", json={"commands": [{"code": "temp_set", "value": 22.5}]}
    )
    assert r.json()["dps"] == {"2": 225}
    assert home.sim("Office thermostat").dps["2"] == 225


async def test_bad_values_are_422_and_reach_no_device(gateway: Gateway, home: LiveHome) -> None:
    sim = home.sim(BULB)
    before = (sim.stats.commands, dict(sim.dps))
    url = f"/api/v1/devices/{BULB}/commands"
    r = await gateway.client.post(url, json={"commands": [{"code": "bright_value_v2", "value": 5000}]})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_value"
    assert "between 10 and 1000" in r.json()["error"]["message"]
    r = await gateway.client.post(url, json={"commands": [{"code": "work_mode", "value": "disco"}]})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_value")
    r = await gateway.client.post(
        f"/api/v1/devices/{PLUG}/commands", json={"commands": [{"code": "cur_power", "value": 5}]}
    )
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_value")  # read-only
    assert (sim.stats.commands, sim.dps) == before


async def test_unknown_dp_is_422_listing_the_known_codes(gateway: Gateway, home: LiveHome) -> None:
    sim = home.sim(PLUG)
    before = (sim.stats.commands, dict(sim.dps))
    known = [e["code"] for e in home.device(PLUG).schema_dict()]
    for body in ({"dps": {"77": 5}}, {"commands": [{"code": "turbo", "value": True}]}):
        r = await gateway.client.post(f"/api/v1/devices/{PLUG}/commands", json=body)
        assert r.status_code == 422, body
        error = r.json()["error"]
        assert (error["code"], error["known"]) == ("unknown_dp", known), body
    assert error["message"].startswith('no data point "turbo" in this device\'s schema (known: switch_1 (1), ')
    assert (sim.stats.commands, sim.dps) == before  # nothing reached the device
    status = (await gateway.client.get(f"/api/v1/devices/{PLUG}/status", params={"refresh": "true"})).json()
    assert "77" not in status["dps"]


async def test_the_schema_is_described_and_a_device_without_one_takes_dp_ids_unchecked(
    gateway: Gateway, home: LiveHome
) -> None:
    schema = {e["code"]: e for e in (await gateway.client.get(f"/api/v1/devices/{PLUG}")).json()["schema"]}
    power = schema["cur_power"]
    assert (power["dp_id"], power["type"], power["mode"], power["values"]["max"]) == (19, "Integer", "ro", 50000)
    assert (power["label"], power["unit"], power["max"], power["step"], power["read_only"]) == (
        "Power",
        "W",
        5000.0,
        0.1,
        True,
    )
    # A device with no schema at all takes DP ids as given, and the answer says they went unchecked.
    r = await gateway.client.post("/api/v1/devices/Zigbee gateway/commands", json={"dps": {"101": 1}})
    assert (r.status_code, r.json()["validated"], r.json()["dps"]) == (200, False, {"101": 1})
    assert home.sim("Zigbee gateway").dps["101"] == 1


async def test_malformed_bodies_are_422_in_the_error_shape(gateway: Gateway) -> None:
    url = f"/api/v1/devices/{PLUG}/commands"
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
    assert r.json() == {"error": {"code": "not_found", "message": "no device 'nope'"}}
    r = await gateway.client.get("/no/such/path")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    r = await gateway.client.delete("/api/v1/devices")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"


async def test_oversized_body_is_413(gateway: Gateway) -> None:
    big = {"dps": {"1": "x" * (gateway.settings.max_body_bytes + 10)}}
    r = await gateway.client.post(f"/api/v1/devices/{PLUG}/commands", json=big)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"

    async def chunks():
        for _ in range(100):
            yield b"x" * 1024

    r = await gateway.client.post(
        f"/api/v1/devices/{PLUG}/commands", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


async def test_healthz_index_and_docs(gateway: Gateway, home: LiveHome) -> None:
    index = (await gateway.client.get("/")).json()
    assert index["name"] == "tuyagate"
    assert index["docs"] == "/docs"
    r = await gateway.client.get("/healthz")
    count = len(home.hub.devices())
    assert r.json() == {"status": "ok", "devices": count, "online": count}
    docs = await gateway.client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_metrics_text(gateway: Gateway, home: LiveHome) -> None:
    metrics = gateway.app.state.gateway.metrics
    before = metrics.device_calls.get(("status", "cache"), 0)
    await gateway.client.get(f"/api/v1/devices/{PLUG}/status")
    await gateway.client.get("/api/v1/devices/nope")
    text = (await gateway.client.get("/metrics")).text
    assert (
        'tuyagate_http_requests_total{method="GET",route="/api/v1/devices/{device_id}/status",status="200"} 1' in text
    )
    assert 'tuyagate_errors_total{code="not_found"} 1' in text
    assert f"tuyagate_device_connections {len(home.hub.devices())}" in text
    assert f'tuyagate_device_calls_total{{kind="status",route="cache"}} {before + 1}' in text
    assert "# TYPE tuyagate_http_request_duration_seconds histogram" in text


def _metric(text: str, sample: str) -> float:
    """The value of one sample line (``name{labels}``) of a /metrics text."""
    found = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.M)
    assert found is not None, f"no sample {sample}"
    return float(found.group(1))


async def test_metrics_show_how_long_something_blocked_the_event_loop(gateway: Gateway) -> None:
    lag = gateway.app.state.gateway.metrics.loop_lag

    async def next_sample() -> None:
        seen = lag.samples
        await until(lambda: lag.samples > seen, what="a loop-lag sample")

    await next_sample()
    time.sleep(0.4)  # noqa: ASYNC251 - on purpose: the test shares the gateway's loop and blocks it 0.4 s
    await next_sample()
    text = (await gateway.client.get("/metrics")).text
    assert "# TYPE tuyagate_event_loop_lag_seconds histogram" in text
    # Sampled every 0.25 s: the sample due inside the block ran at its end, at least 0.15 s late.
    assert _metric(text, "tuyagate_event_loop_lag_max_seconds") >= 0.1
    total = _metric(text, "tuyagate_event_loop_lag_seconds_count")
    assert _metric(text, 'tuyagate_event_loop_lag_seconds_bucket{le="0.1"}') < total


async def test_two_hundred_clients_share_one_tcp_connection(gateway: Gateway, home: LiveHome) -> None:
    device_id = home.id("Lamp plug")  # protocol 3.1
    sim = home.sim("Lamp plug")
    accepted = sim.stats.connections_accepted
    answers = await asyncio.wait_for(asyncio.to_thread(asyncio.run, many_clients(gateway.url, device_id)), 60)
    assert answers == [(200, "lan")] * 200
    assert sim.stats.connections_accepted == accepted  # no new TCP connection to the device


async def test_parameters_are_validated_like_fastapi_would(gateway: Gateway) -> None:
    r = await gateway.client.get(f"/api/v1/devices/{PLUG}/status", params={"refresh": "maybe"})
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "invalid_request",
        "message": "refresh: Input should be a valid boolean",
        "details": [{"loc": ["query", "refresh"], "msg": "Input should be a valid boolean"}],
    }
    r = await gateway.client.get(f"/api/v1/devices/{'x' * 129}")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"
    r = await gateway.client.post(f"/api/v1/devices/{PLUG}/commands", json={"dps": {"1": True}, "extra": 1})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["loc"] == ["body", "extra"]


async def test_openapi_documents_every_endpoint_its_security_and_shapes(gateway: Gateway) -> None:
    spec = (await gateway.client.get("/openapi.json")).json()
    served = [
        (r.declaration.path, r.declaration.method.lower()) for r in gateway.app.routes if isinstance(r, EndpointRoute)
    ]
    assert len(served) >= 20
    assert [(path, method) for path, method in served if method not in spec["paths"].get(path, {})] == []
    assert "/api/v1/events" in spec["paths"]
    assert spec["components"]["securitySchemes"]["APIToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token created with `tuyagate tokens create`.",
    }
    status_op = spec["paths"]["/api/v1/devices/{device_id}/status"]["get"]
    assert status_op["security"] == [{"APIToken": []}]
    assert [p["name"] for p in status_op["parameters"]] == ["device_id", "refresh"]
    assert set(status_op["responses"]) == {"200", "401", "404", "409", "422", "502", "504"}
    ok = status_op["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/StatusOut"}
    documented = spec["components"]["schemas"]["StatusOut"]
    answer = (await gateway.client.get(f"/api/v1/devices/{PLUG}/status")).json()
    assert set(answer) == set(documented["required"])
    # The properties of a battery-powered ("sleepy") device's answer are documented, never required.
    assert set(documented["properties"]) - set(documented["required"]) == {"asleep", "age", "stale_after", "battery"}
    commands_op = spec["paths"]["/api/v1/devices/{device_id}/commands"]["post"]
    assert commands_op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/CommandsIn")
    assert set(commands_op["responses"]) == {"200", "401", "403", "404", "409", "422", "502", "504"}
    error = spec["components"]["schemas"]["ErrorBody"]
    assert {"code", "message", "details", "known"} <= set(error["properties"])
