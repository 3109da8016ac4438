"""No secret in answers or logs: local keys, API tokens, the cloud-compatible secret and its access tokens."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from tests.gateway.conftest import CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, PLUG, GatewayFactory, LiveHome
from tuyagate.cloud.signing import sign_headers
from tuyagate.gateway.auth import JsonTokenStore, create_token

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_no_secret_in_logs_or_answers(
    start_gateway: GatewayFactory, home: LiveHome, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, token = create_token(JsonTokenStore(tmp_path / "api-tokens.json"), "t", "control")
    gw = await start_gateway()
    answers: list[str] = []
    auth = {"Authorization": f"Bearer {token}"}
    paths = ["/api/v1/devices", "/metrics", "/openapi.json"] + [
        f"/api/v1/devices/{d.info.id}" for d in home.hub.devices()
    ]
    for path in paths:
        answers.append((await gw.client.get(path, headers=auth)).text)
    tasmota = f"/tasmota/{PLUG}/cm"
    answers.append((await gw.client.get(tasmota, params={"cmnd": "Status 0", "password": token})).text)
    answers.append((await gw.client.get(tasmota, params={"cmnd": "Power", "password": "wrong-pw"})).text)
    answers.append((await gw.client.get("/api/v1/devices", headers={"Authorization": "Bearer wrong-token"})).text)
    t = int(time.time() * 1000)
    headers = sign_headers(client_id=CLOUD_CLIENT_ID, secret=CLOUD_CLIENT_SECRET, t=t, path="/v1.0/token?grant_type=1")
    r = await gw.client.get("/v1.0/token?grant_type=1", headers=headers)
    access = r.json()["result"]["access_token"]
    path = f"/v1.0/devices/{home.id(PLUG)}"
    headers = sign_headers(client_id=CLOUD_CLIENT_ID, secret=CLOUD_CLIENT_SECRET, t=t, access_token=access, path=path)
    answers.append((await gw.client.get(path, headers=headers)).text)
    text = "\n".join(answers)
    # The gateway's own log records (the test's HTTP client logs its URLs, query strings included).
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("tuyagate"))
    keys = home.local_keys()
    leaks = [
        i for i, secret in enumerate((token, CLOUD_CLIENT_SECRET, "wrong-pw", "wrong-token", *keys)) if secret in text
    ]
    assert leaks == []
    secrets = (token, CLOUD_CLIENT_SECRET, "wrong-pw", "wrong-token", access, *keys)
    leaks = [i for i, s in enumerate(secrets) if s in logged]
    assert leaks == []
    assert f"GET /tasmota/{PLUG}/cm 200" in logged  # the access log is there, without its query string
    assert "password" not in logged
    assert CLOUD_CLIENT_SECRET not in repr(gw.settings)
