"""Tuya-cloud-compatible API: the Tuya OpenAPI paths, headers, signing and envelope, answered locally.

Code written for the Tuya cloud (an official SDK, tinytuya's ``Cloud``) works against the gateway by
changing only its base URL and credentials; the command then reaches the device over the LAN.
Requests are verified with the same signing functions the cloud client uses
(:mod:`tuyagate.cloud.signing`), both the current and the old scheme. Values are the cloud's: raw
wire values keyed by code, so a client sees exactly what the real cloud would have returned.
Errors are ``success: false`` envelopes with the cloud's integer codes, answered as HTTP 200 like
the cloud does. The endpoints are declared like the native ones (:mod:`tuyagate.gateway.endpoints`);
their bodies reach the handler unparsed, because the signature covers the raw bytes and is checked
before anything else.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel, Field, field_validator
from pydantic import ValidationError as PydanticValidationError
from starlette.requests import Request

from tuyagate.cloud.signing import SignScheme, is_token_path, signed_header_pairs, verify_sign
from tuyagate.deadline import Deadline
from tuyagate.device_api import Device
from tuyagate.errors import NotFoundError, TuyaError
from tuyagate.gateway import cloud_envelope as env
from tuyagate.gateway.cloud_envelope import CloudCompatError, Envelope
from tuyagate.gateway.cloud_tokens import CloudTokens
from tuyagate.gateway.endpoints import Endpoints, path_param, query, request_body
from tuyagate.gateway.guard import client_ip
from tuyagate.gateway.state import GatewayState

__all__ = ["CloudCommandsIn", "router"]

log = logging.getLogger(__name__)

MAX_CLOCK_SKEW_MS = 5 * 60 * 1000
_SCHEMES = (SignScheme.CURRENT, SignScheme.OLD)
MAX_ID = 128
DEVICE = path_param("device_id", "the device id", max_length=MAX_ID)
DEVICE_IDS = query("device_ids", "device ids separated by commas (all devices when empty)", default="", max_length=4096)


class CloudCommand(BaseModel):
    code: str = Field(examples=["switch_1"])
    value: Any = Field(examples=[True])


class CloudCommandsIn(BaseModel):
    """A cloud command body; the list may also come as a JSON string, as some Tuya docs send it."""

    commands: list[CloudCommand] = Field(min_length=1)

    @field_validator("commands", mode="before")
    @classmethod
    def _decoded(cls, value: Any) -> Any:
        try:
            return json.loads(value) if isinstance(value, str) else value
        except RecursionError:  # pydantic reports a ValueError as a validation error; this it would not catch
            raise ValueError("commands are nested too deep") from None


router = Endpoints(tags=("tuya-cloud-compatible",))


async def _verify(request: Request, gw: GatewayState) -> bytes:
    """Check client id, timestamp, signature and (except for token APIs) the access token."""
    settings = gw.settings
    if not settings.cloud_compat_enabled or gw.cloud_tokens is None:
        raise CloudCompatError(env.CODE_CLIENT_ID_INVALID, "the Tuya-cloud-compatible API is not configured")
    client = client_ip(request)
    if gw.guard.throttle.retry_after(client) > 0:
        raise CloudCompatError(env.CODE_TOO_FREQUENT)
    headers = request.headers
    body = await request_body(request)
    if headers.get("client_id", "") != settings.cloud_client_id:
        gw.guard.throttle.failed(client)
        raise CloudCompatError(env.CODE_CLIENT_ID_INVALID)
    t = headers.get("t", "")
    if not t.isdigit() or abs(int(t) - time.time() * 1000) > MAX_CLOCK_SKEW_MS:
        raise CloudCompatError(env.CODE_TIME_INVALID)
    token_api = is_token_path(request.url.path)
    access_token = "" if token_api else headers.get("access_token", "")
    scheme = verify_sign(
        headers.get("sign", ""),
        client_id=settings.cloud_client_id,
        secret=settings.cloud_client_secret,
        t=t,
        access_token=access_token,
        nonce=headers.get("nonce", ""),
        method=request.method,
        path=request.url.path,
        query=parse_qsl(request.url.query, keep_blank_values=True),
        body=body,
        signed_headers=signed_header_pairs(dict(headers)),
        schemes=_SCHEMES,
    )
    if scheme is None:
        gw.guard.throttle.failed(client)
        gw.metrics.auth_failures += 1
        raise CloudCompatError(env.CODE_SIGN_INVALID)
    if not token_api and not gw.cloud_tokens.valid(access_token):
        raise CloudCompatError(env.CODE_TOKEN_INVALID)
    return body


def _tokens(gw: GatewayState) -> CloudTokens:
    assert gw.cloud_tokens is not None  # _verify refused the request otherwise
    return gw.cloud_tokens


def _device(gw: GatewayState, device_id: str) -> Device:
    try:
        return gw.manager.device(device_id)
    except NotFoundError:
        # What the real cloud answers for a device that is not linked to the project.
        raise CloudCompatError(env.CODE_PERMISSION_DENY) from None


def _values_json(values: Any) -> str:
    return values if isinstance(values, str) else json.dumps(values or {}, separators=(",", ":"))


def _code_status(device: Device, dps: dict[str, Any]) -> list[dict[str, Any]]:
    """Raw values keyed by code, in schema order, as the cloud's status list."""
    out = []
    for entry in device.schema_dict():
        dp = str(entry.get("dp_id"))
        if dp in dps and entry.get("code"):
            out.append({"code": entry["code"], "value": dps[dp]})
    return out


async def _status(gw: GatewayState, device: Device, deadline: Deadline | None = None) -> list[dict[str, Any]]:
    state = await gw.read(device, refresh=False, deadline=deadline)
    return _code_status(device, state.dps)


def _functions(device: Device, *, writable: bool, with_dp: bool = False) -> list[dict[str, Any]]:
    out = []
    for entry in device.schema_dict():
        mode = str(entry.get("mode", "rw"))
        if writable and "w" not in mode:
            continue
        if not writable and "r" not in mode:
            continue
        item: dict[str, Any] = {
            "code": entry.get("code", ""),
            "type": entry.get("type", ""),
            "values": _values_json(entry.get("values")),
            "name": entry.get("name", entry.get("code", "")),
            "desc": entry.get("desc", ""),
        }
        if with_dp:
            item["dp_id"] = entry.get("dp_id")
        out.append(item)
    return out


def _parse_commands(body: bytes, device: Device) -> dict[str, Any]:
    """User values by code from a command body; the codes must be the device's (else 2008, as the cloud).

    The cloud's values are its own form: integers in raw units (``temp_set`` 215 is 21.5 degrees with
    scale 1), colours as objects. They are read back to user values here, so the device validates
    and converts them once like any other command.
    """
    try:
        commands = CloudCommandsIn.model_validate_json(body or b"null").commands
    except PydanticValidationError:
        raise CloudCompatError(env.CODE_PARAM_ILLEGAL, "param is illegal, please check it: commands") from None
    schema = device.schema
    values: dict[str, Any] = {}
    for item in commands:
        dp = schema.get(item.code)
        if dp is None or dp.code != item.code:
            raise CloudCompatError(env.CODE_COMMAND_NOT_SUPPORTED)
        values[dp.code] = dp.from_wire(item.value)
    return values


def _device_object(device: Device, status: list[dict[str, Any]]) -> dict[str, Any]:
    info = device.info
    now = int(time.time())
    return {
        "id": info.id,
        "name": info.name,
        "uid": "tuyagate",
        "online": device.online,
        "category": info.category,
        "product_name": info.product_name,
        "product_id": "",
        "ip": info.ip or "",
        "sub": info.parent_id is not None,
        "time_zone": "+00:00",
        "active_time": now,
        "create_time": now,
        "update_time": now,
        "status": status,
    }


Work = Callable[[bytes], Awaitable[Any]]


async def _answer(gw: GatewayState, request: Request, work: Work) -> Envelope:
    """Run ``work(body)`` after verification; every failure becomes a Tuya envelope."""
    try:
        body = await _verify(request, gw)
        return env.success(await work(body))
    except CloudCompatError as exc:
        return env.failure(exc.code, exc.msg)
    except TuyaError as exc:
        log.info("cloud-compatible %s %s failed: %s", request.method, request.url.path, exc)
        return env.failure_for(exc)


@router.get(
    "/v1.0/token",
    summary="Get a token (grant_type=1)",
    params=(query("grant_type", "1: a token for the project", default="", max_length=8),),
    response=Envelope,
)
async def get_token(gw: GatewayState, request: Request, grant_type: str) -> Envelope:
    async def work(body: bytes) -> Any:
        if grant_type != "1":
            raise CloudCompatError(env.CODE_GRANT_TYPE_INVALID)
        return _tokens(gw).issue().result()

    return await _answer(gw, request, work)


@router.get(
    "/v1.0/token/{refresh_token}",
    summary="Refresh a token",
    params=(path_param("refresh_token", "the refresh token of an earlier answer", max_length=MAX_ID),),
    response=Envelope,
)
async def refresh_token(gw: GatewayState, request: Request, refresh_token: str) -> Envelope:
    async def work(body: bytes) -> Any:
        token = _tokens(gw).refresh(refresh_token)
        if token is None:
            raise CloudCompatError(env.CODE_TOKEN_INVALID)
        return token.result()

    return await _answer(gw, request, work)


MAX_BATCH = 20  # the cloud's limit for batch status


def _selected(gw: GatewayState, device_ids: str) -> list[Device]:
    """The devices named in ``device_ids=a,b`` (all when empty); unknown ids are a permission error."""
    ids = [i for i in device_ids.split(",") if i]
    if not ids:
        return gw.manager.devices()
    if len(ids) > MAX_BATCH:
        raise CloudCompatError(env.CODE_PARAM_ILLEGAL, f"at most {MAX_BATCH} device_ids per call")
    return [_device(gw, i) for i in ids]


# Declared before the /{device_id} routes, which would otherwise take "status" for a device id.
@router.get("/v1.0/iot-03/devices/status", summary="Status of several devices", params=(DEVICE_IDS,), response=Envelope)
async def batch_status(gw: GatewayState, request: Request, device_ids: str) -> Envelope:
    async def work(body: bytes) -> Any:
        devices = _selected(gw, device_ids)[:MAX_BATCH]
        deadline = gw.deadline()  # one for the whole batch
        return [{"id": d.info.id, "status": await _status(gw, d, deadline)} for d in devices]

    return await _answer(gw, request, work)


@router.get("/v1.0/devices", summary="Devices (device_ids=a,b, or all)", params=(DEVICE_IDS,), response=Envelope)
@router.get("/v1.0/iot-03/devices", summary="Devices (device_ids=a,b, or all)", params=(DEVICE_IDS,), response=Envelope)
async def device_list(gw: GatewayState, request: Request, device_ids: str) -> Envelope:
    async def work(body: bytes) -> Any:
        objects = []
        for device in _selected(gw, device_ids):
            state = device.cached_state()
            objects.append(_device_object(device, _code_status(device, state.dps) if state else []))
        key = "list" if "/iot-03/" in request.url.path else "devices"
        return {key: objects, "has_more": False, "last_row_key": "", "total": len(objects)}

    return await _answer(gw, request, work)


@router.get("/v1.0/devices/{device_id}", summary="Device details (no local key)", params=(DEVICE,), response=Envelope)
@router.get(
    "/v1.0/iot-03/devices/{device_id}", summary="Device details (no local key)", params=(DEVICE,), response=Envelope
)
async def device_details(gw: GatewayState, request: Request, device_id: str) -> Envelope:
    async def work(body: bytes) -> Any:
        device = _device(gw, device_id)
        state = device.cached_state()
        return _device_object(device, _code_status(device, state.dps) if state else [])

    return await _answer(gw, request, work)


@router.get("/v1.0/devices/{device_id}/status", summary="Device status", params=(DEVICE,), response=Envelope)
@router.get("/v1.0/iot-03/devices/{device_id}/status", summary="Device status", params=(DEVICE,), response=Envelope)
async def device_status(gw: GatewayState, request: Request, device_id: str) -> Envelope:
    async def work(body: bytes) -> Any:
        return await _status(gw, _device(gw, device_id))

    return await _answer(gw, request, work)


_COMMANDS: dict[str, Any] = {
    "summary": "Send commands",
    "params": (DEVICE,),
    "body": CloudCommandsIn,
    "validate_body": False,  # the signature is checked over the raw bytes first
    "response": Envelope,
}


@router.post("/v1.0/devices/{device_id}/commands", **_COMMANDS)
@router.post("/v1.0/iot-03/devices/{device_id}/commands", **_COMMANDS)
async def device_commands(gw: GatewayState, request: Request, device_id: str, body: bytes) -> Envelope:
    async def work(verified: bytes) -> Any:
        device = _device(gw, device_id)
        await gw.command(device, _parse_commands(verified, device))
        return True

    return await _answer(gw, request, work)


@router.get("/v1.0/devices/{device_id}/functions", summary="Writable functions", params=(DEVICE,), response=Envelope)
@router.get(
    "/v1.0/iot-03/devices/{device_id}/functions", summary="Writable functions", params=(DEVICE,), response=Envelope
)
async def device_functions(gw: GatewayState, request: Request, device_id: str) -> Envelope:
    async def work(body: bytes) -> Any:
        device = _device(gw, device_id)
        return {"category": device.info.category, "functions": _functions(device, writable=True)}

    return await _answer(gw, request, work)


@router.get(
    "/v1.0/iot-03/devices/{device_id}/specification",
    summary="Functions and status set",
    params=(DEVICE,),
    response=Envelope,
)
async def device_specification(gw: GatewayState, request: Request, device_id: str) -> Envelope:
    async def work(body: bytes) -> Any:
        device = _device(gw, device_id)
        return {
            "category": device.info.category,
            "functions": _functions(device, writable=True),
            "status": _functions(device, writable=False),
        }

    return await _answer(gw, request, work)


@router.get(
    "/v1.1/devices/{device_id}/specifications",
    summary="Specifications with DP ids",
    params=(DEVICE,),
    response=Envelope,
)
async def device_specifications(gw: GatewayState, request: Request, device_id: str) -> Envelope:
    async def work(body: bytes) -> Any:
        device = _device(gw, device_id)
        return {
            "category": device.info.category,
            "functions": _functions(device, writable=True, with_dp=True),
            "status": _functions(device, writable=False, with_dp=True),
        }

    return await _answer(gw, request, work)
