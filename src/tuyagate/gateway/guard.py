"""The per-request authentication check shared by the native, Tasmota and metrics endpoints.

Whether a token is needed is decided per request, not at start-up: with ``auth = "auto"`` the first
token created by ``tuyagate tokens create`` turns authentication on for a running gateway, and a
gateway listening beyond loopback always requires one.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import Request

from tuyagate.gateway.auth import FailureThrottle, Scope, TokenRecord, TokenStore, hash_token, scope_allows
from tuyagate.gateway.errors import ApiError
from tuyagate.gateway.metrics import Metrics
from tuyagate.gateway.settings import GatewaySettings, is_loopback

__all__ = ["SCHEME", "SECURED", "SECURITY_SCHEME", "Guard", "authorize", "bearer_token", "client_ip"]

log = logging.getLogger(__name__)

SCHEME = "APIToken"
# The bearer scheme as /openapi.json declares it (see endpoints.install_openapi).
SECURITY_SCHEME: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API token created with `tuyagate tokens create`.",
}
# ``openapi_extra`` of a FastAPI operation that needs a token when tokens are in use.
SECURED: dict[str, Any] = {"security": [{SCHEME: []}]}


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class Guard:
    """Decides whether a request may go on; counts and throttles failures."""

    def __init__(self, settings: GatewaySettings, store: TokenStore, metrics: Metrics) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.listen_host = settings.host  # serve_app sets the address it really binds
        self.throttle = FailureThrottle(settings.auth_max_failures, settings.auth_failure_window)

    @property
    def listen_host(self) -> str:
        return self._listen_host

    @listen_host.setter
    def listen_host(self, host: str) -> None:
        self._listen_host = host
        self._exposed = not is_loopback(host)  # parsed once, not on every request

    def required(self) -> bool:
        mode = self.settings.auth
        if mode == "on":
            return True
        if mode == "off":
            return False
        return self._exposed or bool(self.store.list())

    def check(self, client: str, token: str | None, need: Scope) -> TokenRecord | None:
        """Return the token record (or None when auth is off); raise ApiError 401/403/429 otherwise."""
        if not self.required():
            return None
        wait = self.throttle.retry_after(client)
        if wait > 0:
            raise ApiError(
                429,
                "too_many_auth_failures",
                f"too many failed authentications from {client}; retry in {math.ceil(wait)} s",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        if not token:
            raise ApiError(
                401,
                "unauthorized",
                "an API token is required: send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        record = self.store.find(hash_token(token))
        if record is None:
            self.throttle.failed(client)
            self.metrics.auth_failures += 1
            log.warning("rejected an unknown API token from %s", client)
            raise ApiError(401, "unauthorized", "the API token is not valid", headers={"WWW-Authenticate": "Bearer"})
        if not scope_allows(record.scope, need):
            message = f"the API token {record.name!r} has scope {record.scope!r}; {need!r} is needed"
            raise ApiError(403, "forbidden", message)
        return record


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, if any."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def authorize(request: Request, scope: Scope) -> TokenRecord | None:
    """Check the request's bearer token for ``scope`` (a plain call, not a FastAPI dependency, whose
    resolution costs more than a whole cached read; declared endpoints get this check from their ``scope``)."""
    guard: Guard = request.app.state.gateway.guard
    return guard.check(client_ip(request), bearer_token(request), scope)
