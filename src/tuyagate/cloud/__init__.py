"""The Tuya Cloud OpenAPI: signing (pure functions), tokens, rate limiting, error codes, client.

Everything here but the client needs only the standard library, so the gateway and the
emulator can verify signatures without loading ``httpx``: ``TuyaCloudClient`` is imported
on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tuyagate.cloud.codes import CODES, CodeInfo, cloud_error, describe
from tuyagate.cloud.credentials import CloudCredentials, resolve_credentials
from tuyagate.cloud.models import (
    CloudDevice,
    DeviceLog,
    DpMapEntry,
    DpMapping,
    FunctionSpec,
    Specification,
    StatusItem,
    SubDevice,
)
from tuyagate.cloud.ratelimit import RateLimiter
from tuyagate.cloud.regions import REGIONS, Region, resolve_base_url
from tuyagate.cloud.signing import SignScheme, compute_sign, string_to_sign, verify_sign
from tuyagate.cloud.tokens import Token, TokenManager

if TYPE_CHECKING:
    from tuyagate.cloud.client import TuyaCloudClient

__all__ = [
    "CODES",
    "REGIONS",
    "CloudCredentials",
    "CloudDevice",
    "CodeInfo",
    "DeviceLog",
    "DpMapEntry",
    "DpMapping",
    "FunctionSpec",
    "RateLimiter",
    "Region",
    "SignScheme",
    "Specification",
    "StatusItem",
    "SubDevice",
    "Token",
    "TokenManager",
    "TuyaCloudClient",
    "cloud_error",
    "compute_sign",
    "describe",
    "resolve_base_url",
    "resolve_credentials",
    "string_to_sign",
    "verify_sign",
]


def __getattr__(name: str) -> Any:
    if name == "TuyaCloudClient":
        return importlib.import_module("tuyagate.cloud.client").TuyaCloudClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
