"""One connection to the broker, on aiomqtt (a maintained asyncio client over paho-mqtt).

The bridge talks to this small class only, so the MQTT client library is named in one module, which
:mod:`tuyagate.mqtt.bridge` imports only when a bridge starts (``import tuyagate`` and ``tuyagate --help``
never load it). A link connects with the bridge's last will set, so the broker itself announces a
gateway that dies without saying goodbye; any failure of the connection surfaces as :class:`LinkError`.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from types import TracebackType

import aiomqtt

from tuyagate.errors import ConfigError
from tuyagate.mqtt.config import MqttConfig
from tuyagate.mqtt.errors import LinkError

__all__ = ["Incoming", "LinkError", "MqttLink", "Will"]

_LOGGER = logging.getLogger(__name__)
_PENDING_WARNING = 100_000  # aiomqtt warns past this many unacknowledged publishes; we bound them ourselves


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


class MqttLink:
    """``async with MqttLink(config, will) as link:`` connected; the connection closes on exit."""

    def __init__(self, config: MqttConfig, will: Will | None = None) -> None:
        self._config = config
        tls_context: ssl.SSLContext | None = None
        if config.tls:
            try:
                tls_context = ssl.create_default_context(cafile=config.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"cannot read the MQTT CA file {config.ca_file}: {exc}") from None
        self._client = aiomqtt.Client(
            config.host,
            config.port,
            username=config.username,
            password=config.password,
            identifier=config.identifier,
            will=aiomqtt.Will(will.topic, will.payload, will.qos, will.retain) if will is not None else None,
            keepalive=config.keepalive,
            timeout=10.0,
            clean_session=True,
            tls_context=tls_context,
            max_inflight_messages=max(20, config.publishers * 2),
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),  # small messages go out at once
            logger=_LOGGER,
        )
        self._client.pending_calls_threshold = _PENDING_WARNING

    async def __aenter__(self) -> MqttLink:
        try:
            await self._client.__aenter__()
        except aiomqtt.MqttError as exc:
            raise LinkError(f"cannot connect to the MQTT broker {self._config.display_url}: {exc}") from None
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self._client.__aexit__(exc_type, exc, tb)
        except aiomqtt.MqttError as err:
            _LOGGER.debug("MQTT disconnect from %s: %s", self._config.display_url, err)

    async def publish(self, topic: str, payload: str | bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publish and wait until the broker has it (QoS 1) or it is written (QoS 0)."""
        try:
            await self._client.publish(topic, payload, qos=qos, retain=retain)
        except aiomqtt.MqttError as exc:
            raise LinkError(f"MQTT publish to {topic} failed: {exc}") from None

    async def subscribe(self, filters: Iterable[str], *, qos: int = 1) -> None:
        try:
            await self._client.subscribe([(f, qos) for f in filters])
        except aiomqtt.MqttError as exc:
            raise LinkError(f"MQTT subscribe failed: {exc}") from None

    async def unsubscribe(self, filters: Iterable[str]) -> None:
        try:
            await self._client.unsubscribe(list(filters))
        except aiomqtt.MqttError as exc:
            raise LinkError(f"MQTT unsubscribe failed: {exc}") from None

    async def messages(self) -> AsyncIterator[Incoming]:
        """Every message received, until the connection breaks (then LinkError)."""
        try:
            async for message in self._client.messages:
                yield _incoming(message)
        except aiomqtt.MqttError as exc:
            raise LinkError(f"lost the MQTT broker {self._config.display_url}: {exc}") from None


def _incoming(message: aiomqtt.Message) -> Incoming:
    return Incoming(message.topic.value, bytes(message.payload or b""), bool(message.retain))
