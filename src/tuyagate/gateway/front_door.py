"""The gateway's outermost ASGI layer: every HTTP request passes here once, and most end here.

Per request it reads the headers once, applies the request limits (:mod:`tuyagate.gateway.limits`)
and the browser guard (:mod:`tuyagate.gateway.browser_guard`), finds the route, times the request,
counts it by route template and writes the access log. A request for a declared endpoint
(:class:`~tuyagate.gateway.endpoints.EndpointRoute`) is served right here by the route's own ``serve``;
anything else (the docs, the dashboard's assets, 404s and 405s) goes on to FastAPI's stack and router.

Why: a cached status read is a few tens of microseconds of work, and the framework layers around it
(FastAPI's and Starlette's error, telemetry, body-limit, exception and exit-stack middlewares, one
layer each for limits, guard and metrics, a router matching ~50 path patterns one by one) cost it
several times that on the 2-core target (BENCHMARKS.md section 12). The routes stay in the FastAPI
router, which still documents them and serves what the door passes on, so there is one route table;
the door keeps an index of it. Errors leave through the app's exception handlers either way, so the
answers are the same ones.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tuyagate.gateway.browser_guard import BrowserGuard
from tuyagate.gateway.endpoints import SENT_STATUS, EndpointRoute
from tuyagate.gateway.errors import ApiError, answer_error
from tuyagate.gateway.limits import RequestLimits

if TYPE_CHECKING:
    from tuyagate.gateway.metrics import Metrics

__all__ = ["MAX_KEPT_PATH", "FrontDoor", "RouteIndex"]

log = logging.getLogger("tuyagate.gateway.access")

_Found = tuple[EndpointRoute, dict[str, Any]] | None
_BODILESS = frozenset({"GET", "HEAD"})  # requests whose handlers never read a body
MAX_KEPT_PATH = 256  # device ids are 20-25 characters: real paths are far shorter


class RouteIndex:
    """Which declared endpoint, if any, the router would pick for a method and path.

    The router takes the first route, in its order, whose pattern and method both match. The index
    asks the same question of each route in the same order, skipping those whose literal start
    (the path up to its first ``{``) the path does not begin with, and stops at the first route that
    is not a declared endpoint and could match: that one, and everything unusual, is the router's.
    Answers are remembered per method and path (at most ``max_paths`` of at most ``MAX_KEPT_PATH``
    characters, so that odd URLs cannot fill memory; all forgotten at once beyond).
    """

    def __init__(self, routes: list[BaseRoute], *, max_paths: int = 4096) -> None:
        self._routes: list[tuple[str, BaseRoute]] = [(_literal_start(route), route) for route in routes]
        self._known: dict[tuple[str, str], _Found] = {}
        self._max_paths = max_paths

    def __len__(self) -> int:
        """How many method and path pairs are remembered."""
        return len(self._known)

    def find(self, method: str, path: str) -> _Found:
        key = (method, path)
        try:
            return self._known[key]
        except KeyError:
            pass
        found = self._search(method, path)
        if len(path) <= MAX_KEPT_PATH:
            if len(self._known) >= self._max_paths:
                self._known.clear()
            self._known[key] = found
        return found

    def route_for(self, path: str) -> BaseRoute | None:
        """The first route whose path pattern matches, whatever the method (to label a refusal)."""
        for start, route in self._routes:
            if path.startswith(start) and isinstance(route, Route) and route.path_regex.match(path):
                return route
        return None

    def _search(self, method: str, path: str) -> _Found:
        for start, route in self._routes:
            if not path.startswith(start):
                continue
            if not isinstance(route, Route):
                return None  # a mount, say: the router decides
            matched = route.path_regex.match(path)
            if matched is None:
                continue
            if route.methods is not None and method not in route.methods:
                continue  # the router would look further too (and answer 405 if nothing else matches)
            if not isinstance(route, EndpointRoute) or method != route.declaration.method:
                return None  # a plain route, or HEAD on a GET endpoint
            convert = route.param_convertors
            return route, {name: convert[name].convert(value) for name, value in matched.groupdict().items()}
        return None


def _literal_start(route: BaseRoute) -> str:
    path: str = getattr(route, "path", "") or ""
    return path.split("{", 1)[0]


class FrontDoor:
    """See the module docstring. ``app`` is FastAPI's own stack, for what the door passes on."""

    def __init__(
        self, app: ASGIApp, *, routes: list[BaseRoute], limits: RequestLimits, browser: BrowserGuard, metrics: Metrics
    ) -> None:
        self.app = app
        self.index = RouteIndex(routes)
        self.limits = limits
        self.browser = browser
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        try:
            status = await self._serve(scope, receive, send)
        except BaseException:
            status = scope.get(SENT_STATUS, 500)  # an answer that failed after it began (a stream)
            raise
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - start
            method = scope["method"]
            self.metrics.observe_request(method, template, status, elapsed)
            # The access log: path only, never the query string (Tasmota clients put passwords there),
            # and the route's template where the path itself carries a secret (a refresh token).
            if log.isEnabledFor(logging.DEBUG):
                path = template if "{refresh_token}" in template else scope["path"]
                log.debug("%s %s %d %.1f ms", method, path, status, elapsed * 1000)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> int:
        host = origin = fetch_site = ""
        length: bytes | None = None
        chunked = False  # transfer-encoding given
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"content-length":
                length = value
            elif name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"sec-fetch-site":
                fetch_site = value.decode("latin-1")
            elif name == b"transfer-encoding":
                chunked = True
        client = scope.get("client")
        try:
            self.limits.admit(client[0] if client else None, length)
            self.browser.admit(host, origin, fetch_site)
        except ApiError as refused:
            # Labelled (and logged) by the route its path belongs to: a path may carry a secret.
            scope["route"] = self.index.route_for(scope["path"])
            return await answer_error(scope, receive, send, refused)
        if chunked or (length is None and scope["method"] not in _BODILESS):
            receive = self.limits.counted(receive)  # a body of no declared length is counted as it comes
        found = None if scope.get("root_path") else self.index.find(scope["method"], scope["path"])
        if found is not None:
            route, params = found
            scope["route"] = route
            scope["path_params"] = dict(params)  # the request's own: the index keeps the original
            return await route.serve(scope, receive, send)
        return await self._pass_on(scope, receive, send)

    async def _pass_on(self, scope: Scope, receive: Receive, send: Send) -> int:
        status = 500

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = scope[SENT_STATUS] = int(message["status"])
            await send(message)

        await self.app(scope, receive, noting_status)
        return status
