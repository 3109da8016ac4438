"""ESPHome's ``web_server`` REST API and ``/events`` stream as a code-keyed client.

State is read by ``GET /<domain>/<name>``, control is ``POST /<domain>/<name>/<action>?param=...``
(200 with an empty body; 404 unknown entity or action; 409 unsupported parameter), live updates come
from the ``/events`` Server-Sent Events stream, and HTTP Basic auth guards everything when the device
has a password. The device has no "list entities" call: the client learns its entities from the
first ``/events`` dump (one ``state`` event per entity, with the ``detail=all`` fields), or from an
explicit ``entities=[...]`` list. Entity ids in both the current (``domain/Name``) and the older
(``domain-object_id``) forms are understood; see :mod:`tuyagate.flashed.esphome_map`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from tuyagate.errors import DeviceError, NotFoundError, ProtocolError, TuyaConnectionLost, TuyaTimeoutError
from tuyagate.flashed.backend import Description
from tuyagate.flashed.esphome_map import Action, Binding, EntityRef, bind, calls_for, ref_from_state, values_from_state
from tuyagate.flashed.http_base import HttpOptions, HttpTransport, excerpt, parse_json
from tuyagate.flashed.sse import SseEvent, SseParser
from tuyagate.flashed.synthetic import synthetic_schema

__all__ = ["EspHomeClient"]

_LOG = logging.getLogger(__name__)


class EspHomeClient:
    """One ESPHome device with the ``web_server`` component, reached at ``url``."""

    kind: ClassVar[str] = "esphome"
    product: ClassVar[str] = "ESPHome"

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        password: str | None = None,
        options: HttpOptions | None = None,
        entities: Sequence[str] | None = None,
        discovery_quiet: float = 0.5,
        idle_timeout: float = 35.0,
    ) -> None:
        self.transport = HttpTransport(
            url,
            user=user if user is not None else ("admin" if password else None),
            password=password,
            options=options,
            label=self.product,
        )
        self._configured = [EntityRef.parse(e) for e in entities] if entities else None
        self._quiet = discovery_quiet
        self._idle = idle_timeout
        self._bindings: list[Binding] = []
        self._title: str | None = None

    def __repr__(self) -> str:
        return f"EspHomeClient({self.transport.where!r})"

    @property
    def where(self) -> str:
        return self.transport.where

    @property
    def bindings(self) -> list[Binding]:
        return list(self._bindings)

    @staticmethod
    def _path(ref: EntityRef, action: str | None = None) -> str:
        parts = [ref.domain, *ref.key.split("/")] + ([action] if action else [])
        return "/" + "/".join(quote(p, safe="") for p in parts)

    # -- raw access -----------------------------------------------------------------------------

    async def entity(
        self, ref: str | EntityRef, *, detail: bool = False, timeout: float | None = None
    ) -> dict[str, Any]:
        """The state JSON of one entity (``switch/Relay`` or ``switch-relay``)."""
        ref = EntityRef.parse(ref) if isinstance(ref, str) else ref
        params = {"detail": "all"} if detail else None
        response = await self.transport.request("GET", self._path(ref), params=params, timeout=timeout)
        if response.status_code == 404:
            raise NotFoundError(f"{self.where} has no entity {ref}")
        if response.status_code != 200:
            raise DeviceError(f"{self.where} answered HTTP {response.status_code} for {ref}", code=response.status_code)
        doc = parse_json(response.content, self.where)
        if not isinstance(doc, dict):
            raise ProtocolError(f"{self.where} answered {ref} with {excerpt(repr(doc))}, expected a JSON object")
        return doc

    async def call(
        self,
        ref: str | EntityRef,
        action: str,
        params: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        """POST an action (``turn_on``, ``set``, ``press``, ...) with its URL parameters."""
        ref = EntityRef.parse(ref) if isinstance(ref, str) else ref
        response = await self.transport.request("POST", self._path(ref, action), params=params, timeout=timeout)
        if response.status_code == 404:
            raise NotFoundError(f"{self.where} has no entity {ref} or no action {action!r} for it")
        if response.status_code == 409:
            raise DeviceError(f"{self.where} refused {action} on {ref}: a parameter is not supported", code=409)
        if response.status_code != 200:
            raise DeviceError(
                f"{self.where} answered HTTP {response.status_code} to {action} on {ref}", code=response.status_code
            )

    async def stream(self) -> AsyncGenerator[SseEvent, None]:
        """The raw ``/events`` stream, until the device closes it.

        ESPHome pings every 10 s, so a stream that stays silent for ``idle_timeout`` seconds belongs to a
        device that vanished without closing the connection (power cut): that is a TuyaTimeoutError, as a
        broken stream is a TuyaConnectionLost.
        """
        parser = SseParser()
        async with self.transport.stream("/events") as response:
            chunks = response.aiter_text()
            try:
                while True:
                    try:
                        chunk = await asyncio.wait_for(anext(chunks), self._idle)
                    except StopAsyncIteration:
                        return
                    except TimeoutError:
                        raise TuyaTimeoutError(
                            f"{self.where} sent nothing on its event stream for {self._idle:g} s"
                        ) from None
                    for event in parser.feed(chunk):
                        yield event
            except (httpx.ReadError, httpx.RemoteProtocolError) as exc:
                raise TuyaConnectionLost(f"{self.where} broke its event stream ({exc})") from exc
            except httpx.TimeoutException as exc:
                raise TuyaTimeoutError(f"{self.where} stalled its event stream") from exc

    # -- discovery ------------------------------------------------------------------------------

    async def discover(self, *, timeout: float | None = None) -> list[dict[str, Any]]:
        """Every entity's ``detail=all`` JSON, from the configured list or the first ``/events`` dump."""
        deadline = self.transport.options.timeout if timeout is None else timeout
        if self._configured is not None:
            return [await self.entity(ref, detail=True, timeout=deadline) for ref in self._configured]
        states: dict[EntityRef, dict[str, Any]] = {}
        stream = self.stream()
        try:
            async with asyncio.timeout(deadline):
                while True:
                    wait = self._quiet if states else None
                    try:
                        event = await asyncio.wait_for(anext(stream), wait)
                    except TimeoutError:
                        break  # the dump is over: nothing new for a moment
                    if event.event == "ping":
                        if states:
                            break  # the periodic ping comes after the dump
                        doc = _loads(event.data)
                        if isinstance(doc, dict) and isinstance(doc.get("title"), str):
                            self._title = doc["title"]
                    elif event.event == "state":
                        doc = _loads(event.data)
                        if isinstance(doc, dict):
                            states.setdefault(ref_from_state(doc), doc)
        except StopAsyncIteration:
            if not states:
                raise ProtocolError(f"{self.where} closed /events without listing any entity") from None
        except TimeoutError:
            if not states:
                raise TuyaTimeoutError(f"{self.where} listed no entities within {deadline:g} s") from None
        finally:
            await stream.aclose()
        return list(states.values())

    async def describe(self, *, timeout: float | None = None) -> Description:
        states = await self.discover(timeout=timeout)
        self._bindings = bind(states)
        values: dict[str, Any] = {}
        for binding in self._bindings:
            doc = next((d for d in states if ref_from_state(d) == binding.ref), None)
            if doc is not None:
                values |= values_from_state(binding, doc)
        schema = synthetic_schema(spec for binding in self._bindings for spec in binding.specs)
        return Description(schema=schema, product=self.product, firmware=None, name=self._title, state=values)

    # -- code-keyed view ------------------------------------------------------------------------

    async def _ensure(self, timeout: float | None) -> None:
        if not self._bindings:
            await self.describe(timeout=timeout)

    async def _read(self, bindings: list[Binding], timeout: float | None) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for binding in bindings:
            if binding.ref.domain == "button":
                continue  # a button has no state
            values |= values_from_state(binding, await self.entity(binding.ref, timeout=timeout))
        return values

    async def status(self, *, timeout: float | None = None) -> dict[str, Any]:
        await self._ensure(timeout)
        return await self._read(self._bindings, timeout)

    async def set(self, values: Mapping[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        await self._ensure(timeout)
        actions: list[Action] = calls_for(self._bindings, values)
        for action in actions:
            await self.call(action.ref, action.action, action.params, timeout=timeout)
        touched = {a.ref for a in actions}
        return await self._read([b for b in self._bindings if b.ref in touched], timeout)

    def watch(self) -> AsyncIterator[dict[str, Any]]:
        return self._watch()

    async def _watch(self) -> AsyncIterator[dict[str, Any]]:
        by_ref = {b.ref: b for b in self._bindings}
        async for event in self.stream():
            if event.event != "state":
                continue
            doc = _loads(event.data)
            try:
                binding = by_ref.get(ref_from_state(doc)) if isinstance(doc, dict) else None
            except ProtocolError:
                binding = None
            if binding is None or not isinstance(doc, dict):
                _LOG.debug("%s: skipped state event %s", self.where, excerpt(event.data))
                continue
            values = values_from_state(binding, doc)
            if values:
                yield values

    async def close(self) -> None:
        await self.transport.close()


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None
