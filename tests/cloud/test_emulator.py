"""The cloud emulator verifies and answers like the real OpenAPI (raw signed HTTP, no tuyagate client)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.cloud.conftest import BULB, CLIENT_ID, GATEWAY, OFFLINE, PLUG, SECRET, SENSOR, CloudFactory, FakeClock
from tuyagate.cloud.signing import SignScheme, sign_headers
from tuyagate.errors import TuyaConnectionError
from tuyagate.sim.cloud_server import RunningCloud
from tuyagate.sim.manifest import FleetManifest, ManifestDevice


class Raw:
    """Hand-signed requests, so each check of the emulator can be hit on purpose."""

    def __init__(self, cloud: RunningCloud, http: httpx.AsyncClient) -> None:
        self.cloud = cloud
        self.http = http
        self.token = ""
        self.refresh = ""

    async def send(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        *,
        token: str | None = None,
        secret: str = SECRET,
        client_id: str = CLIENT_ID,
        scheme: SignScheme = SignScheme.CURRENT,
        t: int | None = None,
        extra: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else b""
        pairs = [(k, str(v)) for k, v in (query or {}).items()]
        access = self.token if token is None else token
        if path.startswith("/v1.0/token"):
            access = ""
        headers = sign_headers(
            client_id=client_id,
            secret=secret,
            t=t if t is not None else self.cloud.state.now_ms(),
            access_token=access,
            nonce="abc123",
            method=method,
            path=path,
            query=pairs,
            body=data,
            extra_signed=extra,
            scheme=scheme,
        )
        response = await self.http.request(
            method, self.cloud.base_url + path, params=tuple(pairs), content=data, headers=headers
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        assert isinstance(answer["t"], int)
        return answer

    async def login(self) -> dict[str, Any]:
        answer = await self.send("GET", "/v1.0/token", {"grant_type": 1})
        assert answer["success"], answer
        self.token = answer["result"]["access_token"]
        self.refresh = answer["result"]["refresh_token"]
        return answer


@pytest.fixture
async def raw(cloud: RunningCloud) -> AsyncIterator[Raw]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield Raw(cloud, http)


def code(answer: dict[str, Any]) -> Any:
    assert answer["success"] is False
    assert answer["msg"]
    return answer["code"]


# -- authentication ------------------------------------------------------------------------------


async def test_token_answer_shape(raw: Raw) -> None:
    answer = await raw.login()
    result = answer["result"]
    assert set(result) == {"access_token", "expire_time", "refresh_token", "uid"}
    assert result["expire_time"] == 7200
    assert answer["tid"]


async def test_wrong_sign_is_1004(raw: Raw) -> None:
    assert code(await raw.send("GET", "/v1.0/token", {"grant_type": 1}, secret="wrong")) == 1004
    await raw.login()
    assert code(await raw.send("GET", f"/v1.0/devices/{PLUG}", secret="wrong")) == 1004


async def test_unknown_client_id_is_1005(raw: Raw) -> None:
    assert code(await raw.send("GET", "/v1.0/token", {"grant_type": 1}, client_id="someone-else")) == 1005


@pytest.mark.parametrize("skew_s", [-301, 301, 3600])
async def test_t_outside_the_window_is_1013(raw: Raw, cloud: RunningCloud, skew_s: int) -> None:
    answer = await raw.send("GET", "/v1.0/token", {"grant_type": 1}, t=cloud.state.now_ms() + skew_s * 1000)
    assert code(answer) == 1013
    assert abs(answer["t"] - cloud.state.now_ms()) < 5000  # the server's own time, to correct from


async def test_t_inside_the_window_is_fine(raw: Raw, cloud: RunningCloud) -> None:
    answer = await raw.send("GET", "/v1.0/token", {"grant_type": 1}, t=cloud.state.now_ms() - 250_000)
    assert answer["success"]


async def test_both_schemes_verify(raw: Raw, cloud: RunningCloud) -> None:
    answer = await raw.send("GET", "/v1.0/token", {"grant_type": 1}, scheme=SignScheme.OLD)
    raw.token = answer["result"]["access_token"]
    assert (await raw.send("GET", f"/v1.0/devices/{PLUG}/status", scheme=SignScheme.OLD))["success"]
    assert (await raw.send("GET", f"/v1.0/devices/{PLUG}/status"))["success"]
    assert cloud.state.stats["sign_old"] == 2
    assert cloud.state.stats["sign_current"] == 1


async def test_old_scheme_can_be_refused(start_cloud: CloudFactory) -> None:
    cloud = await start_cloud(allow_old_sign=False)
    async with httpx.AsyncClient() as http:
        raw = Raw(cloud, http)
        assert code(await raw.send("GET", "/v1.0/token", {"grant_type": 1}, scheme=SignScheme.OLD)) == 1004


async def test_signed_headers_body_and_query_are_checked(raw: Raw) -> None:
    await raw.login()
    ok = await raw.send(
        "POST",
        f"/v1.0/iot-03/devices/{PLUG}/commands",
        body={"commands": [{"code": "switch_1", "value": True}]},
        extra={"area_id": "29a33e8796834b1efa6", "call_id": "x"},
    )
    assert ok["success"], ok
    headers = sign_headers(
        client_id=CLIENT_ID,
        secret=SECRET,
        t=raw.cloud.state.now_ms(),
        access_token=raw.token,
        method="GET",
        path=f"/v1.0/devices/{PLUG}/logs",
        query={"type": "7", "size": 5},
    )
    # sending other query values than the signed ones is a sign error
    tampered = await raw.http.get(f"{raw.cloud.base_url}/v1.0/devices/{PLUG}/logs?type=7&size=6", headers=headers)
    assert tampered.json()["code"] == 1004
    good = await raw.http.get(f"{raw.cloud.base_url}/v1.0/devices/{PLUG}/logs?size=5&type=7", headers=headers)
    assert good.json()["success"]


async def test_missing_or_bad_token(raw: Raw) -> None:
    assert code(await raw.send("GET", f"/v1.0/devices/{PLUG}", token="")) == 1002
    answer = await raw.send("GET", f"/v1.0/devices/{PLUG}", token="feedfeedfeedfeedfeedfeedfeedfeed")
    assert code(answer) == 1010
    assert answer["msg"] == "token invalid"  # what real servers say (and what tinytuya looks for)


async def test_tokens_expire(start_cloud: CloudFactory) -> None:
    clock = FakeClock(time.time())
    cloud = await start_cloud(clock=clock, token_ttl=100)
    async with httpx.AsyncClient() as http:
        raw = Raw(cloud, http)
        await raw.login()
        clock.advance(99)
        assert (await raw.send("GET", f"/v1.0/devices/{PLUG}", t=cloud.state.now_ms()))["success"]
        clock.advance(2)
        assert code(await raw.send("GET", f"/v1.0/devices/{PLUG}", t=cloud.state.now_ms())) == 1010


async def test_refresh_tokens_work_exactly_once(raw: Raw) -> None:
    await raw.login()
    old_access, refresh = raw.token, raw.refresh
    answer = await raw.send("GET", f"/v1.0/token/{refresh}")
    assert answer["success"]
    raw.token = answer["result"]["access_token"]
    assert raw.token != old_access
    assert answer["result"]["refresh_token"] != refresh
    assert code(await raw.send("GET", f"/v1.0/token/{refresh}")) == 1010  # spent
    assert code(await raw.send("GET", f"/v1.0/devices/{PLUG}", token=old_access)) == 1010  # replaced
    assert (await raw.send("GET", f"/v1.0/devices/{PLUG}"))["success"]


async def test_expire_all_tokens_fault(raw: Raw, cloud: RunningCloud) -> None:
    await raw.login()
    cloud.state.expire_all_tokens()
    assert code(await raw.send("GET", f"/v1.0/devices/{PLUG}")) == 1010
    assert (await raw.send("GET", f"/v1.0/token/{raw.refresh}"))["success"]  # refresh tokens survive


async def test_grant_type_and_unknown_paths(raw: Raw) -> None:
    assert code(await raw.send("GET", "/v1.0/token", {"grant_type": 2})) == 1003
    assert code(await raw.send("POST", "/v1.0/token", {"grant_type": 1}, body={})) == 1108
    await raw.login()
    assert code(await raw.send("GET", "/v9.9/nothing/here")) == 1108
    assert code(await raw.send("DELETE", f"/v1.0/devices/{PLUG}/status")) == 1108


# -- limits and faults -----------------------------------------------------------------------------


async def test_qps_limit_is_1199(start_cloud: CloudFactory) -> None:
    cloud = await start_cloud(qps=1)
    async with httpx.AsyncClient() as http:
        raw = Raw(cloud, http)
        await raw.login()
        answers = [await raw.send("GET", f"/v1.0/devices/{PLUG}/status") for _ in range(6)]
    codes = [a.get("code") for a in answers if not a["success"]]
    assert codes
    assert set(codes) == {1199}
    assert cloud.state.stats["qps_refused"] == len(codes)


async def test_quota_is_28841004(start_cloud: CloudFactory) -> None:
    cloud = await start_cloud(quota=3)
    async with httpx.AsyncClient() as http:
        raw = Raw(cloud, http)
        await raw.login()
        assert (await raw.send("GET", f"/v1.0/devices/{PLUG}/status"))["success"]
        assert (await raw.send("GET", f"/v1.0/devices/{PLUG}/status"))["success"]
        answer = await raw.send("GET", f"/v1.0/devices/{PLUG}/status")
    assert code(answer) == 28841004
    assert "quota" in answer["msg"]


async def test_faults_over_http(raw: Raw, cloud: RunningCloud) -> None:
    await raw.login()
    url = cloud.base_url + "/_sim/faults"
    await raw.http.post(url, json={"http_errors": 1, "http_status": 502})
    failed = await raw.http.get(cloud.base_url + f"/v1.0/devices/{PLUG}")
    assert failed.status_code == 502
    await raw.http.post(url, json={"code_errors": 1, "error_code": 28841002})
    assert code(await raw.send("GET", f"/v1.0/devices/{PLUG}")) == 28841002
    await raw.http.post(url, json={"expire_tokens": True})
    assert code(await raw.send("GET", f"/v1.0/devices/{PLUG}")) == 1010
    await raw.http.post(url, json={"latency": 0.2, "clock_offset": 3600})
    started = time.monotonic()
    assert code(await raw.send("GET", "/v1.0/token", {"grant_type": 1}, t=int(time.time() * 1000))) == 1013
    assert time.monotonic() - started >= 0.2
    reset = await raw.http.post(url, json={"reset": True})
    assert reset.json()["latency"] == 0
    assert (await raw.http.post(url, content=b"[1]")).status_code == 400
    stats = (await raw.http.get(cloud.base_url + "/_sim/stats")).json()
    assert stats["counters"]["http_errors"] == 1
    assert stats["counters"]["tokens_expired"] == 1


# -- devices -------------------------------------------------------------------------------------


async def test_device_details(raw: Raw) -> None:
    await raw.login()
    device = (await raw.send("GET", f"/v1.0/devices/{PLUG}"))["result"]
    assert device["local_key"] == "0123456789abcdef"
    assert device["uid"] == raw.cloud.state.config.uid
    assert device["online"] is True
    assert {"code": "cur_voltage", "value": 2301} in device["status"]
    iot = (await raw.send("GET", f"/v1.1/iot-03/devices/{SENSOR}"))["result"]
    assert iot["gateway_id"] == GATEWAY
    assert "status" not in iot
    assert iot["sub"] is True
    assert code(await raw.send("GET", "/v1.0/devices/notmydevice")) == 1106


async def test_every_list_endpoint_pages_through_all_devices(raw: Raw) -> None:
    await raw.login()
    uid = raw.cloud.state.config.uid
    assert len((await raw.send("GET", f"/v1.0/users/{uid}/devices"))["result"]) == 5
    assert code(await raw.send("GET", "/v1.0/users/someoneelse/devices")) == 1106
    for path, size_key, items_key, extra in [
        ("/v1.0/iot-01/associated-users/devices", "size", "devices", {}),
        ("/v1.3/iot-03/devices", "page_size", "list", {"source_type": "tuyaUser", "source_id": uid}),
        ("/v1.0/iot-03/devices", "page_size", "list", {}),
    ]:
        seen: list[str] = []
        query: dict[str, Any] = {size_key: 2, **extra}
        for _ in range(10):
            result = (await raw.send("GET", path, query))["result"]
            assert result["total"] == 5
            seen += [d["id"] for d in result[items_key]]
            if not result["has_more"]:
                break
            query["last_row_key"] = result["last_row_key"]
        assert len(seen) == 5, path
        assert len(set(seen)) == 5
    assert code(await raw.send("GET", "/v1.0/iot-01/associated-users/devices", {"size": 1000})) == 1101
    picked = (await raw.send("GET", "/v1.0/devices", {"device_ids": f"{PLUG},{BULB}"}))["result"]
    assert [d["id"] for d in picked["devices"]] == [PLUG, BULB]
    infos = (await raw.send("GET", "/v1.0/devices/factory-infos", {"device_ids": f"{PLUG},{BULB}"}))["result"]
    assert {i["id"] for i in infos} == {PLUG, BULB}
    assert all(len(i["mac"]) == 17 for i in infos)


async def test_status_and_batch_status(raw: Raw) -> None:
    await raw.login()
    status = (await raw.send("GET", f"/v1.0/iot-03/devices/{BULB}/status"))["result"]
    assert status[0] == {"code": "switch_led", "value": True}
    batch = (await raw.send("GET", "/v1.0/iot-03/devices/status", {"device_ids": f"{PLUG},{SENSOR}"}))["result"]
    assert [b["id"] for b in batch] == [PLUG, SENSOR]
    too_many = ",".join([PLUG] * 21)
    assert code(await raw.send("GET", "/v1.0/iot-03/devices/status", {"device_ids": too_many})) == 1101


async def test_commands_change_state_and_are_checked(raw: Raw, cloud: RunningCloud) -> None:
    await raw.login()
    path = f"/v1.0/devices/{BULB}/commands"
    ok = await raw.send("POST", path, body={"commands": [{"code": "work_mode", "value": "colour"}]})
    assert ok["result"] is True
    status = (await raw.send("GET", f"/v1.0/devices/{BULB}/status"))["result"]
    assert {"code": "work_mode", "value": "colour"} in status
    as_string = json.dumps([{"code": "bright_value_v2", "value": 10}])
    assert (await raw.send("POST", path, body={"commands": as_string}))["success"]
    assert code(await raw.send("POST", path, body={"commands": [{"code": "nope", "value": 1}]})) == 2008
    assert code(await raw.send("POST", path, body={"commands": [{"code": "work_mode", "value": "disco"}]})) == 2008
    assert code(await raw.send("POST", path, body={"commands": [{"code": "bright_value_v2", "value": 5}]})) == 2008
    assert code(await raw.send("POST", path, body={"commands": []})) == 1100
    too_many = [{"code": "switch_led", "value": True}] * 21
    assert code(await raw.send("POST", path, body={"commands": too_many})) == 1101
    ro = {"commands": [{"code": "cur_voltage", "value": 1}]}
    assert code(await raw.send("POST", f"/v1.0/devices/{PLUG}/commands", body=ro)) == 2008
    off = {"commands": [{"code": "switch_1", "value": True}]}
    assert code(await raw.send("POST", f"/v1.0/iot-03/devices/{OFFLINE}/commands", body=off)) == 2001


async def test_functions_and_specifications(raw: Raw) -> None:
    await raw.login()
    functions = (await raw.send("GET", f"/v1.0/iot-03/devices/{PLUG}/functions"))["result"]
    assert functions["category"] == "cz"
    assert [f["code"] for f in functions["functions"]] == ["switch_1", "countdown_1"]
    assert isinstance(functions["functions"][1]["values"], str)
    spec = (await raw.send("GET", f"/v1.0/iot-03/devices/{PLUG}/specification"))["result"]
    assert [s["code"] for s in spec["status"]] == ["switch_1", "countdown_1", "cur_power", "cur_voltage"]
    assert "dp_id" not in spec["status"][0]
    specs = (await raw.send("GET", f"/v1.1/devices/{PLUG}/specifications"))["result"]
    assert [(s["dp_id"], s["code"]) for s in specs["status"]][-1] == (20, "cur_voltage")
    assert json.loads(specs["status"][-1]["values"])["scale"] == 1
    assert code(await raw.send("GET", f"/v1.1/devices/{GATEWAY}/specifications")) == 2009
    shadow = await raw.send("GET", f"/v2.0/cloud/thing/{PLUG}/shadow/properties", {"codes": "cur_voltage"})
    assert shadow["result"]["properties"][0]["dp_id"] == 20


async def test_logs_and_sub_devices(raw: Raw) -> None:
    await raw.login()
    for value in (True, False, True):
        body = {"commands": [{"code": "switch_1", "value": value}]}
        await raw.send("POST", f"/v1.0/devices/{PLUG}/commands", body=body)
    query: dict[str, Any] = {"type": "7", "start_time": 0, "end_time": raw.cloud.state.now_ms() + 1, "size": 2}
    first = (await raw.send("GET", f"/v1.0/devices/{PLUG}/logs", query))["result"]
    assert [e["value"] for e in first["logs"]] == ["true", "false"]
    assert first["has_next"] is True
    query["start_row_key"] = first["next_row_key"]
    second = (await raw.send("GET", f"/v1.0/devices/{PLUG}/logs", query))["result"]
    assert [e["value"] for e in second["logs"]] == ["true"]
    assert second["has_next"] is False
    subs = (await raw.send("GET", f"/v1.0/iot-03/devices/{GATEWAY}/sub-devices"))["result"]
    assert [(s["id"], s["node_id"]) for s in subs] == [(SENSOR, "a4c1380000000004")]


# -- the state backend ----------------------------------------------------------------------------


class RecordingBackend:
    """A backend standing in for the LAN fleet: records writes, can be unreachable."""

    def __init__(self) -> None:
        self.dps: dict[str, dict[str, Any]] = {}
        self.writes: list[tuple[str, dict[str, Any]]] = []
        self.unreachable = False

    async def get_dps(self, device: ManifestDevice) -> dict[str, Any]:
        return dict(self.dps.get(device.id, device.status))

    async def set_dps(self, device: ManifestDevice, dps: dict[str, Any]) -> None:
        if self.unreachable:
            raise TuyaConnectionError("device did not answer")
        self.writes.append((device.id, dps))
        self.dps.setdefault(device.id, dict(device.status)).update(dps)


async def test_a_plugged_backend_gets_dp_ids_and_its_failures_are_2001(start_cloud: CloudFactory) -> None:
    backend = RecordingBackend()
    cloud = await start_cloud(backend=backend)
    async with httpx.AsyncClient() as http:
        raw = Raw(cloud, http)
        await raw.login()
        body = {"commands": [{"code": "switch_1", "value": True}, {"code": "countdown_1", "value": 60}]}
        assert (await raw.send("POST", f"/v1.0/iot-03/devices/{PLUG}/commands", body=body))["success"]
        assert backend.writes == [(PLUG, {"1": True, "9": 60})]
        status = (await raw.send("GET", f"/v1.0/iot-03/devices/{PLUG}/status"))["result"]
        assert status[:2] == [{"code": "switch_1", "value": True}, {"code": "countdown_1", "value": 60}]
        backend.unreachable = True
        assert code(await raw.send("POST", f"/v1.0/iot-03/devices/{PLUG}/commands", body=body)) == 2001


async def test_a_manifest_file_is_served(start_cloud: CloudFactory, tmp_path: Any) -> None:
    manifest = FleetManifest.from_dict(
        {
            "devices": [
                {
                    "id": "dev1",
                    "name": "One",
                    "local_key": "k" * 16,
                    "status": {"1": True},
                    "schema": [{"dp_id": 1, "code": "switch", "type": "Boolean", "values": "{}"}],
                }
            ]
        }
    )
    manifest.save(tmp_path / "fleet.json")
    cloud = await start_cloud(manifest=FleetManifest.load(tmp_path / "fleet.json"))
    async with httpx.AsyncClient() as http:
        raw = Raw(cloud, http)
        await raw.login()
        assert (await raw.send("GET", "/v1.0/devices/dev1/status"))["result"] == [{"code": "switch", "value": True}]


# -- TLS -----------------------------------------------------------------------------------------


async def test_tls_with_the_generated_certificate(start_cloud: CloudFactory) -> None:
    cloud = await start_cloud(tls=True)
    assert cloud.base_url.startswith("https://127.0.0.1:")
    assert cloud.cert_path is not None
    assert cloud.info()["cert"] == str(cloud.cert_path)
    import ssl

    context = ssl.create_default_context(cafile=str(cloud.cert_path))
    async with httpx.AsyncClient(verify=context) as http:
        raw = Raw(cloud, http)
        await raw.login()
        for host in ("127.0.0.1", "localhost"):
            stats = await http.get(cloud.base_url.replace("127.0.0.1", host) + "/_sim/stats")
            assert stats.status_code == 200
    async with httpx.AsyncClient() as untrusting:
        with pytest.raises(httpx.ConnectError):
            await untrusting.get(cloud.base_url + "/_sim/stats")
    cert_dir = cloud.cert_path.parent
    await cloud.stop()
    assert not cert_dir.exists()
