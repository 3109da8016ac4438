"""A plain MQTT client for the tests: what a Home Assistant or a script would see on the broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiomqtt


@dataclass
class Seen:
    topic: str
    payload: bytes
    retain: bool


@dataclass
class Watcher:
    """Subscribes to ``filters`` and records every message; ``wait`` for one that passes a check."""

    port: int
    filters: tuple[str, ...] = ("#",)
    host: str = "127.0.0.1"
    user: str | None = None
    password: str | None = None
    history: list[Seen] = field(default_factory=list)
    latest: dict[str, bytes] = field(default_factory=dict)
    _client: aiomqtt.Client | None = None
    _task: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> Watcher:
        self._client = aiomqtt.Client(self.host, self.port, username=self.user, password=self.password)
        await self._client.__aenter__()
        await self._client.subscribe([(f, 1) for f in self.filters])
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await self._task
        if self._client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await self._client.__aexit__(None, None, None)

    async def _read(self) -> None:
        assert self._client is not None
        with contextlib.suppress(aiomqtt.MqttError):
            async for message in self._client.messages:
                payload = bytes(message.payload or b"")
                self.history.append(Seen(message.topic.value, payload, bool(message.retain)))
                self.latest[message.topic.value] = payload
                self._changed.set()

    async def publish(self, topic: str, payload: str | bytes | dict[str, Any], *, retain: bool = False) -> None:
        assert self._client is not None
        data = json.dumps(payload) if isinstance(payload, dict) else payload
        await self._client.publish(topic, data, qos=1, retain=retain)

    async def wait(self, topic: str, check: Callable[[bytes], bool] = bool, *, timeout: float = 10.0) -> bytes:
        """The latest payload of ``topic`` once it passes ``check`` (a message seen before counts)."""
        async with asyncio.timeout(timeout):
            while True:
                payload = self.latest.get(topic)
                if payload is not None and check(payload):
                    return payload
                self._changed.clear()
                await self._changed.wait()

    async def wait_until(self, check: Callable[[], bool], *, timeout: float = 10.0) -> None:
        """Wait until ``check()`` holds, re-checked after each message."""
        async with asyncio.timeout(timeout):
            while not check():
                self._changed.clear()
                await self._changed.wait()

    async def wait_json(
        self, topic: str, check: Callable[[dict[str, Any]], bool] = lambda _: True, *, timeout: float = 10.0
    ) -> dict[str, Any]:
        def ok(payload: bytes) -> bool:
            try:
                body = json.loads(payload)
            except ValueError:
                return False
            return isinstance(body, dict) and check(body)

        found: dict[str, Any] = json.loads(await self.wait(topic, ok, timeout=timeout))
        return found

    async def next_on(self, topic: str, *, after: int, timeout: float = 10.0) -> Seen:
        """The first message on ``topic`` after history index ``after``."""
        async with asyncio.timeout(timeout):
            while True:
                for seen in self.history[after:]:
                    if seen.topic == topic:
                        return seen
                self._changed.clear()
                await self._changed.wait()

    def on(self, topic: str) -> list[Seen]:
        return [s for s in self.history if s.topic == topic]
