"""Endpoints declared once: the declaration serves the request and writes the OpenAPI entry.

An endpoint is one async function plus its declaration -- method, path, summary, parameters, body
model, answer type, error answers and the API-token scope it needs::

    api = Endpoints(tags=("devices",))

    @api.get("/api/v1/devices/{device_id}/status", summary="...", params=(DEVICE, REFRESH),
             response=StatusOut, errors=DEVICE_ERRORS, scope="read")
    async def get_status(gw: GatewayState, request: Request, device_id: str, refresh: bool) -> StatusOut:
        ...

:class:`EndpointRoute` serves it: it checks the token, reads and validates the declared
parameters and body, calls the function with them, and writes its answer with the serializer of
the declared type (:mod:`tuyagate.gateway.serialize`). :func:`install_openapi` writes the same
declaration into ``/openapi.json``. Why not plain FastAPI routes: on the 2-core target FastAPI's
per-request dependency solving and validation cost more than a cached status read itself; why not
a fast handler beside a documented FastAPI shell (as before): two definitions of one endpoint drift.
Errors raised here are the ones FastAPI raises (``RequestValidationError``), so they leave in the
gateway's one error shape, or as a Tuya envelope on the cloud-compatible paths.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Message, Receive, Send
from starlette.types import Scope as AsgiScope

from tuyagate.gateway.auth import Scope
from tuyagate.gateway.errors import answer_error
from tuyagate.gateway.guard import SCHEME, SECURITY_SCHEME, bearer_token, client_ip
from tuyagate.gateway.models import ErrorOut
from tuyagate.gateway.serialize import JSON, dump, json_schemas

if TYPE_CHECKING:
    from tuyagate.gateway.state import GatewayState

__all__ = [
    "SENT_STATUS",
    "Endpoint",
    "EndpointRoute",
    "Endpoints",
    "Param",
    "install_openapi",
    "invalid",
    "path_param",
    "query",
    "request_body",
]

Handler = Callable[..., Awaitable[Any]]
H = TypeVar("H", bound=Handler)
ErrorDoc = str | tuple[str, Any]  # a description (the answer is an ErrorOut), or (description, answer type)
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
_PLACEHOLDER = re.compile(r"{(\w+)}")
SENT_STATUS = "tuyagate.sent_status"  # scope key: the status of an answer that has begun (see _send_response)
_BODY = "tuyagate.body"  # scope key: the request's body, once read


async def request_body(request: Request) -> bytes:
    """The request's whole body, read once and kept for whoever asks again (a signature check, the
    endpoint's own validation).

    Read straight from ``receive``: Starlette's ``Request.body()`` goes through an async generator per
    request, which cost more than the rest of reading a small JSON body. A client that leaves first
    raises Starlette's ``ClientDisconnect``, as ``Request.body()`` would.
    """
    scope = request.scope
    kept: bytes | None = scope.get(_BODY)
    if kept is not None:
        return kept
    receive = request.receive
    message = await receive()
    chunks: list[bytes] = []
    while True:
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
        message = await receive()
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    scope[_BODY] = body
    return body


def invalid(location: str, name: str, message: str, value: Any = None) -> RequestValidationError:
    """The error FastAPI would raise for a bad parameter (422 ``invalid_request``)."""
    return RequestValidationError([{"loc": (location, name), "msg": message, "type": "value_error", "input": value}])


@dataclass(frozen=True, slots=True)
class Param:
    """A path or query parameter: how it is read and validated, and how it is documented."""

    name: str
    where: Literal["path", "query"]
    description: str = ""
    kind: type[str] | type[bool] = str
    default: str | bool | None = None
    max_length: int | None = None

    def read(self, request: Request) -> Any:
        if self.where == "path":
            text: str | None = request.path_params[self.name]
        else:
            # most requests have no query string: no parsing then
            text = request.query_params.get(self.name) if request.scope["query_string"] else None
            if text is None:
                return self.default
        assert text is not None
        if self.kind is bool:
            word = text.strip().lower()
            if word in _TRUE:
                return True
            if word in _FALSE:
                return False
            raise invalid(self.where, self.name, "Input should be a valid boolean", text)
        if self.max_length is not None and len(text) > self.max_length:
            raise invalid(self.where, self.name, f"String should have at most {self.max_length} characters", text)
        return text

    def openapi(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "boolean" if self.kind is bool else "string"}
        if self.where == "path":
            schema["minLength"] = 1
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.default is not None:
            schema["default"] = self.default
        doc: dict[str, Any] = {"name": self.name, "in": self.where, "required": self.where == "path", "schema": schema}
        if self.description:
            doc["description"] = self.description
        return doc


def path_param(name: str, description: str, *, max_length: int | None = None) -> Param:
    return Param(name, "path", description, max_length=max_length)


def query(
    name: str,
    description: str,
    *,
    kind: type[str] | type[bool] = str,
    default: str | bool | None = None,
    max_length: int | None = None,
) -> Param:
    return Param(name, "query", description, kind, default, max_length)


@dataclass(frozen=True)
class Endpoint:
    """The declaration of one endpoint (see the module docstring)."""

    method: str
    path: str
    handler: Handler
    summary: str
    description: str = ""
    tags: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    body: type[BaseModel] | None = None  # documented; validated into ``body=`` unless validate_body is false
    validate_body: bool = True  # false: the handler gets the raw bytes (e.g. to check a signature over them first)
    response: Any = None  # the answer's type (a TypedDict, ``dict[str, Any]``, ``str`` for text answers)
    media_type: str = JSON
    example: Any = None
    errors: Mapping[int, ErrorDoc] = field(default_factory=dict)
    scope: Scope | None = None  # the API-token scope needed (when tokens are in use); None: the handler decides

    def error_docs(self) -> dict[int, tuple[str, Any]]:
        docs: dict[int, ErrorDoc] = dict(self.errors)
        if self.scope is not None:
            docs.setdefault(401, "missing or unknown API token")
            if self.scope == "control":
                docs.setdefault(403, "the API token has only the read scope")
        return {status: (doc, ErrorOut) if isinstance(doc, str) else doc for status, doc in docs.items()}

    def schema_kinds(self) -> list[tuple[Any, str]]:
        """The types whose JSON schemas the OpenAPI entry refers to."""
        kinds: list[tuple[Any, str]] = []
        if self.body is not None:
            kinds.append((self.body, "validation"))
        if self.response is not None and self.media_type == JSON:
            kinds.append((self.response, "serialization"))
        kinds.extend((kind, "serialization") for _, kind in self.error_docs().values())
        return kinds

    def operation(self, schemas: Mapping[tuple[Any, str], dict[str, Any]]) -> dict[str, Any]:
        """The OpenAPI operation object."""
        slug = re.sub(r"\W+", "_", self.path).strip("_")
        op: dict[str, Any] = {
            "tags": list(self.tags),
            "summary": self.summary,
            "operationId": f"{self.handler.__name__}_{slug}_{self.method.lower()}",
        }
        if self.description:
            op["description"] = self.description
        if self.params:
            op["parameters"] = [p.openapi() for p in self.params]
        if self.body is not None:
            op["requestBody"] = {"required": True, "content": {JSON: {"schema": schemas[(self.body, "validation")]}}}
        ok: dict[str, Any] = {"description": "Successful Response"}
        if self.response is not None:
            content: dict[str, Any] = {
                "schema": schemas[(self.response, "serialization")] if self.media_type == JSON else {"type": "string"}
            }
            if self.example is not None:
                content["example"] = self.example
            ok["content"] = {self.media_type: content}
        responses: dict[str, Any] = {"200": ok}
        for status, (description, kind) in sorted(self.error_docs().items()):
            schema = schemas[(kind, "serialization")]
            responses[str(status)] = {"description": description, "content": {JSON: {"schema": schema}}}
        op["responses"] = responses
        if self.scope is not None:
            op["security"] = [{SCHEME: []}]
        return op


class EndpointRoute(Route):
    """Serves one :class:`Endpoint`: ``serve`` reads the request, calls the function and sends its answer.

    The front door (:mod:`tuyagate.gateway.front_door`) calls ``serve`` directly for the requests it
    matches; Starlette's router calls the same ``serve`` for the rest (``HEAD``, say), so there is one
    way an endpoint answers. Its errors leave through the app's exception handlers either way.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        self.declaration = endpoint
        self._params = endpoint.params
        self._body = endpoint.body
        self._json = endpoint.media_type == JSON
        self._media_header = endpoint.media_type.encode("latin-1")
        super().__init__(
            endpoint.path,
            self._unused,
            methods=[endpoint.method],
            name=endpoint.handler.__name__,
            include_in_schema=False,
        )
        self.app = self._asgi

    @staticmethod
    async def _unused(request: Request) -> Response:  # pragma: no cover - Route wants an endpoint; ``app`` replaces it
        raise NotImplementedError

    def matches(self, scope: AsgiScope) -> tuple[Match, AsgiScope]:
        match, child = super().matches(scope)
        if match is not Match.NONE:
            child["route"] = self  # the front door labels requests with the route's template
        return match, child

    async def _asgi(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        await self.serve(scope, receive, send)

    async def serve(self, scope: AsgiScope, receive: Receive, send: Send) -> int:
        """Answer one request whose ``path_params`` are in ``scope``; the HTTP status sent."""
        request = Request(scope, receive)
        try:
            answer = await self._answer(request)
        except Exception as exc:  # noqa: BLE001 - every error leaves through the app's handlers
            return await answer_error(scope, receive, send, exc)
        if isinstance(answer, Response):
            return await self._send_response(answer, scope, receive, send)
        headers = [(b"content-type", self._media_header), (b"content-length", str(len(answer)).encode("latin-1"))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})
        return 200

    async def _answer(self, request: Request) -> Response | bytes:
        endpoint = self.declaration
        gw: GatewayState = request.app.state.gateway
        if endpoint.scope is not None and gw.guard.required():
            gw.guard.check(client_ip(request), bearer_token(request), endpoint.scope)
        kwargs = {p.name: p.read(request) for p in self._params}
        if self._body is not None:
            raw = await request_body(request)
            kwargs["body"] = self._parse_body(self._body, raw) if endpoint.validate_body else raw
        answer = await endpoint.handler(gw, request, **kwargs)
        if isinstance(answer, Response):
            return answer
        if self._json:
            return dump(endpoint.response, answer)
        if answer is None:
            return b""
        return answer.encode() if isinstance(answer, str) else bytes(answer)

    @staticmethod
    async def _send_response(response: Response, scope: AsgiScope, receive: Receive, send: Send) -> int:
        """A handler's own Response (a stream, a file); an error before its first byte is answered as such."""
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                scope[SENT_STATUS] = int(message["status"])  # what the front door counts if the stream fails
            await send(message)

        try:
            await response(scope, receive, tracked)
        except Exception as exc:
            if started:
                raise
            return await answer_error(scope, receive, send, exc)
        return response.status_code

    @staticmethod
    def _parse_body(model: type[BaseModel], raw: bytes) -> BaseModel:
        try:
            return model.model_validate_json(raw)
        except PydanticValidationError as exc:
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


class Endpoints:
    """The endpoints of one API module, in declaration order (``.routes`` go into the app)."""

    def __init__(self, *, tags: tuple[str, ...] = ()) -> None:
        self.tags = tags
        self.routes: list[EndpointRoute] = []

    def add(self, endpoint: Endpoint) -> None:
        """Register an endpoint, refusing a declaration that does not fit its function."""
        placeholders = _PLACEHOLDER.findall(endpoint.path)
        declared = [p.name for p in endpoint.params if p.where == "path"]
        if placeholders != declared:
            raise TypeError(f"{endpoint.path}: path parameters {placeholders} are declared as {declared}")
        expected = ["gw", "request", *(p.name for p in endpoint.params), *(["body"] if endpoint.body else [])]
        names = list(inspect.signature(endpoint.handler).parameters)
        if names != expected:
            raise TypeError(f"{endpoint.handler.__name__} takes {names}; its declaration passes {expected}")
        self.routes.append(EndpointRoute(endpoint))

    def get(self, path: str, *, summary: str, **declaration: Any) -> Callable[[H], H]:
        return self._decorator("GET", path, summary, declaration)

    def post(self, path: str, *, summary: str, **declaration: Any) -> Callable[[H], H]:
        return self._decorator("POST", path, summary, declaration)

    def _decorator(self, method: str, path: str, summary: str, declaration: dict[str, Any]) -> Callable[[H], H]:
        declaration.setdefault("tags", self.tags)

        def register(handler: H) -> H:
            self.add(Endpoint(method, path, handler, summary, **declaration))
            return handler  # unchanged: decorators stack to serve one function on several paths

        return register


def install_openapi(app: FastAPI) -> None:
    """Make ``/openapi.json`` document the declared endpoints (and any FastAPI routes) in app order."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = build()
            declared = [r.declaration for r in app.routes if isinstance(r, EndpointRoute)]
            schemas, definitions = json_schemas(kind for e in declared for kind in e.schema_kinds())
            theirs: dict[str, Any] = doc.get("paths", {})
            paths: dict[str, Any] = {}
            for route in app.routes:
                if isinstance(route, EndpointRoute):
                    endpoint = route.declaration
                    paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = endpoint.operation(schemas)
                elif isinstance(route, Route) and route.path in theirs:
                    paths.setdefault(route.path, {}).update(theirs[route.path])
            doc["paths"] = paths
            components = doc.setdefault("components", {})
            components.setdefault("schemas", {}).update(definitions)
            components.setdefault("securitySchemes", {})[SCHEME] = SECURITY_SCHEME
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
