"""The emulated app API checks the request protection in the order the cloud must (hand-built requests)."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.cloud.app_support import app_login
from tests.cloud.conftest import PLUG, CloudFactory
from tuyagate.cloud.app_login import APP_CLIENT_ID, AppLogin
from tuyagate.sim import app_crypto
from tuyagate.sim.cloud_server import RunningCloud


class RawApp:
    """Requests protected as the SDK protects them, with each part overridable."""

    def __init__(self, cloud: RunningCloud, login: AppLogin) -> None:
        self.cloud = cloud
        self.access = login.token.access_token
        self.refresh = login.token.refresh_token

    async def send(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        *,
        app_key: str = APP_CLIENT_ID,
        t: int | None = None,
        refresh: str | None = None,
        tamper: bool = False,
    ) -> dict[str, Any]:
        rid = str(uuid.uuid4())
        hash_key, key = app_crypto.request_keys(rid, self.refresh if refresh is None else refresh)
        query = app_crypto.encrypt_part(params, key, os.urandom(12)) if params else ""
        sealed = app_crypto.encrypt_part(body, key, os.urandom(12)) if body else ""
        headers = {
            "X-appKey": app_key,
            "X-requestId": rid,
            "X-sid": "",
            "X-time": str(int(time.time() * 1000) if t is None else t),
            "X-token": self.access,
        }
        headers["X-sign"] = app_crypto.sign(hash_key, headers, query, sealed)
        if tamper:
            sealed = app_crypto.encrypt_part({**(body or {}), "extra": 1}, key, os.urandom(12))
        async with httpx.AsyncClient(base_url=self.cloud.base_url) as http:
            answer = await http.request(
                method,
                path,
                params={"encdata": query} if query else None,
                json={"encdata": sealed} if sealed else None,
                headers=headers,
            )
        envelope: dict[str, Any] = answer.json()
        if envelope.get("success") and isinstance(envelope.get("result"), str):
            envelope["result"] = app_crypto.decrypt_result(envelope["result"], key)
        return envelope


@pytest.fixture
async def raw(start_cloud: CloudFactory) -> RawApp:
    cloud = await start_cloud()
    return RawApp(cloud, await app_login(cloud))


def _code(envelope: dict[str, Any]) -> Any:
    assert envelope["success"] is False, envelope
    return envelope["code"]


async def test_a_well_protected_call_is_answered_encrypted(raw: RawApp) -> None:
    answer = await raw.send("GET", "/v1.0/m/life/ha/home/devices", {"homeId": "4200001"})
    assert answer["success"] is True
    assert PLUG in {d["id"] for d in answer["result"]}
    strategy = await raw.send("GET", f"/v1.0/m/life/devices/{PLUG}/status")
    assert strategy["result"]["dpStatusRelationDTOS"][0]["dpId"] == 1
    sent = await raw.send(
        "POST", f"/v1.1/m/thing/{PLUG}/commands", body={"commands": [{"code": "switch_1", "value": True}]}
    )
    assert sent["result"] is True


async def test_each_check_refuses_with_its_code(raw: RawApp) -> None:
    path = "/v1.0/m/life/users/homes"
    assert _code(await raw.send("GET", path, app_key="someone-else")) == 1005
    assert _code(await raw.send("GET", path, t=int(time.time() * 1000) - 600_000)) == 1013
    assert _code(await raw.send("GET", path, refresh="not-the-refresh-token")) == 1004
    assert _code(await raw.send("POST", f"/v1.1/m/thing/{PLUG}/commands", body={"commands": []}, tamper=True)) == 1004
    assert _code(await raw.send("GET", "/v1.0/m/life/ha/home/devices", {"homeId": "999"})) == 1106
    assert _code(await raw.send("GET", "/v1.1/m/life/nosuchdevice/specifications")) == 1106
    bad_value = {"commands": [{"code": "switch_1", "value": "yes"}]}
    assert _code(await raw.send("POST", f"/v1.1/m/thing/{PLUG}/commands", body=bad_value)) == 2008
    assert raw.cloud.state.stats["app_sign_invalid"] == 2
    raw.cloud.state.expire_all_tokens()
    assert _code(await raw.send("GET", path)) == 1010  # signed right, but the access token is past its time
    # the refresh call is keyed with the refresh token of its path, and spends it
    fresh = await raw.send("GET", f"/v1.0/m/token/{raw.refresh}")
    assert set(fresh["result"]) == {"accessToken", "refreshToken", "expireTime", "uid"}
    assert _code(await raw.send("GET", f"/v1.0/m/token/{raw.refresh}")) == 1010  # once only
    raw.access, raw.refresh = fresh["result"]["accessToken"], fresh["result"]["refreshToken"]
    assert (await raw.send("GET", path))["success"] is True


async def test_faults_apply_to_the_app_api(raw: RawApp) -> None:
    state = raw.cloud.state
    state.http_error_next(1, 503)
    async with httpx.AsyncClient(base_url=raw.cloud.base_url) as http:
        assert (await http.get("/v1.0/m/life/users/homes")).status_code == 503
    state.fail_next(1, 1199)
    assert _code(await raw.send("GET", "/v1.0/m/life/users/homes")) == 1199
    assert (await raw.send("GET", "/v1.0/m/life/users/homes"))["success"] is True
