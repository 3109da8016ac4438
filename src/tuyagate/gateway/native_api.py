"""The native REST API: ``/api/v1/devices...``, ``/``, ``/healthz`` and ``/metrics``.

Reads never change anything (unlike gateways that switch devices on GET); commands are POSTs
validated twice, once for shape here (the ``CommandsIn`` model, 422 ``invalid_request``) and once
for values against the DP schema by the device (422 ``invalid_value`` with the allowed range, or
``unknown_dp`` with the known codes). Every device call goes through
:class:`~tuyagate.gateway.state.GatewayState`, which puts a deadline on it. Each endpoint is one
function and its declaration (:mod:`tuyagate.gateway.endpoints`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from tuyagate.errors import NotFoundError, ValidationError
from tuyagate.gateway.discovered import DiscoveredList, discovered_out
from tuyagate.gateway.endpoints import Endpoints, query
from tuyagate.gateway.endpoints import path_param as path
from tuyagate.gateway.models import (
    CommandOut,
    CommandsIn,
    DeviceDetail,
    DeviceList,
    HealthOut,
    IndexOut,
    StatusOut,
    command_out,
    device_detail,
    device_summary,
    status_out,
)
from tuyagate.gateway.state import GatewayState
from tuyagate.gateway.web_ui import page, wants_html

__all__ = ["router"]

MAX_ID = 128
DEVICE = path("device_id", "device id or name", max_length=MAX_ID)
REFRESH = query("refresh", "ask the device instead of answering from a fresh cache", kind=bool, default=False)
DEVICE_ERRORS = {
    404: "unknown device",
    409: "a battery-powered device is asleep (`device_asleep`): it takes commands only while awake",
    422: "malformed request, unknown DP (`unknown_dp`) or value outside the DP schema (`invalid_value`)",
    502: "the device or cloud answered with an error, refused our credentials, or was unreachable",
    504: "the device did not answer before the deadline",
}

router = Endpoints(tags=("devices",))


@router.get("/api/v1/devices", summary="List devices", response=DeviceList, scope="read")
async def list_devices(gw: GatewayState, request: Request) -> DeviceList:
    return {"devices": [device_summary(d) for d in gw.manager.devices()]}


@router.get(
    "/api/v1/devices/{device_id}",
    summary="One device: routes and their health, online, version, DP schema (never a key)",
    params=(DEVICE,),
    response=DeviceDetail,
    errors={404: DEVICE_ERRORS[404], 422: "malformed device id"},
    scope="read",
)
async def get_device(gw: GatewayState, request: Request, device_id: str) -> DeviceDetail:
    return device_detail(gw.manager.device(device_id))


@router.get(
    "/api/v1/devices/{device_id}/status",
    summary="Current values by code and by DP id",
    description=(
        "Answered from the state kept fresh by the device's pushes unless `refresh=true`, which asks "
        "the device. `route` says what served the values (`cache`, `lan`, `cloud`, ...). A battery-powered "
        "device asleep is answered from its last wake-up, with `asleep`, `age`, `stale_after` and `battery`."
    ),
    params=(DEVICE, REFRESH),
    response=StatusOut,
    errors=DEVICE_ERRORS,
    scope="read",
)
async def get_status(gw: GatewayState, request: Request, device_id: str, refresh: bool) -> StatusOut:
    return status_out(await gw.read(gw.manager.device(device_id), refresh=refresh))


@router.post(
    "/api/v1/devices/{device_id}/commands",
    summary="Set values by code (Tuya cloud shape) or by DP id",
    params=(DEVICE,),
    body=CommandsIn,
    response=CommandOut,
    errors=DEVICE_ERRORS,
    scope="control",
)
async def post_commands(gw: GatewayState, request: Request, device_id: str, body: CommandsIn) -> CommandOut:
    device = gw.manager.device(device_id)
    try:
        result = await gw.command(device, body.values())
    except NotFoundError as exc:
        # The device exists (unknown DPs are UnknownDpError): a backend that found no entity for a
        # value refused a value of the body, it is no missing resource.
        raise ValidationError(str(exc)) from None
    return command_out(result)


@router.get(
    "/api/v1/discovered",
    summary="Devices heard on the LAN that have no local key here (not controllable)",
    description=(
        "Every device that announces itself (UDP 6666/6667) and is not a LAN device of this gateway, "
        "with its address, version and a `hint`: sync from the cloud or add the key."
    ),
    response=DiscoveredList,
    scope="read",
)
async def list_discovered(gw: GatewayState, request: Request) -> DiscoveredList:
    return discovered_out(gw.manager)


@router.get(
    "/",
    summary="Where things are (no token needed); browsers (Accept: text/html) get the dashboard",
    tags=("gateway",),
    response=IndexOut,
)
async def index(gw: GatewayState, request: Request) -> IndexOut | Response:
    if wants_html(request):
        return page(request)
    return {
        "name": "tuyagate",
        "version": request.app.version,
        "api": "/api/v1/devices",
        "events": "/api/v1/events",
        "docs": "/docs",
        "dashboard": "/dashboard",
        "openapi": "/openapi.json",
        "metrics": "/metrics",
    }


@router.get("/healthz", summary="Liveness: the gateway answers", tags=("gateway",), response=HealthOut)
async def healthz(gw: GatewayState, request: Request) -> HealthOut:
    devices = gw.manager.devices()
    return {"status": "ok", "devices": len(devices), "online": sum(1 for d in devices if d.online)}


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    tags=("gateway",),
    response=str,
    media_type="text/plain; version=0.0.4; charset=utf-8",
    scope="read",
)
async def metrics(gw: GatewayState, request: Request) -> str:
    devices = gw.manager.devices()
    return gw.metrics.render(
        devices_total=len(devices), devices_online=sum(1 for d in devices if d.online), sse_clients=gw.streams.clients
    )
