"""Per-request limits: a request rate per client address, and the body size.

Rate: a token bucket per client IP, ``rate`` requests a second on average in bursts of up to
``burst``. One client flooding the API must not starve the others, nor the devices behind it; a
request over the limit gets 429 ``rate_limited`` with ``Retry-After`` and costs nothing further.
Clients on loopback are processes of this machine, already trusted as much as the gateway's own
user; they are exempt unless ``rate_loopback`` is set. At most ``max_clients`` buckets are kept
(least recently seen dropped first), so requests from many addresses cannot grow memory without bound.

Body: a declared ``Content-Length`` above the limit is refused at once with 413; a chunked body is
counted as it arrives and refused as soon as it passes the limit, so no client can make the gateway
buffer an unbounded body.

Both are checked by the front door (:mod:`tuyagate.gateway.front_door`), once per request, before
anything else runs. The request head's limits
(its time and size) are in :mod:`tuyagate.gateway.http_limits`: they must act before a request exists.
"""

from __future__ import annotations

import functools
import math
import time
from collections import OrderedDict

from starlette.exceptions import HTTPException
from starlette.types import Message, Receive

from tuyagate.gateway.errors import ApiError
from tuyagate.gateway.settings import is_loopback

__all__ = ["ClientRates", "RequestLimits"]


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


class RequestLimits:
    """The rate and body limits, checked by the front door (:mod:`tuyagate.gateway.front_door`)."""

    def __init__(self, *, max_bytes: int, rate: float = 0.0, burst: int = 1, rate_loopback: bool = False) -> None:
        self.max_bytes = max_bytes
        self.rates = ClientRates(rate, burst) if rate > 0 else None
        self.rate_loopback = rate_loopback

    def admit(self, client: str | None, content_length: bytes | None) -> None:
        """Raise :class:`ApiError` 429 for a client over its rate, 413 for a declared body over the limit."""
        if self.rates is not None and client is not None and (self.rate_loopback or not _is_loopback_client(client)):
            wait = self.rates.take(client, time.monotonic())
            if wait > 0:
                retry = str(max(1, math.ceil(wait)))
                raise ApiError(
                    429,
                    "rate_limited",
                    f"too many requests from {client}; retry in {retry} s",
                    headers={"Retry-After": retry},
                )
        if content_length is not None:
            try:
                declared = int(content_length)
            except ValueError:
                declared = self.max_bytes + 1
            if declared > self.max_bytes:
                raise ApiError(413, "payload_too_large", f"request body is larger than {self.max_bytes} bytes")

    def counted(self, receive: Receive) -> Receive:
        """``receive`` refusing a body (chunked: no length declared) once it passes the limit."""
        seen = 0
        limit = self.max_bytes

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, f"request body is larger than {limit} bytes")
            return message

        return counting_receive
