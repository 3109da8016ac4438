"""The cloud emulator's Smart Life app MQ: the broker config the app API hands out, and the publisher.

``tuya-device-sharing-sdk`` (``SharingMQ``) learns device changes like this (read from its source):
``POST /v1.0/m/life/ha/access/config`` with a ``linkId`` answers the broker ``url``
(``ssl://host:8883``), an MQTT ``clientId``, ``username``, ``password``, ``expireTime`` (seconds)
and two topic templates, ``topic.ownerId.sub`` (one per home) and ``topic.devId.sub`` (one per
device, ``{devId}`` filled in, then ``/pen`` for a device with a local strategy, whose reports
carry DP ids, or ``/sta``, whose reports carry codes). Messages are plain JSON (MQTT over TLS is
their only protection): ``{"protocol": 4, "t", "data": {"devId", "dataId", "status": [...]}}`` for
a status report and ``{"protocol": 20, "t", "data": {"bizCode", "bizData": {"devId", ...}}}`` for
``online``, ``offline``, ``nameUpdate`` (``bizData.name``), ``bindUser`` and ``delete``.

The emulator has no broker of its own: it is given one (a Mosquitto the test fixtures or the user
start, :class:`AppMqSettings`) whose login it hands out and on which it publishes, at QoS 1, every
change of an emulated device (a command, a ``/_sim/devices`` control). Faults
(``POST /_sim/faults``): ``{"mq_drop": true}`` takes over every MQTT client id it handed out (the
broker closes that client's connection; the takeover never acknowledges anything, so messages in
flight stay in the session and reach the client when it comes back), ``{"mq_duplicate": N}`` sends
the next N messages twice, ``{"mq_bad_payload": N}`` publishes N messages that are not valid
(not JSON; a report naming another device than its topic).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import struct
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tuyagate.cloud.messages import value_text

if TYPE_CHECKING:
    from tuyagate.sim.manifest import ManifestDevice

__all__ = ["AppMq", "AppMqSettings"]

_LOGGER = logging.getLogger(__name__)
OWNER_TOPIC = "cloud/group/{ownerId}/in"
DEVICE_TOPIC = "cloud/device/{devId}/in/{account}"
OWNER_EVENTS = ("bindUser", "delete")  # go to the home's topic: the client may not follow the device yet


@dataclass(frozen=True, slots=True)
class AppMqSettings:
    """The broker the emulated app MQ uses: its URL as the SDK takes it, the login it hands out."""

    url: str  # ssl://127.0.0.1:8883 (MQTT over TLS, what the cloud hands out) or tcp://...
    username: str
    password: str = field(repr=False)
    ca_file: str | None = None  # the CA the emulator's own publisher trusts (ssl://)
    ttl: float = 7200.0  # expireTime of each config: when clients must fetch a new one

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "ssl" else 1883)

    def tls_context(self) -> ssl.SSLContext | None:
        if urlsplit(self.url).scheme != "ssl":
            return None
        return ssl.create_default_context(cafile=self.ca_file)


@dataclass(slots=True)
class _Publish:
    topic: str
    payload: bytes


@dataclass(slots=True)
class _Kick:
    client_ids: tuple[str, ...]


class AppMq:
    """The app MQ of the emulated account: configs handed out, messages to publish, faults, counters."""

    def __init__(
        self,
        settings: AppMqSettings | None,
        *,
        account: str,
        home_id: str,
        clock_ms: Callable[[], int],
        keep_ids: int = 64,
    ) -> None:
        self.settings = settings
        self._account = account
        self.home_id = home_id
        self._clock_ms = clock_ms
        self._issued: deque[str] = deque(maxlen=keep_ids)
        self._outbox: deque[_Publish | _Kick] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self._duplicate = 0
        self.stats: Counter[str] = Counter()

    # -- the config call -------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The answer of ``/v1.0/m/life/ha/access/config``: a fresh client id on each call."""
        settings = self.settings
        if settings is None:
            raise LookupError("no MQ broker")
        client_id = f"emu_{uuid.uuid4().hex}"
        self._issued.append(client_id)
        self.stats["mq_configs"] += 1
        return {
            "url": settings.url,
            "clientId": client_id,
            "username": settings.username,
            "password": settings.password,
            "expireTime": int(settings.ttl),
            "topic": {
                "ownerId": {"sub": OWNER_TOPIC},
                "devId": {"sub": DEVICE_TOPIC.replace("{account}", self._account)},
            },
        }

    def device_topic(self, device_id: str) -> str:
        return DEVICE_TOPIC.format(devId=device_id, account=self._account)

    # -- publishing --------------------------------------------------------------------------

    def status_report(self, device: ManifestDevice, dps: dict[str, Any]) -> str:
        """Report ``dps`` (by DP id) on the device's ``/sta`` (codes) and ``/pen`` (DP ids) topics."""
        now = self._clock_ms()
        data_id = uuid.uuid4().hex
        by_code, by_id = [], []
        for dp_id, value in dps.items():
            code = device.code_for(dp_id)
            if code is not None:
                by_code.append({"code": code, "value": value, "t": now, dp_id: value_text(value)})
            if dp_id.isdigit():
                by_id.append({"dpId": int(dp_id), "value": value, "t": now})
        base = self.device_topic(device.id)
        messages = []
        for suffix, status in (("/sta", by_code), ("/pen", by_id)):
            data = {"dataId": data_id, "devId": device.id, "productKey": device.product_id, "status": status}
            messages.append((base + suffix, {"protocol": 4, "pv": "2.0", "t": now, "data": data}))
        self._publish(messages)
        return data_id

    def device_event(self, device: ManifestDevice, biz_code: str, biz_data: dict[str, Any] | None = None) -> str:
        """A protocol 20 event: on the device's topics, or the home's for ``bindUser`` and ``delete``."""
        now = self._clock_ms()
        data_id = uuid.uuid4().hex
        data = {
            "dataId": data_id,
            "devId": device.id,
            "productKey": device.product_id,
            "bizCode": biz_code,
            "bizData": {"devId": device.id, "uid": self._account, "time": now // 1000, **(biz_data or {})},
        }
        message = {"protocol": 20, "pv": "2.0", "t": now, "data": data}
        if biz_code in OWNER_EVENTS:
            self._publish([(OWNER_TOPIC.format(ownerId=self.home_id), message)])
        else:
            base = self.device_topic(device.id)
            self._publish([(base + suffix, message) for suffix in ("/sta", "/pen")])
        return data_id

    def publish_bad_payload(self, device: ManifestDevice) -> None:
        """Fault: one message that is not JSON and one report naming another device than its topic."""
        topic = self.device_topic(device.id) + "/sta"
        self.stats["mq_bad_payloads"] += 2
        self._enqueue(_Publish(topic, b"\x00\xffnot json"))
        wrong = {"dataId": uuid.uuid4().hex, "devId": "bfsomeoneelse0000000", "status": []}
        self._enqueue(_Publish(topic, json.dumps({"protocol": 4, "t": self._clock_ms(), "data": wrong}).encode()))

    def _publish(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """Queue one logical message (on one topic or several); sent twice while duplicates are asked for."""
        if self.settings is None:
            return
        copies = 1
        if self._duplicate > 0:
            self._duplicate -= 1
            self.stats["mq_duplicated"] += 1
            copies = 2
        self.stats["mq_published"] += 1
        for topic, message in messages:
            payload = json.dumps(message, separators=(",", ":")).encode()
            for _ in range(copies):
                self._enqueue(_Publish(topic, payload))

    def _enqueue(self, item: _Publish | _Kick) -> None:
        if self.settings is None:
            return
        self._outbox.append(item)
        self._wake.set()

    # -- faults ------------------------------------------------------------------------------

    def drop_connections(self) -> int:
        """Close the connection of every client that took one of the handed-out client ids."""
        self.stats["mq_drops"] += 1
        self._enqueue(_Kick(tuple(self._issued)))
        return len(self._issued)

    def duplicate_next(self, count: int) -> None:
        self._duplicate = count

    def reset_faults(self) -> None:
        self._duplicate = 0

    @property
    def pending(self) -> int:
        """Messages (and takeovers) not yet handed to the broker."""
        return len(self._outbox)

    def snapshot(self) -> dict[str, Any]:
        return {"configured": self.settings is not None, "pending": self.pending, **self.stats}

    # -- the publisher -----------------------------------------------------------------------

    async def start(self, timeout: float = 10.0) -> None:
        """Connect the publisher (when a broker is configured); TimeoutError when it cannot within ``timeout``."""
        if self.settings is None or self._task is not None:
            return
        self._task = asyncio.create_task(self._run(self.settings), name="sim-app-mq")
        async with asyncio.timeout(timeout):
            await self.connected.wait()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _run(self, settings: AppMqSettings) -> None:
        import aiomqtt

        delay = 0.05
        while True:
            try:
                async with aiomqtt.Client(
                    settings.host,
                    settings.port,
                    username=settings.username,
                    password=settings.password,
                    identifier=f"tuyagate-sim-publisher-{uuid.uuid4().hex[:8]}",
                    tls_context=settings.tls_context(),
                    timeout=5.0,
                ) as client:
                    self.connected.set()
                    delay = 0.05
                    while True:
                        if not self._outbox:
                            self._wake.clear()
                            await self._wake.wait()
                            continue
                        item = self._outbox[0]
                        if isinstance(item, _Kick):
                            for client_id in item.client_ids:
                                await _take_over(settings, client_id)
                        else:
                            await client.publish(item.topic, item.payload, qos=1)
                        self._outbox.popleft()
            except asyncio.CancelledError:
                raise
            except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
                self.connected.clear()
                self.stats["mq_publisher_reconnects"] += 1
                _LOGGER.info("sim app MQ: publisher lost the broker (%s)", type(exc).__name__)
            await asyncio.sleep(delay)  # reconnect backoff of the publisher
            delay = min(delay * 2, 1.0)


def _utf8(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("!H", len(raw)) + raw


def _remaining_length(size: int) -> bytes:
    out = bytearray()
    while True:
        size, digit = divmod(size, 128)
        out.append(digit | (0x80 if size else 0))
        if not size:
            return bytes(out)


async def _take_over(settings: AppMqSettings, client_id: str, timeout: float = 5.0) -> None:
    """Connect as ``client_id`` (MQTT 3.1.1, persistent session) and leave at once.

    The broker disconnects whoever held the id. Written by hand, not with a client library, because
    a library would acknowledge the session's in-flight messages: this connection reads nothing but
    the CONNACK, so they stay unacknowledged and are sent again to the owner when it reconnects.
    """
    body = _utf8("MQTT") + bytes([4, 0xC0]) + struct.pack("!H", 30)
    body += _utf8(client_id) + _utf8(settings.username) + _utf8(settings.password)
    packet = b"\x10" + _remaining_length(len(body)) + body
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(settings.host, settings.port, ssl=settings.tls_context())
            try:
                writer.write(packet)
                await writer.drain()
                await reader.readexactly(4)  # CONNACK
                writer.write(b"\xe0\x00")  # DISCONNECT
                await writer.drain()
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        _LOGGER.info("sim app MQ: the takeover of a client id failed (%s)", type(exc).__name__)
