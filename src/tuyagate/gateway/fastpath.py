"""Hot endpoints documented by FastAPI but called without FastAPI's per-request machinery.

Measured on the 2-core target machine, FastAPI's dependency solving and parameter validation cost
several times more than reading a cached device state, capping status reads far below the 2,000/s
goal. A route of class :class:`RawRoute` is documented in ``/openapi.json`` from its endpoint's
signature like any other, but when the endpoint carries a raw handler (see :func:`raw`), requests go
straight to that ``handler(request) -> Response``. The raw handlers validate what they read
themselves and raise the same errors, so callers cannot tell the difference.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["RawRoute", "parse_bool", "path_param", "raw"]

RawHandler = Callable[[Request], Awaitable[Response]]
F = TypeVar("F", bound=Callable[..., Any])
_RAW = "__tuyagate_raw_handler__"
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def raw(handler: RawHandler) -> Callable[[F], F]:
    """Attach ``handler`` to a documented endpoint; a RawRoute will call it instead."""

    def attach(endpoint: F) -> F:
        setattr(endpoint, _RAW, handler)
        return endpoint

    return attach


class RawRoute(APIRoute):
    """An APIRoute whose requests go to the endpoint's raw handler when it has one."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler: RawHandler | None = getattr(self.endpoint, _RAW, None)
        if handler is None:
            return super().get_route_handler()

        async def call(request: Request) -> Response:
            return await handler(request)

        return call


def invalid(location: str, name: str, message: str, value: Any = None) -> RequestValidationError:
    """The error FastAPI would have raised (rendered as 422 ``invalid_request``)."""
    return RequestValidationError([{"loc": (location, name), "msg": message, "type": "value_error", "input": value}])


def parse_bool(request: Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter with pydantic's spellings (true/false, 1/0, yes/no, on/off)."""
    text = request.query_params.get(name)
    if text is None:
        return default
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise invalid("query", name, "Input should be a valid boolean", text)


def path_param(request: Request, name: str, max_length: int) -> str:
    value: str = request.path_params[name]
    if not 1 <= len(value) <= max_length:
        raise invalid("path", name, f"String should have 1 to {max_length} characters", value)
    return value
