"""tuyagate's client against the emulator: every call, every fault, transparent recovery, clear errors."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import pytest

from tests.cloud.conftest import (
    BULB,
    GATEWAY,
    OFFLINE,
    PLUG,
    SECRET,
    SENSOR,
    ClientFactory,
    CloudFactory,
    FakeClock,
)
from tuyagate.cloud.codes import CLIENT_QUOTA
from tuyagate.cloud.signing import SignScheme
from tuyagate.deadline import Deadline
from tuyagate.errors import CloudAuthError, CloudError, TuyaConnectionError, TuyaTimeoutError
from tuyagate.sim.cloud_sample import sample_fleet
from tuyagate.sim.cloud_server import RunningCloud

# -- every call ----------------------------------------------------------------------------------


async def test_device_list_all_pages(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud, page_size=2)
    devices = await client.devices()
    assert [d.id for d in devices] == [d.id for d in cloud.state.fleet.devices]
    assert cloud.state.stats["requests"] == 1 + 3 + 1  # token, 3 pages, 1 page of /v1.3 for the gateway ids
    plug = devices[0]
    assert plug.local_key == "0123456789abcdef"
    assert plug.status_dict()["cur_voltage"] == 2301
    sensor = next(d for d in devices if d.id == SENSOR)
    assert sensor.sub
    assert sensor.node_id == "a4c1380000000004"
    assert sensor.gateway_id == GATEWAY


async def test_device_list_without_sub_devices_is_one_listing(
    start_cloud: CloudFactory, make_client: ClientFactory
) -> None:
    fleet = sample_fleet()
    fleet.devices = [d for d in fleet.devices if d.parent_id is None]
    cloud = await start_cloud(manifest=fleet)
    client = make_client(cloud)
    assert len(await client.devices()) == 4
    assert cloud.state.stats["requests"] == 2  # token + one page


async def test_details_status_functions_specification(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud)
    device = await client.device(BULB)
    assert device.local_key == "fedcba9876543210"
    assert device.uid == cloud.state.config.uid
    assert device.online
    assert [s.code for s in await client.status(BULB)] == [
        "switch_led",
        "work_mode",
        "bright_value_v2",
        "colour_data_v2",
    ]
    many = await client.statuses([PLUG, BULB, SENSOR])
    assert set(many) == {PLUG, BULB, SENSOR}
    functions = await client.functions(PLUG)
    assert functions.category == "cz"
    assert [f.code for f in functions.functions] == ["switch_1", "countdown_1"]
    assert functions.functions[1].values["max"] == 86400
    spec = await client.specification(PLUG)
    assert [(s.dp_id, s.code) for s in spec.status] == [
        (1, "switch_1"),
        (9, "countdown_1"),
        (19, "cur_power"),
        (20, "cur_voltage"),
    ]
    mapping = await client.dp_mapping(PLUG)
    assert mapping.code_for(20) == "cur_voltage"
    assert mapping.dp_for("countdown_1") == 9
    assert next(e for e in mapping.entries if e.code == "cur_power").writable is False
    assert len(await client.dp_mapping(GATEWAY)) == 0  # 2009: no standard DPs


async def test_commands_change_state_and_big_batches_are_split(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud, max_commands_per_call=2)
    await client.send_commands(PLUG, {"switch_1": True, "countdown_1": 30})
    assert {s.code: s.value for s in await client.status(PLUG)}["switch_1"] is True
    assert cloud.state.stats["command_calls"] == 1
    batch = [{"code": "switch_led", "value": v} for v in (True, False, True, False, True)]
    await client.send_commands(BULB, batch)
    assert cloud.state.stats["command_calls"] == 1 + 3
    dps = await cloud.state.fleet.backend.get_dps(cloud.state.fleet.get(BULB))  # type: ignore[arg-type]
    assert dps["20"] is True


async def test_default_split_matches_the_emulator_limit(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud)
    await client.send_commands(BULB, [{"code": "bright_value_v2", "value": 10 + i} for i in range(45)])
    assert cloud.state.stats["command_calls"] == 3  # 20 + 20 + 5


async def test_logs_and_sub_devices(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud)
    for value in (True, False, True):
        await client.send_commands(PLUG, {"switch_1": value})
    logs = await client.logs(PLUG, start_ms=0, end_ms=client.now_ms() + 1000, types=[7], size=2)
    assert [e.value for e in logs] == ["true", "false", "true"]
    assert all(e.event_id == 7 for e in logs)
    subs = await client.sub_devices(GATEWAY)
    assert [s.id for s in subs] == [SENSOR]


async def test_raw_call_returns_the_envelope_even_on_failure(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud)
    ok = await client.call("GET", f"/v1.0/devices/{PLUG}/logs?type=1%2C7&size=5")
    assert ok["success"] is True
    bad = await client.call("GET", "/v1.0/devices/unknown")
    assert bad["success"] is False
    assert bad["code"] == 1106
    token = await client.call("GET", "/v1.0/token?grant_type=1")
    assert token["result"]["access_token"]


async def test_old_sign_scheme(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud, sign_scheme=SignScheme.OLD)
    assert await client.status(PLUG)
    assert cloud.state.stats["sign_old"] == 2


async def test_https_emulator(start_cloud: CloudFactory, make_client: ClientFactory) -> None:
    cloud = await start_cloud(tls=True)
    client = make_client(cloud)
    assert len(await client.devices()) == 5


# -- transparent recovery ------------------------------------------------------------------------


async def test_expired_tokens_are_replaced_transparently(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud)
    await client.status(PLUG)
    cloud.state.expire_all_tokens()
    assert await client.status(PLUG)
    assert cloud.state.stats["token_invalid"] == 1
    assert cloud.state.stats["token_grants"] == 2
    assert client.tokens.logins == 2


async def test_hundred_concurrent_calls_at_expiry_refresh_once(
    start_cloud: CloudFactory, make_client: ClientFactory
) -> None:
    clock = FakeClock(time.time())
    cloud = await start_cloud(clock=clock, token_ttl=7200)
    client = make_client(cloud, clock=clock, refresh_margin=60)
    await client.status(PLUG)
    clock.advance(7200 - 30)  # inside the margin: refresh proactively
    results = await asyncio.gather(*(client.status(PLUG) for _ in range(100)))
    assert all(results)
    assert cloud.state.stats["token_refreshes"] == 1
    assert cloud.state.stats["token_grants"] == 1
    assert cloud.state.stats["token_invalid"] == 0


async def test_hundred_concurrent_calls_after_expire_all_log_in_once(
    cloud: RunningCloud, make_client: ClientFactory
) -> None:
    client = make_client(cloud)
    await client.status(PLUG)
    cloud.state.expire_all_tokens()
    results = await asyncio.gather(*(client.status(PLUG) for _ in range(100)))
    assert all(results)
    assert cloud.state.stats["token_grants"] == 2


async def test_spent_refresh_token_falls_back_to_login(start_cloud: CloudFactory, make_client: ClientFactory) -> None:
    clock = FakeClock(time.time())
    cloud = await start_cloud(clock=clock)
    client = make_client(cloud, clock=clock)
    await client.status(PLUG)
    stale = client.tokens.current
    assert stale is not None
    assert await client.call("GET", f"/v1.0/token/{stale.refresh_token}")  # someone else spends it
    clock.advance(7200)
    assert await client.status(PLUG)
    assert client.tokens.refresh_failures == 1
    assert cloud.state.stats["token_grants"] == 2


async def test_5xx_within_the_retry_budget(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud, retries=3)
    await client.token()
    cloud.state.http_error_next(3, 503)
    assert await client.status(PLUG)
    assert cloud.state.stats["http_errors"] == 3


async def test_5xx_beyond_the_budget_is_a_clear_error(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud, retries=2)
    await client.token()
    cloud.state.http_error_next(10, 502)
    sent = client.requests_sent
    with pytest.raises(CloudError) as info:
        await client.status(PLUG)
    assert info.value.code == 502
    assert "HTTP 502" in str(info.value)
    assert "retry later" in str(info.value)
    assert client.requests_sent - sent == 3


async def test_5xx_until_the_deadline_is_the_5xx_not_a_timeout(cloud: RunningCloud, make_client: ClientFactory) -> None:
    # Found by the fault matrix: the last retry started with no time left and the answer was a timeout.
    # Back-offs of 0.325 s and 0.65 s: the second ends ~15 ms before the deadline.
    client = make_client(cloud, retries=3, backoff=0.5, jitter=lambda: 0.3)
    await client.token()
    cloud.state.http_error_next(100, 503)
    started = time.monotonic()
    with pytest.raises(CloudError) as info:
        await client.status(PLUG, deadline=Deadline.after(1.0))
    assert time.monotonic() - started < 0.9  # no retry is started that cannot finish
    assert (info.value.code, "HTTP 503" in str(info.value)) == (503, True)


async def test_rate_limit_within_the_budget(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud, retries=3)
    await client.token()
    cloud.state.fail_next(3, 1199)
    assert await client.status(PLUG)


async def test_rate_limit_beyond_the_budget(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud, retries=1)
    await client.token()
    cloud.state.fail_next(5, 1199)
    with pytest.raises(CloudError) as info:
        await client.status(PLUG)
    assert info.value.code == 1199
    assert "slow down" in str(info.value)


async def test_emulator_qps_is_respected_by_the_client_limiter(
    start_cloud: CloudFactory, make_client: ClientFactory
) -> None:
    cloud = await start_cloud(qps=20)
    client = make_client(cloud, qps=20)
    await asyncio.gather(*(client.status(PLUG) for _ in range(15)))
    assert cloud.state.stats["qps_refused"] == 0


async def test_emulator_qps_without_a_client_limiter_is_absorbed_by_retries(
    start_cloud: CloudFactory, make_client: ClientFactory
) -> None:
    cloud = await start_cloud(qps=5)
    client = make_client(cloud, retries=8, backoff=0.2)
    await client.token()
    await asyncio.gather(*(client.status(PLUG) for _ in range(15)))  # 3x the bucket: some must wait
    assert cloud.state.stats["qps_refused"] > 0


async def test_latency_within_the_timeout(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud, timeout=2.0)
    cloud.state.faults.latency = 0.1
    assert await client.status(PLUG)


async def test_latency_beyond_the_timeout_is_a_timeout_error(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud, timeout=0.2, retries=1)
    await client.token()
    cloud.state.faults.latency = 1.0
    started = time.monotonic()
    with pytest.raises(TuyaTimeoutError, match=r"within 0\.2 s"):
        await client.status(PLUG)
    assert time.monotonic() - started < 1.0


async def test_clock_skew_is_corrected_from_1013(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud, clock=lambda: time.time() + 1800)  # our clock is 30 min fast
    assert await client.status(PLUG)
    assert client.clock_offset == pytest.approx(-1800, abs=5)
    assert cloud.state.stats["code_1013"] == 1
    assert await client.status(PLUG)
    assert cloud.state.stats["code_1013"] == 1  # learnt once


async def test_server_clock_ahead_is_corrected(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud)
    cloud.state.faults.clock_offset = 900
    assert await client.status(PLUG)
    assert client.clock_offset == pytest.approx(900, abs=5)


# -- clear errors --------------------------------------------------------------------------------


async def test_unreachable_cloud_after_retries(make_client: ClientFactory, cloud: RunningCloud) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    cloud.base_url = f"http://127.0.0.1:{port}"  # nothing listens there
    client = make_client(cloud, retries=3, backoff=0.5, max_backoff=1.5, sleep=record, jitter=lambda: 1.0)
    with pytest.raises(TuyaConnectionError, match=f"127.0.0.1:{port}"):
        await client.status(PLUG)
    assert delays == [0.5, 1.0, 1.5]  # exponential, capped; jitter in [d/2, d]
    jittered = make_client(cloud, retries=2, backoff=0.5, sleep=record, jitter=lambda: 0.0)
    delays.clear()
    with pytest.raises(TuyaConnectionError):
        await jittered.status(PLUG)
    assert delays == [0.25, 0.5]


async def test_account_errors_are_not_retried(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud, retries=5)
    await client.token()
    for code, hint in ((28841002, "renew"), (28841004, "quota"), (2406, "region")):
        cloud.state.fail_next(1, code)
        sent = client.requests_sent
        with pytest.raises(CloudError) as info:
            await client.status(PLUG)
        assert info.value.code == code
        assert hint in str(info.value)
        assert client.requests_sent - sent == 1


async def test_device_errors(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud)
    with pytest.raises(CloudError) as offline:
        await client.send_commands(OFFLINE, {"switch_1": True})
    assert offline.value.code == 2001
    with pytest.raises(CloudError) as unsupported:
        await client.send_commands(PLUG, {"cur_voltage": 5})
    assert unsupported.value.code == 2008
    with pytest.raises(CloudError) as denied:
        await client.device("not-in-this-project")
    assert denied.value.code == 1106
    assert "link the device" in str(denied.value)


async def test_token_refused_twice_is_an_error_not_a_loop(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud)
    await client.token()
    cloud.state.fail_next(10, 1010)
    with pytest.raises(CloudError) as info:
        await client.status(PLUG)
    assert info.value.code == 1010
    assert cloud.state.faults.code_errors == 10 - 2  # the call and one retry after a fresh login


async def test_wrong_secret_is_1004_and_never_shows_the_secret(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud, secret="wrong-secret-value-0123456789ab")
    with pytest.raises(CloudAuthError) as info:  # a TuyaAuthError: a wrong credential, not an outage
        await client.status(PLUG)
    assert info.value.code == 1004
    assert "Access Secret" in str(info.value)
    assert "wrong-secret-value" not in str(info.value)
    assert "wrong-secret-value" not in repr(client)


async def test_client_daily_quota_stops_before_sending(cloud: RunningCloud, make_client: ClientFactory) -> None:
    client = make_client(cloud, daily_quota=3)
    await client.status(PLUG)  # token + status
    await client.status(PLUG)
    served = cloud.state.calls
    with pytest.raises(CloudError) as info:
        await client.status(PLUG)
    assert info.value.code == CLIENT_QUOTA
    assert "daily quota of 3" in str(info.value)
    assert cloud.state.calls == served


async def test_no_secret_or_token_in_logs(
    start_cloud: CloudFactory, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(time.time())
    cloud = await start_cloud(clock=clock)
    client = make_client(cloud, clock=clock)
    caplog.set_level(logging.DEBUG)
    await client.status(PLUG)
    token = client.tokens.current
    assert token is not None
    clock.advance(7200)
    await client.status(PLUG)  # refresh: the refresh token travels in the URL
    cloud.state.expire_all_tokens()
    await client.status(PLUG)
    assert "/v1.0/token/***" in caplog.text
    for secret in (SECRET, token.access_token, token.refresh_token):
        assert secret not in caplog.text


async def test_untrusted_certificate_is_not_retried(start_cloud: CloudFactory, make_client: ClientFactory) -> None:
    cloud = await start_cloud(tls=True)
    client = make_client(cloud, verify=True, retries=3)
    with pytest.raises(TuyaConnectionError, match="certificate is not trusted"):
        await client.token()
    assert client.requests_sent == 1
