"""A client that predicts the device's sequence numbers the way tuyapi 7.x does, against the real
``tuyagate sim device --version 3.5`` command.

tuyapi matches a reply to its request by number: it sets its counter from the 3.5 handshake
answer (counter = answer's number - 1; FINISH goes out with the next number), numbers each
request with the next number and waits for the frame that carries it. A 3.5 ``set`` counts two
(the device sends an ACK and then STATUS) and resolves on the STATUS. This only works against a
device whose one device-wide counter moves exactly when it sends; an emulator that draws a number
for every frame it *receives* (FINISH included) leaves every ``get`` waiting forever.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tuyagate.protocol import payloads
from tuyagate.protocol.codec import Message, MessageCodec, Role
from tuyagate.protocol.commands import Command
from tuyagate.protocol.handshake import ClientHandshake
from tuyagate.protocol.versions import get_spec
from tuyagate.sim.closes import CloseLog, CloseRecord

DEV_ID = "bf0123456789abcdef01"
KEY = "0123456789abcdef"


class PredictingClient:
    """tuyapi's numbering on our protocol core: replies are found by the number predicted for them."""

    def __init__(self, port: int) -> None:
        self.spec = get_spec("3.5")
        self.codec = MessageCodec(self.spec, KEY.encode(), role=Role.CLIENT)
        self.port = port
        self.counter = 0
        self.resolvers: dict[int, asyncio.Future[Message]] = {}
        self.set_resolver: asyncio.Future[Message] | None = None
        self.unmatched: list[Message] = []
        self._reader_task: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        handshake = ClientHandshake(self.codec, os.urandom(16))
        self.counter += 1
        self.writer.write(handshake.start(seq=self.counter, iv=os.urandom(12)))
        answer = await self._next_frame()
        assert answer.cmd == Command.SESS_KEY_NEG_RESP
        self.counter = answer.seq - 1  # tuyapi: "this._currentSequenceN = packet.sequenceN - 1"
        self.counter += 1
        self.writer.write(handshake.receive(answer, seq=self.counter, iv=os.urandom(12)))
        self._reader_task = asyncio.create_task(self._dispatch())

    async def _next_frame(self) -> Message:
        while True:
            data = await self.reader.read(4096)
            if not data:
                raise ConnectionResetError("the device closed the connection")
            messages = self.codec.feed(data)
            if messages:
                assert len(messages) == 1
                return messages[0]

    async def _dispatch(self) -> None:
        while data := await self.reader.read(4096):
            for msg in self.codec.feed(data):
                if msg.cmd == Command.CONTROL_NEW and msg.is_ack:
                    continue  # tuyapi: "Got SET ack."
                if msg.cmd == Command.STATUS and self.set_resolver is not None:
                    self.set_resolver.set_result(msg)
                    self.set_resolver = None
                elif msg.seq in self.resolvers:
                    self.resolvers.pop(msg.seq).set_result(msg)
                else:
                    self.unmatched.append(msg)

    async def get(self) -> dict[str, Any]:
        self.counter += 1
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.resolvers[self.counter] = future
        cmd, body = payloads.query_request(self.spec, DEV_ID, t=int(time.time()))
        self.writer.write(self.codec.encode(cmd, body, seq=self.counter, iv=os.urandom(12)))
        reply = await asyncio.wait_for(future, 3.0)
        assert reply.dps is not None
        return reply.dps

    async def set(self, dps: dict[str, Any]) -> dict[str, Any]:
        self.counter += 1
        seq = self.counter
        self.counter += 1  # tuyapi, 3.5 only: the device answers a set with two frames
        self.set_resolver = asyncio.get_running_loop().create_future()
        cmd, body = payloads.control_request(self.spec, DEV_ID, dps, t=int(time.time()))
        self.writer.write(self.codec.encode(cmd, body, seq=seq, iv=os.urandom(12)))
        status = await asyncio.wait_for(self.set_resolver, 3.0)
        assert status.dps is not None
        return status.dps

    async def close(self) -> None:
        self.writer.write_eof()
        if self._reader_task is not None:
            await asyncio.wait_for(self._reader_task, 2.0)
        self.writer.close()


@pytest.fixture
def sim_35(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """``tuyagate sim device --version 3.5`` with a close log; stopped by its PID."""
    log = tmp_path / "closes.jsonl"
    dps = json.dumps({"1": False, "2": 20, "3": "warm"})
    argv = ["sim", "device", "--version", "3.5", "--id", DEV_ID, "--key", KEY, "--port", "0", "--dps", dps]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuyagate.cli", *argv, "--close-log", str(log)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["seq_mode"] == "device"
        yield info["port"], log
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


async def test_tuyapi_style_numbering_reads_and_sets(sim_35: tuple[int, Path]) -> None:
    port, log = sim_35
    client = PredictingClient(port)
    await client.connect()
    assert await client.get() == {"1": False, "2": 20, "3": "warm"}
    assert await client.set({"1": True, "2": 75}) == {"1": True, "2": 75}
    assert await client.get() == {"1": True, "2": 75, "3": "warm"}  # still in step after the two-frame set
    assert await client.set({"3": "cold"}) == {"3": "cold"}
    assert await client.get() == {"1": True, "2": 75, "3": "cold"}
    assert client.unmatched == []
    await client.close()
    assert [r.how for r in await read_close_log(log, 1)] == ["clean"]


async def read_close_log(path: Path, count: int, *, timeout: float = 3.0) -> list[CloseRecord]:
    """What an emulator in another process recorded, once it has ``count`` records (polled, with a deadline)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    for _ in range(int(timeout / 0.02) + 1):
        records = CloseLog.read(path)
        if len(records) >= count or loop.time() > end:
            return records
        await asyncio.sleep(0.02)
    return CloseLog.read(path)
