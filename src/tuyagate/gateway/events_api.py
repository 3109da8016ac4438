"""Live events as Server-Sent Events: ``GET /api/v1/events[?device=ID]``.

Each client's stream is a subscription to the home's one event bus, with its own bounded queue: a
device push reaches the client through that one queue, read by the client's own response task (no
pump in between). A slow reader only loses its own oldest events, and is told with a ``lost`` event
(``{"dropped": n}``) so it can re-read the status; it never slows the devices or the other clients.
Comments (``: ping``) are sent when nothing happened for a while, so proxies keep the connection open
and dead clients are noticed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import StreamingResponse

from tuyagate.bus import Subscription
from tuyagate.device_api import DeviceEvent, DeviceManager
from tuyagate.gateway.errors import ApiError
from tuyagate.gateway.guard import SECURED, authorize
from tuyagate.gateway.metrics import Metrics

__all__ = ["EventStreams", "format_event", "router"]

log = logging.getLogger(__name__)


class EventStreams:
    """The open SSE streams: how many may open, and ending them all on shutdown."""

    def __init__(self, manager: DeviceManager, metrics: Metrics, *, queue_size: int, max_clients: int) -> None:
        self.manager = manager
        self.metrics = metrics
        self.queue_size = queue_size
        self.max_clients = max_clients
        self._subs: set[Subscription[DeviceEvent]] = set()
        self._closing = False

    @property
    def clients(self) -> int:
        return len(self._subs)

    def check_capacity(self) -> None:
        """Raise before a stream is accepted when no new one may open."""
        if self._closing:
            raise ApiError(503, "unavailable", "the gateway is shutting down")
        if len(self._subs) >= self.max_clients:
            raise ApiError(503, "too_many_streams", f"at most {self.max_clients} event streams may be open")

    def open(self, devices: frozenset[str] | None) -> Subscription[DeviceEvent]:
        self.check_capacity()
        sub = self.manager.events(devices=devices, maxsize=self.queue_size)
        self._subs.add(sub)
        return sub

    def close(self, sub: Subscription[DeviceEvent]) -> None:
        sub.close()
        self._subs.discard(sub)

    def close_streams(self) -> None:
        """End every open stream (called first on shutdown so the server can drain its connections)."""
        self._closing = True
        for sub in tuple(self._subs):
            sub.close()


def format_event(event: DeviceEvent, seq: int) -> str:
    """One SSE message; ``id`` counts the client's messages, so a gap can never go unseen."""
    if event.kind == "lost":
        data: dict[str, object] = {"dropped": event.dropped}
    else:
        data = {
            "device_id": event.device_id,
            "kind": event.kind,
            "dps": event.dps,
            "values": event.values,
            "route": event.route,
            "at": event.at,
        }
    return f"id: {seq}\nevent: {event.kind}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


async def _stream(streams: EventStreams, devices: frozenset[str] | None, heartbeat: float) -> AsyncGenerator[str, None]:
    # Subscribing here, not in the endpoint, ties the subscription's life to the generator's
    # try/finally: a client that leaves before the first byte leaves no subscription behind.
    sub = streams.open(devices)
    seq = 0
    try:
        yield "retry: 3000\n: connected\n\n"
        while True:
            try:
                event = await sub.get(timeout=heartbeat)
            except TimeoutError:
                yield ": ping\n\n"
                continue
            except StopAsyncIteration:
                return
            if event.kind == "lost":
                streams.metrics.sse_dropped += event.dropped
            seq += 1
            yield format_event(event, seq)
    finally:
        streams.close(sub)


router = APIRouter(tags=["events"])


@router.get(
    "/api/v1/events",
    summary="Live device events (Server-Sent Events)",
    description=(
        "A `text/event-stream` of `state`, `online` and `offline` events, each with a JSON `data` line "
        "(`device_id`, `kind`, `dps`, `values`, `route`, `at`), and `added` and `removed` when the gateway starts "
        "or stops serving a device (a sync, a reload; a rebuilt device is removed and added under its id: "
        "re-read the device list). Filter with one or more `device` parameters "
        '(id or name). `: ping` comments keep the stream alive; a `lost` event (`{"dropped": n}`) says that '
        "many events were dropped because the client read too slowly: re-read the status."
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
    devices = frozenset(gw.manager.device(d).info.id for d in device) if device else None
    gw.streams.check_capacity()
    return StreamingResponse(
        _stream(gw.streams, devices, gw.settings.sse_heartbeat),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
