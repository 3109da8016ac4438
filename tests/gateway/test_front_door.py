"""The front door serves declared endpoints itself: it must pick the route the router would pick and
give the answer the router's path would give (tuyagate/gateway/front_door.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from tests.gateway.conftest import CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, PLUG, Gateway, GatewayFactory, LiveHome
from tuyagate.gateway.endpoints import EndpointRoute, Endpoints, path_param
from tuyagate.gateway.front_door import FrontDoor, RouteIndex

in_module_loop = pytest.mark.asyncio(loop_scope="module")


async def _plain(request: Request) -> Response:
    return PlainTextResponse("plain")


async def _asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("mounted")(scope, receive, send)


def _endpoints() -> Endpoints:
    api = Endpoints()

    @api.get("/things/{name}", summary="one thing", params=(path_param("name", "its name"),))
    async def get_thing(gw: Any, request: Request, name: str) -> dict[str, str]:
        return {"name": name}

    @api.post("/things/{name}", summary="change a thing", params=(path_param("name", "its name"),))
    async def post_thing(gw: Any, request: Request, name: str) -> dict[str, str]:
        return {"changed": name}

    @api.get("/things/special", summary="a static path after a pattern that matches it")
    async def special(gw: Any, request: Request) -> dict[str, str]:
        return {}

    return api


def _route(api: Endpoints, method: str, path: str) -> EndpointRoute:
    return next(r for r in api.routes if r.declaration.method == method and r.declaration.path == path)


def test_the_index_answers_what_the_router_would_pick() -> None:
    api = _endpoints()
    index = RouteIndex([Route("/plain/{x}", _plain), *api.routes, Mount("/static", app=_asgi_app)])
    found = index.find("GET", "/things/lamp")
    assert found == (_route(api, "GET", "/things/{name}"), {"name": "lamp"})
    # The pattern before the static path matches it first, as in the router.
    assert index.find("GET", "/things/special") == (_route(api, "GET", "/things/{name}"), {"name": "special"})
    # A method the first matching route lacks: the next route that has it.
    assert index.find("POST", "/things/lamp") == (_route(api, "POST", "/things/{name}"), {"name": "lamp"})
    # Left to the router: plain routes, HEAD on a GET endpoint, methods nobody serves (405), unknown paths
    # (404) and mounts.
    assert index.find("GET", "/plain/1") is None
    assert index.find("HEAD", "/things/lamp") is None
    assert index.find("DELETE", "/things/lamp") is None
    assert index.find("GET", "/nowhere") is None
    assert index.find("GET", "/static/app.js") is None


def test_a_mount_before_an_endpoint_keeps_its_paths() -> None:
    api = _endpoints()
    index = RouteIndex([Mount("/things", app=_asgi_app), *api.routes])
    assert index.find("GET", "/things/lamp") is None


def test_the_index_remembers_a_bounded_number_of_paths() -> None:
    index = RouteIndex(list(_endpoints().routes), max_paths=3)
    for n in range(10):
        assert index.find("GET", f"/things/{n}") is not None
        assert len(index) <= 3
    assert index.find("GET", "/things/9") == (_route(_endpoints(), "GET", "/things/{name}"), {"name": "9"})


def _answer(response: httpx.Response) -> tuple[int, str | None, Any]:
    """Status, content type and body; a Tuya envelope's time and trace id differ from answer to answer."""
    body: Any = response.content
    if response.headers.get("content-type") == "application/json":
        body = response.json()
        if isinstance(body, dict):
            body.pop("t", None)
            body.pop("tid", None)
    return response.status_code, response.headers.get("content-type"), body


def _through_the_router(app: FastAPI) -> Any:
    """The app without its front door: FastAPI's own stack and router, as before the door existed."""
    door = app.middleware_stack
    assert isinstance(door, FrontDoor)

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = app
        await door.app(scope, receive, send)

    return inner


@in_module_loop
async def test_the_door_answers_as_the_router_does(gateway: Gateway, home: LiveHome) -> None:
    """Every kind of answer of a declared endpoint, through the door and through the router: same
    status, same content type, same body (the values of a cached read, the error shapes)."""
    transport_door = httpx.ASGITransport(app=gateway.app, client=("127.0.0.1", 5000))
    transport_router = httpx.ASGITransport(app=_through_the_router(gateway.app), client=("127.0.0.1", 5000))
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"/api/v1/devices/{home.id(PLUG)}/status", {}),
        ("GET", f"/api/v1/devices/{home.id(PLUG)}", {}),
        ("GET", "/api/v1/devices/no-such-device/status", {}),
        ("GET", f"/api/v1/devices/{home.id(PLUG)}/status?refresh=maybe", {}),
        ("POST", f"/api/v1/devices/{home.id(PLUG)}/commands", {"content": b"{not json"}),
        ("POST", f"/api/v1/devices/{home.id(PLUG)}/commands", {"json": {"dps": {"999": True}}}),
        ("POST", "/api/v1/devices/no-such-device/commands", {"json": {"dps": {"1": True}}}),
        ("GET", "/v1.0/token?grant_type=1", {"headers": {"client_id": CLOUD_CLIENT_ID, "sign": "0" * 64, "t": "1"}}),
        ("GET", "/v1.0/iot-03/devices/x/status", {}),
        ("PUT", "/api/v1/devices", {}),
        ("GET", "/api/v1/nowhere", {}),
    ]
    async with (
        httpx.AsyncClient(transport=transport_door, base_url="http://127.0.0.1") as door,
        httpx.AsyncClient(transport=transport_router, base_url="http://127.0.0.1") as router,
    ):
        for method, url, extra in requests:
            a = await door.request(method, url, **extra)
            b = await router.request(method, url, **extra)
            assert _answer(a) == _answer(b), (method, url)
    assert CLOUD_CLIENT_SECRET  # the cloud-compatible API is on in these gateways


@in_module_loop
async def test_requests_are_counted_by_template_and_refusals_keep_the_error_shape(
    start_gateway: GatewayFactory, home: LiveHome
) -> None:
    gw = await start_gateway(rate_limit=1.0, rate_limit_burst=1, rate_limit_loopback=True)
    plug = home.id(PLUG)
    assert (await gw.client.get(f"/api/v1/devices/{plug}/status")).status_code == 200
    refused = await gw.client.get(f"/api/v1/devices/{plug}/status")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.headers["retry-after"] == "1"
    metrics = gw.app.state.gateway.metrics
    assert metrics.requests[("GET", "/api/v1/devices/{device_id}/status", "200")] == 1
    assert metrics.requests[("GET", "unmatched", "429")] == 1  # refused before any route was looked up
    assert metrics.errors["rate_limited"] == 1
