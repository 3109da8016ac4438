"""The Tuya-cloud-compatible API: tinytuya's Cloud over HTTPS and Tuya's own SDK driving emulated devices
over the LAN, and the cloud's error codes."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import tinytuya

from tests.gateway.conftest import (
    BULB,
    CLOUD_CLIENT_ID,
    CLOUD_CLIENT_SECRET,
    PLUG,
    Gateway,
    GatewayFactory,
    HomeFactory,
    LiveHome,
)
from tuyagate.cloud.signing import SignScheme, sign_headers
from tuyagate.sim.cloud_tls import make_self_signed_cert

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _tinytuya_cloud(url: str) -> Any:
    # A made-up initial token skips the constructor's token call; tinytuya fetches a real one
    # itself when the gateway answers "token invalid", exactly as against the Tuya cloud.
    cloud = tinytuya.Cloud(apiRegion="us", apiKey=CLOUD_CLIENT_ID, apiSecret=CLOUD_CLIENT_SECRET, initial_token="x")
    cloud.urlhost = url.removeprefix("https://")  # the one change: the base URL
    return cloud


def _cloud_status(home: LiveHome, name: str) -> list[dict[str, Any]]:
    """What the Tuya cloud lists as a device's status: raw values by code, in schema order."""
    dps = home.sim(name).dps
    return [{"code": e["code"], "value": dps[str(e["dp_id"])]} for e in home.device(name).schema_dict()]


async def test_tinytuya_cloud_drives_devices_through_the_gateway(
    start_gateway: GatewayFactory, home: LiveHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls = make_self_signed_cert(tmp_path / "tls")  # the cloud emulator's certificate helper
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.cert_path))
    gw = await start_gateway(ssl_certfile=str(tls.cert_path), ssl_keyfile=str(tls.key_path))
    assert gw.url.startswith("https://127.0.0.1:")
    plug_id, bulb_id = home.id(PLUG), home.id(BULB)
    plug, bulb = home.sim(PLUG), home.sim(BULB)
    expected_status = _cloud_status(home, PLUG)
    plug_commands, bulb_commands = plug.stats.commands, bulb.stats.commands

    def session() -> dict[str, Any]:
        cloud = _tinytuya_cloud(gw.url)
        out: dict[str, Any] = {}
        out["status"] = cloud.getstatus(plug_id)
        out["token"] = cloud.token
        out["command"] = cloud.sendcommand(plug_id, {"commands": [{"code": "switch_1", "value": False}]})
        out["legacy_command"] = cloud.sendcommand(
            bulb_id, {"commands": [{"code": "bright_value_v2", "value": 400}]}, uri="devices/"
        )
        out["bad_value"] = cloud.sendcommand(bulb_id, {"commands": [{"code": "bright_value_v2", "value": 5}]})
        out["functions"] = cloud.getfunctions(bulb_id)
        out["spec"] = cloud.getproperties(plug_id)
        out["dps"] = cloud.getdps(plug_id)
        out["online"] = cloud.getconnectstatus(plug_id)
        out["unknown"] = cloud.getstatus("bfnotlinked")
        return out

    out = await asyncio.wait_for(asyncio.to_thread(session), 30)
    assert out["status"]["success"] is True
    assert out["status"]["result"] == expected_status  # raw values (cur_voltage 2301), as the cloud reports them
    assert {"code": "cur_voltage", "value": 2301} in out["status"]["result"]
    assert out["token"] != "x"
    assert out["command"]["success"] is True
    assert out["command"]["result"] is True
    assert plug.dps["1"] is False  # reached the device, over the LAN
    assert plug.stats.commands == plug_commands + 1
    assert out["legacy_command"]["success"] is True
    assert bulb.dps["22"] == 400
    assert "Error from Tuya Cloud" in out["bad_value"]["Payload"]  # tinytuya's wrapping of success:false
    assert bulb.stats.commands == bulb_commands + 1  # the bad value never reached the device
    functions = out["functions"]["result"]
    assert functions["category"] == "dj"
    bright = next(f for f in functions["functions"] if f["code"] == "bright_value_v2")
    assert bright["type"] == "Integer"
    assert json.loads(bright["values"])["max"] == 1000
    spec = out["spec"]["result"]
    assert [f["code"] for f in spec["functions"]] == ["switch_1", "countdown_1"]
    assert [s["code"] for s in spec["status"]] == [e["code"] for e in expected_status]
    assert out["dps"]["result"]["status"][2] == {**out["dps"]["result"]["status"][2], "code": "add_ele", "dp_id": 17}
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


async def test_cloud_error_codes(gateway: Gateway, home: LiveHome) -> None:
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
    status = f"/v1.0/devices/{home.id(PLUG)}/status"
    r = await c.get(status, headers=_signed(gateway, "GET", status, token="0" * 32))
    assert r.json() == {**r.json(), "code": 1010, "msg": "token invalid", "success": False}
    token = await _token(gateway)
    assert token["expire_time"] == 7200
    assert token["uid"] == "tuyagate"
    r = await c.get(
        status, headers=_signed(gateway, "GET", status, token=token["access_token"], nonce=uuid.uuid4().hex)
    )
    assert r.json()["success"] is True
    assert r.json()["result"] == _cloud_status(home, PLUG)
    # The old signing scheme is accepted too.
    r = await c.get(status, headers=_signed(gateway, "GET", status, token=token["access_token"], scheme=SignScheme.OLD))
    assert r.json()["success"] is True
    unknown = "/v1.0/devices/bfnotlinked/status"
    r = await c.get(unknown, headers=_signed(gateway, "GET", unknown, token=token["access_token"]))
    assert r.json()["code"] == 1106
    cmd = f"/v1.0/iot-03/devices/{home.id(PLUG)}/commands"
    for body, code in (
        (b'{"commands":[{"code":"nope","value":1}]}', 2008),
        (b'{"commands":[]}', 1109),
        (b"garbage", 1109),
        (b'{"commands":[{"code":"switch_1","value":"x"}]}', 1109),
        (b'{"commands":"[{\\"code\\":\\"switch_1\\",\\"value\\":\\"x\\"}]"}', 1109),  # the list as a JSON string
        (b'{"commands":[{"code":"switch_1"}]}', 1109),
    ):
        headers = _signed(gateway, "POST", cmd, token=token["access_token"], body=body)
        r = await c.post(cmd, content=body, headers={**headers, "Content-Type": "application/json"})
        assert r.json()["code"] == code, body
    body = b'{"commands":"[{\\"code\\":\\"countdown_1\\",\\"value\\":60}]"}'  # some Tuya docs send this
    headers = _signed(gateway, "POST", cmd, token=token["access_token"], body=body)
    r = await c.post(cmd, content=body, headers={**headers, "Content-Type": "application/json"})
    assert r.json()["success"] is True
    assert home.sim(PLUG).dps["9"] == 60
    # Integers go in the cloud's raw units: 215 is 21.5 degrees on a scale-1 DP, as the real cloud takes it.
    thermostat = f"/v1.0/devices/{home.id('Office thermostat')}/commands"
    body = b'{"commands":[{"code":"temp_set","value":215}]}'
    headers = _signed(gateway, "POST", thermostat, token=token["access_token"], body=body)
    r = await c.post(thermostat, content=body, headers={**headers, "Content-Type": "application/json"})
    assert r.json()["success"] is True
    assert home.sim("Office thermostat").dps["2"] == 215
    # Unknown Tuya paths answer like the cloud does.
    r = await c.get("/v1.0/no/such/api")
    assert r.json()["code"] == 1108


async def test_refresh_token_is_single_use(gateway: Gateway, home: LiveHome) -> None:
    token = await _token(gateway)
    path = f"/v1.0/token/{token['refresh_token']}"
    r = await gateway.client.get(path, headers=_signed(gateway, "GET", path))
    fresh = r.json()["result"]
    assert r.json()["success"] is True
    assert fresh["access_token"] != token["access_token"]
    r = await gateway.client.get(path, headers=_signed(gateway, "GET", path))
    assert r.json()["code"] == 1010
    status = f"/v1.0/devices/{home.id(PLUG)}"
    r = await gateway.client.get(status, headers=_signed(gateway, "GET", status, token=token["access_token"]))
    assert r.json()["code"] == 1010  # the old access token died with its refresh token
    r = await gateway.client.get(status, headers=_signed(gateway, "GET", status, token=fresh["access_token"]))
    device = r.json()["result"]
    assert (device["id"], device["name"], device["ip"]) == (home.id(PLUG), PLUG, home.sim(PLUG).host)
    assert device["online"] is True
    assert device["status"] == _cloud_status(home, PLUG)
    assert "local_key" not in device
    assert not [key for key in home.local_keys() if key in r.text]


async def test_device_timeout_is_cloud_offline(start_home: HomeFactory, start_gateway: GatewayFactory) -> None:
    home = await start_home(cloud=False)
    gateway = await start_gateway(home=home, request_timeout=0.5)
    token = await _token(gateway)
    home.sim(PLUG).faults.silent = True
    cmd = f"/v1.0/devices/{home.id(PLUG)}/commands"
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


async def test_tuya_official_sdk_works_against_the_gateway(gateway: Gateway, home: LiveHome) -> None:
    from tuya_connector import TuyaOpenAPI  # type: ignore[import-untyped]

    plug_id, bulb_id = home.id(PLUG), home.id(BULB)
    expected_status = _cloud_status(home, PLUG)

    def session() -> dict[str, Any]:
        api = TuyaOpenAPI(gateway.url, CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET)  # only the endpoint changes
        out: dict[str, Any] = {"connect": api.connect()}
        out["status"] = api.get(f"/v1.0/iot-03/devices/{plug_id}/status")
        out["command"] = api.post(
            f"/v1.0/iot-03/devices/{bulb_id}/commands", {"commands": [{"code": "work_mode", "value": "colour"}]}
        )
        out["bad"] = api.post(f"/v1.0/devices/{bulb_id}/commands", {"commands": [{"code": "work_mode", "value": "x"}]})
        out["unknown"] = api.post(f"/v1.0/devices/{bulb_id}/commands", {"commands": [{"code": "turbo", "value": 1}]})
        out["functions"] = api.get(f"/v1.0/devices/{bulb_id}/functions")
        return out

    out = await asyncio.wait_for(asyncio.to_thread(session), 30)
    assert out["connect"]["success"] is True
    assert out["status"]["result"] == expected_status
    assert out["command"] == {**out["command"], "success": True, "result": True}
    assert home.sim(BULB).dps["21"] == "colour"
    assert (out["bad"]["success"], out["bad"]["code"]) == (False, 1109)
    assert "white" in out["bad"]["msg"]
    assert (out["unknown"]["success"], out["unknown"]["code"]) == (False, 2008)
    assert [f["code"] for f in out["functions"]["result"]["functions"]][:2] == ["switch_led", "work_mode"]


async def test_batch_status_and_device_lists(gateway: Gateway, home: LiveHome) -> None:
    token = (await _token(gateway))["access_token"]
    plug_id, bulb_id = home.id(PLUG), home.id(BULB)

    async def get(path: str) -> dict[str, Any]:
        r = await gateway.client.get(path, headers=_signed(gateway, "GET", path, token=token))
        body: dict[str, Any] = r.json()
        return body

    batch = await get(f"/v1.0/iot-03/devices/status?device_ids={plug_id},{bulb_id}")
    assert [item["id"] for item in batch["result"]] == [plug_id, bulb_id]
    assert batch["result"][1]["status"] == _cloud_status(home, BULB)
    listing = await get("/v1.0/iot-03/devices")
    assert listing["result"]["total"] == len(home.hub.devices())
    assert [d["id"] for d in listing["result"]["list"]] == [d.info.id for d in home.hub.devices()]
    legacy = await get(f"/v1.0/devices?device_ids={bulb_id}")
    assert [d["name"] for d in legacy["result"]["devices"]] == [BULB]
    assert (await get("/v1.0/devices?device_ids=bfnotlinked"))["code"] == 1106
    too_many = ",".join([plug_id] * 21)
    assert (await get(f"/v1.0/iot-03/devices/status?device_ids={too_many}"))["code"] == 1109
