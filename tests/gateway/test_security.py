"""Security properties of the real server (uvicorn on 127.0.0.1:0, as ``tuyagate serve`` runs it).

Auth beyond loopback (the rule, checked without binding anything but loopback), token scopes on every
declared route and on the event stream, the request rate limit per client, the size limits of the
request head and body, slow clients cut off within the header timeout, static files that cannot leave
their folder, no request that makes the gateway connect where the request says (SSRF), and no CORS.
Failed-auth throttling has its own test in test_auth.py.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from tests.gateway.conftest import PLUG, Gateway, GatewayFactory, LiveHome
from tuyagate.errors import ConfigError
from tuyagate.gateway.app import create_app
from tuyagate.gateway.auth import JsonTokenStore, create_token
from tuyagate.gateway.endpoints import EndpointRoute
from tuyagate.gateway.server import check_exposure
from tuyagate.gateway.settings import GatewaySettings, is_loopback

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def raw_request(url: str, data: bytes, *, timeout: float = 10.0) -> bytes:
    """Send a ``Connection: close`` request as it is (no client normalises its path); read until the server closes."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(data)
        async with asyncio.timeout(timeout):
            return await reader.read()
    finally:
        writer.close()


def status_of(answer: bytes) -> int:
    match = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    assert match, answer[:200]
    return int(match.group(1))


# ----------------------------------------------------------------------------- auth beyond loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.45.6.7", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("127.0.0.1.example.com", False),
        ("", False),
    ],
)
async def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


async def test_tokens_are_required_beyond_loopback(home: LiveHome, tmp_path: Path, gateway: Gateway) -> None:
    """The rule ``serve`` applies before it binds, and the per-request check of a gateway that does listen
    beyond loopback -- shown on a loopback server told it listens on another address (nothing else is bound)."""
    app = create_app(GatewaySettings(data_dir=tmp_path / "exposed"), home.hub, manage_manager=False)
    state = app.state.gateway
    for exposed in ("0.0.0.0", "192.168.1.10", "::"):
        with pytest.raises(ConfigError, match="without an API token"):
            check_exposure(state, exposed)
    with pytest.raises(ConfigError, match="only allowed on a loopback"):
        GatewaySettings(data_dir=tmp_path, host="10.0.0.1", auth="off")
    check_exposure(state, "127.0.0.1")  # loopback needs no token
    create_token(state.tokens, "t", "read")
    check_exposure(state, "0.0.0.0")  # with a token it may listen

    guard = gateway.app.state.gateway.guard
    assert (await gateway.client.get("/api/v1/devices")).status_code == 200  # loopback, no token: open
    guard.listen_host = "192.168.1.10"
    try:
        r = await gateway.client.get("/api/v1/devices")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthorized"
    finally:
        guard.listen_host = "127.0.0.1"


# ----------------------------------------------------------------------------- scopes on every route

# Routes with no token scope of their own, and why (any other unscoped route fails the test).
UNSCOPED = {
    "/": "the dashboard page: static, its data comes from scoped routes",
    "/healthz": "liveness for supervisors",
    "/openapi.json": "the API's description",
    "/docs": "the API explorer page",
    "/docs/oauth2-redirect": "the API explorer page",
    "/docs-assets": "the explorer's scripts",
    "/ui/{name}": "the dashboard's assets",
    "/dashboard": "the dashboard page",
    "/api/v1/events": "checked in the handler (authorize 'read'); tested below",
    "/tasmota/{device_id}/cm": "the token comes as Tasmota's password; checked in the handler",
}
CLOUD_SIGNED = "/v1."  # the Tuya-cloud-compatible API: signed requests (client id, secret, access token)


def concrete(path: str, device_id: str) -> str:
    return path.replace("{device_id}", device_id).replace("{refresh_token}", "x").replace("{name}", "x")


async def test_every_route_enforces_its_token_scope(
    start_gateway: GatewayFactory, home: LiveHome, tmp_path: Path
) -> None:
    store = JsonTokenStore(tmp_path / "api-tokens.json")
    _, reader = create_token(store, "reader", "read")
    _, controller = create_token(store, "controller", "control")
    gw = await start_gateway(auth_max_failures=10_000)
    device_id = home.id(PLUG)
    checked: dict[str, int] = {"read": 0, "control": 0}
    for route in gw.app.routes:
        path = getattr(route, "path", "")
        if not isinstance(route, EndpointRoute) or route.declaration.scope is None:
            assert path in UNSCOPED or path.startswith(CLOUD_SIGNED), f"{path} has no token scope"
            continue
        endpoint = route.declaration
        scope = endpoint.scope
        assert scope is not None
        url = concrete(endpoint.path, device_id)
        # A body the schema refuses: an authorised request stops at 422 and changes nothing.
        body: dict[str, Any] = {"json": {"unexpected": [1]}} if endpoint.body is not None else {}

        method = endpoint.method

        async def call(token: str | None, *, url: str = url, body: dict[str, Any] = body, method: str = method):
            auth = {"Authorization": f"Bearer {token}"} if token else {}
            return await gw.client.request(method, url, headers=auth, **body)

        where = f"{endpoint.method} {endpoint.path}"
        for token in (None, "tg_not-a-token"):
            r = await call(token)
            assert r.status_code == 401, (where, token, r.status_code, r.text[:200])
            assert r.json()["error"]["code"] == "unauthorized"
        r = await call(reader)
        if endpoint.scope == "control":
            assert r.status_code == 403, (where, r.status_code)
            assert r.json()["error"]["code"] == "forbidden"
            if endpoint.body is not None:
                r = await call(controller)
                assert r.status_code == 422, (where, r.status_code, r.text[:200])
        else:
            assert r.status_code not in (401, 403, 429), (where, r.status_code)
        checked[scope] += 1
    print(f"security: token scopes enforced on {checked['read']} read and {checked['control']} control routes + SSE")
    assert checked["read"] >= 9, checked
    assert checked["control"] >= 3, checked

    # The event stream: no token, a wrong one, then a read token that gets the stream.
    assert (await gw.client.get("/api/v1/events")).status_code == 401
    wrong = await gw.client.get("/api/v1/events", headers={"Authorization": "Bearer tg_wrong"})
    assert wrong.status_code == 401
    async with gw.client.stream("GET", "/api/v1/events", headers={"Authorization": f"Bearer {reader}"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
    # Tasmota: the token is the password; a read token may ask, not switch.
    tasmota = f"/tasmota/{PLUG}/cm"
    assert (await gw.client.get(tasmota, params={"cmnd": "Power"})).status_code == 401
    assert (await gw.client.get(tasmota, params={"cmnd": "Power", "password": reader})).status_code == 200
    r = await gw.client.get(tasmota, params={"cmnd": "Power Off", "password": reader})
    assert r.status_code == 403
    # The cloud-compatible API without a signature answers a Tuya error envelope and no data.
    r = await gw.client.get(f"/v1.0/devices/{device_id}")
    assert r.json()["success"] is False
    assert "result" not in r.json()


# ----------------------------------------------------------------------------- rate limit


async def test_a_client_over_its_rate_gets_429_and_others_are_served(start_gateway: GatewayFactory) -> None:
    gw = await start_gateway(rate_limit=2.0, rate_limit_burst=5, rate_limit_loopback=True)
    statuses = [(await gw.client.get("/healthz")).status_code for _ in range(8)]
    assert statuses[:5] == [200] * 5
    assert 429 in statuses[5:]
    r = await gw.client.get("/healthz")
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["retry-after"]) <= 1
    # Another client address (127.0.0.2 is this machine too) has its own bucket.
    other = httpx.AsyncClient(base_url=gw.url, transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"))
    async with other:
        assert (await other.get("/healthz")).status_code == 200
    # Tokens come back with time: poll (with a deadline) until the first client is served again.
    for _ in range(25):  # at most 5 s
        if (await gw.client.get("/healthz")).status_code == 200:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the client's bucket did not refill")


async def test_loopback_clients_are_exempt_by_default(gateway: Gateway) -> None:
    settings = gateway.settings
    assert (settings.rate_limit, settings.rate_limit_burst, settings.rate_limit_loopback) == (50.0, 200, False)
    statuses = {(await gateway.client.get("/healthz")).status_code for _ in range(settings.rate_limit_burst + 50)}
    assert statuses == {200}


# ----------------------------------------------------------------------------- sizes of head and body


async def test_oversized_url_headers_and_body_are_refused(start_gateway: GatewayFactory) -> None:
    gw = await start_gateway(max_url_bytes=2048, max_header_bytes=4096, max_headers=20)
    r = await gw.client.get("/api/v1/devices", params={"q": "x" * 3000})
    assert r.status_code == 414
    assert r.json()["error"]["code"] == "uri_too_long"
    r = await gw.client.get("/api/v1/devices", headers={"X-Big": "y" * 5000})
    assert r.status_code == 431
    assert r.json()["error"]["code"] == "headers_too_large"
    r = await gw.client.get("/api/v1/devices", headers={f"X-H{i}": "1" for i in range(30)})
    assert r.status_code == 431
    r = await gw.client.post(f"/api/v1/devices/{PLUG}/commands", content=b"{" + b" " * 70_000 + b"}")
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    # Just under the limits, the same requests are served.
    assert (await gw.client.get("/api/v1/devices", params={"q": "x" * 1500})).status_code == 200
    assert (await gw.client.get("/api/v1/devices", headers={"X-Big": "y" * 3000})).status_code == 200


async def test_default_head_limits(gateway: Gateway) -> None:
    s = gateway.settings
    assert (s.header_timeout, s.max_url_bytes, s.max_header_bytes, s.max_headers) == (10.0, 8192, 16384, 100)
    assert (await gateway.client.get("/healthz", params={"q": "x" * 9000})).status_code == 414
    assert (await gateway.client.get("/healthz", headers={"X-Big": "y" * 17_000})).status_code == 431


# ----------------------------------------------------------------------------- slow clients


async def test_a_client_sending_one_byte_a_second_is_cut_off(start_gateway: GatewayFactory) -> None:
    timeout = 2.0
    gw = await start_gateway(header_timeout=timeout)
    host, port = gw.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    started = time.monotonic()
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
    answer = b""
    try:
        for byte in head:
            writer.write(bytes([byte]))
            try:
                # One byte a second is the pace of the attack, not a synchronisation.
                answer = await asyncio.wait_for(reader.read(4096), timeout=1.0)
            except TimeoutError:
                continue
            break
        closed_after = time.monotonic() - started
        rest = await asyncio.wait_for(reader.read(), timeout=2.0)
    finally:
        writer.close()
    assert status_of(answer) == 408, answer
    assert b"request_timeout" in answer + rest
    print(
        f"security: a client sending a byte a second was cut off after {closed_after:.2f} s (header_timeout {timeout})"
    )
    assert timeout - 0.1 <= closed_after <= timeout + 1.5, closed_after
    # The server serves others all the while, and afterwards.
    assert (await gw.client.get("/healthz")).status_code == 200


async def test_a_slow_head_after_served_requests_on_one_connection_is_cut_off(start_gateway: GatewayFactory) -> None:
    """The head timer is one per connection: each later head on a keep-alive connection still gets
    its own full time, counted from its first byte, and no more."""
    timeout = 1.0
    gw = await start_gateway(header_timeout=timeout)
    host, port = gw.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    try:
        for _ in range(3):  # served requests, the last one well after the connection's first timer
            writer.write(request)
            assert status_of(await asyncio.wait_for(reader.readuntil(b"}"), timeout=5.0)) == 200
            await asyncio.sleep(0.6)  # the pace of the client, not a synchronisation
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127")  # and then nothing
        started = time.monotonic()
        answer = await asyncio.wait_for(reader.read(), timeout=5.0)
        cut_after = time.monotonic() - started
    finally:
        writer.close()
    assert status_of(answer) == 408, answer
    assert timeout - 0.1 <= cut_after <= timeout + 1.0, cut_after


async def test_an_idle_keep_alive_connection_is_closed_after_its_timeout_and_a_busy_one_is_not(
    start_gateway: GatewayFactory,
) -> None:
    """The keep-alive deadline is one timer per connection too: it runs from the end of the last
    answer, whatever came before."""
    idle = 0.5
    gw = await start_gateway(uvicorn_options={"timeout_keep_alive": idle})
    host, port = gw.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    try:
        for _ in range(6):  # 1.8 s of requests 0.3 s apart: longer than the timeout, each pause shorter
            writer.write(request)
            assert status_of(await asyncio.wait_for(reader.readuntil(b"}"), timeout=5.0)) == 200
            await asyncio.sleep(0.3)  # the pace of the client, not a synchronisation
        writer.write(request)
        assert status_of(await asyncio.wait_for(reader.readuntil(b"}"), timeout=5.0)) == 200
        answered = time.monotonic()
        assert await asyncio.wait_for(reader.read(), timeout=5.0) == b""  # then closed, idle
        closed_after = time.monotonic() - answered
    finally:
        writer.close()
    assert idle - 0.1 <= closed_after <= idle + 1.0, closed_after


async def test_a_connection_that_sends_nothing_is_closed_silently(start_gateway: GatewayFactory) -> None:
    gw = await start_gateway(header_timeout=1.0)
    host, port = gw.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    started = time.monotonic()
    try:
        answer = await asyncio.wait_for(reader.read(), timeout=5.0)
    finally:
        writer.close()
    assert answer == b""  # closed without an answer a client could take for its next request's
    assert time.monotonic() - started < 3.0


async def test_a_slow_answer_is_not_cut_by_the_header_timeout(start_gateway: GatewayFactory) -> None:
    """The timeout is for the head only: an event stream held open longer than it goes on."""
    gw = await start_gateway(header_timeout=0.5)
    async with gw.client.stream("GET", "/api/v1/events") as r:
        assert r.status_code == 200
        pings = 0
        async with asyncio.timeout(5):
            async for line in r.aiter_lines():
                pings += line.startswith(":")
                if pings >= 4:  # heartbeats every 0.3 s: well past the 0.5 s head timeout
                    break
    assert pings >= 4


# ----------------------------------------------------------------------------- static files

ESCAPES = [
    "/ui/..%2F..%2Fsettings.py",
    "/ui/%2e%2e%2fapp.py",
    "/ui/../app.py",
    "/ui/..%5Capp.py",
    "/ui/%2e%2e/%2e%2e/settings.py",
    "/docs-assets/../../../../etc/passwd",
    "/docs-assets/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/docs-assets/%2e%2e/%2e%2e/fastapi_offline/__init__.py",
    "/docs-assets/....//....//etc/passwd",
    "/docs-assets//etc/passwd",
    "/docs-assets/%00swagger-ui.css",
]


@pytest.mark.parametrize("path", ESCAPES)
async def test_static_files_cannot_leave_their_folder(gateway: Gateway, path: str) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    answer = await raw_request(gateway.url, request.encode())
    assert status_of(answer) in (400, 404), answer[:300]
    for leak in (b"root:", b"import ", b"__all__", b"def "):
        assert leak not in answer, (path, answer[:300])


async def test_static_files_are_served_from_their_folder(gateway: Gateway) -> None:
    r = await gateway.client.get("/docs-assets/swagger-ui.css")
    assert r.status_code == 200
    assert "text/css" in r.headers["content-type"]


# ----------------------------------------------------------------------------- SSRF

# Names a request parameter or body field may have: none of them can carry an address to connect to.
SAFE_INPUTS = {
    "device_id", "refresh", "code", "since", "limit", "grant_type", "refresh_token", "device_ids", "cmnd",
    "user", "password", "dps", "commands", "value", "seconds", "device",
}  # fmt: skip


def model_fields(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(name)
        for inner in getattr(info.annotation, "__args__", ()) or (info.annotation,):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                names |= model_fields(inner)
    return names


async def test_no_request_chooses_where_the_gateway_connects(gateway: Gateway, home: LiveHome) -> None:
    """Devices are reached at the addresses in the registry. No parameter or body field can name another
    (pinned below), and a canary listener named in every parameter and header a request could carry sees no
    connection while every route is called with them."""
    inputs: set[str] = set()
    for route in gateway.app.routes:
        if isinstance(route, EndpointRoute):
            inputs |= {p.name for p in route.declaration.params}
            if route.declaration.body is not None:
                inputs |= model_fields(route.declaration.body)
    assert inputs <= SAFE_INPUTS, inputs - SAFE_INPUTS

    connections = 0

    async def canary(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    server = await asyncio.start_server(canary, "127.0.9.1", 0)
    port = server.sockets[0].getsockname()[1]
    target = f"127.0.9.1:{port}"
    hostile = {"url": f"http://{target}/", "host": target, "ip": "127.0.9.1", "port": str(port), "callback": target}
    headers = {"X-Forwarded-Host": target, "X-Forwarded-For": "127.0.9.1", "Forwarded": f"host={target}"}
    calls = 0
    try:
        for route in gateway.app.routes:
            if not isinstance(route, EndpointRoute) or route.path in ("/api/v1/scan", "/api/v1/cloud/sync"):
                continue
            for device in (PLUG, home.id(PLUG), target, f"http://{target}/"):
                url = concrete(route.path, device)
                await gateway.client.request(route.declaration.method, url, params=hostile, headers=headers)
                calls += 1
        await gateway.client.get(f"/tasmota/{PLUG}/cm", params={"cmnd": f"WebSend [{target}] /", **hostile})
    finally:
        server.close()
        await server.wait_closed()
    print(
        f"security: {calls} requests naming a canary address in every parameter and header; connections: {connections}"
    )
    assert calls > 50
    assert connections == 0


# ----------------------------------------------------------------------------- CORS


async def test_cors_is_closed(gateway: Gateway) -> None:
    evil = {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    r = await gateway.client.options(f"/api/v1/devices/{PLUG}/commands", headers=evil)
    assert r.status_code in (403, 405)
    assert not any(h.startswith("access-control-") for h in r.headers)
    r = await gateway.client.get("/api/v1/devices", headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert not any(h.startswith("access-control-") for h in r.headers)
    r = await gateway.client.get("/api/v1/devices")  # same-origin and tools: no CORS header either
    assert r.status_code == 200
    assert not any(h.startswith("access-control-") for h in r.headers)
