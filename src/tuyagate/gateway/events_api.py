"""Live events as Server-Sent Events: ``GET /api/v1/events[?device=ID]``.

One task reads the manager's event stream and fans it out to a bounded queue per client. A slow
reader only loses its own oldest events (and is told how many with an ``overflow`` event, so it can
re-read the status); it never slows the pump or the other clients. Comments (``: ping``) are sent
when nothing happened for a while, so proxies keep the connection open and dead clients are noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import StreamingResponse

from tuyagate.device_api import DeviceEvent, DeviceManager
from tuyagate.gateway.errors import ApiError
from tuyagate.gateway.guard import SECURED, authorize
from tuyagate.gateway.metrics import Metrics

__all__ = ["EventHub", "Subscription", "format_event", "router"]

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Subscription:
    """One SSE client's buffer."""

    devices: frozenset[str] | None
    queue: asyncio.Queue[DeviceEvent | None]
    dropped: int = 0
    closed: bool = field(default=False)

    def offer(self, event: DeviceEvent) -> int:
        """Queue without waiting; when full, drop the oldest event. Returns the number dropped (0/1)."""
        if self.closed or (self.devices is not None and event.device_id not in self.devices):
            return 0
        lost = 0
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
                lost = 1
                self.dropped += 1
        self.queue.put_nowait(event)
        return lost

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(None)


class EventHub:
    """Fans the manager's events out to subscribers."""

    def __init__(self, manager: DeviceManager, metrics: Metrics, *, queue_size: int, max_clients: int) -> None:
        self.manager = manager
        self.metrics = metrics
        self.queue_size = queue_size
        self.max_clients = max_clients
        self._subs: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def clients(self) -> int:
        return len(self._subs)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._pump(), name="tuyagate-event-hub")

    async def _pump(self) -> None:
        while not self._closing:
            try:
                async for event in self.manager.events():
                    for sub in tuple(self._subs):
                        self.metrics.sse_dropped += sub.offer(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("device event stream failed; re-subscribing in 1 s")
            if not self._closing:
                await asyncio.sleep(1.0)

    def check_capacity(self) -> None:
        """Raise before a stream is accepted when no new one may open."""
        if self._closing:
            raise ApiError(503, "unavailable", "the gateway is shutting down")
        if len(self._subs) >= self.max_clients:
            raise ApiError(503, "too_many_streams", f"at most {self.max_clients} event streams may be open")

    def subscribe(self, devices: frozenset[str] | None) -> Subscription:
        if self._closing:
            raise ApiError(503, "unavailable", "the gateway is shutting down")
        if len(self._subs) >= self.max_clients:
            raise ApiError(503, "too_many_streams", f"at most {self.max_clients} event streams may be open")
        sub = Subscription(devices, asyncio.Queue(self.queue_size))
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.close()
        self._subs.discard(sub)

    def close_streams(self) -> None:
        """End every open stream (called first on shutdown so the server can drain its connections)."""
        self._closing = True
        for sub in tuple(self._subs):
            sub.close()

    async def close(self) -> None:
        self.close_streams()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def format_event(event: DeviceEvent, seq: int) -> str:
    data = {
        "device_id": event.device_id,
        "kind": event.kind,
        "dps": event.dps,
        "values": event.values,
        "route": event.route,
        "at": event.at,
    }
    return f"id: {seq}\nevent: {event.kind}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


async def _stream(hub: EventHub, devices: frozenset[str] | None, heartbeat: float) -> AsyncGenerator[str, None]:
    # Subscribing here, not in the endpoint, ties the subscription's life to the generator's
    # try/finally: a client that leaves before the first byte leaves no subscription behind.
    sub = hub.subscribe(devices)
    seq = 0
    reported_drops = 0
    try:
        yield "retry: 3000\n: connected\n\n"
        while True:
            try:
                async with asyncio.timeout(heartbeat):
                    event = await sub.queue.get()
            except TimeoutError:
                yield ": ping\n\n"
                continue
            if event is None:
                return
            if sub.dropped != reported_drops:
                seq += 1
                yield f"id: {seq}\nevent: overflow\ndata: {json.dumps({'dropped': sub.dropped - reported_drops})}\n\n"
                reported_drops = sub.dropped
            seq += 1
            yield format_event(event, seq)
    finally:
        hub.unsubscribe(sub)


router = APIRouter(tags=["events"])


@router.get(
    "/api/v1/events",
    summary="Live device events (Server-Sent Events)",
    description=(
        "A `text/event-stream` of `state`, `online` and `offline` events, each with a JSON `data` line "
        "(`device_id`, `kind`, `dps`, `values`, `route`, `at`). Filter with one or more `device` parameters "
        "(id or name). `: ping` comments keep the stream alive; an `overflow` event says events were dropped "
        "because the client read too slowly."
    ),
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
    openapi_extra=SECURED,
)
async def events(
    request: Request,
    device: Annotated[list[str] | None, Query(description="device id or name; repeat for several")] = None,
) -> StreamingResponse:
    authorize(request, "read")
    gw = request.app.state.gateway
    devices = frozenset(gw.manager.get(d).info.id for d in device) if device else None
    gw.hub.check_capacity()
    return StreamingResponse(
        _stream(gw.hub, devices, gw.settings.sse_heartbeat),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
