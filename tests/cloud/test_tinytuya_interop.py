"""tinytuya's ``Cloud`` (an independent client, over HTTPS) against ``tuyagate sim cloud``.

tinytuya always builds ``https://{urlhost}/...`` URLs and uses requests, so the emulator runs
with ``tls=True`` and requests trusts its certificate through ``REQUESTS_CA_BUNDLE``; the host is
set the way tinytuya sets it, in ``setregion``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import tinytuya

from tests.cloud.conftest import BULB, CLIENT_ID, OFFLINE, PLUG, SECRET, SENSOR, ClientFactory, CloudFactory
from tuyagate.sim.cloud_server import RunningCloud


@pytest.fixture
async def tls_cloud(start_cloud: CloudFactory, monkeypatch: pytest.MonkeyPatch) -> RunningCloud:
    cloud = await start_cloud(tls=True)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cloud.cert_path))
    return cloud


def tinytuya_cloud(cloud: RunningCloud, **kw: Any) -> Any:
    host = cloud.base_url.removeprefix("https://")

    class EmulatedCloud(tinytuya.Cloud):  # type: ignore[misc]
        def setregion(self, apiRegion: str | None = None) -> None:
            super().setregion(apiRegion)
            self.urlhost = host

    kw.setdefault("apiKey", CLIENT_ID)
    kw.setdefault("apiSecret", SECRET)
    return EmulatedCloud(apiRegion="eu", **kw)


async def run(fn: Callable[[], Any]) -> Any:
    """tinytuya blocks; the emulator runs in this event loop."""
    return await asyncio.to_thread(fn)


async def test_token_and_device_list(tls_cloud: RunningCloud) -> None:
    def go() -> Any:
        cloud = tinytuya_cloud(tls_cloud)
        assert cloud.token
        assert cloud.error is None
        return cloud.getdevices(include_map=True)

    devices = await run(go)
    by_id = {d["id"]: d for d in devices}
    assert set(by_id) == {d.id for d in tls_cloud.state.fleet.devices}
    assert by_id[PLUG]["key"] == "0123456789abcdef"
    assert by_id[PLUG]["mapping"]["20"]["code"] == "cur_voltage"
    assert by_id[PLUG]["mapping"]["20"]["values"]["scale"] == 1
    assert by_id[PLUG]["mac"].count(":") == 5
    assert by_id[SENSOR]["gateway_id"] == "bfdemogateway0000003"
    stats = tls_cloud.state.stats
    assert stats["code_2009"] == 1  # the gateway has no standard DPs (tinytuya then stores no mapping)
    assert stats["token_grants"] == 1
    assert stats["code_1004"] == 0


async def test_legacy_device_list_by_uid(tls_cloud: RunningCloud) -> None:
    devices = await run(lambda: tinytuya_cloud(tls_cloud, apiDeviceID=PLUG).getdevices())
    assert len(devices) == 5
    assert {d["key"] for d in devices if d["id"] == BULB} == {"fedcba9876543210"}


async def test_status_and_commands_change_the_emulated_device(
    tls_cloud: RunningCloud, make_client: ClientFactory
) -> None:
    def go() -> tuple[Any, Any, Any]:
        cloud = tinytuya_cloud(tls_cloud)
        before = cloud.getstatus(PLUG)
        sent = cloud.sendcommand(PLUG, {"commands": [{"code": "switch_1", "value": True}]})
        after = cloud.getstatus(PLUG)
        return before, sent, after

    before, sent, after = await run(go)
    assert {"code": "switch_1", "value": False} in before["result"]
    assert sent["success"] is True
    assert sent["result"] is True
    assert {"code": "switch_1", "value": True} in after["result"]
    # the same state is what tuyagate's client and the device backend see
    ours = make_client(tls_cloud)
    assert {s.code: s.value for s in await ours.status(PLUG)}["switch_1"] is True
    device = tls_cloud.state.fleet.get(PLUG)
    assert device is not None
    assert (await tls_cloud.state.fleet.backend.get_dps(device))["1"] is True


async def test_functions_properties_dps_connect_status_and_logs(tls_cloud: RunningCloud) -> None:
    def go() -> dict[str, Any]:
        cloud = tinytuya_cloud(tls_cloud)
        cloud.sendcommand(BULB, {"commands": [{"code": "work_mode", "value": "scene"}]})
        return {
            "functions": cloud.getfunctions(BULB),
            "properties": cloud.getproperties(BULB),
            "dps": cloud.getdps(BULB),
            "online": cloud.getconnectstatus(BULB),
            "offline": cloud.getconnectstatus(OFFLINE),
            "logs": cloud.getdevicelog(BULB, evtype=[5, 7]),
        }

    got = await run(go)
    assert [f["code"] for f in got["functions"]["result"]["functions"]][:2] == ["switch_led", "work_mode"]
    assert got["properties"]["result"]["category"] == "dj"
    assert {s["dp_id"] for s in got["dps"]["result"]["status"]} == {20, 21, 22, 24}
    assert got["online"] is True
    assert got["offline"] is False
    logs = got["logs"]["result"]["logs"]
    assert {(e["code"], e["value"], e["event_id"]) for e in logs} == {
        ("work_mode", "scene", 5),
        ("work_mode", "scene", 7),
    }


async def test_old_sign_algorithm(tls_cloud: RunningCloud) -> None:
    status = await run(lambda: tinytuya_cloud(tls_cloud, new_sign_algorithm=False).getstatus(PLUG))
    assert status["success"] is True
    assert tls_cloud.state.stats["sign_old"] == 2


async def test_tinytuya_recovers_from_expired_tokens(tls_cloud: RunningCloud) -> None:
    cloud = await run(lambda: tinytuya_cloud(tls_cloud))
    tls_cloud.state.expire_all_tokens()
    status = await run(lambda: cloud.getstatus(PLUG))
    assert status["success"] is True
    assert tls_cloud.state.stats["token_invalid"] == 1
    assert tls_cloud.state.stats["token_grants"] == 2


async def test_errors_reach_tinytuya_as_the_cloud_sends_them(tls_cloud: RunningCloud) -> None:
    def go() -> tuple[Any, Any]:
        cloud = tinytuya_cloud(tls_cloud)
        offline = cloud.sendcommand(OFFLINE, {"commands": [{"code": "switch_1", "value": True}]})
        wrong = tinytuya_cloud(tls_cloud, apiSecret="not-the-secret-0123456789abcdef")
        return offline, wrong.error

    offline, wrong_secret = await run(go)
    assert "device is offline" in offline["Payload"]
    assert "sign invalid" in wrong_secret["Payload"]
