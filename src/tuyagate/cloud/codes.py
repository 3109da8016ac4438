"""Tuya OpenAPI error codes: what each means and what to do about it (cloud-api.md §4).

The ``kind`` column drives the client: ``reauth`` codes get a fresh token and one retry,
``clock`` gets the clock corrected from the server's ``t`` and one retry, ``retry`` codes are
retried with backoff inside the retry budget, everything else goes to the caller as a
:class:`~tuyagate.errors.CloudError` whose hint is the "what to do" text below;
``credentials`` codes as its :class:`~tuyagate.errors.CloudAuthError` branch, a
:class:`~tuyagate.errors.TuyaAuthError` too, so a wrong secret is never taken for a passing outage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tuyagate.errors import CloudAuthError, CloudError

__all__ = [
    "CLIENT_QUOTA",
    "CODES",
    "CodeInfo",
    "Kind",
    "cloud_error",
    "describe",
    "is_reauth",
    "is_retryable",
    "kind_of",
]

Kind = Literal["reauth", "clock", "retry", "account", "request", "credentials"]

# Code of the CloudError raised *before* sending when a call would exceed the client's own daily quota.
CLIENT_QUOTA = "client-quota"


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """One known code: the message the cloud returns, what it means, and what to do."""

    code: int
    msg: str
    meaning: str
    action: str
    kind: Kind = "request"


def _table(*rows: CodeInfo) -> dict[int, CodeInfo]:
    return {row.code: row for row in rows}


_PERMISSION = (
    "link the device's app account to the cloud project (Devices > Link App Account), "
    "check the project covers the account's data center and that the API service is authorised"
)

CODES: dict[int, CodeInfo] = _table(
    CodeInfo(500, "system error, please contact the admin", "the cloud failed or timed out", "retry later", "retry"),
    CodeInfo(1000, "data not exist", "the requested data does not exist", "check the ids in the request"),
    CodeInfo(
        1001,
        "secret invalid",
        "the access secret is wrong",
        "copy the Access Secret of the cloud project",
        "credentials",
    ),
    CodeInfo(1002, "access_token is null", "the request carried no access token", "get a token first"),
    CodeInfo(1003, "grant type invalid", "the token request used a wrong grant_type", "use grant_type=1"),
    CodeInfo(
        1004,
        "sign invalid",
        "the signature does not match",
        "check the Access Secret, the sign scheme (new vs old) and the clock; the body hash and the sorted "
        "query must be of what was sent",
        "credentials",
    ),
    CodeInfo(
        1005,
        "clientId invalid",
        "the Access ID is unknown",
        "copy the Access ID (client id) of the cloud project",
        "credentials",
    ),
    CodeInfo(1006, "not support content type", "wrong Content-Type", "send POST bodies as application/json"),
    CodeInfo(1007, "not support key", "the app key is not supported", "check the Access ID", "credentials"),
    CodeInfo(1008, "invalid access", "the access is not allowed", "check the project's permissions"),
    CodeInfo(1010, "token invalid", "the access token expired or was replaced", "get a new token", "reauth"),
    CodeInfo(1011, "token invalid", "the access token is not valid", "get a new token", "reauth"),
    CodeInfo(1012, "token status is invalid", "the token is no longer usable", "get a new token", "reauth"),
    CodeInfo(
        1013,
        "request time is invalid",
        "the request timestamp t is too far from the cloud's clock",
        "set the system clock right (NTP); tuyagate corrects the skew from the server's t",
        "clock",
    ),
    CodeInfo(1100, "param is empty", "a required parameter is empty", "fill in the parameter"),
    CodeInfo(1101, "params range invalid", "a parameter is out of range", "check the values and the list sizes"),
    CodeInfo(1102, "param is null", "a required parameter is missing", "fill in the parameter"),
    CodeInfo(1103, "commands issue error", "the cloud could not deliver the command", "check the device is online"),
    CodeInfo(1104, "type is incorrect", "a parameter has the wrong type", "check the parameter types"),
    CodeInfo(1105, "missing the header", "a required header is missing", "send client_id, t, sign, sign_method"),
    CodeInfo(
        1106,
        "permission deny",
        "the project may not see this device or API",
        _PERMISSION,
    ),
    CodeInfo(1107, "code invalid", "the authorization code is not valid", "get a new authorization code"),
    CodeInfo(1108, "uri path invalid", "no such API (or wrong HTTP method)", "check the path, version and method"),
    CodeInfo(1109, "param is illegal, please check it", "a parameter is not valid", "check the request parameters"),
    CodeInfo(1110, "concurrent request over limit", "too many requests at once", "slow down and retry", "retry"),
    CodeInfo(1111, "system is busy, please retry later", "the cloud is busy", "retry later", "retry"),
    CodeInfo(
        1112,
        "the user is syncing in the background, please try again later",
        "the account is being synchronised",
        "retry in a minute",
    ),
    CodeInfo(
        1113,
        "please upgrade to the commercial version",
        "the trial plan's limits are reached",
        "upgrade the plan or reduce users",
        "account",
    ),
    CodeInfo(
        1114,
        "your ip don't have access to this API",
        "the IP allow-list of the project refuses this address",
        "add the IP to the project's allow-list",
        "account",
    ),
    CodeInfo(1199, "your requests are too frequent", "the API's QPS limit was hit", "slow down and retry", "retry"),
    CodeInfo(1400, "token invalid", "the token is not valid", "get a new token", "reauth"),
    CodeInfo(2001, "device is offline", "the device is not connected to the cloud", "power the device / check Wi-Fi"),
    CodeInfo(
        2002, "this user does not have any devices", "the linked account has no devices", "add devices in the app"
    ),
    CodeInfo(2003, "function not support", "the device does not support this function", "check the functions"),
    CodeInfo(2005, "product not exist", "unknown product", "check the product id"),
    CodeInfo(2006, "user not exist", "unknown user", "check the uid"),
    CodeInfo(2007, "device token expired", "the device's cloud token expired", "re-pair the device"),
    CodeInfo(
        2008,
        "command or value not support",
        "a code is not a command of this device, or the value is out of range",
        "check the device's functions and value ranges",
    ),
    CodeInfo(2009, "not support this device", "no standard instruction set for this device", "use DP ids (LAN)"),
    CodeInfo(2010, "device not exist", "unknown device id", "check the device id"),
    CodeInfo(2017, "schema does not exist", "wrong app schema", "check the app schema of the login"),
    CodeInfo(
        2406,
        "skill id invalid",
        "the app account is in another data center, or the endpoint is wrong",
        "use the region of the app account (see cloud-api.md §5)",
        "account",
    ),
    CodeInfo(28841001, "No permissions.", "the project is not authorised for IoT Core", _PERMISSION, "account"),
    CodeInfo(
        28841002,
        "No permissions. Your subscription to cloud development plan has expired.",
        "the IoT Core (trial) subscription expired",
        "renew or extend the Cloud Development plan in the Tuya console; retrying will not help",
        "account",
    ),
    CodeInfo(
        28841004,
        "No permissions. Your quota of Trial Edition is used up.",
        "the plan's API call quota is spent",
        "wait for the quota to refill (monthly) or upgrade the plan; retrying burns no quota but will not help",
        "account",
    ),
    CodeInfo(
        28841101,
        "No permissions. This API is not subscribed.",
        "the cloud service of this API is not subscribed",
        "subscribe the service in the Tuya console",
        "account",
    ),
    CodeInfo(
        28841105,
        "No permissions. This project is not authorized to call this API",
        "the API is not authorised for the project",
        "authorise the API service for the project",
        "account",
    ),
    CodeInfo(
        28841106,
        "No permissions. This API is not subscribed.",
        "the cloud service of this API is not subscribed",
        "subscribe the service in the Tuya console",
        "account",
    ),
)


def describe(code: int | str) -> CodeInfo | None:
    """The table entry of a code (ints or numeric strings), or None when unknown."""
    try:
        return CODES.get(int(code))
    except (TypeError, ValueError):
        return None


def kind_of(code: int | str | None) -> Kind | None:
    """The table's ``kind`` of a code, or None when unknown."""
    info = describe(code) if code is not None else None
    return info.kind if info is not None else None


def is_reauth(code: int | str | None) -> bool:
    """True when the code means "get a new token and try again"."""
    return kind_of(code) == "reauth"


def is_retryable(code: int | str | None) -> bool:
    """True when the code is transient (busy, rate limited): retry with backoff."""
    return kind_of(code) == "retry"


def cloud_error(code: int | str, msg: str, *, hint: str | None = None) -> CloudError:
    """A CloudError for a cloud answer, with the table's "what to do" as its hint."""
    info = describe(code)
    if hint is None and info is not None:
        hint = info.action
    if not msg and info is not None:
        msg = info.msg
    if info is not None and info.kind == "credentials":
        return CloudAuthError(code, msg, hint=hint)
    return CloudError(code, msg, hint=hint)
