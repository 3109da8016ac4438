"""The Smart Life app API of the cloud emulator: the endpoints ``tuya-device-sharing-sdk`` calls.

The QR login (plain JSON, as on Tuya's login host): ``POST /v1.0/m/life/home-assistant/qrcode/tokens``
(``clientid``, ``usercode``, ``schema`` in the query) and ``GET .../qrcode/tokens/{qr}`` (``clientid``,
``usercode``). The login answer names this emulator's own address as the account's endpoint, so
the SDK's later calls come back here.

Everything after the login carries the request protection of :mod:`tuyagate.sim.app_crypto`,
checked here in the order the cloud must: the app key (1005), the time window (1013), the session
behind ``X-token`` (its refresh token keys the signature: unknown or revoked, the cloud cannot check
it and answers 1004 "sign invalid"), ``X-sign`` (1004), then the access token's expiry (1010); the
query and body ``encdata`` are decrypted and the ``result`` encrypted under the request's key.
Routes: token refresh (``/v1.0/m/token/{refresh}``), logout (``/v1.0/m/token/terminal/expire``),
homes, home devices (with ``local_key``), device details, specifications, the local strategy (DP
id <-> code), custom type, report types, commands and the app MQ's config (``/v1.0/m/life/ha/access/config``,
:mod:`tuyagate.sim.app_mq`). Unknown app paths answer 1108.

Emulator control: ``POST /_sim/app-login/approve`` (body ``{"qrcode": "..."}`` for one login, or
nothing for every pending one: the user confirmed in the app) and ``GET /_sim/app-login``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tuyagate.sim import app_crypto
from tuyagate.sim.app_state import AppSession, AppState
from tuyagate.sim.cloud_devices import CloudFleet, CommandRefused
from tuyagate.sim.cloud_errors import ApiError
from tuyagate.sim.cloud_state import CloudState
from tuyagate.sim.manifest import ManifestDevice

__all__ = ["app_routes"]

QR_PATH = "/v1.0/m/life/home-assistant/qrcode/tokens"


@dataclass(slots=True)
class AppCall:
    """One call that passed the request protection, decrypted."""

    state: CloudState
    session: AppSession
    path: dict[str, str]
    query: dict[str, Any]
    body: dict[str, Any]

    @property
    def app(self) -> AppState:
        return self.state.app

    @property
    def fleet(self) -> CloudFleet:
        return self.state.fleet

    def device(self) -> ManifestDevice:
        device = self.fleet.get(self.path["device_id"])
        if device is None:
            raise ApiError(1106, "permission deny")
        return device


AppHandler = Callable[[AppCall], Awaitable[Any]]


def _envelope(state: CloudState, **fields: Any) -> JSONResponse:
    return JSONResponse({**fields, "t": state.now_ms(), "tid": uuid.uuid4().hex})


async def _faults(state: CloudState) -> Response | None:
    """The injected latency and HTTP errors, as on every OpenAPI route."""
    state.stats["app_requests"] += 1
    if state.faults.latency > 0:
        await asyncio.sleep(state.faults.latency)
    status = state.take_http_error()
    return PlainTextResponse("emulated server error", status_code=status) if status is not None else None


# -- the QR login --------------------------------------------------------------------------------


async def create_qr(request: Request) -> Response:
    state: CloudState = request.app.state.cloud
    failed = await _faults(state)
    if failed is not None:
        return failed
    q = request.query_params
    try:
        qr = state.app.create_qr(q.get("clientid", ""), q.get("usercode", ""), q.get("schema", ""))
    except ApiError as exc:
        return _envelope(state, success=False, code=exc.code, msg=exc.msg)
    state.stats["app_qr_codes"] += 1
    return _envelope(state, success=True, result={"qrcode": qr})


async def login_result(request: Request) -> Response:
    state: CloudState = request.app.state.cloud
    failed = await _faults(state)
    if failed is not None:
        return failed
    q = request.query_params
    try:
        session = state.app.collect(request.path_params["qr"], q.get("clientid", ""), q.get("usercode", ""))
    except ApiError as exc:
        return _envelope(state, success=False, code=exc.code, msg=exc.msg)
    state.stats["app_logins"] += 1
    result = {
        "access_token": session.access_token,
        "refresh_token": session.refresh_token,
        "expire_time": int(state.app.token_ttl),
        "uid": state.app.uid,
        "terminal_id": session.terminal_id,
        "endpoint": f"{request.url.scheme}://{request.url.netloc}",
        "username": state.app.settings.username,
    }
    return _envelope(state, success=True, result=result)


# -- the protected API ---------------------------------------------------------------------------


def _open(state: CloudState, request: Request, body: bytes, *, refresh: bool) -> tuple[AppCall, bytes]:
    """Check the request protection; the decrypted call and the key its answer is sealed with."""
    app, headers = state.app, request.headers
    if headers.get("x-appkey", "") != app.settings.client_id:
        raise ApiError(1005, "clientId invalid")
    t = headers.get("x-time", "")
    if not t.isdigit() or abs(state.now_ms() - int(t)) > state.config.t_window * 1000:
        raise ApiError(1013, "request time is invalid")
    session = app.by_access(headers.get("x-token", ""))
    refresh_token = request.path_params.get("refresh_token", "") if refresh else ""
    if refresh:
        session = app.by_refresh(refresh_token)
        if session is None:
            raise ApiError(1010, "token invalid")
    elif session is None:
        state.stats["app_sign_invalid"] += 1
        raise ApiError(1004, "sign invalid")
    request_id = headers.get("x-requestid", "")
    try:
        hash_key, key = app_crypto.request_keys(
            request_id, refresh_token or session.refresh_token, headers.get("x-sid", "")
        )
        body_enc = str(json.loads(body).get("encdata", "")) if body else ""
    except (app_crypto.CryptoError, ValueError, AttributeError):
        raise ApiError(1004, "sign invalid") from None
    query_enc = request.query_params.get("encdata", "")
    signed = {name: headers.get(name.lower(), "") for name in app_crypto.SIGNED_HEADERS}
    expected = app_crypto.sign(hash_key, signed, query_enc, body_enc)
    if not request_id or not hmac.compare_digest(expected, headers.get("x-sign", "")):
        state.stats["app_sign_invalid"] += 1
        raise ApiError(1004, "sign invalid")
    if not refresh and not app.valid(session):
        state.stats["app_token_invalid"] += 1
        raise ApiError(1010, "token invalid")
    try:
        query = app_crypto.decrypt_part(query_enc, key) if query_enc else {}
        data = app_crypto.decrypt_part(body_enc, key) if body_enc else {}
    except app_crypto.CryptoError:
        raise ApiError(1109, "param is illegal, please check it") from None
    if not isinstance(query, dict) or not isinstance(data, dict):
        raise ApiError(1109, "param is illegal, please check it")
    return AppCall(state, session, dict(request.path_params), query, data), key


def _protected(handler: AppHandler, *, refresh: bool = False) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state: CloudState = request.app.state.cloud
        failed = await _faults(state)
        if failed is not None:
            return failed
        body = await request.body()
        try:
            call, key = _open(state, request, body, refresh=refresh)
            state.count_call()
            fault = state.take_code_error()
            if fault is not None:
                raise fault
            result = await handler(call)
        except ApiError as exc:
            state.stats[f"app_code_{exc.code}"] += 1
            return _envelope(state, success=False, code=exc.code, msg=exc.msg)
        return _envelope(state, success=True, result=app_crypto.encrypt_result(result, key, os.urandom(12)))

    return endpoint


async def refresh_token(call: AppCall) -> Any:
    session = call.app.refresh(call.path["refresh_token"])
    if session is None:
        raise ApiError(1010, "token invalid")
    call.state.stats["app_token_refreshes"] += 1
    ttl = int(call.app.token_ttl)
    return {
        "accessToken": session.access_token,
        "refreshToken": session.refresh_token,
        "expireTime": ttl,
        "uid": call.app.uid,
    }


async def terminal_expire(call: AppCall) -> Any:
    terminal = str(call.body.get("terminalId") or call.session.terminal_id)
    if terminal != call.session.terminal_id:
        raise ApiError(1106, "permission deny")
    call.state.stats["app_logouts"] += 1
    return call.app.revoke(terminal) > 0


async def homes(call: AppCall) -> Any:
    settings = call.app.settings
    owner: int | str = int(settings.home_id) if settings.home_id.isdigit() else settings.home_id
    return [{"ownerId": owner, "name": settings.home_name, "role": 2, "admin": True}]


async def _objects(call: AppCall, devices: list[ManifestDevice]) -> list[dict[str, Any]]:
    statuses = await asyncio.gather(*(call.fleet.status(d) for d in devices))
    return [call.fleet.device_object(d, status=s) for d, s in zip(devices, statuses, strict=True)]


async def home_devices(call: AppCall) -> Any:
    if str(call.query.get("homeId", "")) != call.app.settings.home_id:
        raise ApiError(1106, "permission deny")
    return await _objects(call, call.fleet.devices)


async def devices_detail(call: AppCall) -> Any:
    wanted = [i for i in str(call.query.get("devIds", "")).split(",") if i]
    return await _objects(call, [d for d in (call.fleet.get(i) for i in wanted) if d is not None])


async def specifications(call: AppCall) -> Any:
    """The standard instruction set: codes, types and ranges (no DP ids: those come with the strategy)."""
    device = call.device()
    return {
        "category": device.category,
        "functions": call.fleet.functions(device),
        "status": call.fleet.status_set(device),
    }


async def local_strategy(call: AppCall) -> Any:
    """How each DP id maps to its standard code, what the SDK keeps as ``local_strategy``."""
    device = call.device()
    relations: list[dict[str, Any]] = [
        {
            "dpId": dp.dp_id,
            "dpCode": dp.code,
            "statusCode": dp.code,
            "supportLocal": True,
            "valueConvert": "default",
            "valueType": dp.type.value,
            "valueDesc": json.dumps(dp.values, separators=(",", ":"), ensure_ascii=False),
            "statusFormat": json.dumps({dp.code: "$"}, separators=(",", ":")),
            "enumMappingMap": {},
        }
        for dp in device.schema
    ]
    return {"productKey": device.product_id, "dpStatusRelationDTOS": relations}


async def custom_type(call: AppCall) -> Any:
    call.device()
    return False  # standard DP reporting: the local strategy applies


async def report_types(call: AppCall) -> Any:
    call.device()
    return []


async def commands(call: AppCall) -> Any:
    device = call.device()
    items = call.body.get("commands")
    if not isinstance(items, list) or not items:
        raise ApiError(1100, "param is empty")
    if len(items) > call.state.config.max_commands:
        raise ApiError(1101, "params range invalid")
    try:
        applied = await call.fleet.command(device, items)
    except CommandRefused as exc:
        raise ApiError(exc.code, exc.msg) from exc
    call.state.report_status(device, applied)  # the device reports the change (message service, app MQ)
    call.state.stats["app_commands"] += len(items)
    return True


async def mq_config(call: AppCall) -> Any:
    """The app MQ's broker, login and topics (:mod:`tuyagate.sim.app_mq`); a fresh client id each time."""
    if not str(call.body.get("linkId", "")):
        raise ApiError(1100, "param is empty")
    try:
        return call.state.app_mq.config()
    except LookupError:
        raise ApiError(1108, "uri path invalid (the emulator was started without an MQ broker)") from None


async def unknown(call: AppCall) -> Any:
    raise ApiError(1108, "uri path invalid")


# -- emulator control ----------------------------------------------------------------------------


async def sim_approve(request: Request) -> Response:
    app: AppState = request.app.state.cloud.app
    try:
        body = json.loads(await request.body() or b"{}")
        if not isinstance(body, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        return JSONResponse({"error": f"bad approve request: {exc}"}, status_code=400)
    qr = body.get("qrcode")
    approved = app.approve(str(qr) if qr else None)
    return JSONResponse({"approved": approved, "pending": len(app.pending)})


async def sim_app_login(request: Request) -> Response:
    app: AppState = request.app.state.cloud.app
    return JSONResponse(
        {"pending": len(app.pending), "sessions": app.sessions, "auto_approve": app.settings.auto_approve}
    )


def app_routes() -> list[Route]:
    """The app API's routes, to go before the emulator's catch-all."""
    protected: list[tuple[str, AppHandler, str]] = [
        ("/v1.0/m/token/terminal/expire", terminal_expire, "POST"),
        ("/v1.0/m/life/users/homes", homes, "GET"),
        ("/v1.0/m/life/ha/home/devices", home_devices, "GET"),
        ("/v1.0/m/life/ha/devices/detail", devices_detail, "GET"),
        ("/v1.1/m/life/{device_id}/specifications", specifications, "GET"),
        ("/v1.0/m/life/devices/{device_id}/status", local_strategy, "GET"),
        ("/v1.0/m/life/ha/{device_id}/code/custom-type", custom_type, "GET"),
        ("/v1.0/m/life/ha/{device_id}/dp-report-types", report_types, "GET"),
        ("/v1.1/m/thing/{device_id}/commands", commands, "POST"),
        ("/v1.0/m/life/ha/access/config", mq_config, "POST"),
    ]
    routes = [
        Route(QR_PATH, create_qr, methods=["POST"]),
        Route(QR_PATH + "/{qr}", login_result, methods=["GET"]),
        Route("/v1.0/m/token/{refresh_token}", _protected(refresh_token, refresh=True), methods=["GET"]),
    ]
    routes += [Route(path, _protected(handler), methods=[method]) for path, handler, method in protected]
    routes += [
        Route("/{version}/m/{rest:path}", _protected(unknown), methods=["GET", "POST", "PUT", "DELETE"]),
        Route("/_sim/app-login/approve", sim_approve, methods=["POST"]),
        Route("/_sim/app-login", sim_app_login, methods=["GET"]),
    ]
    return routes
