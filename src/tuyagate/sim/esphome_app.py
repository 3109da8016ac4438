"""The HTTP face of the ESPHome emulator: REST state and actions, the ``/events`` stream, Basic auth.

- ``GET /<domain>/<name>[?detail=all]`` -> the entity's JSON, 404 when there is no such entity;
- ``POST /<domain>/<name>/<action>?param=...`` -> 200 with an empty body, 404 for an unknown entity or
  action, 409 for a parameter the entity does not support;
- ``GET /events`` -> Server-Sent Events: a ``ping`` with the device config, one ``state`` event per
  entity (with the ``detail=all`` fields), then a ``state`` event per change and a ``ping`` every
  ``ping_interval`` seconds;
- with a password set, every path needs HTTP Basic auth; a miss is HTTP 401 with ``WWW-Authenticate``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tuyagate.sim.esphome import EspHomeConfig, EspHomeEmulator
from tuyagate.sim.http_server import (
    Faults,
    RunningEmulator,
    basic_credentials,
    fault_response,
    same_secret,
    serve_app,
)

__all__ = ["EspHomeSim", "create_app", "start_esphome"]


def _sse(event: str, data: dict[str, Any], *, id_: int | None = None, retry: int | None = None) -> str:
    head = (f"retry: {retry}\r\n" if retry is not None else "") + (f"id: {id_}\r\n" if id_ is not None else "")
    return f"{head}event: {event}\r\ndata: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\r\n\r\n"


def create_app(emulator: EspHomeEmulator) -> Starlette:
    """The ASGI app of one emulated ESPHome device; all state lives on ``emulator``."""
    config = emulator.config

    def authorized(request: Request) -> bool:
        if not config.password:
            return True
        creds = basic_credentials(request)
        return creds is not None and same_secret(creds[0], config.user) and same_secret(creds[1], config.password)

    def denied() -> Response:
        return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="Login Required"'})

    async def faulty() -> Response | None:
        return await fault_response(emulator.faults, '{"id":"switch/Relay","state":')

    async def entity(request: Request) -> Response:
        if not authorized(request):
            return denied()
        if (fault := await faulty()) is not None:
            return fault
        domain = request.path_params["domain"]
        parts = request.path_params["rest"].split("/")
        if request.method == "GET":
            found = emulator.find(domain, parts[0]) if len(parts) == 1 else None
            if found is None:
                return Response(status_code=404)
            doc = emulator.state_json(found, detail=request.query_params.get("detail") == "all")
            return Response(json.dumps(doc, separators=(",", ":"), ensure_ascii=False), media_type="application/json")
        found = emulator.find(domain, parts[0]) if len(parts) == 2 else None
        if found is None:
            return Response(status_code=404)
        return Response(status_code=emulator.act(found, parts[1], dict(request.query_params)))

    async def events(request: Request) -> Response:
        if not authorized(request):
            return denied()
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(1000)
        emulator.listeners.add(queue)

        async def stream() -> AsyncIterator[str]:
            try:
                yield _sse("ping", emulator.config_json(), id_=int(time.monotonic() * 1000), retry=30000)
                for e in list(emulator.entities):
                    yield _sse("state", emulator.state_json(e, detail=True))
                while True:
                    try:
                        doc = await asyncio.wait_for(queue.get(), timeout=config.ping_interval)
                    except TimeoutError:
                        up = int(time.monotonic() - emulator.started)
                        yield _sse("ping", {"uptime": up}, id_=int(time.monotonic() * 1000), retry=30000)
                        continue
                    if doc is None:
                        return
                    yield _sse("state", doc)
            finally:
                emulator.listeners.discard(queue)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    async def index(request: Request) -> Response:
        if not authorized(request):
            return denied()
        return Response(f"<html><body><h1>{config.name}</h1></body></html>", media_type="text/html")

    return Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/events", events, methods=["GET"]),
            Route("/{domain}/{rest:path}", entity, methods=["GET", "POST"]),
        ]
    )


class EspHomeSim(RunningEmulator[EspHomeEmulator]):
    """A running ESPHome emulator."""

    def info(self) -> dict[str, Any]:
        """The JSON line ``tuyagate sim esphome`` prints (never the password)."""
        cfg = self.emulator.config
        return {
            **self._where(),
            "backend": "esphome",
            "id_format": cfg.id_format,
            "entities": [f"{e.domain}/{e.name}" for e in cfg.entities],
            "auth": bool(cfg.password),
            "user": cfg.user if cfg.password else None,
        }

    async def stop(self) -> None:
        self.emulator.close_streams()  # event streams would otherwise hold the server open
        await super().stop()


async def start_esphome(
    config: EspHomeConfig | None = None, *, host: str = "127.0.0.1", port: int = 0, faults: Faults | None = None
) -> EspHomeSim:
    """Start an emulated ESPHome device on ``host:port``."""
    emulator = EspHomeEmulator(config=config or EspHomeConfig(), faults=faults or Faults())
    server = await serve_app(create_app(emulator), host, port)
    return EspHomeSim(emulator, server)
