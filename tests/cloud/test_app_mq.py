"""The Smart Life app's MQ, end to end on loopback: the emulator's config call and publisher, a real
Mosquitto with TLS (a throwaway CA), the official SDK's ``SharingMQ`` and tuyagate's consumer.

The SDK is unchanged: its ``tls_set()`` trusts the system store, so ``SSL_CERT_FILE`` names the test
CA; its paho client verifies the broker's certificate and address as it would against Tuya's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.cloud.app_mq_support import TlsBroker
from tests.cloud.app_support import app_login, point_sdk_at
from tests.cloud.conftest import PLUG, CloudFactory
from tuyagate.cloud.app_client import AppCloudClient
from tuyagate.cloud.app_mq import AppMqConsumer
from tuyagate.cloud.app_mq_messages import decode_app_message, parse_mq_config
from tuyagate.cloud.messages import BadMessage, CloudMessage
from tuyagate.deadline import Deadline
from tuyagate.sim.cloud_server import RunningCloud

sdk = pytest.importorskip("tuya_sharing")
pytest.importorskip("aiomqtt")

HOME = "4200001"  # the emulated account's home (AppSettings.home_id)
BULB = "bfdemobulb0000000002"


async def _sim(cloud: RunningCloud, path: str, body: dict[str, Any]) -> Any:
    assert cloud.cert_path is not None
    verify = ssl.create_default_context(cafile=str(cloud.cert_path))
    async with httpx.AsyncClient(verify=verify) as http:
        answer = await http.post(cloud.base_url + path, json=body)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


async def _delete(cloud: RunningCloud, path: str) -> Any:
    verify = ssl.create_default_context(cafile=str(cloud.cert_path))
    async with httpx.AsyncClient(verify=verify) as http:
        answer = await http.delete(cloud.base_url + path)
    assert answer.status_code == 200, answer.text
    return answer.json()["published"]


async def _settled(cloud: RunningCloud, deadline: Deadline) -> None:
    """Until the emulator handed every queued message to the broker."""
    while cloud.state.app_mq.pending:
        assert deadline.remaining() > 0, "the emulator's publisher is stuck"
        await asyncio.sleep(0.01)  # polling, bounded by the deadline


@pytest.fixture
async def mq_cloud(tls_broker: TlsBroker, start_cloud: CloudFactory) -> RunningCloud:
    """The emulator publishing on the broker (which outlives it: the broker fixture comes first)."""
    return await start_cloud(tls=True, app_mq=tls_broker.settings())


@pytest.fixture
async def app_client(mq_cloud: RunningCloud) -> AsyncIterator[AppCloudClient]:
    login = await app_login(mq_cloud)
    client = AppCloudClient(login, ca_bundle=str(mq_cloud.cert_path), timeout=5.0)
    yield client
    await client.aclose()


class SdkListener:
    """The SDK's SharingDeviceListener: each update goes to an asyncio queue of the test's loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.updates: asyncio.Queue[tuple[str, list[str], dict[str, Any], bool, str]] = asyncio.Queue()
        self.account: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    def update_device(self, device: Any, updated: list[str] | None = None, stamps: Any = None) -> None:
        item = (device.id, list(updated or []), dict(device.status), bool(device.online), str(device.name))
        self.loop.call_soon_threadsafe(self.updates.put_nowait, item)

    def add_device(self, device: Any) -> None:
        self.loop.call_soon_threadsafe(self.account.put_nowait, ("added", str(device.id)))

    def remove_device(self, device_id: str) -> None:
        self.loop.call_soon_threadsafe(self.account.put_nowait, ("removed", device_id))


async def test_the_official_sharing_mq_gets_status_online_name_and_account_changes_over_tls(
    mq_cloud: RunningCloud, tls_broker: TlsBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_sdk_at(monkeypatch, mq_cloud)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_broker.ca.ca))  # paho's tls_set() trusts the default store
    login = await app_login(mq_cloud)
    manager = sdk.Manager(
        login.client_id, login.user_code, login.terminal_id, login.endpoint, login.token.token_info(), None
    )
    listener = SdkListener(asyncio.get_running_loop())
    manager.add_device_listener(listener)
    try:
        await asyncio.to_thread(manager.update_device_cache)
        for device in manager.device_map.values():
            device.set_up = True  # what Home Assistant marks once the entity exists
        await asyncio.to_thread(manager.refresh_mq)
        # The SDK has no "subscribed" signal: change the plug until its first report comes through.
        deadline = Deadline.after(15)
        value = 0
        while True:
            value += 1
            await _sim(mq_cloud, f"/_sim/devices/{PLUG}", {"dps": {"9": value}})
            try:
                async with asyncio.timeout(min(0.5, deadline.remaining())):
                    got = await listener.updates.get()
                break
            except TimeoutError:
                assert deadline.remaining() > 0, "the SDK never received a report"
        assert got[0] == PLUG
        assert got[1] == ["countdown_1"]
        assert got[2]["countdown_1"] == value
        # it came over TLS, on the device's /pen topic (its local strategy maps DP 9 to countdown_1)
        assert manager.mq.mq_config.url == tls_broker.url

        await _sim(mq_cloud, f"/_sim/devices/{PLUG}", {"dps": {"1": True, "9": 300}})
        async with asyncio.timeout(5):
            got = await listener.updates.get()
        assert sorted(got[1]) == ["countdown_1", "switch_1"]
        assert got[2]["switch_1"] is True

        await _sim(mq_cloud, f"/_sim/devices/{PLUG}", {"name": "Hall plug"})
        async with asyncio.timeout(5):
            got = await listener.updates.get()
        assert got[4] == "Hall plug"
        await _sim(mq_cloud, f"/_sim/devices/{PLUG}", {"online": False})
        async with asyncio.timeout(5):
            got = await listener.updates.get()
        assert got[3] is False
        # Pairing and removal come on the home's topic; the SDK then follows (or drops) the device.
        new = dict(mq_cloud.state.fleet.devices[0].to_dict(), id="bfnewplug00000000009", name="Garage plug")
        assert (await _sim(mq_cloud, "/_sim/devices", {"device": new}))["published"]
        async with asyncio.timeout(10):  # the SDK waits 1 s for the cloud's index before it asks
            assert await listener.account.get() == ("added", "bfnewplug00000000009")
        assert manager.device_map["bfnewplug00000000009"].name == "Garage plug"
        assert await _delete(mq_cloud, "/_sim/devices/bfnewplug00000000009")
        async with asyncio.timeout(5):
            assert await listener.account.get() == ("removed", "bfnewplug00000000009")
        assert "bfnewplug00000000009" not in manager.device_map
        assert mq_cloud.state.app_mq.stats["mq_configs"] == 1
    finally:
        if manager.mq is not None:
            await asyncio.to_thread(manager.mq.stop)
        manager.customer_api.session.close()


def test_config_and_messages_are_checked_before_use() -> None:
    good = {
        "url": "ssl://127.0.0.1:8883",
        "clientId": "c1",
        "username": "u",
        "password": "p" * 12,
        "expireTime": 7200,
        "topic": {"ownerId": {"sub": "cloud/group/{ownerId}/in"}, "devId": {"sub": "cloud/device/{devId}/in/x"}},
    }
    config = parse_mq_config(good)
    assert (config.host, config.port, config.tls, config.expire_time) == ("127.0.0.1", 8883, True, 7200.0)
    assert "p" * 12 not in repr(config)
    broken_ones: list[Any] = [{**good, "topic": {}}, {**good, "url": "ssl://:1"}, [], {"clientId": "x"}]
    for broken in broken_ones:
        with pytest.raises(BadMessage) as caught:
            parse_mq_config(broken)
        assert "p" * 12 not in str(caught.value)

    report = {"protocol": 4, "t": 5, "data": {"devId": PLUG, "dataId": "d1", "status": [{"code": "a", "value": 1}]}}
    message = decode_app_message(json.dumps(report).encode(), topic_device=PLUG)
    assert (message.kind, message.message_id, message.t) == ("status", "d1", 5)
    assert message.status == [{"code": "a", "value": 1}]
    event = {"protocol": 20, "data": {"bizCode": "nameUpdate", "bizData": {"devId": PLUG, "name": "N"}}}
    raw = json.dumps(event).encode()
    message = decode_app_message(raw, topic_device=None)
    assert (message.kind, message.device_id, message.biz_data["name"]) == ("name", PLUG, "N")
    assert message.message_id == decode_app_message(raw, topic_device=PLUG).message_id  # same bytes, same id
    for bad, why in (
        (b"\x00\xff", "not JSON"),
        (b"[]", "no data object"),
        (json.dumps({**report, "protocol": "4"}).encode(), "protocol is not a number"),
        (json.dumps({"protocol": 4, "data": {"status": []}}).encode(), "names no devId"),
        (json.dumps({"protocol": 4, "data": {"devId": PLUG, "status": [{"value": 1}]}}).encode(), "by code"),
        (b"{" + b" " * 300_000 + b"}", "too large"),
    ):
        with pytest.raises(BadMessage, match=why):
            decode_app_message(bad, topic_device=PLUG)
    with pytest.raises(BadMessage, match="another device"):
        decode_app_message(json.dumps(report).encode(), topic_device=BULB)


class Received:
    def __init__(self) -> None:
        self.messages: list[CloudMessage] = []
        self.changed = asyncio.Event()

    async def __call__(self, message: CloudMessage) -> None:
        self.messages.append(message)
        self.changed.set()

    def countdowns(self) -> list[int]:
        return [s["value"] for m in self.messages if m.kind == "status" for s in m.status if s["code"] == "countdown_1"]

    async def wait_for(self, predicate: Any, seconds: float = 10.0) -> None:
        async with asyncio.timeout(seconds):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


def _consumer(app_client: AppCloudClient, received: Received, mq_cloud: RunningCloud, **kw: Any) -> AppMqConsumer:
    kw.setdefault("backoff_base", 0.05)
    kw.setdefault("backoff_cap", 0.5)
    return AppMqConsumer(
        app_client.mq_config,
        [HOME],
        [d.id for d in mq_cloud.state.fleet.devices],
        received,
        ca_bundle=kw.pop("ca_bundle"),
        **kw,
    )


async def test_the_consumer_survives_drops_duplicates_and_bad_payloads_with_no_lost_or_doubled_event(
    mq_cloud: RunningCloud, tls_broker: TlsBroker, app_client: AppCloudClient
) -> None:
    received = Received()
    consumer = _consumer(app_client, received, mq_cloud, ca_bundle=str(tls_broker.ca.ca))
    async with consumer:
        async with asyncio.timeout(10):
            await consumer.connected.wait()
        sent: list[int] = []

        async def change(value: int) -> None:
            await _sim(mq_cloud, f"/_sim/devices/{PLUG}", {"dps": {"9": value}})
            sent.append(value)

        for value in range(1, 6):
            await change(value)
        await _sim(mq_cloud, "/_sim/faults", {"mq_duplicate": 3})
        for value in range(6, 11):
            await change(value)
        await _sim(mq_cloud, "/_sim/faults", {"mq_bad_payload": 1})
        await _sim(mq_cloud, "/_sim/faults", {"mq_drop": True})  # the broker closes the consumer's connection
        for value in range(11, 21):  # published while it is away: the broker keeps them in its session
            await change(value)
        await received.wait_for(lambda: len(received.countdowns()) >= len(sent))
        await _sim(mq_cloud, f"/_sim/devices/{PLUG}", {"online": False})
        await _sim(mq_cloud, f"/_sim/devices/{PLUG}", {"name": "Hall plug"})
        await received.wait_for(lambda: [m.kind for m in received.messages][-2:] == ["offline", "name"])
        await _settled(mq_cloud, Deadline.after(5))

    assert received.countdowns() == sent  # every change once, in order
    assert consumer.duplicates >= 3
    assert consumer.bad == 2  # the one that is not JSON, the one naming another device
    assert consumer.connects >= 2
    assert mq_cloud.state.app_mq.stats["mq_drops"] == 1
    assert received.messages[-1].biz_data["name"] == "Hall plug"
    assert all(m.device_id == PLUG for m in received.messages)


async def test_the_consumer_renews_its_login_before_it_expires_without_a_gap(
    tls_broker: TlsBroker, start_cloud: CloudFactory
) -> None:
    cloud = await start_cloud(tls=True, app_mq=tls_broker.settings(ttl=1.0))  # each config lasts 1 s
    login = await app_login(cloud)
    client = AppCloudClient(login, ca_bundle=str(cloud.cert_path), timeout=5.0)
    received = Received()
    consumer = _consumer(client, received, cloud, ca_bundle=str(tls_broker.ca.ca))
    try:
        async with consumer:
            async with asyncio.timeout(10):
                await consumer.connected.wait()
            sent = []
            deadline = Deadline.after(2.5)
            value = 0
            while deadline.remaining() > 0:  # changes all the time, across several renewals
                value += 1
                await _sim(cloud, f"/_sim/devices/{PLUG}", {"dps": {"9": value}})
                sent.append(value)
            await received.wait_for(lambda: len(received.countdowns()) >= len(sent))
            await _settled(cloud, Deadline.after(5))
        assert received.countdowns() == sent
        assert consumer.config_fetches >= 3
        assert consumer.connects >= 3
        assert cloud.state.app_mq.stats["mq_configs"] == consumer.config_fetches
    finally:
        await client.aclose()


async def test_a_refused_login_makes_the_consumer_fetch_a_new_config(
    mq_cloud: RunningCloud, tls_broker: TlsBroker, app_client: AppCloudClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, the MQTT client's included
    right = mq_cloud.state.app_mq.settings
    assert right is not None
    mq_cloud.state.app_mq.settings = dataclasses.replace(right, password="not-the-broker-password")
    received = Received()
    consumer = _consumer(app_client, received, mq_cloud, ca_bundle=str(tls_broker.ca.ca))
    async with consumer:
        deadline = Deadline.after(10)
        while consumer.config_fetches < 3:  # each refusal (CONNACK 5) asks for a new login
            assert deadline.remaining() > 0, "the consumer did not fetch a new config after a refusal"
            await asyncio.sleep(0.02)  # polling, bounded by the deadline
        assert not consumer.connected.is_set()
        mq_cloud.state.app_mq.settings = right  # the cloud hands out a working login again
        async with asyncio.timeout(10):
            await consumer.connected.wait()
        await _sim(mq_cloud, f"/_sim/devices/{PLUG}", {"dps": {"9": 42}})
        await received.wait_for(lambda: received.countdowns() == [42])
    assert "not-the-broker-password" not in repr(consumer)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "cannot connect" in logged  # the refusals were logged...
    assert "not-the-broker-password" not in logged
    assert right.password not in logged


def test_sim_cloud_hands_out_the_broker_it_was_given(tls_broker: TlsBroker) -> None:
    from tests.cloud.app_mq_support import MQ_PASSWORD, MQ_USER
    from tests.cloud.test_cli import SimCloud

    running = SimCloud(
        "--tls",
        *("--mq-url", tls_broker.url, "--mq-username", MQ_USER, "--mq-password", MQ_PASSWORD),
        *("--mq-ca", str(tls_broker.ca.ca), "--mq-ttl", "600"),
    )
    try:
        assert running.info["mq_url"] == tls_broker.url  # printed once its publisher is connected
        assert MQ_PASSWORD not in running.line
    finally:
        code, err = running.stop()
    assert code == 0, err
    assert MQ_PASSWORD not in err
