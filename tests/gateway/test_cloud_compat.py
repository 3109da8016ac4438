"""The Tuya-cloud-compatible API: tinytuya's Cloud over HTTPS, and the cloud's error codes."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import tinytuya

from tests.gateway.conftest import CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, Gateway, GatewayFactory
from tests.gateway.memory_devices import BULB_ID, PLUG_ID, STRIP_ID
from tuyagate.cloud.signing import SignScheme, sign_headers
from tuyagate.sim.cloud_tls import make_self_signed_cert


def _tinytuya_cloud(url: str) -> Any:
    # A made-up initial token skips the constructor's token call; tinytuya fetches a real one
    # itself when the gateway answers "token invalid", exactly as against the Tuya cloud.
    cloud = tinytuya.Cloud(apiRegion="us", apiKey=CLOUD_CLIENT_ID, apiSecret=CLOUD_CLIENT_SECRET, initial_token="x")
    cloud.urlhost = url.removeprefix("https://")  # the one change: the base URL
    return cloud


async def test_tinytuya_cloud_drives_devices_through_the_gateway(
    start_gateway: GatewayFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls = make_self_signed_cert(tmp_path / "tls")  # the cloud emulator's certificate helper
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.cert_path))
    gw = await start_gateway(ssl_certfile=str(tls.cert_path), ssl_keyfile=str(tls.key_path))
    assert gw.url.startswith("https://127.0.0.1:")

    def session() -> dict[str, Any]:
        cloud = _tinytuya_cloud(gw.url)
        out: dict[str, Any] = {}
        out["status"] = cloud.getstatus(PLUG_ID)
        out["token"] = cloud.token
        out["command"] = cloud.sendcommand(PLUG_ID, {"commands": [{"code": "switch_1", "value": False}]})
        out["legacy_command"] = cloud.sendcommand(
            BULB_ID, {"commands": [{"code": "bright_value_v2", "value": 400}]}, uri="devices/"
        )
        out["bad_value"] = cloud.sendcommand(BULB_ID, {"commands": [{"code": "bright_value_v2", "value": 5}]})
        out["functions"] = cloud.getfunctions(BULB_ID)
        out["spec"] = cloud.getproperties(PLUG_ID)
        out["dps"] = cloud.getdps(PLUG_ID)
        out["online"] = cloud.getconnectstatus(PLUG_ID)
        out["unknown"] = cloud.getstatus("bfnotlinked")
        return out

    out = await asyncio.wait_for(asyncio.to_thread(session), 30)
    assert out["status"]["success"] is True
    assert out["status"]["result"] == [
        {"code": "switch_1", "value": True},
        {"code": "countdown_1", "value": 0},
        {"code": "cur_power", "value": 123},  # raw values, as the cloud reports them
        {"code": "cur_voltage", "value": 2301},
    ]
    assert out["token"] != "x"
    assert out["command"]["success"] is True
    assert out["command"]["result"] is True
    assert gw.fleet.get(PLUG_ID).commands == [{"1": False}]  # reached the device
    assert out["legacy_command"]["success"] is True
    assert gw.fleet.get(BULB_ID).commands == [{"22": 400}]
    assert "Error from Tuya Cloud" in out["bad_value"]["Payload"]  # tinytuya's wrapping of success:false
    functions = out["functions"]["result"]
    assert functions["category"] == "dj"
    bright = next(f for f in functions["functions"] if f["code"] == "bright_value_v2")
    assert bright["type"] == "Integer"
    assert json.loads(bright["values"])["max"] == 1000
    spec = out["spec"]["result"]
    assert [f["code"] for f in spec["functions"]] == ["switch_1", "countdown_1"]
    assert [s["code"] for s in spec["status"]] == ["switch_1", "countdown_1", "cur_power", "cur_voltage"]
    assert out["dps"]["result"]["status"][2]["dp_id"] == 19
    assert out["online"] is True
    assert "permission deny" in out["unknown"]["Payload"]


def _signed(gw: Gateway, method: str, path: str, *, token: str = "", body: bytes = b"", **kw: Any) -> dict[str, str]:
    return sign_headers(
        client_id=kw.get("client_id", CLOUD_CLIENT_ID),
        secret=kw.get("secret", CLOUD_CLIENT_SECRET),
        t=kw.get("t", int(time.time() * 1000)),
        access_token=token,
        nonce=kw.get("nonce", ""),
        method=method,
        path=path,
        body=body,
        scheme=kw.get("scheme", SignScheme.CURRENT),
    )


async def _token(gw: Gateway) -> dict[str, Any]:
    r = await gw.client.get("/v1.0/token?grant_type=1", headers=_signed(gw, "GET", "/v1.0/token?grant_type=1"))
    assert r.status_code == 200
    assert r.json()["success"] is True
    result: dict[str, Any] = r.json()["result"]
    return result


async def test_cloud_error_codes(gateway: Gateway) -> None:
    c = gateway.client
    path = "/v1.0/token?grant_type=1"
    bad_sign = {**_signed(gateway, "GET", path), "sign": "0" * 64}
    r = await c.get(path, headers=bad_sign)
    assert r.status_code == 200
    assert r.json()["success"] is False
    assert r.json()["code"] == 1004
    assert r.json()["msg"] == "sign invalid"
    assert isinstance(r.json()["t"], int)
    r = await c.get(path, headers=_signed(gateway, "GET", path, client_id="other"))
    assert r.json()["code"] == 1005
    r = await c.get(path, headers=_signed(gateway, "GET", path, t=int(time.time() * 1000) - 3_600_000))
    assert r.json()["code"] == 1013
    r = await c.get("/v1.0/token?grant_type=2", headers=_signed(gateway, "GET", "/v1.0/token?grant_type=2"))
    assert r.json()["code"] == 1003
    status = f"/v1.0/devices/{PLUG_ID}/status"
    r = await c.get(status, headers=_signed(gateway, "GET", status, token="0" * 32))
    assert r.json() == {**r.json(), "code": 1010, "msg": "token invalid", "success": False}
    token = await _token(gateway)
    assert token["expire_time"] == 7200
    assert token["uid"] == "tuyagate"
    r = await c.get(
        status, headers=_signed(gateway, "GET", status, token=token["access_token"], nonce=uuid.uuid4().hex)
    )
    assert r.json()["success"] is True
    assert r.json()["result"][0] == {"code": "switch_1", "value": True}
    # The old signing scheme is accepted too.
    r = await c.get(status, headers=_signed(gateway, "GET", status, token=token["access_token"], scheme=SignScheme.OLD))
    assert r.json()["success"] is True
    unknown = "/v1.0/devices/bfnotlinked/status"
    r = await c.get(unknown, headers=_signed(gateway, "GET", unknown, token=token["access_token"]))
    assert r.json()["code"] == 1106
    cmd = f"/v1.0/iot-03/devices/{PLUG_ID}/commands"
    for body, code in (
        (b'{"commands":[{"code":"nope","value":1}]}', 2008),
        (b'{"commands":[]}', 1109),
        (b"garbage", 1109),
        (b'{"commands":[{"code":"switch_1","value":"x"}]}', 1109),
    ):
        headers = _signed(gateway, "POST", cmd, token=token["access_token"], body=body)
        r = await c.post(cmd, content=body, headers={**headers, "Content-Type": "application/json"})
        assert r.json()["code"] == code, body
    # Unknown Tuya paths answer like the cloud does.
    r = await c.get("/v1.0/no/such/api")
    assert r.json()["code"] == 1108


async def test_refresh_token_is_single_use(gateway: Gateway) -> None:
    token = await _token(gateway)
    path = f"/v1.0/token/{token['refresh_token']}"
    r = await gateway.client.get(path, headers=_signed(gateway, "GET", path))
    fresh = r.json()["result"]
    assert r.json()["success"] is True
    assert fresh["access_token"] != token["access_token"]
    r = await gateway.client.get(path, headers=_signed(gateway, "GET", path))
    assert r.json()["code"] == 1010
    status = f"/v1.0/devices/{PLUG_ID}"
    r = await gateway.client.get(status, headers=_signed(gateway, "GET", status, token=token["access_token"]))
    assert r.json()["code"] == 1010  # the old access token died with its refresh token
    r = await gateway.client.get(status, headers=_signed(gateway, "GET", status, token=fresh["access_token"]))
    device = r.json()["result"]
    assert device["id"] == PLUG_ID
    assert device["online"] is True
    assert "local_key" not in device


async def test_device_timeout_is_cloud_offline(gateway: Gateway) -> None:
    token = await _token(gateway)
    gateway.fleet.get(PLUG_ID).vanish("timeout")
    cmd = f"/v1.0/devices/{PLUG_ID}/commands"
    body = b'{"commands":[{"code":"switch_1","value":false}]}'
    headers = _signed(gateway, "POST", cmd, token=token["access_token"], body=body)
    start = time.monotonic()
    r = await gateway.client.post(cmd, content=body, headers=headers)
    assert r.json()["code"] == 2001
    assert time.monotonic() - start < 2.0


async def test_cloud_api_off_without_credentials(start_gateway: GatewayFactory) -> None:
    gw = await start_gateway(cloud_client_id="", cloud_client_secret="")
    r = await gw.client.get("/v1.0/token?grant_type=1")
    assert r.json()["code"] == 1005
    assert "not configured" in r.json()["msg"]


async def test_tuya_official_sdk_works_against_the_gateway(gateway: Gateway) -> None:
    from tuya_connector import TuyaOpenAPI  # type: ignore[import-untyped]

    def session() -> dict[str, Any]:
        api = TuyaOpenAPI(gateway.url, CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET)  # only the endpoint changes
        out: dict[str, Any] = {"connect": api.connect()}
        out["status"] = api.get(f"/v1.0/iot-03/devices/{PLUG_ID}/status")
        out["command"] = api.post(
            f"/v1.0/iot-03/devices/{BULB_ID}/commands", {"commands": [{"code": "work_mode", "value": "colour"}]}
        )
        out["bad"] = api.post(f"/v1.0/devices/{BULB_ID}/commands", {"commands": [{"code": "work_mode", "value": "x"}]})
        out["functions"] = api.get(f"/v1.0/devices/{BULB_ID}/functions")
        return out

    out = await asyncio.wait_for(asyncio.to_thread(session), 30)
    assert out["connect"]["success"] is True
    assert out["status"]["result"][0] == {"code": "switch_1", "value": True}
    assert out["command"] == {**out["command"], "success": True, "result": True}
    assert gateway.fleet.get(BULB_ID).commands == [{"21": "colour"}]
    assert (out["bad"]["success"], out["bad"]["code"]) == (False, 1109)
    assert "white" in out["bad"]["msg"]
    assert [f["code"] for f in out["functions"]["result"]["functions"]][:2] == ["switch_led", "work_mode"]


async def test_batch_status_and_device_lists(gateway: Gateway) -> None:
    token = (await _token(gateway))["access_token"]

    async def get(path: str) -> dict[str, Any]:
        r = await gateway.client.get(path, headers=_signed(gateway, "GET", path, token=token))
        body: dict[str, Any] = r.json()
        return body

    batch = await get(f"/v1.0/iot-03/devices/status?device_ids={PLUG_ID},{BULB_ID}")
    assert [item["id"] for item in batch["result"]] == [PLUG_ID, BULB_ID]
    assert batch["result"][1]["status"][0] == {"code": "switch_led", "value": True}
    listing = await get("/v1.0/iot-03/devices")
    assert listing["result"]["total"] == 3
    assert [d["id"] for d in listing["result"]["list"]] == [PLUG_ID, STRIP_ID, BULB_ID]
    legacy = await get(f"/v1.0/devices?device_ids={BULB_ID}")
    assert [d["name"] for d in legacy["result"]["devices"]] == ["bulb"]
    assert (await get("/v1.0/devices?device_ids=bfnotlinked"))["code"] == 1106
    too_many = ",".join([PLUG_ID] * 21)
    assert (await get(f"/v1.0/iot-03/devices/status?device_ids={too_many}"))["code"] == 1109
