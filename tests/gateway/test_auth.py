"""API tokens on a real server: off on loopback without tokens, on with tokens, scopes, throttling,
refusal to expose."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gateway.conftest import PLUG, Gateway, GatewayFactory, LiveHome
from tuyagate.errors import ConfigError
from tuyagate.gateway.app import create_app
from tuyagate.gateway.auth import JsonTokenStore, create_token, hash_token
from tuyagate.gateway.server import serve_app
from tuyagate.gateway.settings import GatewaySettings

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_no_tokens_on_loopback_means_open(gateway: Gateway) -> None:
    assert (await gateway.client.get("/api/v1/devices")).status_code == 200


async def test_tokens_required_once_one_exists(start_gateway: GatewayFactory, tmp_path: Path) -> None:
    store = JsonTokenStore(tmp_path / "api-tokens.json")
    _, reader = create_token(store, "reader", "read")
    _, controller = create_token(store, "controller", "control")
    gw = await start_gateway()
    c = gw.client
    r = await c.get("/api/v1/devices")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"
    assert (await c.get("/api/v1/devices", headers={"Authorization": f"Bearer {reader}"})).status_code == 200
    assert (await c.get("/metrics", headers={"Authorization": f"Bearer {reader}"})).status_code == 200
    assert (await c.get("/healthz")).status_code == 200  # liveness stays open
    url = f"/api/v1/devices/{PLUG}/commands"
    r = await c.post(url, json={"dps": {"1": False}}, headers={"Authorization": f"Bearer {reader}"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    r = await c.post(url, json={"dps": {"1": False}}, headers={"Authorization": f"Bearer {controller}"})
    assert r.status_code == 200
    # Neither the token nor its hash appears in any answer.
    body = (await c.get(f"/api/v1/devices/{PLUG}", headers={"Authorization": f"Bearer {reader}"})).text
    assert reader not in body
    assert hash_token(reader) not in body


async def test_failed_auth_is_throttled_per_ip(start_gateway: GatewayFactory, tmp_path: Path) -> None:
    _, token = create_token(JsonTokenStore(tmp_path / "api-tokens.json"), "t", "read")
    gw = await start_gateway(auth_max_failures=3, auth_failure_window=30.0)
    for _ in range(3):
        r = await gw.client.get("/api/v1/devices", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
    r = await gw.client.get("/api/v1/devices", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "too_many_auth_failures"
    assert 0 < int(r.headers["retry-after"]) <= 30
    assert gw.app.state.gateway.metrics.auth_failures == 3


async def test_auth_on_without_tokens_refuses_everything(start_gateway: GatewayFactory) -> None:
    gw = await start_gateway(auth="on")
    assert (await gw.client.get("/api/v1/devices")).status_code == 401


async def test_refuses_to_listen_beyond_loopback_without_token(tmp_path: Path, home: LiveHome) -> None:
    app = create_app(GatewaySettings(data_dir=tmp_path), home.hub, manage_manager=False)
    with pytest.raises(ConfigError, match="tokens create"):
        await serve_app(app, "0.0.0.0", 0)
    with pytest.raises(ConfigError, match="only allowed on a loopback"):
        GatewaySettings(data_dir=tmp_path, host="0.0.0.0", auth="off")
