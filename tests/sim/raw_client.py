"""A minimal client on the protocol core, to poke the emulator without tuyagate.lan."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from tuyagate.errors import IntegrityError
from tuyagate.protocol.codec import Message, MessageCodec, Role
from tuyagate.protocol.handshake import ClientHandshake
from tuyagate.protocol.versions import get_spec

KEY = "0123456789abcdef"


class RawClient:
    """A minimal client on the protocol core, to poke the emulator without tuyagate.lan."""

    def __init__(self, version: str, port: int, key: str = KEY) -> None:
        self.spec = get_spec(version)
        self.codec = MessageCodec(self.spec, key.encode(), role=Role.CLIENT)
        self.port = port
        self.seq = 0
        self.pending: list[Message] = []
        self.bad = 0
        self.handshake_answer: Message | None = None
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    def iv(self) -> bytes | None:
        return os.urandom(12) if self.spec.name == "3.5" else None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        if self.spec.session_key:
            hs = ClientHandshake(self.codec, os.urandom(16))
            self.seq += 1
            self.writer.write(hs.start(seq=self.seq, iv=self.iv()))
            resp = self.handshake_answer = await self.read()
            self.seq += 1
            self.writer.write(hs.receive(resp, seq=self.seq, iv=self.iv()))

    async def send(self, cmd: int, body: dict[str, Any]) -> None:
        self.seq += 1
        self.writer.write(self.codec.encode(cmd, body, seq=self.seq, iv=self.iv()))

    async def read(self, timeout: float = 2.0) -> Message:
        async with asyncio.timeout(timeout):
            while not self.pending:
                data = await self.reader.read(4096)
                if not data:
                    raise ConnectionResetError("closed")
                for raw in self.codec.split(data):
                    try:
                        self.pending.append(self.codec.decode_frame(raw))
                    except IntegrityError:
                        self.bad += 1
            return self.pending.pop(0)

    async def closed(self, timeout: float = 2.0) -> bool:
        """Whether the device closed the connection (in order, or with a reset: how it turns a client away)."""
        async with asyncio.timeout(timeout):
            try:
                return await self.reader.read(4096) == b""
            except ConnectionResetError:
                return True

    def close(self) -> None:
        self.writer.close()

    async def half_close_and_drain(self, timeout: float = 2.0) -> None:
        """A clean close: FIN first, read until the device's FIN, then close."""
        self.writer.write_eof()
        async with asyncio.timeout(timeout):
            while await self.reader.read(4096):
                pass
        self.writer.close()
