"""Errors as HTTP answers: one JSON shape, stable machine codes, and a status that says who is at fault.

Every error the gateway sends is ``{"error": {"code": "...", "message": "..."}}`` -- for a wrong
value, an unknown route, a body that is too big, a malformed body, or a device that timed out --
so clients need one error parser. The codes are part of the public API: add, never rename.
4xx means the caller can fix it; 502 means the device or cloud answered with an error or could not
be reached, or refused our credentials (``auth_failed``, ``key_mismatch``: the message names the
credential to fix); 504 means the deadline passed. The Tuya-cloud-compatible paths (``/v1.0/...``) keep the
Tuya envelope instead, because the clients there only understand that one.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tuyagate.error_codes import code_for
from tuyagate.errors import (
    CloudError,
    TuyaAuthError,
    TuyaError,
    UnknownDpError,
)
from tuyagate.flashed.errors import FlashedAuthError
from tuyagate.gateway.cloud_envelope import Envelope, failure
from tuyagate.gateway.models import ErrorBody, ErrorOut
from tuyagate.gateway.serialize import json_response

__all__ = ["ApiError", "answer_error", "auth_message", "error_response", "install_error_handlers", "status_for"]

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
}


class ApiError(Exception):
    """An error the gateway itself decides (auth, limits); rendered like every other error."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def status_for(exc: TuyaError) -> tuple[int, str]:
    """The HTTP status and stable code for a library error (one table for every front end)."""
    return code_for(exc)


def auth_message(exc: TuyaAuthError) -> str:
    """The message of a refusal, naming the credential to fix (never its value) if it does not already."""
    if isinstance(exc, FlashedAuthError):
        credential, hint = "password", "fix the firmware's web user name and password stored for the device"
    elif isinstance(exc, CloudError):
        credential, hint = "secret", "fix the cloud project's Access ID and Secret"
    else:
        credential, hint = "local key", "fix the device's local key (it changes when the device is paired again)"
    text = str(exc)
    return text if credential in text.lower() else f"{text}; {hint}"


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    details: list[dict[str, Any]] | None = None,
    known: list[str] | None = None,
    may_be_applied: bool = False,
) -> Response:
    """The one error shape of the native API (``ErrorOut``)."""
    body: ErrorBody = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    if known is not None:
        body["known"] = known
    if may_be_applied:
        body["may_be_applied"] = True
    answer: ErrorOut = {"error": body}
    return json_response(ErrorOut, answer, status=status, headers=headers)


def _count(request: Request, code: str) -> None:
    gateway = getattr(request.app.state, "gateway", None)
    if gateway is not None:
        gateway.metrics.count_error(code)


def _is_cloud_path(request: Request) -> bool:
    return request.url.path.startswith("/v1.0/") or request.url.path.startswith("/v1.1/")


def _cloud_envelope(code: int, msg: str) -> Response:
    """The Tuya envelope, as HTTP 200 like the cloud answers business errors."""
    return json_response(Envelope, failure(code, msg))


async def _on_tuya_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TuyaError)
    status, code = status_for(exc)
    log.info("%s %s -> %d %s: %s", request.method, request.url.path, status, code, exc)
    _count(request, code)
    if isinstance(exc, UnknownDpError):
        return error_response(status, code, str(exc), known=list(exc.known))
    if isinstance(exc, TuyaAuthError):
        return error_response(status, code, auth_message(exc))
    if exc.may_be_applied:
        return error_response(status, code, str(exc), may_be_applied=True)
    return error_response(status, code, str(exc))


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    _count(request, exc.code)
    return error_response(exc.status, exc.code, exc.message, headers=exc.headers)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if _is_cloud_path(request) and exc.status_code in (404, 405):
        return _cloud_envelope(1108, "uri path invalid")
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path}"
    _count(request, code)
    return error_response(exc.status_code, code, message, headers=dict(exc.headers or {}))


def _where(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "request"


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if _is_cloud_path(request):
        return _cloud_envelope(1109, "param is illegal, please check it")
    details = [
        {"loc": [str(part) for part in err.get("loc", ())], "msg": str(err.get("msg", ""))} for err in exc.errors()
    ]
    summary = "; ".join(f"{_where(d['loc'])}: {d['msg']}" for d in details)
    _count(request, "invalid_request")
    return error_response(422, "invalid_request", summary or "invalid request", details=details)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    _count(request, "internal_error")
    return error_response(500, "internal_error", "internal error; see the gateway log")


def install_error_handlers(app: FastAPI) -> None:
    """Make every error, including framework ones, leave in the one JSON shape."""
    app.add_exception_handler(TuyaError, _on_tuya_error)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)


async def answer_error(scope: Scope, receive: Receive, send: Send, exc: Exception) -> int:
    """Answer ``exc`` with the app's handler for its class (the nearest in its MRO); the status sent.

    What Starlette's exception middleware does for its routes, for the requests the front door serves
    itself (:mod:`tuyagate.gateway.front_door`): the same handlers, so the same answers. An exception
    no handler takes is raised again.
    """
    handlers = scope["app"].exception_handlers
    for kind in type(exc).__mro__:
        handler = handlers.get(kind)
        if handler is not None:
            break
    else:
        raise exc
    response: Response = await handler(Request(scope, receive), exc)
    await response(scope, receive, send)
    return response.status_code
