"""The message service: the emulator's Pulsar endpoint with Tuya's official client, and tuyagate's
consumer surviving every fault the emulator injects with no lost or doubled event."""

from __future__ import annotations

import asyncio
import json
import queue
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.cloud.conftest import CLIENT_ID, PLUG, SECRET, CloudFactory
from tests.lan.conftest import until
from tuyagate.cloud.messages import CloudMessage
from tuyagate.cloud.pulsar import PulsarConsumer
from tuyagate.sim.cloud_server import RunningCloud


class Received:
    """A handler that records every message it is handed."""

    def __init__(self) -> None:
        self.messages: list[CloudMessage] = []
        self.gate: asyncio.Event | None = None  # when set: wait for it before returning

    async def __call__(self, message: CloudMessage) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.messages.append(message)

    def values(self, code: str = "switch_1") -> list[Any]:
        return [s["value"] for m in self.messages for s in m.status if s["code"] == code]


@pytest.fixture
async def consume() -> AsyncIterator[Callable[..., Any]]:
    started: list[PulsarConsumer] = []

    async def start(cloud: RunningCloud, received: Received, **kw: Any) -> PulsarConsumer:
        kw.setdefault("backoff_base", 0.05)
        kw.setdefault("backoff_cap", 0.2)
        access_id, secret = kw.pop("access_id", CLIENT_ID), kw.pop("secret", SECRET)
        consumer = PulsarConsumer(access_id, secret, cloud.pulsar_url, received, **kw)
        started.append(consumer)
        await consumer.start()
        return consumer

    yield start
    for consumer in started:
        await consumer.close()


def switch(cloud: RunningCloud, value: bool) -> str:
    device = cloud.state.fleet.get(PLUG)
    assert device is not None
    return cloud.state.pulsar.status_report(device, {"1": value})


async def test_sim_cloud_names_its_pulsar_endpoint(cloud: RunningCloud) -> None:
    info = cloud.info()
    assert info["pulsar_url"] == f"ws://127.0.0.1:{cloud.port}/"
    assert SECRET not in json.dumps(info)


async def test_official_tuya_open_pulsar_receives_a_decrypted_status_event(
    cloud: RunningCloud, make_client: Callable[..., Any]
) -> None:
    from tuya_connector import TuyaOpenPulsar  # type: ignore[import-untyped]

    got: queue.Queue[str] = queue.Queue()
    official = TuyaOpenPulsar(CLIENT_ID, SECRET, cloud.pulsar_url, "event")
    official.daemon = True
    official.add_message_listener(got.put)
    official.start()
    try:
        await until(lambda: cloud.state.pulsar.consumers == 1, timeout=5, what="the official client connected")
        async with make_client(cloud) as client:
            await client.send_commands(PLUG, [{"code": "switch_1", "value": False}])
        decrypted = json.loads(await asyncio.to_thread(got.get, True, 5.0))
        assert decrypted["devId"] == PLUG
        assert decrypted["status"][0]["code"] == "switch_1"
        assert decrypted["status"][0]["value"] is False
        assert decrypted["status"][0]["1"] == "false"
        await until(lambda: cloud.state.pulsar.pending == 0, what="the official client acknowledged it")
    finally:
        official.stop()
        await asyncio.to_thread(official.join, 5.0)


async def test_wrong_password_is_refused_at_the_handshake(cloud: RunningCloud, consume: Callable[..., Any]) -> None:
    received = Received()
    consumer = await consume(cloud, received, secret="0" * 32)
    await until(lambda: cloud.state.pulsar.stats["refused"] >= 2, what="refused, and retried")
    assert not consumer.connected.is_set()
    assert cloud.state.pulsar.consumers == 0


async def test_consumer_gets_each_event_once_and_acks_it(cloud: RunningCloud, consume: Callable[..., Any]) -> None:
    received = Received()
    consumer = await consume(cloud, received)
    first = switch(cloud, False)  # published before the consumer is in: kept until it is
    await consumer.connected.wait()
    switch(cloud, True)
    await until(lambda: len(received.messages) == 2 and cloud.state.pulsar.pending == 0)
    assert received.values() == [False, True]
    assert received.messages[0].message_id == first
    assert received.messages[0].device_id == PLUG
    assert received.messages[0].kind == "status"


async def test_duplicate_delivery_is_handed_on_once(cloud: RunningCloud, consume: Callable[..., Any]) -> None:
    received = Received()
    consumer = await consume(cloud, received)
    await consumer.connected.wait()
    cloud.state.pulsar.duplicate_next(2)
    for value in (True, False, True):
        switch(cloud, value)
    await until(lambda: consumer.duplicates == 2 and cloud.state.pulsar.pending == 0)
    assert received.values() == [True, False, True]


async def test_unacknowledged_message_is_redelivered_and_not_doubled(
    cloud: RunningCloud, consume: Callable[..., Any]
) -> None:
    cloud.state.pulsar.ack_timeout = 0.3
    received = Received()
    consumer = await consume(cloud, received)
    await consumer.connected.wait()
    cloud.state.pulsar.ignore_acks_next(1)
    switch(cloud, False)
    await until(lambda: cloud.state.pulsar.stats["redelivered"] >= 1 and cloud.state.pulsar.pending == 0)
    assert received.values() == [False]
    assert consumer.duplicates == 1


async def test_dropped_connection_loses_nothing(cloud: RunningCloud, consume: Callable[..., Any]) -> None:
    received = Received()
    consumer = await consume(cloud, received)
    await consumer.connected.wait()
    switch(cloud, False)
    await until(lambda: len(received.messages) == 1)
    cloud.state.pulsar.drop_connections()
    switch(cloud, True)  # published around the drop
    await until(lambda: consumer.connects == 2 and cloud.state.pulsar.pending == 0, what="reconnected, all acked")
    assert received.values() == [False, True]


async def test_drop_while_handing_on_redelivers_but_hands_on_once(
    cloud: RunningCloud, consume: Callable[..., Any]
) -> None:
    received = Received()
    received.gate = asyncio.Event()
    consumer = await consume(cloud, received)
    await consumer.connected.wait()
    switch(cloud, True)
    await until(lambda: cloud.state.pulsar.stats["delivered"] == 1)
    cloud.state.pulsar.drop_connections()  # the ack cannot reach the broker any more
    await until(lambda: cloud.state.pulsar.consumers == 0)
    received.gate.set()
    await until(lambda: cloud.state.pulsar.stats["redelivered"] == 1 and cloud.state.pulsar.pending == 0)
    assert received.values() == [True]
    assert consumer.duplicates == 1


async def test_bad_payload_is_logged_without_content_and_skipped(
    cloud: RunningCloud, consume: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    received = Received()
    consumer = await consume(cloud, received)
    await consumer.connected.wait()
    with caplog.at_level("WARNING", logger="tuyagate.cloud.pulsar"):
        async with httpx.AsyncClient(base_url=cloud.base_url) as http:
            answer = await http.post("/_sim/faults", json={"pulsar_bad_payload": 1})
            assert answer.status_code == 200
        switch(cloud, False)
        await until(lambda: len(received.messages) == 1 and cloud.state.pulsar.pending == 0)
    assert consumer.bad == 1
    assert received.values() == [False]
    assert "sign does not match" in caplog.text
    assert SECRET not in caplog.text
    assert '"payload"' not in caplog.text
    assert '"data"' not in caplog.text


async def test_sim_device_control_publishes_state_online_and_name(
    cloud: RunningCloud, consume: Callable[..., Any]
) -> None:
    received = Received()
    consumer = await consume(cloud, received)
    await consumer.connected.wait()
    async with httpx.AsyncClient(base_url=cloud.base_url) as http:
        answer = await http.post(f"/_sim/devices/{PLUG}", json={"dps": {"1": False}, "online": False, "name": "Lamp"})
        assert answer.status_code == 200
        assert len(answer.json()["published"]) == 3
        assert (await http.post("/_sim/devices/nope", json={"online": True})).status_code == 404
        assert (await http.post(f"/_sim/devices/{PLUG}", json={"dps": []})).status_code == 400
    await until(lambda: len(received.messages) == 3)
    assert [m.kind for m in received.messages] == ["status", "offline", "name"]
    assert received.messages[2].biz_data == {"name": "Lamp"}


async def test_consumer_across_an_emulator_restart(start_cloud: CloudFactory, consume: Callable[..., Any]) -> None:
    first = await start_cloud()
    received = Received()
    consumer = await consume(first, received)
    await consumer.connected.wait()
    port = first.port
    await first.stop()
    await until(lambda: not consumer.connected.is_set())
    second = await start_cloud(port=port)
    await until(consumer.connected.is_set, what="reconnected to the new emulator")
    switch(second, True)
    await until(lambda: received.values() == [True])
