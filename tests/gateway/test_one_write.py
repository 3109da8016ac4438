"""An answer's head and body leave in one write (``tuyagate.gateway.one_write``), and nothing is lost,
late or out of order for it: on a real socket pair, then through the real server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from tests.gateway.conftest import PLUG, Gateway, GatewayFactory, LiveHome
from tuyagate.gateway.one_write import HeadHeld

pytestmark = pytest.mark.asyncio(loop_scope="module")


class _Quiet(asyncio.Protocol):
    pass


@asynccontextmanager
async def _held_pair() -> AsyncIterator[tuple[HeadHeld, socket.socket]]:
    """A ``HeadHeld`` over a real transport, and the plain socket at the other end (non-blocking)."""
    ours, peer = socket.socketpair()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_accepted_socket(_Quiet, ours)
    peer.setblocking(False)
    held = HeadHeld(transport, loop)
    try:
        yield held, peer
    finally:
        held.close()
        peer.close()


def _pending(peer: socket.socket) -> bytes:
    try:
        return peer.recv(65536)
    except BlockingIOError:
        return b""


async def _received(peer: socket.socket, size: int) -> bytes:
    got = b""
    async with asyncio.timeout(5):
        while len(got) < size:
            got += _pending(peer)
            await asyncio.sleep(0.001)
    return got


async def test_a_head_waits_for_its_body_and_both_leave_together() -> None:
    async with _held_pair() as (held, peer):
        held.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        assert _pending(peer) == b""  # held, not sent
        held.write(b"{}")
        assert _pending(peer) == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"  # one write, at once


async def test_a_lone_write_leaves_within_one_turn_of_the_loop() -> None:
    """A ``HEAD`` answer, or the head of a stream whose first chunk is not there yet."""
    async with _held_pair() as (held, peer):
        held.write(b"head only")
        assert _pending(peer) == b""
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert await _received(peer, 9) == b"head only"


async def test_writes_keep_their_order_and_closing_sends_what_is_held() -> None:
    async with _held_pair() as (held, peer):
        for part in (b"a", b"b", b"c", b"d", b"e"):
            held.write(part)
        assert _pending(peer) == b"abcd"  # pairs leave joined; the fifth is held
        held.close()
        assert await _received(peer, 1) == b"e"
        assert held.is_closing()


async def test_pipelined_requests_and_a_head_request_are_answered_in_order(gateway: Gateway) -> None:
    host, port = gateway.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    one = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    head = b"HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    last = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    try:
        writer.write(one + head + last)
        answer = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    answers = answer.split(b"HTTP/1.1 ")[1:]
    assert len(answers) == 3, answer
    assert all(a.startswith(b"200 OK\r\n") for a in answers), answer
    first, of_head, third = answers
    assert first.endswith(b"}")
    assert third.endswith(b"}")
    assert of_head.endswith(b"\r\n\r\n")  # the HEAD answer: headers only, sent although no body follows


async def test_a_command_expecting_100_continue_gets_it_then_its_answer(gateway: Gateway, home: LiveHome) -> None:
    host, port = gateway.url.removeprefix("http://").rsplit(":", 1)
    body = b'{"dps": {"1": true}}'
    head = (
        f"POST /api/v1/devices/{home.id(PLUG)}/commands HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head)
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(body)
        answer = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer
    assert b'"success":true' in answer


async def test_the_event_stream_starts_before_its_first_event(start_gateway: GatewayFactory) -> None:
    """A stream's head is held for one turn of the loop at most, not until the stream's first chunk."""
    gw = await start_gateway()
    host, port = gw.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"text/event-stream" in head
