"""An async consumer of the Tuya OpenAPI message service (Pulsar over a websocket).

It connects the way Tuya's ``TuyaOpenPulsar`` does (same URL, ``username``/``password`` headers,
topic ``event``), but survives what that client does not: every failed or dropped connection is
retried with capped, jittered backoff forever (until :meth:`PulsarConsumer.close`), each message is
acknowledged only after the handler returned (so a crash between receive and hand-on gets it
redelivered, not lost), a message seen before (a redelivery whose ack was lost, a duplicate) is
acknowledged again but not handed on twice, and a frame that does not decrypt or verify is logged
(without its content) and acknowledged, since redelivering it could never make it readable.

Needs the ``websockets`` package (in the ``gateway`` and ``cloud-events`` extras)::

    consumer = PulsarConsumer(access_id, secret, "wss://mqe.tuyaeu.com:8285/", on_message)
    await consumer.start()
    ...
    await consumer.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from tuyagate.cloud.messages import BadMessage, CloudMessage, consumer_password, decode_frame, message_id_of

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

__all__ = ["PULSAR_ENDPOINTS", "PulsarConsumer", "pulsar_endpoint_for", "topic_url"]

_LOGGER = logging.getLogger(__name__)
# The message service's endpoint per data center (region code as in tuyagate.cloud.regions).
PULSAR_ENDPOINTS = {
    "cn": "wss://mqe.tuyacn.com:8285/",
    "us": "wss://mqe.tuyaus.com:8285/",
    "eu": "wss://mqe.tuyaeu.com:8285/",
    "in": "wss://mqe.tuyain.com:8285/",
}
SEEN_IDS = 4096  # message ids remembered for de-duplication (a redelivery comes within seconds)

MessageHandler = Callable[[CloudMessage], Awaitable[None]]


def topic_url(ws_endpoint: str, access_id: str, topic: str = "event") -> str:
    """The consumer URL ``TuyaOpenPulsar`` builds from its ``ws_endpoint``."""
    base = ws_endpoint if ws_endpoint.endswith("/") else ws_endpoint + "/"
    return (
        f"{base}ws/v2/consumer/persistent/{access_id}/out/{topic}/{access_id}-sub"
        "?ackTimeoutMillis=3000&subscriptionType=Failover"
    )


class PulsarConsumer:
    """Consume ``topic`` of a cloud project's message service and hand each event to ``handler``."""

    def __init__(
        self,
        access_id: str,
        secret: str,
        ws_endpoint: str,
        handler: MessageHandler,
        *,
        topic: str = "event",
        verify_sign: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        open_timeout: float = 10.0,
        ping_interval: float = 30.0,
    ) -> None:
        self._access_id = access_id
        self._secret = secret
        self._url = topic_url(ws_endpoint, access_id, topic)
        self._handler = handler
        self._verify_sign = verify_sign
        self._ssl = ssl_context
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._open_timeout = open_timeout
        self._ping_interval = ping_interval
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._closed = False
        self.connected = asyncio.Event()
        # Counters (``/metrics``-style): what came in and what became of it.
        self.connects = 0
        self.delivered = 0
        self.duplicates = 0
        self.bad = 0

    def __repr__(self) -> str:  # no secret, no password
        return f"PulsarConsumer(access_id={self._access_id!r}, url={self._url!r})"

    @property
    def url(self) -> str:
        return self._url

    def closed(self) -> bool:
        """True once :meth:`close` was called (a method: it changes while the loop awaits)."""
        return self._closed

    async def start(self) -> None:
        """Start consuming in a background task (returns at once; :attr:`connected` says when it is in)."""
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._run(), name="tuyagate-pulsar")

    async def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def __aenter__(self) -> PulsarConsumer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---------------------------------------------------------------- connection loop

    async def _run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus, WebSocketException

        failures = 0
        headers = {"username": self._access_id, "password": consumer_password(self._access_id, self._secret)}
        while not self.closed():
            try:
                async with connect(
                    self._url,
                    additional_headers=headers,
                    ssl=self._ssl if self._url.startswith("wss:") else None,
                    open_timeout=self._open_timeout,
                    ping_interval=self._ping_interval,
                    ping_timeout=self._ping_interval,
                    max_size=2**20,
                ) as ws:
                    self._ws = ws
                    self.connects += 1
                    failures = 0
                    self.connected.set()
                    _LOGGER.info("message service: connected")
                    async for frame in ws:
                        await self._on_frame(ws, frame)
            except asyncio.CancelledError:
                raise
            except InvalidStatus as exc:
                status = exc.response.status_code
                _LOGGER.warning("message service refused the consumer (HTTP %s): check the access id/secret", status)
            except (OSError, TimeoutError, WebSocketException) as exc:
                _LOGGER.info("message service connection lost: %s", type(exc).__name__)
            finally:
                self._ws = None
                self.connected.clear()
            if self.closed():
                break
            failures += 1
            delay = min(self._backoff_cap, self._backoff_base * 2 ** min(failures - 1, 16))
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    async def _on_frame(self, ws: ClientConnection, frame: str | bytes) -> None:
        try:
            message = decode_frame(frame, self._secret, verify_sign=self._verify_sign)
        except BadMessage as exc:
            self.bad += 1
            mid = message_id_of(frame)
            _LOGGER.warning("message service: dropped a message that %s", str(exc))
            if mid is not None:
                await self._ack(ws, mid)
            return
        if message.message_id in self._seen:
            self.duplicates += 1
            self._seen.move_to_end(message.message_id)
        else:
            try:
                await self._handler(message)
            except Exception:  # a handler bug must not stop the stream (logged with its traceback)
                _LOGGER.exception("message service: the handler failed on a %s event", message.kind)
            self.delivered += 1
            self._remember(message.message_id)
        await self._ack(ws, message.message_id)

    def _remember(self, message_id: str) -> None:
        self._seen[message_id] = None
        if len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)

    async def _ack(self, ws: ClientConnection, message_id: str) -> None:
        await ws.send(json.dumps({"messageId": message_id}))


def pulsar_endpoint_for(region: str | None = None, base_url: str | None = None) -> str:
    """The ``ws_endpoint`` of a login: its data center's, or, for a custom base URL (an emulator,
    which serves both on one port), the same host with ``ws://``/``wss://``. ConfigError if unknown."""
    from tuyagate.cloud.regions import REGIONS, resolve_base_url
    from tuyagate.errors import ConfigError

    url = resolve_base_url(region, base_url)
    for code, known in REGIONS.items():
        if known.base_url == url:
            if code not in PULSAR_ENDPOINTS:
                raise ConfigError(f"no known message service endpoint for the {known.name} data center")
            return PULSAR_ENDPOINTS[code]
    scheme, _, rest = url.partition("://")
    return ("wss" if scheme == "https" else "ws") + "://" + rest.split("/", 1)[0] + "/"
