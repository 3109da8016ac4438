"""Limits on the request head, enforced while it arrives: size of the URL and the headers, and time.

uvicorn (0.54, httptools parser) puts no bound on how long a client may take to send a request's
head, nor on how large the head may grow: a client that opens connections and sends one byte a
second ("slow loris") holds each connection forever, and one that sends endless headers makes the
server buffer them. The ASGI app sees a request only once its head is complete, so these checks
cannot live in a middleware; they live in the connection's protocol object, a small subclass of
uvicorn's that counts bytes in the parser's callbacks and arms one timer per request head:

- the head (request line and headers) must be complete within ``header_timeout`` seconds of the
  connection opening or of the request's first byte, else the answer is 408 and the connection closes
  (a connection that sent nothing at all is closed without an answer);
- a URL (path and query) longer than ``max_url_bytes`` is refused with 414;
- headers beyond ``max_header_bytes`` in total, or more than ``max_headers`` of them, get 431.

The body has its own limit (:mod:`tuyagate.gateway.limits`); idle keep-alive connections are closed
after uvicorn's ``timeout_keep_alive``.

Both deadlines use one timer per connection rather than one per request: the start of a head, or of
an idle spell, is noted (a clock read), and the timer, when it fires, checks what is pending then and
re-arms for that one's own deadline. A keep-alive connection serving thousands of requests a second
arms a timer about once per timeout instead of twice per request (a ``call_at`` and its cancel cost
~3 us each time on uvloop, as much as a tenth of a cached read).

The same protocol gives each request's cycle the connection's :class:`~tuyagate.gateway.one_write.HeadHeld`
instead of the bare transport, so that an answer's head and body leave in one ``write``; whatever the
protocol writes itself (a refusal, uvicorn's 400) first sends what that holds.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tuyagate.gateway.one_write import HeadHeld

__all__ = ["HeadLimits", "LimitedHttpProtocol", "protocol_with"]

_REASONS = {408: "Request Timeout", 414: "URI Too Long", 431: "Request Header Fields Too Large"}


@dataclass(frozen=True, slots=True)
class HeadLimits:
    header_timeout: float = 10.0
    max_url_bytes: int = 8 * 1024
    max_header_bytes: int = 16 * 1024
    max_headers: int = 100


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; the parser wraps it in HttpParserCallbackError."""


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`HeadLimits` (see the module docstring)."""

    limits: ClassVar[HeadLimits] = HeadLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_since: float | None = None  # when the pending head's time began; None: no head pending
        self._idle_since: float | None = None  # when the connection went idle after an answer
        self._head_bytes = 0
        self._head_count = 0
        self._head_begun = False  # a byte of a request's head has arrived
        self._refusal: tuple[int, str, str] | None = None
        self._answers: HeadHeld | None = None  # the transport the answers are written through

    # ------------------------------------------------------------------ the head's deadline

    # One timer per connection for each deadline (see the module docstring).

    def _arm(self) -> None:
        if self._head_since is None:
            self._head_since = self.loop.time()
        if self._head_timer is None:
            self._head_timer = self.loop.call_at(self._head_since + self.limits.header_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        self._head_since = None  # the timer stays; it finds no head pending and lapses

    def _stop_timer(self) -> None:
        self._head_since = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self._head_since is None:
            return
        if self.loop.time() < self._head_since + self.limits.header_timeout:
            self._arm()  # a head that began after the one this timer was armed for
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._head_since = None
            self._arm()  # a pipelined head behind a running answer: its time runs once the answer is out
            return
        if not self._head_begun:
            # Nothing sent at all (a browser's speculative connection, say): close without an answer,
            # which such a client would otherwise read as the answer to the request it sends later.
            self.transport.close()
            return
        seconds = f"{self.limits.header_timeout:g}"
        self._refuse(408, "request_timeout", f"the request's headers did not arrive within {seconds} s")

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._answers = HeadHeld(transport, self.loop)
        self._arm()  # a connection that sends nothing at all is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        self._idle_since = None
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        super().connection_lost(exc)

    # ------------------------------------------------------------------ the keep-alive deadline

    def on_response_complete(self) -> None:
        # uvicorn's own steps, with the idle deadline noted instead of a timer armed per answer.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._idle_since = None
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            due = self._idle_since + self.timeout_keep_alive
            self.timeout_keep_alive_task = self.loop.call_at(due, self._idle_timed_out)

    def _unset_keepalive_if_required(self) -> None:
        # uvicorn calls this when data arrives: no longer idle (the timer lapses by itself).
        self._idle_since = None

    def _idle_timed_out(self) -> None:
        self.timeout_keep_alive_task = None
        since = self._idle_since
        if since is None or self.transport.is_closing():
            return
        due = since + self.timeout_keep_alive
        if self.loop.time() < due:  # idle again since, after more requests: its own deadline
            self.timeout_keep_alive_task = self.loop.call_at(due, self._idle_timed_out)
            return
        self.timeout_keep_alive_handler()

    # ------------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = self._head_count = 0
        self._head_begun = True
        self._arm()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_url_bytes:
            self._refusal = (414, "uri_too_long", f"the URL is longer than {self.limits.max_url_bytes} bytes")
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        # httptools may deliver one header in pieces; each piece counts, which is what arrived.
        self._head_bytes += len(name) + len(value)
        self._head_count += 1
        if self._head_bytes > self.limits.max_header_bytes or self._head_count > self.limits.max_headers:
            limits = self.limits
            message = f"the headers exceed {limits.max_header_bytes} bytes or {limits.max_headers} fields"
            self._refusal = (431, "headers_too_large", message)
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._head_begun = False
        super().on_headers_complete()
        if self.cycle is not None and self._answers is not None:
            self.cycle.transport = self._answers

    def _flush_answers(self) -> None:
        if self._answers is not None:
            self._answers.flush()

    def shutdown(self) -> None:
        self._flush_answers()
        super().shutdown()

    def timeout_keep_alive_handler(self) -> None:
        self._flush_answers()
        super().timeout_keep_alive_handler()

    # ------------------------------------------------------------------ answers

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error, which is also how a refused head ends up here."""
        refusal, self._refusal = self._refusal, None
        self._flush_answers()
        if refusal is None:
            super().send_400_response(msg)
        else:
            self._refuse(*refusal)

    def _refuse(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        head = (
            f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self._stop_timer()
        self._flush_answers()
        self.transport.write(head.encode("ascii") + body)
        self.transport.close()


def protocol_with(limits: HeadLimits) -> type[LimitedHttpProtocol]:
    """The protocol class to give uvicorn (``Config(http=...)``) for these limits."""
    return type("LimitedHttpProtocol", (LimitedHttpProtocol,), {"limits": limits})
