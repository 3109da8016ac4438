"""One connection to the broker, on gmqtt (a maintained MQTT client written for asyncio alone).

The bridge talks to this small class only, so the MQTT client library is named in one module, which
:mod:`tuyagate.mqtt.bridge` imports only when a bridge starts (``import tuyagate`` and ``tuyagate --help``
never load it). A link connects with the bridge's last will set, so the broker itself announces a
gateway that dies without saying goodbye; any failure of the connection surfaces as :class:`LinkError`.

Why gmqtt: a state message is a QoS 0 publish, and gmqtt turns one into about 40 Python calls and one
transport write. aiomqtt, which the bridge used first, runs paho-mqtt's threaded design under asyncio:
about 380 calls, an asyncio task, an event and a socket-writer registration per message, which was most
of the bridge's CPU per state message (BENCHMARKS.md, MQTT bridge).

A link is one connection: gmqtt's own reconnect is switched off, because the bridge reconnects itself
with backoff and starts each session clean (see :mod:`tuyagate.mqtt.bridge`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import gmqtt
from gmqtt.mqtt.constants import MQTTv311
from gmqtt.storage import PersistentStorage

from tuyagate.errors import ConfigError
from tuyagate.mqtt.config import MqttConfig
from tuyagate.mqtt.errors import LinkError

__all__ = ["Incoming", "LinkError", "MqttLink", "Will"]

_LOGGER = logging.getLogger(__name__)
CONNECT_TIMEOUT = 10.0  # TCP, TLS and CONNACK
ACK_TIMEOUT = 10.0  # a QoS 1 publish, a subscribe or an unsubscribe waiting for the broker's answer
DISCONNECT_TIMEOUT = 5.0
# gmqtt reconnects while its failed attempts are <= reconnect_retries: -1 means forever, 0 still once,
# so only a value below -1 switches it off.
_NO_RECONNECT = -2


class _NoRetryNotice(logging.Filter):
    """Drops gmqtt's error that its (switched off) reconnect gave up; the bridge reports the loss itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "failed connection attempts" not in record.getMessage()


_CLIENT_LOGGER = logging.getLogger(f"{__name__}.client")  # gmqtt's client and packet handler log here
_CLIENT_LOGGER.addFilter(_NoRetryNotice())
# gmqtt reports every packet and connection event itself (INFO for each SUBACK, tracebacks at WARNING on
# a lost connection); each failure also ends as a LinkError that the bridge logs once. A level the user
# set is left alone.
for _name, _level in ((_CLIENT_LOGGER.name, logging.WARNING), ("gmqtt", logging.ERROR)):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(_level)


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: str
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message received: topic, raw payload and whether the broker sent it as retained."""

    topic: str
    payload: bytes
    retain: bool


class _Unacked(PersistentStorage):  # type: ignore[misc]  # gmqtt ships no type hints
    """gmqtt's store of QoS 1 publishes awaiting their PUBACK, which also tells the link each packet id
    (gmqtt's ``publish`` returns none), so a publish can wait for its own acknowledgement."""

    def __init__(self, acked: Callable[[int], None]) -> None:
        super().__init__()
        self.last_mid: int | None = None
        self._acked = acked

    def push_message(self, mid: int, raw_package: bytes) -> None:
        super().push_message(mid, raw_package)
        self.last_mid = mid

    def remove_message_by_mid(self, mid: int) -> None:
        super().remove_message_by_mid(mid)
        self._acked(mid)


class MqttLink:
    """``async with MqttLink(config, will) as link:`` connected; the connection closes on exit."""

    def __init__(self, config: MqttConfig, will: Will | None = None) -> None:
        self._config = config
        self._tls: ssl.SSLContext | None = None
        if config.tls:
            try:
                self._tls = ssl.create_default_context(cafile=config.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"cannot read the MQTT CA file {config.ca_file}: {exc}") from None
        self._acks: dict[int, asyncio.Future[tuple[int, ...]]] = {}  # packet id -> the broker's answer
        self._unacked = _Unacked(lambda mid: self._answered(mid, ()))
        self._incoming: asyncio.Queue[Incoming | None] = asyncio.Queue()  # None: the connection ended
        self._lost: str | None = None  # why the connection ended, once it has
        client = gmqtt.Client(
            config.identifier,
            clean_session=True,
            will_message=gmqtt.Message(will.topic, will.payload, qos=will.qos, retain=will.retain) if will else None,
            persistent_storage=self._unacked,
            logger=_CLIENT_LOGGER,
        )
        client.reconnect_retries = _NO_RECONNECT
        if config.username is not None:
            client.set_auth_credentials(config.username, config.password)
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_ack
        client.on_unsubscribe = self._on_ack
        self._client = client

    async def __aenter__(self) -> MqttLink:
        config = self._config
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await self._client.connect(
                    config.host, config.port, ssl=self._tls or False, keepalive=config.keepalive, version=MQTTv311
                )
        except (OSError, TimeoutError, gmqtt.MQTTConnectError) as exc:
            await self._close()
            reason = str(exc) or type(exc).__name__
            raise LinkError(f"cannot connect to the MQTT broker {config.display_url}: {reason}") from None
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        still_open = self._lost is None
        self._ended("the connection was closed")
        if still_open:  # a DISCONNECT tells the broker not to send the last will
            try:
                async with asyncio.timeout(DISCONNECT_TIMEOUT):
                    await self._client.disconnect()
            except (OSError, TimeoutError) as err:
                _LOGGER.debug("MQTT disconnect from %s: %s", self._config.display_url, err)

    async def publish(self, topic: str, payload: str | bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publish: QoS 0 returns once the message is written, QoS 1 once the broker acknowledged it."""
        if not qos:
            self.send(topic, payload, retain=retain)
            return
        if self._lost is not None:
            raise LinkError(f"MQTT publish to {topic} failed: {self._lost}")
        self._client.publish(topic, payload, qos=qos, retain=retain)
        mid = self._unacked.last_mid
        assert mid is not None  # gmqtt stores every QoS 1 publish under its packet id
        await self._answer(mid, f"MQTT publish to {topic}")

    def send(self, topic: str, payload: str | bytes, *, retain: bool = False) -> None:
        """Publish at QoS 0 without waiting: the message goes to the connection's write buffer at once."""
        if self._lost is not None:
            raise LinkError(f"MQTT publish to {topic} failed: {self._lost}")
        self._client.publish(topic, payload, qos=0, retain=retain)

    async def subscribe(self, filters: Iterable[str], *, qos: int = 1) -> None:
        wanted = list(filters)
        if self._lost is not None:
            raise LinkError(f"MQTT subscribe failed: {self._lost}")
        mid = self._client.subscribe([gmqtt.Subscription(f, qos=qos) for f in wanted])
        granted = await self._answer(mid, "MQTT subscribe")
        refused = [f for f, code in zip(wanted, granted, strict=False) if code >= 0x80]
        if refused:
            raise LinkError(f"MQTT subscribe failed: the broker refused {', '.join(refused)}")

    async def unsubscribe(self, filters: Iterable[str]) -> None:
        if self._lost is not None:
            raise LinkError(f"MQTT unsubscribe failed: {self._lost}")
        await self._answer(self._client.unsubscribe(list(filters)), "MQTT unsubscribe")

    async def messages(self) -> AsyncIterator[Incoming]:
        """Every message received, until the connection breaks (then LinkError)."""
        while True:
            message = await self._incoming.get()
            if message is None:
                raise LinkError(f"lost the MQTT broker {self._config.display_url}: {self._lost}")
            yield message

    # ---------------------------------------------------------------- gmqtt's callbacks

    async def _answer(self, mid: int, what: str) -> tuple[int, ...]:
        future: asyncio.Future[tuple[int, ...]] = asyncio.get_running_loop().create_future()
        self._acks[mid] = future
        try:
            async with asyncio.timeout(ACK_TIMEOUT):
                return await future
        except TimeoutError:
            raise LinkError(f"{what} failed: no answer from the broker within {ACK_TIMEOUT:g} s") from None
        finally:
            self._acks.pop(mid, None)

    def _answered(self, mid: int, codes: tuple[int, ...]) -> None:
        future = self._acks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(codes)

    def _on_ack(self, client: Any, mid: int, codes: Iterable[int], *properties: Any) -> None:
        self._answered(mid, tuple(codes))

    def _on_message(self, client: Any, topic: str, payload: bytes, qos: int, properties: dict[str, Any]) -> None:
        self._incoming.put_nowait(Incoming(topic, bytes(payload), bool(properties.get("retain"))))

    def _on_disconnect(self, client: Any, packet: Any, *exc: Any) -> None:
        self._ended("the connection broke")

    def _ended(self, why: str) -> None:
        if self._lost is not None:
            return
        self._lost = why
        self._incoming.put_nowait(None)
        error = LinkError(f"the MQTT connection to {self._config.display_url} ended: {why}")
        for future in self._acks.values():
            if not future.done():
                future.set_exception(error)
        self._acks.clear()
