"""API tokens: off on loopback without tokens, on with tokens, scopes, throttling, refusal to expose."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.gateway.conftest import GatewayFactory
from tests.gateway.memory_devices import PLUG_ID, make_fleet
from tuyagate.errors import ConfigError, NotFoundError, ValidationError
from tuyagate.gateway.app import create_app
from tuyagate.gateway.auth import FailureThrottle, JsonTokenStore, create_token, hash_token, revoke_token
from tuyagate.gateway.server import serve_app
from tuyagate.gateway.settings import GatewaySettings
from tuyagate.gateway.token_cli import main as token_main


def test_tokens_are_stored_hashed_and_private(tmp_path: Path) -> None:
    store = JsonTokenStore(tmp_path / "api-tokens.json")
    record, token = create_token(store, "ha", "read")
    raw = (tmp_path / "api-tokens.json").read_text()
    assert token not in raw
    assert hash_token(token) in raw
    assert stat.S_IMODE((tmp_path / "api-tokens.json").stat().st_mode) == 0o600
    assert token not in repr(record)
    assert record.hash not in repr(record)
    assert store.find(hash_token(token)) == record
    with pytest.raises(ValidationError):
        create_token(store, "ha", "read")
    with pytest.raises(ValidationError):
        create_token(store, "x", "admin")
    assert revoke_token(store, "ha") == record
    assert store.list() == []
    with pytest.raises(NotFoundError):
        revoke_token(store, "ha")


def test_throttle_window() -> None:
    throttle = FailureThrottle(max_failures=3, window=10.0)
    for t in (0.0, 1.0, 2.0):
        assert throttle.retry_after("a", now=t) == 0.0
        throttle.failed("a", now=t)
    assert throttle.retry_after("a", now=3.0) == pytest.approx(7.0)
    assert throttle.retry_after("b", now=3.0) == 0.0
    assert throttle.retry_after("a", now=10.5) == 0.0


async def test_no_tokens_on_loopback_means_open(gateway) -> None:
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
    url = f"/api/v1/devices/{PLUG_ID}/commands"
    r = await c.post(url, json={"dps": {"1": False}}, headers={"Authorization": f"Bearer {reader}"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    r = await c.post(url, json={"dps": {"1": False}}, headers={"Authorization": f"Bearer {controller}"})
    assert r.status_code == 200
    # Neither the token nor its hash appears in any answer.
    body = (await c.get(f"/api/v1/devices/{PLUG_ID}", headers={"Authorization": f"Bearer {reader}"})).text
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


async def test_refuses_to_listen_beyond_loopback_without_token(tmp_path: Path) -> None:
    app = create_app(GatewaySettings(data_dir=tmp_path), make_fleet())
    with pytest.raises(ConfigError, match="tokens create"):
        await serve_app(app, "0.0.0.0", 0)
    with pytest.raises(ConfigError, match="only allowed on a loopback"):
        GatewaySettings(data_dir=tmp_path, host="0.0.0.0", auth="off")


def test_token_cli_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert token_main(["create", "--name", "ha", "--scope", "read", "--data-dir", str(tmp_path), "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["scope"] == "read"
    assert created["token"].startswith("tg_")
    assert token_main(["list", "--data-dir", str(tmp_path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [{k: created[k] for k in ("id", "name", "scope", "created_at")}]
    assert token_main(["revoke", "ha", "--data-dir", str(tmp_path)]) == 0
    assert token_main(["revoke", "ha", "--data-dir", str(tmp_path)]) == 1
    assert "no API token" in capsys.readouterr().err
