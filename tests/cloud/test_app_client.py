"""tuyagate's app login (AppLoginFlow) and app API client (AppCloudClient), the SDK inside, against the emulator."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from tests.cloud.app_support import USER_CODE, app_login
from tests.cloud.conftest import GATEWAY, PLUG, SENSOR, CloudFactory
from tuyagate.cloud.app_client import RELOGIN_HINT, AppCloudClient
from tuyagate.cloud.app_login import AppLoginFlow, AppToken
from tuyagate.deadline import Deadline
from tuyagate.errors import CloudAuthError, CloudError, ConfigError, TuyaConnectionError, TuyaTimeoutError
from tuyagate.schema import DpSchema
from tuyagate.sim.app_state import AppSettings
from tuyagate.sim.cloud_sample import sample_fleet

pytest.importorskip("tuya_sharing")


async def test_the_flow_waits_for_the_approval_then_logs_in(start_cloud: CloudFactory) -> None:
    cloud = await start_cloud(tls=True)
    flow = AppLoginFlow(USER_CODE, base_url=cloud.base_url, ca_bundle=str(cloud.cert_path), timeout=3.0)
    ticks: list[float] = []

    def progress(left: float) -> None:
        ticks.append(left)
        if len(ticks) == 3:  # the user confirms in the app while the command waits
            assert cloud.state.app.approve() == 1

    try:
        challenge = await flow.start()
        assert challenge.payload == "tuyaSmart--qrLogin?token=" + challenge.token
        assert challenge.token not in repr(challenge)
        login = await flow.wait(challenge, Deadline.after(10.0), interval=0.05, progress=progress)
    finally:
        flow.close()
    assert len(ticks) == 3
    assert ticks == sorted(ticks, reverse=True)
    assert flow.last_answer == ("E0020003", "the login is not confirmed in the app yet")
    assert (login.endpoint, login.username, login.user_code) == (cloud.base_url, "emulated.user@example.com", USER_CODE)
    assert login.token.uid == cloud.state.config.uid
    for secret in (login.token.access_token, login.token.refresh_token, login.user_code, login.terminal_id):
        assert secret not in repr(login)
    assert flow.requests_sent == 4  # the QR token and three polls


async def test_the_wait_has_a_deadline(start_cloud: CloudFactory) -> None:
    cloud = await start_cloud()
    flow = AppLoginFlow(USER_CODE, base_url=cloud.base_url, timeout=3.0)
    loop = asyncio.get_running_loop()
    try:
        challenge = await flow.start()
        started = loop.time()
        with pytest.raises(TuyaTimeoutError, match=r"not approved in the app in time.*new QR code"):
            await flow.wait(challenge, Deadline.after(0.4), interval=0.1)
    finally:
        flow.close()
    assert 0.35 <= loop.time() - started < 2.0


async def test_user_codes_the_cloud_or_the_format_refuses(start_cloud: CloudFactory) -> None:
    with pytest.raises(ConfigError, match="User Code") as bad:
        AppLoginFlow("has spaces & more")
    assert "spaces" not in str(bad.value)
    cloud = await start_cloud(app=AppSettings(user_codes=(USER_CODE,)))
    flow = AppLoginFlow("someoneElse", base_url=cloud.base_url)
    try:
        with pytest.raises(CloudError, match=r"2406.*User Code"):
            await flow.start()
    finally:
        flow.close()


async def test_devices_specifications_sub_devices_and_commands(start_cloud: CloudFactory) -> None:
    manifest = sample_fleet()
    cloud = await start_cloud(tls=True, manifest=manifest)
    async with AppCloudClient(await app_login(cloud), ca_bundle=str(cloud.cert_path)) as app:
        assert await app.homes() == [("4200001", "Emulated home")]
        devices = {d.id: d for d in await app.devices()}
        assert sorted(devices) == sorted(d.id for d in manifest.devices)
        for dev in manifest.devices:
            assert (devices[dev.id].name, devices[dev.id].local_key) == (dev.name, dev.local_key)
            spec = await app.specification(dev.id)
            schema = DpSchema.from_cloud_specification(
                {
                    "functions": [
                        {"code": f.code, "type": f.type, "values": f.raw_values, "dp_id": f.dp_id}
                        for f in spec.functions
                    ],
                    "status": [
                        {"code": s.code, "type": s.type, "values": s.raw_values, "dp_id": s.dp_id} for s in spec.status
                    ],
                }
            )
            assert {(d.dp_id, d.code, d.type, d.mode) for d in schema} == {
                (d.dp_id, d.code, d.type, d.mode) for d in dev.schema
            }
        # the app API has no sub-device call: the home's only gateway gets the home's sub-devices
        assert [c.id for c in await app.sub_devices(GATEWAY)] == [SENSOR]
        assert devices[SENSOR].node_id
        assert await app.sub_devices(PLUG) == []
        # the same command twice in a row is sent twice (the SDK's own send_commands would drop the second)
        for value in (True, True):
            await app.send_commands(PLUG, {"switch_1": value})
        assert cloud.state.stats["app_commands"] == 2
        with pytest.raises(CloudError, match="2008"):
            await app.send_commands(PLUG, [{"code": "switch_1", "value": "on"}])
        assert app.requests_sent > 10


async def test_refreshed_tokens_are_handed_over_and_an_early_expiry_is_cured(start_cloud: CloudFactory) -> None:
    cloud = await start_cloud(token_ttl=30.0)  # shorter than the SDK's 60 s margin: it refreshes before every call
    saved: list[AppToken] = []
    login = await app_login(cloud)
    async with AppCloudClient(login, on_token=saved.append) as app:
        await app.homes()
        await app.homes()
    assert len(saved) == 2
    assert saved[-1] == app.token
    assert saved[0].refresh_token != login.token.refresh_token
    assert saved[1].refresh_token != saved[0].refresh_token
    assert cloud.state.stats["app_token_refreshes"] == 2

    cloud2 = await start_cloud()  # 2 h tokens: the SDK would not refresh on its own
    saved.clear()
    async with AppCloudClient(await app_login(cloud2), on_token=saved.append) as app:
        cloud2.state.expire_all_tokens()  # the cloud ends the token early
        assert len(await app.homes()) == 1  # 1010, a forced refresh, the call again
    assert len(saved) == 1
    assert cloud2.state.stats["app_code_1010"] == 1


async def test_a_revoked_login_says_to_log_in_again(start_cloud: CloudFactory) -> None:
    cloud = await start_cloud()
    async with AppCloudClient(await app_login(cloud)) as app:
        cloud.state.app.revoke_all()
        with pytest.raises(CloudAuthError) as refused:
            await app.devices()
    text = str(refused.value)
    assert text == f"cloud error 1004: sign invalid ({RELOGIN_HINT})"
    assert "\n" not in text
    assert refused.value.__context__ is None  # nothing of the SDK's frames (and sockets) kept alive


async def test_network_failures_are_tuyagate_errors(start_cloud: CloudFactory) -> None:
    cloud = await start_cloud(tls=True)
    login = await app_login(cloud)
    async with AppCloudClient(login) as app:  # no CA bundle: the emulator's certificate is not trusted
        with pytest.raises(TuyaConnectionError, match=r"certificate is not trusted.*--ca-bundle"):
            await app.homes()
    async with AppCloudClient(login, ca_bundle=str(cloud.cert_path)) as app:
        cloud.state.http_error_next(1, 503)
        with pytest.raises(CloudError, match="HTTP 503"):
            await app.homes()
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    flow = AppLoginFlow(USER_CODE, base_url=f"http://127.0.0.1:{closed}", timeout=2.0)
    try:
        with pytest.raises(TuyaConnectionError, match=f"cannot reach the Tuya cloud at http://127.0.0.1:{closed}"):
            await flow.start()
    finally:
        flow.close()


async def test_no_secret_reaches_a_log_line(
    start_cloud: CloudFactory, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # everything, the SDK's and urllib3's loggers included
    cloud = await start_cloud(token_ttl=30.0)
    login = await app_login(cloud)
    async with AppCloudClient(login) as app:
        devices = await app.devices()
        await app.specification(PLUG)
        cloud.state.app.revoke_all()
        with pytest.raises(CloudAuthError):
            await app.homes()
    secrets = [login.token.access_token, login.token.refresh_token, login.user_code, app.token.refresh_token]
    secrets += [d.local_key for d in devices if d.local_key]
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    assert "/v1.0/m/token/***" in caplog.text  # the refresh call was logged, its token was not
    for secret in secrets:
        assert secret not in logged
