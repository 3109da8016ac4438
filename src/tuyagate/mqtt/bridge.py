"""The bridge's lifecycle: follow the bus, keep a broker connection, re-publish everything after each reconnect.

:class:`MqttBridge` subscribes to the home's one event bus when it starts and never stops reading it,
connected or not, so the bus never backs up behind a broker that is down. Each connection (a *session*)
begins the same way, whether it is the first or the tenth:

1. the bridge's availability goes ``online`` (retained; the last will turns it ``offline`` if the
   process dies, so Home Assistant shows every device of this gateway unavailable);
2. the set topics, Home Assistant's status topic and this node's discovery topics are subscribed;
   the retained discovery entries of this node id that no current device produces (a device removed
   from the registry, a DP that is gone) are deleted with an empty retained message;
3. discovery, availability and state of every device are published from memory, so what the broker
   holds after a reconnect is current, never what it had kept from before.

Then bus events become coalesced state messages, set-topic messages become commands, and ``online`` on
Home Assistant's status topic re-publishes discovery. A device the home adds while running (``added``
on the bus) is bridged at once: discovery, availability, state, and its set topic answered; one it
removes (``removed``) gets an empty retained message on each of its discovery topics and on its state
and availability topics (at the next session if the broker is away meanwhile), and its set topic is
ignored from then on. A broken connection ends the session; the next
one starts after a backoff that doubles (with jitter) up to ``reconnect_max``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tuyagate.bus import Subscription
from tuyagate.device_api import Device, DeviceEvent, DeviceManager
from tuyagate.errors import ConfigError, NotFoundError, ValidationError
from tuyagate.mqtt.commands import CommandError, error_code, failure, parse_command, run_command
from tuyagate.mqtt.config import MqttConfig
from tuyagate.mqtt.discovery import DeviceView, Entity, entities_for
from tuyagate.mqtt.discovery.light import LightDps, light_dps, prepare_light_command
from tuyagate.mqtt.errors import LinkError
from tuyagate.mqtt.outbox import AVAILABILITY, STATE, Outbox, Stats
from tuyagate.mqtt.state import Coalescer, StateCache
from tuyagate.mqtt.topics import Topics, topic_safe

if TYPE_CHECKING:
    from tuyagate.mqtt.link import Incoming, MqttLink

__all__ = ["MqttBridge"]

_LOGGER = logging.getLogger(__name__)
SYNC_TIMEOUT = 5.0  # how long a new session waits for its own retained discovery entries
EVENT_QUEUE = 8192  # bus events the bridge may fall behind by before it re-reads every device
MAX_COMMANDS_IN_FLIGHT = 256
INITIAL_READS = 16  # devices read at once at start when they have no state yet
GOODBYE_TIMEOUT = 2.0  # how long closing waits to tell the broker the bridge is going offline
CLOSE_TIMEOUT = 15.0  # how long closing waits for its tasks (the MQTT client's own disconnect waits up to 10 s)


class MqttBridge:
    """Bridges a home's devices to a broker; ``async with`` (or ``start``/``close``)."""

    def __init__(self, home: DeviceManager, config: MqttConfig) -> None:
        self.home = home
        self.config = config
        self.topics = Topics(config.prefix, config.node_id, config.discovery_prefix)
        self.stats = Stats()
        self.devices: dict[str, Device] = {}
        for device in home.devices():
            if topic_safe(device.info.id):
                self.devices[device.info.id] = device
            else:
                _LOGGER.warning("MQTT: device id %r cannot be a topic level; it is not bridged", device.info.id)
        self._views: dict[str, DeviceView] = {}
        self._lights: dict[str, LightDps | None] = {}
        self._entities: dict[str, dict[str, Entity]] = {}  # device -> discovery topic -> entity
        self._state: StateCache | None = None
        self._coalescer: Coalescer | None = None
        self._events: Subscription[DeviceEvent] | None = None
        self._outbox: Outbox | None = None
        self._link: MqttLink | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._commands: set[asyncio.Task[None]] = set()
        self._command_slots = asyncio.Semaphore(MAX_COMMANDS_IN_FLIGHT)
        self._connected = asyncio.Event()
        self._closing = False
        self._sync_token = ""
        self._synced = asyncio.Event()
        self._found_discovery: set[str] = set()
        self._online_sent: dict[str, bool] = {}  # the online flag last queued as availability, per device
        self._removed: set[str] = set()  # devices removed while no session ran: their topics are emptied next

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self._tasks:
            return
        try:
            from tuyagate.mqtt import link  # noqa: F401 - fail here, clearly, when the mqtt extra is missing
        except ImportError:
            raise ConfigError("the MQTT bridge needs gmqtt: pip install 'tuyagate[mqtt]'") from None

        self._events = self.home.events(maxsize=EVENT_QUEUE)
        for device_id in self.devices:
            self._describe(device_id)
        self._state = StateCache(self.devices.values(), {d: v.colour_codes for d, v in self._views.items()})
        self._coalescer = Coalescer(self.config.coalesce, self._flush_state)
        self._tasks = [
            asyncio.create_task(self._pump(), name="tuyagate-mqtt-events"),
            asyncio.create_task(self._run(), name="tuyagate-mqtt-link"),
            asyncio.create_task(self._initial_reads(), name="tuyagate-mqtt-initial-reads"),
        ]
        _LOGGER.info("MQTT bridge %s -> %s", self.config.node_id, self.config.display_url)

    async def close(self) -> None:
        """Say goodbye (the bridge's availability goes ``offline``, as the last will would), then disconnect."""
        self._closing = True
        link = self._link
        if link is not None:  # connected, even if the session is still publishing what it starts with
            with contextlib.suppress(TimeoutError, LinkError):
                async with asyncio.timeout(GOODBYE_TIMEOUT):
                    await link.publish(self.topics.bridge_availability, "offline", qos=1, retain=True)
        tasks = (*self._tasks, *self._commands)
        for task in tasks:
            task.cancel()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):  # a shutdown never hangs on a stuck task
                await asyncio.gather(*tasks, return_exceptions=True)
        except TimeoutError:
            stuck = ", ".join(t.get_name() for t in tasks if not t.done())
            _LOGGER.warning("MQTT bridge closed with tasks still ending: %s", stuck)
        self._tasks.clear()
        if self._coalescer is not None:
            self._coalescer.cancel()
        if self._events is not None:
            self._events.close()

    async def __aenter__(self) -> MqttBridge:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float) -> None:
        """Wait until a session has published everything it starts with; TimeoutError after ``timeout``."""
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    def entities(self, device_id: str) -> list[Entity]:
        """The discovery entries of a device (as last published)."""
        return list(self._entities.get(device_id, {}).values())

    async def remove_device(self, device_id: str) -> None:
        """Forget a device: delete its discovery entries and its retained state and availability."""
        self._drop(device_id)
        outbox = self._outbox
        if outbox is not None:
            await outbox.drained()

    def _add(self, device_id: str) -> None:
        """Bridge a device the home added while running (as one present at start is bridged)."""
        try:
            device = self.home.device(device_id)
        except NotFoundError:
            return  # removed again meanwhile
        if device.info.id != device_id or device_id in self.devices:
            return
        if not topic_safe(device_id):
            _LOGGER.warning("MQTT: device id %r cannot be a topic level; it is not bridged", device_id)
            return
        assert self._state is not None
        assert self._coalescer is not None
        self.devices[device_id] = device
        self._removed.discard(device_id)
        self._state.add(device)
        self._refresh_discovery(device_id)  # every entry is new: all of them are published
        self._coalescer.touch(device_id)
        if device.cached_state() is None:
            task = asyncio.create_task(self._first_read(device_id, device), name=f"tuyagate-mqtt-read-{device_id}")
            self._commands.add(task)
            task.add_done_callback(self._commands.discard)

    def _drop(self, device_id: str) -> None:
        """Unbridge a device: empty retained discovery, state and availability; no commands from now on."""
        if self.devices.pop(device_id, None) is None:
            return
        entities = self._entities.pop(device_id, {})
        self._views.pop(device_id, None)
        self._lights.pop(device_id, None)
        self._online_sent.pop(device_id, None)
        if self._state is not None:
            self._state.forget(device_id)
        if self._coalescer is not None:
            self._coalescer.forget(device_id)
        outbox = self._outbox
        if outbox is None:
            self._removed.add(device_id)  # retained state and availability are emptied by the next session
            return  # (which also deletes the discovery entries no device produces)
        for topic in entities:
            outbox.raw(topic, b"", retain=True)
        self._empty_topics(outbox, device_id)

    def _empty_topics(self, outbox: Outbox, device_id: str) -> None:
        """Queue the device's state and availability, which :meth:`_build` makes empty for a device not bridged
        (keyed like every state message, so one queued before the removal cannot overwrite the empty one, and
        the same state published again after a re-add is not taken for a repeat)."""
        outbox.state(device_id)
        outbox.availability(device_id)

    # ---------------------------------------------------------------- the bus

    async def _pump(self) -> None:
        assert self._events is not None
        assert self._state is not None
        assert self._coalescer is not None
        state, coalescer = self._state, self._coalescer
        async for event in self._events:
            device_id = event.device_id
            if event.kind == "added":
                self._add(device_id)
                continue
            if event.kind == "removed":
                self._drop(device_id)
                continue
            if event.kind == "lost":
                _LOGGER.info("MQTT bridge fell %d events behind: re-reading every device", event.dropped)
                state.reload()
                for known in self.devices:
                    coalescer.touch(known)
                continue
            if device_id not in self.devices:
                continue
            if event.kind == "state":
                if state.fold(event):
                    self._refresh_discovery(device_id)
                coalescer.touch(device_id)
            else:
                # A device that comes online may bring values it never announced as changes (a reflashed
                # device's first read): take them from its cache.
                state.reload([device_id])
                if event.kind == "online" and not self._views[device_id].dps:
                    self._refresh_discovery(device_id)  # a flashed device describes itself on first contact
                coalescer.touch(device_id)  # state carries "online"; the flush also sends the availability

    def _flush_state(self, device_id: str) -> None:
        outbox = self._outbox
        if outbox is not None:
            outbox.state(device_id)
            device = self.devices.get(device_id)
            online = device.online if device is not None else False
            if self._online_sent.get(device_id) is not online:  # keeps availability in step with "online"
                self._online_sent[device_id] = online
                outbox.availability(device_id)

    async def _initial_reads(self) -> None:
        """Fill in devices the bridge has no values of yet (reading those that have none at all), so their
        state topics carry values from the start."""
        slots = asyncio.Semaphore(INITIAL_READS)

        async def read(device_id: str, device: Device) -> None:
            async with slots:
                await self._first_read(device_id, device)

        assert self._state is not None
        missing = [(i, d) for i, d in self.devices.items() if not self._state.values(i)]
        await asyncio.gather(*(read(i, d) for i, d in missing))

    async def _first_read(self, device_id: str, device: Device) -> None:
        if device.cached_state() is None:  # else it was read meanwhile (perhaps without an event)
            with contextlib.suppress(Exception):
                await device.status(refresh=False, timeout=self.config.command_timeout)
        if self.devices.get(device_id) is not device:
            return  # removed (or replaced) while it was read
        assert self._state is not None
        assert self._coalescer is not None
        self._state.reload([device_id])
        self._refresh_discovery(device_id)
        self._coalescer.touch(device_id)

    # ---------------------------------------------------------------- discovery

    def _describe(self, device_id: str) -> list[Entity]:
        view = DeviceView.of(self.devices[device_id])
        self._views[device_id] = view
        self._lights[device_id] = light_dps(view)
        if self._state is not None:
            self._state.set_colour_codes(device_id, view.colour_codes)
        return entities_for(view, self.topics, link_topic=self.config.link_topic)

    def _refresh_discovery(self, device_id: str) -> None:
        """Re-describe a device; publish what changed (new or changed entries, deleted ones)."""
        if device_id not in self.devices:
            return
        fresh = {self.topics.discovery(e.component, e.object_id): e for e in self._describe(device_id)}
        old = self._entities.get(device_id, {})
        self._entities[device_id] = fresh
        outbox = self._outbox
        if outbox is None or not self.config.discovery:
            return
        for topic, entity in fresh.items():
            if topic not in old or old[topic].config != entity.config:
                outbox.raw(topic, _config_json(entity), retain=True)
                self.stats.discovery_messages += 1
        for topic in old.keys() - fresh.keys():
            outbox.raw(topic, b"", retain=True)

    def _publish_discovery(self, outbox: Outbox) -> None:
        for entities in self._entities.values():
            for topic, entity in entities.items():
                outbox.raw(topic, _config_json(entity), retain=True)
                self.stats.discovery_messages += 1

    # ---------------------------------------------------------------- the broker

    async def _run(self) -> None:
        from tuyagate.mqtt.link import MqttLink, Will

        delay = self.config.reconnect_min
        will = Will(self.topics.bridge_availability, "offline")
        while not self._closing:
            try:
                async with MqttLink(self.config, will) as link:
                    self._link = link
                    delay = self.config.reconnect_min
                    self.stats.connections += 1
                    await self._session(link)
            except LinkError as exc:
                _LOGGER.warning("%s; retrying in %.1f s", exc, delay)
            except ConfigError as exc:
                _LOGGER.error("MQTT bridge stopped: %s", exc)
                return
            finally:
                self._link = None
                self._connected.clear()
                outbox, self._outbox = self._outbox, None
                if outbox is not None:
                    await outbox.close()
            if self.closing:
                return
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.config.reconnect_max)

    async def _session(self, link: MqttLink) -> None:
        topics = self.topics
        outbox = Outbox(
            link,
            publishers=self.config.publishers,
            topic_for=self._topic_for,
            build=self._build,
            stats=self.stats,
            window=self.config.batch_window,
        )
        self._synced.clear()
        self._found_discovery.clear()
        self._sync_token = secrets.token_hex(8)
        reader = asyncio.create_task(self._read(link), name="tuyagate-mqtt-read")
        try:
            await link.publish(topics.bridge_availability, "online", qos=1, retain=True)
            filters = [topics.set_filter, topics.ha_status, topics.sync]
            if self.config.discovery:
                filters.append(topics.discovery_filter)
            await link.subscribe(filters)
            if self.config.discovery:
                await self._clear_stale(link)
            self._outbox = outbox
            if self.config.discovery:
                self._publish_discovery(outbox)
            self._online_sent.clear()
            for device_id in self.devices:
                self._flush_state(device_id)
            for device_id in sorted(self._removed):
                self._empty_topics(outbox, device_id)
            self._removed.clear()
            await outbox.drained()
            self._connected.set()
            _LOGGER.info("MQTT bridge %s connected to %s", self.config.node_id, self.config.display_url)
            done, _ = await asyncio.wait([reader, outbox.failed], return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                reader.result()  # the connection broke: LinkError
            raise LinkError(f"lost the MQTT broker {self.config.display_url}")
        finally:
            await _cancel(reader)

    async def _clear_stale(self, link: MqttLink) -> None:
        """Delete this node's retained discovery entries that no current device produces."""
        for device_id in self.devices:
            self._refresh_discovery(device_id)
        await link.publish(self.topics.sync, self._sync_token, qos=1, retain=False)
        try:
            async with asyncio.timeout(SYNC_TIMEOUT):
                await self._synced.wait()
        except TimeoutError:
            _LOGGER.warning("MQTT: the broker did not echo our sync message; stale discovery entries are kept")
            return
        await link.unsubscribe([self.topics.discovery_filter])
        current = {topic for entities in self._entities.values() for topic in entities}
        for topic in sorted(self._found_discovery - current):
            _LOGGER.info("MQTT: deleting the discovery entry %s (no such device or DP any more)", topic)
            await link.publish(topic, b"", qos=1, retain=True)

    async def _read(self, link: MqttLink) -> None:
        topics = self.topics
        async for message in link.messages():
            topic = message.topic
            if topic == topics.sync:
                if message.payload.decode(errors="replace") == self._sync_token:
                    self._synced.set()
            elif topics.is_discovery(topic):
                if message.retain and message.payload and not self._synced.is_set():
                    self._found_discovery.add(topic)
            elif topic == topics.ha_status:
                if message.payload.strip().lower() == b"online" and self._outbox is not None:
                    _LOGGER.info("Home Assistant is online: publishing discovery again")
                    self._publish_discovery(self._outbox)
            else:
                device_id = topics.device_of_set(topic)
                if device_id is not None and device_id in self.devices and not message.retain:
                    self._spawn_command(device_id, message)

    # ---------------------------------------------------------------- commands

    def _spawn_command(self, device_id: str, message: Incoming) -> None:
        self.stats.commands += 1
        task = asyncio.create_task(self._command(device_id, message.payload), name=f"tuyagate-mqtt-set-{device_id}")
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)

    async def _command(self, device_id: str, payload: bytes) -> None:
        request_id: str | None = None
        try:
            values, request_id = parse_command(payload)
            light = self._lights.get(device_id)
            if light is not None and self._state is not None:
                values = prepare_light_command(light, values, self._state.values(device_id))
        except CommandError as exc:
            result: dict[str, Any] = failure(exc.code, exc.message)
        except ValidationError as exc:
            result = failure(error_code(exc), str(exc), request_id)
        else:
            device = self.devices.get(device_id)
            if device is None:  # removed while the command waited
                result = failure("not_found", f"no device {device_id!r}", request_id)
            else:
                async with self._command_slots:
                    result = await run_command(
                        device, values, timeout=self.config.command_timeout, request_id=request_id
                    )
        outbox = self._outbox
        if outbox is not None:
            outbox.raw(self.topics.result(device_id), json.dumps(result, default=str), retain=False)
            self.stats.results += 1

    # ---------------------------------------------------------------- payloads

    def _topic_for(self, kind: str, device_id: str) -> str:
        return self.topics.state(device_id) if kind == STATE else self.topics.availability(device_id)

    def _build(self, kind: str, device_id: str) -> bytes:
        device = self.devices.get(device_id)
        if device is None:
            return b""  # removed after this was queued: an empty retained message, as the removal sent
        if kind == AVAILABILITY:
            return b"online" if device.online else b"offline"
        assert self._state is not None
        return self._state.payload(device_id)


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait for it, without swallowing a cancellation of the caller itself."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
    except Exception as exc:  # noqa: BLE001 - the task's own failure (a broken link) is already handled
        _LOGGER.debug("MQTT task %s ended with %s", task.get_name(), exc)


def _config_json(entity: Entity) -> bytes:
    return json.dumps(entity.config, separators=(",", ":"), ensure_ascii=False).encode()
