"""The whole home at once, a DP's history and a device's recent events: what the dashboard reads.

``GET /api/v1/home`` answers every device with its routes, DP schema and last known state in one
request (the dashboard's first load; a home of 200 devices would otherwise take 400 requests).
Nothing here asks a device: states are the ones kept fresh by the devices' pushes.
"""

from __future__ import annotations

import math
import time

from starlette.requests import Request

from tuyagate.gateway.endpoints import Endpoints, invalid, query
from tuyagate.gateway.endpoints import path_param as path
from tuyagate.gateway.home_models import GatewayInfo, HistoryOut, HomeOut, RecentEventsOut, event_out, home_out
from tuyagate.gateway.state import GatewayState

__all__ = ["router"]

DEVICE = path("device_id", "device id or name", max_length=128)
CODE = query("code", "the DP code (e.g. cur_power)", max_length=64)
SINCE = query("since", "unix time of the first point, or a negative number of seconds before now (default: -86400)")
LIMIT = query("limit", "at most this many points (2..10000, default 2000): longer spans are averaged")
MAX_LIMIT = 10_000

router = Endpoints(tags=("dashboard",))


def _number(name: str, text: str | None, default: float) -> float:
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise invalid("query", name, "Input should be a number", text) from None
    if not math.isfinite(value):
        raise invalid("query", name, "Input should be a finite number", text)
    return value


@router.get(
    "/api/v1/home",
    summary="Every device with its routes, DP schema and last known state, in one answer",
    response=HomeOut,
    scope="read",
)
async def get_home(gw: GatewayState, request: Request) -> HomeOut:
    history = gw.recorder.history if gw.recorder is not None else None
    gateway: GatewayInfo = {
        "version": str(request.app.version),
        "history": history is not None,
        "cloud_compat": gw.settings.cloud_compat_enabled,
        "cloud_sync": gw.actions.cloud_sync_available() if gw.actions is not None else False,
    }
    codes = history.codes() if history is not None else {}
    return home_out(gw.manager.devices(), gateway, codes, gw.schema_cache)


@router.get(
    "/api/v1/devices/{device_id}/history",
    summary="The history of one numeric DP: [time, value] points, one per change, coalesced",
    description=(
        "The gateway keeps a point per change of each numeric DP (at most one per `history_resolution` "
        "seconds, for `history_days` days, `history_max_points` in all) in its database."
    ),
    params=(DEVICE, CODE, SINCE, LIMIT),
    response=HistoryOut,
    errors={404: "unknown device", 422: "missing code, or since/limit not numbers"},
    scope="read",
)
async def get_history(
    gw: GatewayState, request: Request, device_id: str, code: str | None, since: str | None, limit: str | None
) -> HistoryOut:
    device = gw.manager.device(device_id)
    if not code:
        raise invalid("query", "code", "Field required")
    start = _number("since", since, -86400.0)
    if start < 0:
        start = time.time() + start
    count = int(_number("limit", limit, 2000))
    if not 2 <= count <= MAX_LIMIT:
        raise invalid("query", "limit", f"Input should be between 2 and {MAX_LIMIT}", limit)
    history = gw.recorder.history if gw.recorder is not None else None
    points = history.points(device.info.id, code, since=start, limit=count) if history is not None else []
    return {"device_id": device.info.id, "code": code, "since": start, "points": [[p.at, p.value] for p in points]}


@router.get(
    "/api/v1/devices/{device_id}/recent-events",
    summary="The device's last events (state, online, offline) since the gateway started, oldest first",
    params=(DEVICE,),
    response=RecentEventsOut,
    errors={404: "unknown device"},
    scope="read",
)
async def get_recent_events(gw: GatewayState, request: Request, device_id: str) -> RecentEventsOut:
    device = gw.manager.device(device_id)
    events = gw.recorder.recent.of(device.info.id) if gw.recorder is not None else []
    return {"device_id": device.info.id, "events": [event_out(e) for e in events]}
