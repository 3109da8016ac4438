"""The front door serves declared endpoints itself (tuyagate/gateway/front_door.py): it must pick the
route the router would pick, hand the router everything else, and count and log each request by the
route it belongs to. How the answers themselves look (values, error shapes, envelopes) is checked by
the rest of tests/gateway, whose every request goes through the door."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import Receive, Scope, Send

from tests.gateway.conftest import CLOUD_CLIENT_ID, PLUG, Gateway, GatewayFactory, LiveHome
from tuyagate.gateway.auth import JsonTokenStore
from tuyagate.gateway.browser_guard import BrowserGuard
from tuyagate.gateway.endpoints import EndpointRoute, Endpoints, path_param
from tuyagate.gateway.errors import install_error_handlers
from tuyagate.gateway.front_door import MAX_KEPT_PATH, FrontDoor, RouteIndex
from tuyagate.gateway.guard import Guard
from tuyagate.gateway.limits import RequestLimits
from tuyagate.gateway.metrics import Metrics
from tuyagate.gateway.settings import GatewaySettings

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


def _routers_first_full_match(app: FastAPI, method: str, path: str) -> BaseRoute | None:
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": [], "query_string": b""}
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
    return None


@in_module_loop
async def test_the_index_agrees_with_the_router_on_every_route_and_method(gateway: Gateway) -> None:
    """Every route of the real app, every method, with and without a trailing slash: what the index
    serves is the router's first full match, and every declared endpoint the router would pick for
    its own method is served by the door."""
    door = gateway.app.middleware_stack
    assert isinstance(door, FrontDoor)
    paths = {re.sub(r"{[^}]+}", "x1", getattr(r, "path", "")) for r in gateway.app.router.routes}
    served = 0
    for path in sorted(p for p in paths if p):
        for variant in (path, path.rstrip("/") + "/"):
            for method in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"):
                found = door.index.find(method, variant)
                first = _routers_first_full_match(gateway.app, method, variant)
                if found is not None:
                    assert found[0] is first, (method, variant)
                    served += 1
                elif isinstance(first, EndpointRoute):
                    assert method != first.declaration.method, (method, variant)  # HEAD on a GET endpoint
    assert served >= 30  # the declared endpoints of the three APIs


@in_module_loop
async def test_the_door_and_the_router_answer_alike(gateway: Gateway, home: LiveHome) -> None:
    """The same requests through the door and through FastAPI's stack without it: same status, content
    type and body. Both reach the endpoint's one ``serve``, so this checks the door's routing and its
    hand-over (404, 405 and the envelope of unknown cloud paths come from the router on both sides)."""
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


@in_module_loop
async def test_head_and_a_root_path_go_to_the_router(gateway: Gateway, home: LiveHome) -> None:
    path = f"/api/v1/devices/{home.id(PLUG)}/status"
    head = await gateway.client.head(path)
    assert (head.status_code, head.headers["content-type"], head.content) == (200, "application/json", b"")
    metrics = gateway.app.state.gateway.metrics
    assert metrics.requests[("HEAD", "/api/v1/devices/{device_id}/status", "200")] == 1
    # Mounted under a prefix by a proxy (ASGI root_path): the router strips it, the door stays out of it.
    transport = httpx.ASGITransport(app=gateway.app, root_path="/gw", client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        answer = await client.get("/gw" + path)
    assert answer.status_code == 200
    assert answer.json()["device_id"] == home.id(PLUG)


@in_module_loop
async def test_a_refused_request_is_logged_by_its_route_so_a_secret_in_its_path_stays_out(
    start_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    gw = await start_gateway(rate_limit=1.0, rate_limit_burst=1, rate_limit_loopback=True)
    secret = "refresh0123456789abcdefsecret"
    with caplog.at_level(logging.DEBUG, logger="tuyagate.gateway.access"):
        first = await gw.client.get(f"/v1.0/token/{secret}")
        refused = await gw.client.head(f"/v1.0/token/{secret}")  # HEAD: refused before any route is served
    assert (first.status_code, refused.status_code) == (200, 429)
    logged = [r.getMessage() for r in caplog.records if r.name == "tuyagate.gateway.access"]
    assert len(logged) == 2
    assert logged[0].startswith("GET /v1.0/token/{refresh_token} 200 ")
    assert logged[1].startswith("HEAD /v1.0/token/{refresh_token} 429 ")
    assert not any(secret in line for line in logged)
    assert gw.app.state.gateway.metrics.requests[("HEAD", "/v1.0/token/{refresh_token}", "429")] == 1


async def test_a_stream_that_fails_after_it_began_is_counted_with_the_status_it_sent(tmp_path: Path) -> None:
    """The client got a 200 and part of the body: that is what the metrics say, not a 500."""
    api = Endpoints()

    @api.get("/stream", summary="a stream that breaks")
    async def stream(gw: Any, request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first\n"
            raise RuntimeError("the source went away")

        return StreamingResponse(chunks(), media_type="text/plain")

    app = FastAPI()
    install_error_handlers(app)
    app.router.routes.extend(api.routes)
    app.state.gateway = None
    settings = GatewaySettings(data_dir=tmp_path)
    metrics = Metrics()
    guard = Guard(settings, JsonTokenStore(tmp_path / "tokens.json"), metrics)
    door = FrontDoor(
        app.build_middleware_stack(),
        routes=list(app.router.routes),
        limits=RequestLimits(max_bytes=1024),
        browser=BrowserGuard(guard),
        metrics=metrics,
    )
    app.middleware_stack = door
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        answer = await client.get("/stream")
    assert answer.status_code == 200
    assert metrics.requests == {("GET", "/stream", "200"): 1}


def test_odd_long_paths_are_not_remembered() -> None:
    index = RouteIndex(list(_endpoints().routes))
    assert index.find("GET", "/things/" + "x" * MAX_KEPT_PATH) is not None
    assert index.find("GET", "/nowhere/" + "x" * MAX_KEPT_PATH) is None
    assert len(index) == 0
    assert index.find("GET", "/things/lamp") is not None
    assert len(index) == 1


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
    assert metrics.requests[("GET", "/api/v1/devices/{device_id}/status", "429")] == 1  # labelled by its route
    assert metrics.errors["rate_limited"] == 1


@in_module_loop
async def test_a_body_sent_in_chunks_is_read_whole(gateway: Gateway, home: LiveHome) -> None:
    """``request_body`` joins a body that arrives as several ``http.request`` messages (chunked, with
    a pause between the chunks so that the endpoint sees the first before the second arrives)."""
    host, port = gateway.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    first, second = b'{"dps": {"1"', b": false}}"
    try:
        writer.write(
            f"POST /api/v1/devices/{home.id(PLUG)}/commands HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode()
            + b"%x\r\n%s\r\n" % (len(first), first)
        )
        await asyncio.sleep(0.2)  # the client's pace
        writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(second), second))
        answer = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer
    assert b'"success":true' in answer, answer
    assert b'"dps":{"1":false}' in answer, answer
