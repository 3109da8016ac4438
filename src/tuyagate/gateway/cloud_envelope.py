"""The Tuya OpenAPI response envelope and error codes, as the cloud-compatible API answers them.

Tuya clients look only at the envelope (``success``, ``code``, ``msg``, ``result``, ``t``, ``tid``)
and at the integer error codes, and they expect business errors as HTTP 200. Keeping the shapes in
one place lets the error handlers and the cloud-compatible routes agree on them.
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any, NotRequired

from pydantic import Field
from typing_extensions import TypedDict  # pydantic reads TypedDicts from typing_extensions before 3.12

from tuyagate.errors import (
    CloudError,
    NotFoundError,
    TuyaConnectionError,
    TuyaError,
    TuyaTimeoutError,
    UnknownDpError,
    ValidationError,
)

__all__ = [
    "CODE_CLIENT_ID_INVALID",
    "CODE_COMMAND_FAILED",
    "CODE_DEVICE_NOT_EXIST",
    "CODE_DEVICE_OFFLINE",
    "CODE_PARAM_ILLEGAL",
    "CODE_PERMISSION_DENY",
    "CODE_SIGN_INVALID",
    "CODE_SYSTEM_ERROR",
    "CODE_TIME_INVALID",
    "CODE_TOKEN_INVALID",
    "CloudCompatError",
    "Envelope",
    "failure",
    "failure_for",
    "success",
]

CODE_SYSTEM_ERROR = 500
CODE_GRANT_TYPE_INVALID = 1003
CODE_SIGN_INVALID = 1004
CODE_CLIENT_ID_INVALID = 1005
CODE_TOKEN_INVALID = 1010
CODE_TIME_INVALID = 1013
CODE_PARAM_ILLEGAL = 1109
CODE_COMMAND_FAILED = 1103
CODE_PERMISSION_DENY = 1106
CODE_URI_INVALID = 1108
CODE_TOO_FREQUENT = 1199
CODE_DEVICE_OFFLINE = 2001
CODE_COMMAND_NOT_SUPPORTED = 2008
CODE_DEVICE_NOT_EXIST = 2010

_MESSAGES = {
    CODE_SYSTEM_ERROR: "system error, please contact the admin",
    CODE_GRANT_TYPE_INVALID: "grant type invalid",
    CODE_SIGN_INVALID: "sign invalid",
    CODE_CLIENT_ID_INVALID: "clientId invalid",
    CODE_TOKEN_INVALID: "token invalid",
    CODE_TIME_INVALID: "request time is invalid",
    CODE_PARAM_ILLEGAL: "param is illegal, please check it",
    CODE_COMMAND_FAILED: "commands issue error",
    CODE_PERMISSION_DENY: "permission deny",
    CODE_URI_INVALID: "uri path invalid",
    CODE_TOO_FREQUENT: "your requests are too frequent",
    CODE_DEVICE_OFFLINE: "device is offline",
    CODE_COMMAND_NOT_SUPPORTED: "command or value not support",
    CODE_DEVICE_NOT_EXIST: "device not exist",
}


class Envelope(TypedDict):
    """Every answer of the cloud-compatible API, success or failure (always HTTP 200, like the cloud)."""

    success: bool
    result: NotRequired[Annotated[Any, Field(description="the answer, when success is true")]]
    code: NotRequired[Annotated[int, Field(description="the Tuya error code, when success is false")]]
    msg: NotRequired[Annotated[str, Field(description="the Tuya error message, when success is false")]]
    t: Annotated[int, Field(description="server time, ms since the epoch")]
    tid: Annotated[str, Field(description="a request id")]


class CloudCompatError(Exception):
    """A refusal of the cloud-compatible API, answered as a Tuya ``success: false`` envelope."""

    def __init__(self, code: int, msg: str | None = None) -> None:
        self.code = code
        self.msg = msg or _MESSAGES.get(code, "error")
        super().__init__(f"{code}: {self.msg}")


def _tid() -> str:
    return secrets.token_hex(16)


def success(result: Any) -> Envelope:
    return {"result": result, "success": True, "t": int(time.time() * 1000), "tid": _tid()}


def failure(code: int, msg: str | None = None) -> Envelope:
    return {
        "code": code,
        "msg": msg or _MESSAGES.get(code, "error"),
        "success": False,
        "t": int(time.time() * 1000),
        "tid": _tid(),
    }


def failure_for(exc: TuyaError) -> Envelope:
    """The Tuya error code a cloud client would have seen for the same failure."""
    if isinstance(exc, NotFoundError):
        return failure(CODE_COMMAND_NOT_SUPPORTED)
    if isinstance(exc, UnknownDpError):
        return failure(CODE_COMMAND_NOT_SUPPORTED, f"command or value not support: {exc}")
    if isinstance(exc, ValidationError):
        return failure(CODE_PARAM_ILLEGAL, f"param is illegal, please check it: {exc}")
    if isinstance(exc, TuyaTimeoutError | TuyaConnectionError):
        return failure(CODE_DEVICE_OFFLINE)
    if isinstance(exc, CloudError) and isinstance(exc.code, int):
        return failure(exc.code, exc.msg)
    return failure(CODE_COMMAND_FAILED)
