"""Per-request limits in one ASGI layer: a request rate per client address, and the body size.

Rate: a token bucket per client IP, ``rate`` requests a second on average in bursts of up to
``burst``. One client flooding the API must not starve the others, nor the devices behind it; a
request over the limit gets 429 ``rate_limited`` with ``Retry-After`` and costs nothing further.
Clients on loopback are processes of this machine, already trusted as much as the gateway's own
user; they are exempt unless ``rate_loopback`` is set. At most ``max_clients`` buckets are kept
(least recently seen dropped first), so requests from many addresses cannot grow memory without bound.

Body: a declared ``Content-Length`` above the limit is refused at once with 413; a chunked body is
counted as it arrives and refused as soon as it passes the limit, so no client can make the gateway
buffer an unbounded body.

One layer for both, because every layer costs each request a coroutine and a call or two, and a cached
status read is only a few hundred calls in all (benchmarks/perf_counts.py). The request head's limits
(its time and size) are in :mod:`tuyagate.gateway.http_limits`: they must act before a request exists.
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

__all__ = ["ClientRates", "RequestLimitsMiddleware"]


@functools.lru_cache(maxsize=1024)
def _is_loopback_client(host: str) -> bool:
    return is_loopback(host)


class ClientRates:
    """The token buckets, one per client address."""

    def __init__(self, rate: float, burst: int, *, max_clients: int = 10_000) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # ip -> (tokens, last refill)

    def take(self, client: str, now: float) -> float:
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


async def _refuse(send: Send, status: int, code: str, message: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


class RequestLimitsMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_bytes: int, rate: float = 0.0, burst: int = 1, rate_loopback: bool = False
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.rates = ClientRates(rate, burst) if rate > 0 else None
        self.rate_loopback = rate_loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        if self.rates is not None and client is not None:
            host = client[0]
            if self.rate_loopback or not _is_loopback_client(host):
                wait = self.rates.take(host, time.monotonic())
                if wait > 0:
                    retry = str(max(1, math.ceil(wait)))
                    message = f"too many requests from {host}; retry in {retry} s"
                    await _refuse(send, 429, "rate_limited", message, [(b"retry-after", retry.encode())])
                    return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
                if declared > self.max_bytes:
                    message = f"request body is larger than {self.max_bytes} bytes"
                    await _refuse(send, 413, "payload_too_large", message, [])
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
