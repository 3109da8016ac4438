"""Tuya's official ``tuya-device-sharing-sdk`` as the client of the emulated Smart Life app API.

The SDK itself, unchanged: its login host (a module constant) points at the emulator, and its
requests sessions trust the emulator's certificate through ``REQUESTS_CA_BUNDLE``. Each blocking SDK
call runs in a worker thread while the emulator serves from the test's event loop. Nothing of
tuyagate's client is involved: this is what Home Assistant's Tuya integration would see.
"""

from __future__ import annotations

import asyncio
import gc
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.cloud.app_support import USER_CODE, point_sdk_at
from tests.cloud.conftest import CloudFactory
from tuyagate.cloud.app_login import APP_CLIENT_ID, APP_SCHEMA
from tuyagate.sim.app_state import AppSettings
from tuyagate.sim.cloud_server import RunningCloud
from tuyagate.sim.fleet import SimFleet
from tuyagate.sim.manifest import FleetManifest

sdk = pytest.importorskip("tuya_sharing")


class Listener:
    """A SharingTokenListener: records the tokens the SDK refreshed."""

    def __init__(self) -> None:
        self.tokens: list[dict[str, Any]] = []

    def update_token(self, token_info: dict[str, Any]) -> None:
        self.tokens.append(dict(token_info))


@pytest.fixture
def manifest() -> FleetManifest:
    return SimFleet.demo(first_ip="127.0.7.1", port=0)


@pytest.fixture
def sessions() -> Iterator[list[Any]]:
    """SDK objects whose requests sessions are closed after the test (keep-alive would hold the server)."""
    made: list[Any] = []
    yield made
    gc.collect()  # a pytest.raises in the test frame is a cycle that keeps the SDK's last response (and socket)
    for thing in made:
        session = getattr(thing, "session", None) or thing.customer_api.session
        session.close()


def _trusting(cloud: RunningCloud) -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(cloud.cert_path)))


async def _login(cloud: RunningCloud, sessions: list[Any], user_code: str = USER_CODE) -> tuple[Any, dict[str, Any]]:
    control = sdk.LoginControl()
    sessions.append(control)
    answer = await asyncio.to_thread(control.qr_code, APP_CLIENT_ID, APP_SCHEMA, user_code)
    assert answer["success"] is True
    qr = answer["result"]["qrcode"]
    done, info = await asyncio.to_thread(control.login_result, qr, APP_CLIENT_ID, user_code)
    if not done:
        assert info["code"] == "E0020003"  # not approved yet
        async with _trusting(cloud) as http:
            approved = (await http.post(cloud.base_url + "/_sim/app-login/approve", json={"qrcode": qr})).json()
        assert approved == {"approved": 1, "pending": 1}
        done, info = await asyncio.to_thread(control.login_result, qr, APP_CLIENT_ID, user_code)
    assert done is True, info
    info["qr"] = qr
    return control, info


def _manager(info: dict[str, Any], listener: Listener | None = None, user_code: str = USER_CODE) -> Any:
    token = {k: info[k] for k in ("t", "uid", "expire_time", "access_token", "refresh_token")}
    return sdk.Manager(APP_CLIENT_ID, user_code, info["terminal_id"], info["endpoint"], token, listener)


async def test_the_sdk_logs_in_by_qr_code_and_reads_every_device_with_its_key_and_dp_map(
    start_cloud: CloudFactory, manifest: FleetManifest, sessions: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud = await start_cloud(tls=True, manifest=manifest)
    point_sdk_at(monkeypatch, cloud)
    control, info = await _login(cloud, sessions)
    assert info["endpoint"] == cloud.base_url  # the account's API is the emulator too
    assert info["username"] == "emulated.user@example.com"
    assert isinstance(info["t"], int)
    assert info["expire_time"] == 7200
    # a QR login is collected once
    again, said = await asyncio.to_thread(control.login_result, info["qr"], APP_CLIENT_ID, USER_CODE)
    assert (again, said["code"]) == (False, "E0020003")

    manager = _manager(info)
    sessions.append(manager)
    await asyncio.to_thread(manager.update_device_cache)
    assert [h.name for h in manager.user_homes] == ["Emulated home"]
    assert sorted(manager.device_map) == sorted(d.id for d in manifest.devices)
    for dev in manifest.devices:
        got = manager.device_map[dev.id]
        assert (got.name, got.local_key, got.category, got.product_name) == (
            dev.name,
            dev.local_key,
            dev.category,
            dev.product_name,
        )
        assert got.sub is (dev.parent_id is not None)
        assert got.support_local is True
        # the local strategy maps every DP id to its code; the specification gives types and ranges
        assert {dp: s["status_code"] for dp, s in got.local_strategy.items()} == {d.dp_id: d.code for d in dev.schema}
        assert sorted(got.function) == sorted(d.code for d in dev.schema if d.writable)
        assert sorted(got.status_range) == sorted(d.code for d in dev.schema if d.readable)
        for d in dev.schema:
            if d.readable:
                assert got.status_range[d.code].type == d.type.value
        assert got.status == {d.code: dev.status[str(d.dp_id)] for d in dev.schema if str(d.dp_id) in dev.status}

    desk = manifest.devices[0]
    await asyncio.to_thread(manager.send_commands, desk.id, [{"code": "switch_1", "value": True}])
    assert (await cloud.state.fleet.backend.get_dps(desk))["1"] is True
    stats = cloud.state.stats
    assert (stats["app_logins"], stats["app_commands"], stats["app_sign_invalid"]) == (1, 1, 0)


async def test_the_sdk_refreshes_its_token_and_the_spent_pair_stops_working(
    start_cloud: CloudFactory, sessions: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 30 s tokens: the SDK refreshes 60 s before expiry, so before every call
    cloud = await start_cloud(tls=True, token_ttl=30.0)
    point_sdk_at(monkeypatch, cloud)
    _control, info = await _login(cloud, sessions)
    listener = Listener()
    manager = _manager(info, listener)
    sessions.append(manager)
    await asyncio.to_thread(manager.update_device_cache)
    assert len(manager.device_map) == 5
    assert len(listener.tokens) >= 2
    assert cloud.state.stats["app_token_refreshes"] == len(listener.tokens)
    newest = listener.tokens[-1]
    assert newest["refresh_token"] != info["refresh_token"]
    assert newest["expire_time"] == 30
    assert cloud.state.app.sessions == 1  # refreshing replaced the pair, it did not add one

    # a client still holding the first (spent) pair is refused the way Home Assistant re-authenticates on
    stale = _manager(info)
    sessions.append(stale)
    with pytest.raises(sdk.exceptions.ApiRequestException, match="sign invalid"):
        await asyncio.to_thread(stale.home_repository.query_homes)


async def test_a_revoked_login_is_sign_invalid_and_logout_ends_the_terminal(
    start_cloud: CloudFactory, sessions: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud = await start_cloud(tls=True)
    point_sdk_at(monkeypatch, cloud)
    _control, info = await _login(cloud, sessions)
    manager = _manager(info)
    sessions.append(manager)
    assert len(await asyncio.to_thread(manager.home_repository.query_homes)) == 1
    await asyncio.to_thread(manager.unload)  # POST /v1.0/m/token/terminal/expire
    assert cloud.state.app.sessions == 0
    with pytest.raises(sdk.exceptions.ApiRequestException) as refused:
        await asyncio.to_thread(manager.home_repository.query_homes)
    assert refused.value.error_code == 1004

    # the app's "remove" of every login, through the fault endpoint
    _control, info = await _login(cloud, sessions)
    manager = _manager(info)
    sessions.append(manager)
    async with _trusting(cloud) as http:
        await http.post(cloud.base_url + "/_sim/faults", json={"revoke_app_logins": True})
    with pytest.raises(sdk.exceptions.ApiRequestException, match="sign invalid"):
        await asyncio.to_thread(manager.home_repository.query_homes)


async def test_auto_approval_user_codes_and_client_ids(
    start_cloud: CloudFactory, sessions: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud = await start_cloud(tls=True, app=AppSettings(auto_approve=True, user_codes=(USER_CODE,)))
    point_sdk_at(monkeypatch, cloud)
    control = sdk.LoginControl()
    sessions.append(control)
    answer = await asyncio.to_thread(control.qr_code, APP_CLIENT_ID, APP_SCHEMA, USER_CODE)
    done, info = await asyncio.to_thread(control.login_result, answer["result"]["qrcode"], APP_CLIENT_ID, USER_CODE)
    assert done is True
    assert info["access_token"]
    refused = await asyncio.to_thread(control.qr_code, APP_CLIENT_ID, APP_SCHEMA, "someoneElse")
    assert (refused["success"], refused["code"]) == (False, 2406)
    wrong_id = await asyncio.to_thread(control.qr_code, "not-the-ha-client", APP_SCHEMA, USER_CODE)
    assert (wrong_id["success"], wrong_id["msg"]) == (False, "sign invalid")
    # a QR token polled with another user code is not handed over
    answer = await asyncio.to_thread(control.qr_code, APP_CLIENT_ID, APP_SCHEMA, USER_CODE)
    done, _ = await asyncio.to_thread(control.login_result, answer["result"]["qrcode"], APP_CLIENT_ID, "other")
    assert done is False


async def test_unknown_app_paths_and_an_expired_token(
    start_cloud: CloudFactory, sessions: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud = await start_cloud(tls=True)
    point_sdk_at(monkeypatch, cloud)
    _control, info = await _login(cloud, sessions)
    manager = _manager(info)
    sessions.append(manager)
    with pytest.raises(sdk.exceptions.ApiRequestException) as unknown:
        await asyncio.to_thread(manager.customer_api.get, "/v1.0/m/life/no/such/thing")
    assert unknown.value.error_code == 1108
    # the cloud expires the token early; the SDK, which thinks it valid, gets 1010
    cloud.state.expire_all_tokens()
    with pytest.raises(sdk.exceptions.ApiRequestException) as expired:
        await asyncio.to_thread(manager.home_repository.query_homes)
    assert (expired.value.error_code, expired.value.error_message) == (1010, "token invalid")
