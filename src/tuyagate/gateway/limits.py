"""Request body size limit, enforced before the body is buffered; and a request rate limit per client.

A declared ``Content-Length`` above the limit is refused at once with 413; a chunked body is counted
as it arrives and refused as soon as it passes the limit, so no client can make the gateway buffer
an unbounded body.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections import OrderedDict

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tuyagate.gateway.settings import is_loopback

__all__ = ["BodyLimitMiddleware", "RateLimitMiddleware"]


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {"error": {"code": "payload_too_large", "message": f"request body is larger than {self.max_bytes} bytes"}}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
                if declared > self.max_bytes:
                    await self._refuse(send)
                    return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, f"request body is larger than {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)


@functools.lru_cache(maxsize=1024)
def _is_loopback_client(host: str) -> bool:
    return is_loopback(host)


class RateLimitMiddleware:
    """A token bucket per client IP: ``rate`` requests a second on average, bursts up to ``burst``.

    One client flooding the API must not starve the others, nor the devices behind it. Requests over
    the limit get 429 ``rate_limited`` with ``Retry-After`` and cost nothing further. Clients on
    loopback are processes of this machine, already trusted as much as the gateway's own user; they
    are exempt unless ``loopback`` is set. At most ``max_clients`` buckets are kept (least recently
    seen dropped first), so a scan from many addresses cannot grow memory without bound.
    """

    def __init__(
        self, app: ASGIApp, rate: float, burst: int, *, loopback: bool = False, max_clients: int = 10_000
    ) -> None:
        self.app = app
        self.rate = rate
        self.burst = float(burst)
        self.loopback = loopback
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # ip -> (tokens, last refill)

    def _take(self, client: str, now: float) -> float:
        """0 when the request may go on, else the seconds until a token is there."""
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] != "http" or self.rate <= 0 or client is None:
            await self.app(scope, receive, send)
            return
        host = client[0]
        if not self.loopback and _is_loopback_client(host):
            await self.app(scope, receive, send)
            return
        wait = self._take(host, time.monotonic())
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry = str(max(1, math.ceil(wait)))
        body = json.dumps(
            {"error": {"code": "rate_limited", "message": f"too many requests from {host}; retry in {retry} s"}}
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", retry.encode()),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})
