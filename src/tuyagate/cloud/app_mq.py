"""An async consumer of the Smart Life app's MQ (MQTT over TLS), for an app login (``cloud login --app``).

It gets its broker and login the way ``tuya-device-sharing-sdk``'s ``SharingMQ`` does (the config
call, :mod:`tuyagate.cloud.app_mq_messages`) and follows the same topics, but fixes what that client
is known for (tuya-smart-life#80, Home Assistant core#178281: a drop or an expired login ends the
stream until a restart):

* every failed connection is retried with capped, jittered backoff, forever (until :meth:`close`);
  a refused login (bad or expired credentials) fetches a new config first;
* a dropped connection comes back with the same client id and a persistent session at QoS 1, so
  the broker keeps what was published meanwhile and delivers it on return: nothing is lost;
* before the config expires, a new one is fetched and the new connection is subscribed *before*
  the old one is closed (make before break); the overlap's doubles are dropped by message id,
  and the old session is then removed from the broker;
* a message seen before (a duplicate delivery, the overlap) is not handed on twice; one that does
  not parse, or names another device than its topic, is counted and logged without its content.

Needs ``aiomqtt`` (in the ``app`` extra)::

    consumer = AppMqConsumer(app_client.mq_config, ["home id"], ["device id", ...], on_message)
    await consumer.start()
    ...
    await consumer.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from tuyagate.cloud.app_mq_messages import AppMqConfig, decode_app_message, device_topic, parse_mq_config
from tuyagate.cloud.messages import BadMessage, CloudMessage
from tuyagate.errors import TuyaError

if TYPE_CHECKING:
    import aiomqtt

__all__ = ["AppMqConsumer"]

_LOGGER = logging.getLogger(__name__)
SEEN_IDS = 4096  # message ids remembered for de-duplication
SUBSCRIBE_BATCH = 20  # topics per SUBSCRIBE, as the SDK does
DEFAULT_LIFE = 7200.0  # seconds a config is good for when it does not say
MIN_RENEWAL = 0.5  # never renew more often than this, whatever expireTime says
_REFUSED = {4, 5, 134, 135}  # CONNACK: bad user name or password / not authorized (3.1.1 and 5)

MessageHandler = Callable[[CloudMessage], Awaitable[None]]
ConfigSource = Callable[[], Awaitable[Any]]


class _Session:
    """One MQTT connection with one config: connect, subscribe, read until stopped or dropped."""

    def __init__(self, consumer: AppMqConsumer, config: AppMqConfig) -> None:
        self.config = config
        self.ready = asyncio.Event()
        self.client: aiomqtt.Client | None = None
        self.task = asyncio.create_task(self._run(consumer), name="tuyagate-app-mq")

    async def _run(self, consumer: AppMqConsumer) -> None:
        import aiomqtt

        config = self.config
        client = aiomqtt.Client(
            config.host,
            config.port,
            username=config.username,
            password=config.password,
            identifier=config.client_id,
            clean_session=False,  # a dropped connection resumes its session: what was queued comes
            tls_context=consumer.tls_context() if config.tls else None,
            keepalive=consumer.keepalive,
            timeout=consumer.open_timeout,
        )
        async with client:
            self.client = client
            topics = [config.owner_topic.replace("{ownerId}", h) for h in consumer.home_ids]
            topics += [device_topic(config, d) for d in consumer.device_ids()]
            for start in range(0, len(topics), SUBSCRIBE_BATCH):
                await client.subscribe([(t, 1) for t in topics[start : start + SUBSCRIBE_BATCH]])
            self.ready.set()
            async for message in client.messages:
                payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
                await consumer.on_payload(config, str(message.topic), bytes(payload))

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


class AppMqConsumer:
    """Follow the app MQ's home and device topics and hand each new, readable message to ``handler``.

    ``fetch_config`` is the config call (:meth:`~tuyagate.cloud.app_client.AppCloudClient.mq_config`);
    ``home_ids`` the homes (owners) whose events to follow (or an async call that lists them, made
    before the first connection); ``device_ids`` the devices at the start
    (:meth:`follow`/:meth:`unfollow` change them while running); ``ca_bundle`` a CA file to trust.
    """

    def __init__(
        self,
        fetch_config: ConfigSource,
        home_ids: Iterable[str] | Callable[[], Awaitable[Iterable[str]]],
        device_ids: Iterable[str],
        handler: MessageHandler,
        *,
        ca_bundle: str | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        open_timeout: float = 10.0,
        keepalive: int = 30,
        refresh_margin: float = 60.0,
    ) -> None:
        self._fetch_config = fetch_config
        self._fetch_homes = home_ids if callable(home_ids) else None
        self.home_ids: list[str] = [] if callable(home_ids) else list(home_ids)
        self._devices = dict.fromkeys(device_ids)
        self._handler = handler
        self._ca_bundle = ca_bundle
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self.open_timeout = open_timeout
        self.keepalive = keepalive
        self._refresh_margin = refresh_margin
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._session: _Session | None = None
        self._closed = False
        self.connected = asyncio.Event()
        # Counters: what came in and what became of it.
        self.connects = 0
        self.config_fetches = 0
        self.delivered = 0
        self.duplicates = 0
        self.bad = 0

    def __repr__(self) -> str:  # no login
        return f"AppMqConsumer(homes={len(self.home_ids)}, devices={len(self._devices)})"

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self._ca_bundle)

    def device_ids(self) -> list[str]:
        return list(self._devices)

    def closed(self) -> bool:
        """True once :meth:`close` was called (a method: it changes while the loop awaits)."""
        return self._closed

    async def start(self) -> None:
        """Start consuming in a background task (returns at once; :attr:`connected` says when it is in)."""
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._run(), name="tuyagate-app-mq-loop")

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.stop()
            self._session = None
        self.connected.clear()

    async def __aenter__(self) -> AppMqConsumer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def follow(self, device_id: str) -> None:
        """Also follow ``device_id`` (a device added to the account), now and after every reconnect."""
        if device_id in self._devices:
            return
        self._devices[device_id] = None
        await self._subscription(device_id, subscribe=True)

    async def unfollow(self, device_id: str) -> None:
        if self._devices.pop(device_id, 0) is None:
            await self._subscription(device_id, subscribe=False)

    async def _subscription(self, device_id: str, *, subscribe: bool) -> None:
        import aiomqtt

        session = self._session
        if session is None or session.client is None or not session.ready.is_set():
            return  # the next connection subscribes from device_ids()
        topic = device_topic(session.config, device_id)
        with contextlib.suppress(aiomqtt.MqttError):
            if subscribe:
                await session.client.subscribe(topic, qos=1)
            else:
                await session.client.unsubscribe(topic)

    # ---------------------------------------------------------------- connection loop

    def _delay(self, failures: int) -> float:
        return float(min(self._backoff_cap, self._backoff_base * 2 ** min(failures - 1, 16)) * random.uniform(0.5, 1.0))

    async def _config(self) -> AppMqConfig:
        if self._fetch_homes is not None:
            self.home_ids = list(await self._fetch_homes())
            self._fetch_homes = None
        self.config_fetches += 1
        return parse_mq_config(await self._fetch_config())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        config: AppMqConfig | None = None
        refresh_at = 0.0
        failures = 0
        while not self.closed():
            if failures:
                await asyncio.sleep(self._delay(failures))
            if config is None or loop.time() >= refresh_at:
                try:
                    config = await self._config()
                except (TuyaError, BadMessage, OSError) as exc:
                    failures += 1
                    _LOGGER.warning("app MQ: cannot get the broker config (%s)", exc)
                    continue
                life = config.expire_time or DEFAULT_LIFE  # no expireTime: the cloud's usual 2 hours
                refresh_at = loop.time() + max(life - self._refresh_margin, life / 2, MIN_RENEWAL)
            session = _Session(self, config)
            if not await self._opened(session):
                config = None if self._refused(session) else config
                failures += 1
                continue
            old, self._session = self._session, session
            if old is not None:  # make before break: the new one is subscribed already
                await old.stop()
                if old.config.client_id != config.client_id:
                    await self._forget(old.config)
            self.connects += 1
            failures = 0
            self.connected.set()
            _LOGGER.info("app MQ: connected")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, refresh_at - loop.time())):
                    await asyncio.wait({session.task})
            if session.task.done():  # dropped: come back with the same id, the broker kept the session
                self._session = None
                self.connected.clear()
                failures = 1
                _LOGGER.info("app MQ: connection lost (%s)", _why(session.task))
            # else the config is about to expire: the next round fetches a new one, then swaps

    async def _opened(self, session: _Session) -> bool:
        ready = asyncio.create_task(session.ready.wait())
        try:
            await asyncio.wait(
                {ready, session.task}, timeout=self.open_timeout * 2, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
        if session.ready.is_set() and not session.task.done():
            return True
        _LOGGER.info("app MQ: cannot connect (%s)", _why(session.task) if session.task.done() else "timeout")
        await session.stop()
        return False

    @staticmethod
    def _refused(session: _Session) -> bool:
        import aiomqtt

        if not session.task.done() or session.task.cancelled():
            return False
        exc = session.task.exception()
        code = exc.rc if isinstance(exc, aiomqtt.MqttCodeError) else None
        return (isinstance(code, int) and code in _REFUSED) or getattr(code, "value", None) in _REFUSED

    async def _forget(self, config: AppMqConfig) -> None:
        """End the broker's persistent session of an old client id (it would queue for nobody)."""
        import aiomqtt

        with contextlib.suppress(aiomqtt.MqttError, OSError, TimeoutError):
            async with aiomqtt.Client(
                config.host,
                config.port,
                username=config.username,
                password=config.password,
                identifier=config.client_id,
                clean_session=True,
                tls_context=self.tls_context() if config.tls else None,
                timeout=self.open_timeout,
            ):
                pass

    # ---------------------------------------------------------------- messages

    async def on_payload(self, config: AppMqConfig, topic: str, payload: bytes) -> None:
        """One message as it came off the broker on a connection with ``config`` (the session calls this)."""
        try:
            message = decode_app_message(payload, topic_device=_topic_device(config, topic))
        except BadMessage as exc:
            self.bad += 1
            _LOGGER.warning("app MQ: dropped a message that %s", str(exc).removeprefix("message "))
            return
        if message.message_id in self._seen:
            self.duplicates += 1
            self._seen.move_to_end(message.message_id)
            return
        self._seen[message.message_id] = None
        if len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        try:
            await self._handler(message)
        except Exception:  # a handler bug must not stop the stream (logged with its traceback)
            _LOGGER.exception("app MQ: the handler failed on a %s event", message.kind)
        self.delivered += 1


def _topic_device(config: AppMqConfig, topic: str) -> str | None:
    """The device a topic belongs to (None for a home's topic), from the config's template."""
    head, _, tail = config.device_topic.partition("{devId}")
    if not head or not topic.startswith(head):
        return None
    rest = topic[len(head) :]
    end = rest.find(tail) if tail else rest.find("/")
    return rest[:end] if end > 0 else rest.split("/", 1)[0]


def _why(task: asyncio.Task[None]) -> str:
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    return type(exc).__name__ if exc is not None else "closed"
