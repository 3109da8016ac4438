"""The cloud emulator's message service: a Pulsar-websocket-compatible consumer endpoint.

Served by the same Starlette app as the OpenAPI, at the path ``TuyaOpenPulsar`` builds:
``/ws/v2/consumer/persistent/{access_id}/out/{topic}/{access_id}-sub`` (topic ``event`` or
``event-test``), with the ``username``/``password`` headers checked (wrong ones: HTTP 403). Its
``ws_endpoint`` is ``ws://host:port/`` (``wss://`` in TLS mode), printed as ``pulsar_url``.

Like a persistent Pulsar subscription, :class:`PulsarBroker` keeps every published message until
it is acknowledged: messages published while no consumer is connected wait for the next one, a
message not acknowledged within the ack timeout (3 s, the ``ackTimeoutMillis`` TuyaOpenPulsar asks
for) is sent again with ``redeliveryCount`` + 1, and so are the unacknowledged ones of a
connection that went away. One consumer is active at a time (``Failover``): the oldest connected.

Faults (methods here, or ``POST /_sim/faults``): :meth:`PulsarBroker.drop_connections` (close
every consumer connection now), :meth:`duplicate_next` (send the next N messages twice),
:meth:`ignore_acks_next` (drop the next N acks, so those messages come again after the ack
timeout), :meth:`publish_bad_payload` (a message whose data does not decrypt).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuyagate.cloud.messages import build_frame, build_payload, consumer_password, value_text

if TYPE_CHECKING:
    from starlette.websockets import WebSocket

    from tuyagate.sim.manifest import ManifestDevice

__all__ = ["PULSAR_PATH", "PulsarBroker", "pulsar_endpoint"]

PULSAR_PATH = "/ws/v2/consumer/persistent/{tenant}/out/{topic}/{subscription}"
TOPICS = ("event", "event-test")


@dataclass(slots=True)
class _Pending:
    message_id: str
    payload: str
    deliveries: int = 0
    sent_at: float | None = None  # loop time of the last delivery; None = not sent since (re)queued


class _Consumer:
    """One connected websocket; its sender task writes what the broker queues for it."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.wake = asyncio.Event()
        self.dropped = False


class PulsarBroker:
    """The emulated subscription ``{access_id}-sub``: pending messages, consumers, faults, counters."""

    def __init__(self, access_id: str, secret: str, *, clock_ms: Callable[[], int], ack_timeout: float = 3.0) -> None:
        self.access_id = access_id
        self._secret = secret
        self._clock_ms = clock_ms
        self.ack_timeout = ack_timeout
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._consumers: list[_Consumer] = []
        self._serial = 0
        self._duplicate = 0
        self._ignore_acks = 0
        self.stats: Counter[str] = Counter()

    # -- publishing ------------------------------------------------------------------------

    def status_report(self, device: ManifestDevice, dps: dict[str, Any]) -> str:
        """Publish a protocol 4 report of ``dps`` (by DP id; DPs without a code are left out)."""
        now = self._clock_ms()
        items = []
        for dp_id, value in dps.items():
            code = device.code_for(dp_id)
            if code is not None:
                items.append({"code": code, "value": value, "t": now, dp_id: value_text(value)})
        data = {"dataId": uuid.uuid4().hex, "devId": device.id, "productKey": device.product_id, "status": items}
        return self.publish(4, data)

    def device_event(self, device: ManifestDevice, biz_code: str, biz_data: dict[str, Any] | None = None) -> str:
        """Publish a protocol 20 event (``online``, ``offline``, ``nameUpdate``, ``delete``, ``bindUser``)."""
        data = {
            "devId": device.id,
            "productKey": device.product_id,
            "bizCode": biz_code,
            "bizData": biz_data or {"time": self._clock_ms() // 1000},
        }
        return self.publish(20, data)

    def publish(self, protocol: int, data: dict[str, Any]) -> str:
        """Queue one event for the subscription; returns its message id."""
        return self._queue(build_payload(protocol, data, self._secret, t=self._clock_ms()))

    def publish_bad_payload(self) -> str:
        """Fault: a message whose ``data`` is not encrypted with the project's secret (and is signed wrong)."""
        self.stats["bad_payloads"] += 1
        other = secrets.token_hex(16)
        return self._queue(build_payload(4, {"devId": "x", "status": []}, other, t=self._clock_ms()))

    def _queue(self, payload: str) -> str:
        self._serial += 1
        message_id = base64.b64encode(f"emu:{self._serial}:0".encode()).decode()
        self._pending[message_id] = _Pending(message_id, payload)
        self.stats["published"] += 1
        self._wake()
        return message_id

    # -- faults ----------------------------------------------------------------------------

    def drop_connections(self) -> int:
        """Close every consumer connection now (their unacknowledged messages are sent again later)."""
        for consumer in self._consumers:
            consumer.dropped = True
            consumer.wake.set()
        self.stats["drops"] += len(self._consumers)
        return len(self._consumers)

    def duplicate_next(self, count: int) -> None:
        """Send each of the next ``count`` deliveries twice (same message id)."""
        self._duplicate = count

    def ignore_acks_next(self, count: int) -> None:
        """Lose the next ``count`` acks: those messages are redelivered after the ack timeout."""
        self._ignore_acks = count

    def reset_faults(self) -> None:
        self._duplicate = self._ignore_acks = 0

    # -- state -----------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Messages published and not yet acknowledged."""
        return len(self._pending)

    @property
    def consumers(self) -> int:
        return len(self._consumers)

    def snapshot(self) -> dict[str, Any]:
        return {"pending": self.pending, "consumers": self.consumers, **self.stats}

    def ack(self, message_id: str) -> None:
        if self._ignore_acks > 0:
            self._ignore_acks -= 1
            self.stats["acks_ignored"] += 1
            return
        if self._pending.pop(message_id, None) is not None:
            self.stats["acked"] += 1

    def _wake(self) -> None:
        if self._consumers:
            self._consumers[0].wake.set()

    # -- serving ---------------------------------------------------------------------------

    def authorized(self, tenant: str, topic: str, subscription: str, username: str, password: str) -> bool:
        expected = consumer_password(self.access_id, self._secret)
        return (
            tenant == self.access_id
            and topic in TOPICS
            and subscription == f"{self.access_id}-sub"
            and secrets.compare_digest(username.encode(), self.access_id.encode())
            and secrets.compare_digest(password.encode(), expected.encode())
        )

    async def serve(self, ws: WebSocket) -> None:
        """Run one accepted consumer connection until it closes or is dropped."""
        consumer = _Consumer(ws)
        self._consumers.append(consumer)
        if self._consumers[0] is consumer:  # the new active consumer gets everything unacknowledged
            self._requeue()
        consumer.wake.set()
        self.stats["connections"] += 1
        sender = asyncio.create_task(self._send_loop(consumer), name="sim-pulsar-send")
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                self._on_client_text(message.get("text") or message.get("bytes") or b"")
        finally:
            was_active = self._consumers[0] is consumer
            self._consumers.remove(consumer)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
            if was_active:  # whatever it did not ack goes to the next consumer
                self._requeue()
                self._wake()

    def _requeue(self) -> None:
        for pending in self._pending.values():
            pending.sent_at = None

    def _on_client_text(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            self.stats["bad_acks"] += 1
            return
        if isinstance(message, dict) and isinstance(message.get("messageId"), str):
            self.ack(message["messageId"])
        else:
            self.stats["bad_acks"] += 1

    async def _send_loop(self, consumer: _Consumer) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.ack_timeout / 3):
                    await consumer.wake.wait()
            consumer.wake.clear()
            if consumer.dropped:
                await consumer.ws.close(code=1001)
                return
            if not self._consumers or self._consumers[0] is not consumer:
                continue  # a standby consumer (Failover): the active one gets the messages
            now = loop.time()
            for pending in list(self._pending.values()):
                if pending.sent_at is not None and now - pending.sent_at < self.ack_timeout:
                    continue
                if pending.message_id not in self._pending:
                    continue  # acknowledged while we were sending
                await self._deliver(consumer, pending, now)

    async def _deliver(self, consumer: _Consumer, pending: _Pending, now: float) -> None:
        frame = build_frame(pending.message_id, pending.payload, redelivery_count=pending.deliveries)
        if pending.deliveries:
            self.stats["redelivered"] += 1
        pending.deliveries += 1
        pending.sent_at = now
        await consumer.ws.send_text(frame)
        self.stats["delivered"] += 1
        if self._duplicate > 0:
            self._duplicate -= 1
            self.stats["duplicated"] += 1
            await consumer.ws.send_text(frame)


async def pulsar_endpoint(ws: WebSocket) -> None:
    """The Starlette websocket route: check the consumer's credentials, then serve it."""
    broker: PulsarBroker = ws.app.state.cloud.pulsar
    params = ws.path_params
    if not broker.authorized(
        params["tenant"],
        params["topic"],
        params["subscription"],
        ws.headers.get("username", ""),
        ws.headers.get("password", ""),
    ):
        broker.stats["refused"] += 1
        await ws.close(code=1008)  # before accept: the handshake is answered HTTP 403
        return
    await ws.accept()
    await broker.serve(ws)
