"""The Tuya OpenAPI emulator as a Starlette app (``create_cloud_app``).

Every OpenAPI route goes through the same steps: injected latency and HTTP errors, then
authentication (:mod:`cloud_auth`), QPS and quota, injected error codes, then the handler.
Answers use the cloud's envelope (``success``, ``result`` or ``code``/``msg``, ``t``, ``tid``)
with HTTP 200, errors included, as the real cloud does.

Routes: the token APIs, device lists (``/v1.0/users/{uid}/devices``,
``/v1.0/iot-01/associated-users/devices``, ``/v1.3/iot-03/devices``, ``/v1.0/iot-03/devices``,
``/v1.0/devices``), details, status (single and batch), commands, functions, specification(s),
shadow properties, factory infos, logs and sub-devices: the paths tinytuya's ``Cloud``,
tuya-connector-python and tuyagate's client use. Unknown paths answer 1108. The Smart Life app API
(QR login, homes, devices, specifications, local strategy, commands) is served beside it by
:mod:`tuyagate.sim.app_api`.

Emulator control (no signature): ``GET /_sim/stats``, ``GET|POST /_sim/faults`` with a JSON body
such as ``{"expire_tokens": true}``, ``{"http_errors": 2, "http_status": 503}``,
``{"code_errors": 3, "error_code": 1199}``, ``{"latency": 0.5}``, ``{"clock_offset": 600}``,
``{"revoke_app_logins": true}`` (every Smart Life app login ends, as when the user removes them in the
app) or ``{"reset": true}``; the message service's ``{"pulsar_drop": true}``, ``{"pulsar_duplicate": 2}``,
``{"pulsar_ignore_acks": 1}``, ``{"pulsar_bad_payload": 1}``; the app MQ's ``{"mq_drop": true}``,
``{"mq_duplicate": 2}``, ``{"mq_bad_payload": 1}`` (:mod:`tuyagate.sim.app_mq`).
``POST /_sim/app-login/approve`` approves pending QR logins.
``POST /_sim/devices/{id}`` changes a device as if it did so itself
(``{"dps": {...}}``, ``{"online": false}``, ``{"name": "..."}``); ``POST /_sim/devices`` pairs a
new device into the account and ``DELETE /_sim/devices/{id}`` removes one (:mod:`account_controls`).

The message service (Pulsar over a websocket, :mod:`cloud_pulsar`) is served at
``/ws/v2/consumer/persistent/{access_id}/out/event/{access_id}-sub``; every command and every
``/_sim/devices`` change publishes an event on it, and on the app MQ's broker when one is configured.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from tuyagate.errors import TuyaError
from tuyagate.sim.account_controls import account_routes
from tuyagate.sim.app_api import app_routes
from tuyagate.sim.cloud_auth import Caller, authenticate
from tuyagate.sim.cloud_devices import CloudDeviceBackend, CloudFleet, CommandRefused
from tuyagate.sim.cloud_pulsar import PULSAR_PATH, pulsar_endpoint
from tuyagate.sim.cloud_state import ApiError, CloudConfig, CloudState
from tuyagate.sim.manifest import FleetManifest, ManifestDevice

__all__ = ["create_cloud_app"]

ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
STATUS_BATCH = 20
FACTORY_BATCH = 50


@dataclass(slots=True)
class Call:
    """One authenticated OpenAPI call, as handlers see it."""

    state: CloudState
    params: dict[str, str]
    query: dict[str, str]
    body: bytes
    caller: Caller

    @property
    def fleet(self) -> CloudFleet:
        return self.state.fleet

    def device(self, key: str = "device_id") -> ManifestDevice:
        """The device named in the path; 1106 when the project cannot see it (as the cloud says)."""
        device = self.fleet.get(self.params[key])
        if device is None:
            raise ApiError(1106, "permission deny")
        return device

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"{}")
        except ValueError as exc:
            raise ApiError(1109, "param is illegal, please check it") from exc

    def int_param(self, name: str, default: int, high: int) -> int:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        if not raw.isdigit() or not 1 <= int(raw) <= high:
            raise ApiError(1101, "params range invalid")
        return int(raw)

    def id_list(self, name: str = "device_ids") -> list[str]:
        return [i for i in self.query.get(name, "").split(",") if i]


Handler = Callable[[Call], Awaitable[Any]]


def _envelope(state: CloudState, **fields: Any) -> JSONResponse:
    return JSONResponse({**fields, "t": state.now_ms(), "tid": uuid.uuid4().hex})


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state: CloudState = request.app.state.cloud
        state.stats["requests"] += 1
        if state.faults.latency > 0:
            await asyncio.sleep(state.faults.latency)
        status = state.take_http_error()
        if status is not None:
            return PlainTextResponse("emulated server error", status_code=status)
        try:
            body = await request.body()
        except ClientDisconnect:  # the client gave up during the injected latency: nobody to answer
            return Response(status_code=499)
        try:
            caller = authenticate(
                state,
                method=request.method,
                path=request.scope["path"],
                raw_query=request.scope["query_string"].decode("latin-1"),
                headers=request.headers,
                body=body,
            )
            state.count_call()
            fault = state.take_code_error()
            if fault is not None:
                raise fault
            call = Call(state, dict(request.path_params), dict(request.query_params), body, caller)
            result = await handler(call)
        except ApiError as exc:
            state.stats[f"code_{exc.code}"] += 1
            return _envelope(state, code=exc.code, msg=exc.msg, success=False)
        return _envelope(state, result=result, success=True)

    return endpoint


# -- tokens ------------------------------------------------------------------------------------


def _token_result(call: Call, access: str, refresh: str) -> dict[str, Any]:
    config = call.state.config
    return {"access_token": access, "expire_time": int(config.token_ttl), "refresh_token": refresh, "uid": config.uid}


async def get_token(call: Call) -> Any:
    if call.query.get("grant_type") != "1":
        raise ApiError(1003, "grant type invalid")
    issued = call.state.tokens.issue(call.state.now(), call.state.config.token_ttl)
    call.state.stats["token_grants"] += 1
    return _token_result(call, issued.access_token, issued.refresh_token)


async def refresh_token(call: Call) -> Any:
    issued = call.state.tokens.refresh(call.params["refresh_token"], call.state.now(), call.state.config.token_ttl)
    if issued is None:
        raise ApiError(1010, "token invalid")
    call.state.stats["token_refreshes"] += 1
    return _token_result(call, issued.access_token, issued.refresh_token)


# -- device lists ------------------------------------------------------------------------------


def _page(devices: list[ManifestDevice], after: str, size: int) -> tuple[list[ManifestDevice], bool, str]:
    start = 0
    if after:
        ids = [d.id for d in devices]
        start = ids.index(after) + 1 if after in ids else len(devices)
    page = devices[start : start + size]
    return page, start + size < len(devices), page[-1].id if page else ""


async def _with_status(call: Call, devices: list[ManifestDevice]) -> list[dict[str, Any]]:
    statuses = await asyncio.gather(*(call.fleet.status(d) for d in devices))
    return [call.fleet.device_object(d, status=s) for d, s in zip(devices, statuses, strict=True)]


async def user_devices(call: Call) -> Any:
    if call.params["uid"] != call.state.config.uid:
        raise ApiError(1106, "permission deny")
    return await _with_status(call, call.fleet.devices)


async def associated_devices(call: Call) -> Any:
    devices = call.fleet.devices
    page, more, last = _page(devices, call.query.get("last_row_key", ""), call.int_param("size", 20, 100))
    return {"devices": await _with_status(call, page), "has_more": more, "last_row_key": last, "total": len(devices)}


async def iot03_devices(call: Call) -> Any:
    devices = call.fleet.devices
    source = call.query.get("source_id")
    if source is not None and source != call.state.config.uid:
        devices = []
    wanted = call.id_list()
    if wanted:
        devices = [d for d in devices if d.id in wanted]
    page, more, last = _page(devices, call.query.get("last_row_key", ""), call.int_param("page_size", 20, 100))
    listed = [call.fleet.device_object(d, status=None) for d in page]
    return {"list": listed, "has_more": more, "last_row_key": last, "total": len(devices)}


async def devices_by_ids(call: Call) -> Any:
    devices = [d for d in (call.fleet.get(i) for i in call.id_list()) if d is not None]
    listed = await _with_status(call, devices)
    return {"devices": listed, "has_more": False, "last_row_key": "", "total": len(listed)}


async def factory_infos(call: Call) -> Any:
    ids = call.id_list()
    if not ids:
        raise ApiError(1100, "param is empty")
    if len(ids) > FACTORY_BATCH:
        raise ApiError(1101, "params range invalid")
    found = [d for d in (call.fleet.get(i) for i in ids) if d is not None]
    return [{"id": d.id, "uuid": call.fleet.uuid(d), "mac": call.fleet.mac(d), "sn": ""} for d in found]


# -- one device --------------------------------------------------------------------------------


async def device_details(call: Call) -> Any:
    device = call.device()
    return call.fleet.device_object(device, status=await call.fleet.status(device))


async def iot03_details(call: Call) -> Any:
    return call.fleet.device_object(call.device(), status=None)


async def device_status(call: Call) -> Any:
    return await call.fleet.status(call.device())


async def batch_status(call: Call) -> Any:
    ids = call.id_list()
    if not ids:
        raise ApiError(1100, "param is empty")
    if len(ids) > STATUS_BATCH:
        raise ApiError(1101, "params range invalid")
    found = [d for d in (call.fleet.get(i) for i in ids) if d is not None]
    return [{"id": d.id, "status": await call.fleet.status(d)} for d in found]


async def send_commands(call: Call) -> Any:
    device = call.device()
    body = call.json()
    commands = body.get("commands") if isinstance(body, dict) else None
    if isinstance(commands, str):  # the 2023 doc shows the list as a JSON string
        try:
            commands = json.loads(commands)
        except ValueError as exc:
            raise ApiError(1109, "param is illegal, please check it") from exc
    if not isinstance(commands, list) or not commands:
        raise ApiError(1100, "param is empty")
    if len(commands) > call.state.config.max_commands:
        raise ApiError(1101, "params range invalid")
    try:
        applied = await call.fleet.command(device, commands)
    except CommandRefused as exc:
        raise ApiError(exc.code, exc.msg) from exc
    call.state.report_status(device, applied)  # the device reports the change, as a real one does
    call.state.stats["commands"] += len(commands)
    call.state.stats["command_calls"] += 1
    return True


async def functions(call: Call) -> Any:
    device = call.device()
    return {"category": device.category, "functions": call.fleet.functions(device)}


async def specification(call: Call) -> Any:
    device = call.device()
    return {
        "category": device.category,
        "functions": call.fleet.functions(device),
        "status": call.fleet.status_set(device),
    }


async def specifications(call: Call) -> Any:
    device = call.device()
    if not device.schema:
        raise ApiError(2009, "not support this device")
    return {
        "category": device.category,
        "functions": call.fleet.functions(device, with_dp_id=True),
        "status": call.fleet.status_set(device, with_dp_id=True),
    }


async def shadow_properties(call: Call) -> Any:
    device = call.device()
    dps = await call.fleet.backend.get_dps(device)
    wanted = set(call.id_list("codes"))
    now = call.state.now_ms()
    return {
        "properties": [
            {"code": s.code, "custom_name": "", "dp_id": s.dp_id, "time": now, "value": dps[str(s.dp_id)]}
            for s in device.schema
            if str(s.dp_id) in dps and (not wanted or s.code in wanted)
        ]
    }


async def device_logs(call: Call) -> Any:
    device = call.device()
    try:
        types = {int(t) for t in call.id_list("type")} or set(range(1, 11))
        start = int(call.query.get("start_time", "0"))
        end = int(call.query.get("end_time", str(call.state.now_ms())))
        offset = int(call.query.get("start_row_key") or 0)
    except ValueError as exc:
        raise ApiError(1109, "param is illegal, please check it") from exc
    size = call.int_param("size", 20, 100)
    found = call.fleet.logs(device.id, types=types, start=start, end=end, codes=set(call.id_list("codes")))
    page = found[offset : offset + size]
    more = offset + size < len(found)
    return {
        "device_id": device.id,
        "logs": page,
        "has_next": more,
        "next_row_key": str(offset + size) if more else "",
        "current_row_key": str(offset),
    }


async def sub_devices(call: Call) -> Any:
    gateway = call.device()
    return [
        {
            "id": d.id,
            "name": d.name,
            "online": d.online,
            "active_time": call.fleet.born,
            "update_time": call.fleet.born,
            "product_id": d.product_id,
            "category": d.category,
            "node_id": d.cid or "",
            "asset_id": "",
            "icon": f"smart/icon/{d.category or 'device'}.png",
        }
        for d in call.fleet.children(gateway.id)
    ]


async def unknown_path(call: Call) -> Any:
    raise ApiError(1108, "uri path invalid")


# -- emulator control --------------------------------------------------------------------------


async def sim_stats(request: Request) -> Response:
    return JSONResponse(request.app.state.cloud.snapshot())


async def sim_faults(request: Request) -> Response:
    state: CloudState = request.app.state.cloud
    if request.method == "POST":
        try:
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("not an object")
            if body.get("reset"):
                state.reset_faults()
            if body.get("expire_tokens"):
                state.expire_all_tokens()
            if body.get("revoke_app_logins"):
                state.app.revoke_all()
            for name in ("latency", "clock_offset"):
                if name in body:
                    setattr(state.faults, name, float(body[name]))
            if "http_errors" in body:
                state.http_error_next(int(body["http_errors"]), int(body.get("http_status", 503)))
            if "code_errors" in body:
                state.fail_next(int(body["code_errors"]), int(body.get("error_code", 1199)))
            _push_faults(state, body)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": f"bad fault request: {exc}"}, status_code=400)
    return JSONResponse(state.faults.to_dict())


def _push_faults(state: CloudState, body: dict[str, Any]) -> None:
    """The message service's and the app MQ's faults of ``POST /_sim/faults`` (:mod:`cloud_pulsar`, :mod:`app_mq`)."""
    if body.get("pulsar_drop"):
        state.pulsar.drop_connections()
    if "pulsar_duplicate" in body:
        state.pulsar.duplicate_next(int(body["pulsar_duplicate"]))
    if "pulsar_ignore_acks" in body:
        state.pulsar.ignore_acks_next(int(body["pulsar_ignore_acks"]))
    for _ in range(int(body.get("pulsar_bad_payload", 0))):
        state.pulsar.publish_bad_payload()
    if body.get("mq_drop"):
        state.app_mq.drop_connections()
    if "mq_duplicate" in body:
        state.app_mq.duplicate_next(int(body["mq_duplicate"]))
    for _ in range(int(body.get("mq_bad_payload", 0))):
        if state.fleet.devices:
            state.app_mq.publish_bad_payload(state.fleet.devices[0])


async def sim_device(request: Request) -> Response:
    """``POST /_sim/devices/{id}``: change an emulated device as if it did so itself, and report it.

    Body: ``{"dps": {"1": true}}`` (set and report DP values), ``{"online": false}`` (go offline or
    online), ``{"name": "Lamp"}`` (renamed in the app). Each change is published on the message service.
    """
    state: CloudState = request.app.state.cloud
    device = state.fleet.get(request.path_params["device_id"])
    if device is None:
        return JSONResponse({"error": "no such device"}, status_code=404)
    try:
        body = json.loads(await request.body() or b"{}")
        if not isinstance(body, dict):
            raise ValueError("not an object")
        dps = body.get("dps")
        if dps is not None and (not isinstance(dps, dict) or not dps):
            raise ValueError("dps must be an object of DP id to value")
    except ValueError as exc:
        return JSONResponse({"error": f"bad device change: {exc}"}, status_code=400)
    published: list[str] = []
    if dps:
        clean = {str(k): v for k, v in dps.items()}
        try:
            await state.fleet.backend.set_dps(device, clean)
        except TuyaError as exc:
            return JSONResponse({"error": f"the device did not take it: {exc}"}, status_code=409)
        published.append(state.report_status(device, clean))
    if "online" in body and bool(body["online"]) != device.online:
        device.online = bool(body["online"])
        published.append(state.report_event(device, "online" if device.online else "offline"))
    if isinstance(body.get("name"), str) and body["name"]:
        device.name = body["name"]
        published.append(state.report_event(device, "nameUpdate", {"name": device.name}))
    return JSONResponse({"published": published})


_OPENAPI_ROUTES: list[tuple[str, Handler, str]] = [
    ("/v1.0/token", get_token, "GET"),
    ("/v1.0/token/{refresh_token}", refresh_token, "GET"),
    ("/v1.0/users/{uid}/devices", user_devices, "GET"),
    ("/v1.0/iot-01/associated-users/devices", associated_devices, "GET"),
    ("/v1.3/iot-03/devices", iot03_devices, "GET"),
    ("/v1.0/iot-03/devices", iot03_devices, "GET"),
    ("/v1.0/iot-03/devices/status", batch_status, "GET"),
    ("/v1.0/devices", devices_by_ids, "GET"),
    ("/v1.0/devices/", devices_by_ids, "GET"),
    ("/v1.0/devices/factory-infos", factory_infos, "GET"),
    ("/v1.0/devices/{device_id}", device_details, "GET"),
    ("/v1.0/iot-03/devices/{device_id}", iot03_details, "GET"),
    ("/v1.1/iot-03/devices/{device_id}", iot03_details, "GET"),
    ("/v1.0/devices/{device_id}/status", device_status, "GET"),
    ("/v1.0/iot-03/devices/{device_id}/status", device_status, "GET"),
    ("/v1.0/devices/{device_id}/commands", send_commands, "POST"),
    ("/v1.0/iot-03/devices/{device_id}/commands", send_commands, "POST"),
    ("/v1.0/devices/{device_id}/functions", functions, "GET"),
    ("/v1.0/iot-03/devices/{device_id}/functions", functions, "GET"),
    ("/v1.0/iot-03/devices/{device_id}/specification", specification, "GET"),
    ("/v1.1/iot-03/devices/{device_id}/specification", specification, "GET"),
    ("/v1.2/iot-03/devices/{device_id}/specification", specification, "GET"),
    ("/v1.1/devices/{device_id}/specifications", specifications, "GET"),
    ("/v2.0/cloud/thing/{device_id}/shadow/properties", shadow_properties, "GET"),
    ("/v1.0/devices/{device_id}/logs", device_logs, "GET"),
    ("/v1.0/iot-03/devices/{device_id}/sub-devices", sub_devices, "GET"),
]


def create_cloud_app(
    config: CloudConfig,
    manifest: FleetManifest | None = None,
    *,
    backend: CloudDeviceBackend | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """An emulated Tuya cloud project serving ``manifest``'s devices.

    ``backend`` holds the device state (default: in memory, seeded from the manifest).
    The state is at ``app.state.cloud`` (:class:`~tuyagate.sim.cloud_state.CloudState`).
    """
    routes: list[BaseRoute] = [
        Route(path, _endpoint(handler), methods=[method]) for path, handler, method in _OPENAPI_ROUTES
    ]
    routes += app_routes()
    routes += [
        Route("/_sim/stats", sim_stats, methods=["GET"]),
        Route("/_sim/faults", sim_faults, methods=["GET", "POST"]),
        Route("/_sim/devices/{device_id}", sim_device, methods=["POST"]),
        *account_routes(),
        WebSocketRoute(PULSAR_PATH, pulsar_endpoint),
        Route("/{path:path}", _endpoint(unknown_path), methods=ALL_METHODS),
    ]
    app = Starlette(routes=routes)
    app.state.cloud = CloudState(config, manifest or FleetManifest(), backend=backend, clock=clock)
    return app
