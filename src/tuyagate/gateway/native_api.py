"""The native REST API: ``/api/v1/devices...``, ``/healthz`` and ``/metrics``.

Reads never change anything (unlike gateways that switch devices on GET); commands are POSTs
validated twice, once for shape here (pydantic, 422 ``invalid_request``) and once for values against
the DP schema by the device (422 ``invalid_value`` with the allowed range). Every device call goes
through :class:`~tuyagate.gateway.state.GatewayState`, which puts a deadline on it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError as PydanticValidationError
from starlette.responses import JSONResponse, PlainTextResponse, Response

from tuyagate.errors import NotFoundError, ValidationError
from tuyagate.gateway.fastpath import RawRoute, parse_bool, path_param, raw
from tuyagate.gateway.guard import SECURED, authorize
from tuyagate.gateway.models import (
    CommandOut,
    CommandsIn,
    DeviceDetail,
    DeviceList,
    ErrorOut,
    StatusOut,
    device_detail,
    device_summary,
    status_out,
)
from tuyagate.gateway.state import GatewayState

__all__ = ["router"]

MAX_ID = 128
DeviceId = Annotated[str, Path(min_length=1, max_length=MAX_ID, description="device id or name")]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "missing or unknown API token"},
    404: {"model": ErrorOut, "description": "unknown device"},
    422: {"model": ErrorOut, "description": "malformed request or value outside the DP schema"},
    502: {"model": ErrorOut, "description": "the device or cloud answered with an error or was unreachable"},
    504: {"model": ErrorOut, "description": "the device did not answer before the deadline"},
}

router = APIRouter(route_class=RawRoute)


def _gw(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


# The four device endpoints are hot: their raw handlers below serve the requests (see fastpath.py);
# the decorated functions document them in /openapi.json and behave the same when called.


async def _list_devices(request: Request) -> Response:
    authorize(request, "read")
    devices = _gw(request).manager.list()
    return JSONResponse({"devices": [device_summary(d) for d in devices]})


async def _get_device(request: Request) -> Response:
    authorize(request, "read")
    device_id = path_param(request, "device_id", MAX_ID)
    return JSONResponse(device_detail(_gw(request).manager.get(device_id)))


async def _get_status(request: Request) -> Response:
    authorize(request, "read")
    device_id = path_param(request, "device_id", MAX_ID)
    refresh = parse_bool(request, "refresh")
    gw = _gw(request)
    state = await gw.read(gw.manager.get(device_id), refresh=refresh)
    return JSONResponse(status_out(state))


async def _post_commands(request: Request) -> Response:
    authorize(request, "control")
    device_id = path_param(request, "device_id", MAX_ID)
    try:
        body = CommandsIn.model_validate_json(await request.body())
    except PydanticValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    gw = _gw(request)
    device = gw.manager.get(device_id)
    try:
        result = await gw.command(device, body.values())
    except NotFoundError as exc:
        # The device exists; an unknown code or DP id is a bad value in the body.
        raise ValidationError(str(exc)) from None
    answer = {"device_id": result.device_id, "success": True, "dps": result.dps, "route": result.route}
    answer["fallback"] = result.fallback
    answer["validated"] = result.validated
    return JSONResponse(answer)


@router.get(
    "/api/v1/devices",
    response_model=DeviceList,
    tags=["devices"],
    summary="List devices",
    responses={401: _ERRORS[401]},
    openapi_extra=SECURED,
)
@raw(_list_devices)
async def list_devices(request: Request) -> Response:
    return await _list_devices(request)


@router.get(
    "/api/v1/devices/{device_id}",
    response_model=DeviceDetail,
    tags=["devices"],
    summary="One device: routes and their health, online, version, DP schema (never a key)",
    responses={k: _ERRORS[k] for k in (401, 404)},
    openapi_extra=SECURED,
)
@raw(_get_device)
async def get_device(request: Request, device_id: DeviceId) -> Response:
    return await _get_device(request)


@router.get(
    "/api/v1/devices/{device_id}/status",
    response_model=StatusOut,
    tags=["devices"],
    summary="Current values by code and by DP id",
    description=(
        "Answered from the state kept fresh by the device's pushes unless `refresh=true`, which asks "
        "the device. `route` says what served the values (`cache`, `lan`, `cloud`, ...)."
    ),
    responses=_ERRORS,
    openapi_extra=SECURED,
)
@raw(_get_status)
async def get_status(
    request: Request,
    device_id: DeviceId,
    refresh: Annotated[bool, Query(description="ask the device instead of answering from a fresh cache")] = False,
) -> Response:
    return await _get_status(request)


@router.post(
    "/api/v1/devices/{device_id}/commands",
    response_model=CommandOut,
    tags=["devices"],
    summary="Set values by code (Tuya cloud shape) or by DP id",
    responses={**_ERRORS, 403: {"model": ErrorOut, "description": "the API token has only the read scope"}},
    openapi_extra=SECURED,
)
@raw(_post_commands)
async def post_commands(request: Request, device_id: DeviceId, body: CommandsIn) -> Response:
    return await _post_commands(request)


@router.get("/", tags=["gateway"], summary="Where things are (no token needed)")
async def index(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "name": "tuyagate",
            "version": request.app.version,
            "api": "/api/v1/devices",
            "events": "/api/v1/events",
            "docs": "/docs",
            "openapi": "/openapi.json",
            "metrics": "/metrics",
        }
    )


@router.get("/healthz", tags=["gateway"], summary="Liveness: the gateway answers")
async def healthz(request: Request) -> JSONResponse:
    gw = _gw(request)
    devices = gw.manager.list()
    online = sum(1 for d in devices if d.online)
    return JSONResponse({"status": "ok", "devices": len(devices), "online": online})


@router.get(
    "/metrics",
    tags=["gateway"],
    summary="Prometheus metrics (text exposition format)",
    response_class=PlainTextResponse,
    openapi_extra=SECURED,
)
async def metrics(request: Request) -> PlainTextResponse:
    authorize(request, "read")
    gw = _gw(request)
    devices = gw.manager.list()
    text = gw.metrics.render(
        devices_total=len(devices), devices_online=sum(1 for d in devices if d.online), sse_clients=gw.streams.clients
    )
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")
