"""How the emulated device's connections ended: cleanly, with a reset, or closed by the device.

A client that closes its socket while the device is still talking (the ACK and STATUS that follow
a control) makes the kernel answer with a reset, and cheap firmware has been seen to lock up on
that until power-cycled. The emulator records each ending so tests can assert that tuyagate's
clients close cleanly: the client half-closes, the device reads EOF and closes its side.

- ``clean``: the device read EOF (the client sent FIN and nothing it had not read was discarded).
- ``reset``: reading or writing failed with a connection reset or a broken pipe.
- ``device``: the device ended it (idle timeout, a second client replacing the first, a fault,
  a refused connection, stop).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

__all__ = ["CloseHow", "CloseLog", "CloseRecord"]

CloseHow = Literal["clean", "reset", "device"]


@dataclass(frozen=True, slots=True)
class CloseRecord:
    """One ended connection."""

    peer: str  # "127.0.0.1:54321"
    how: CloseHow
    reason: str = ""  # why the device ended it, or what the reset looked like


class CloseLog:
    """The endings recorded so far, kept in memory and optionally appended to a JSON-lines file.

    The file lets a test read what an emulator running as ``tuyagate sim device`` (another
    process) saw. Each line is one :class:`CloseRecord` as a JSON object.
    """

    __slots__ = ("_added", "_path", "records")

    def __init__(self, path: str | Path | None = None) -> None:
        self.records: list[CloseRecord] = []
        self._path = Path(path) if path is not None else None
        self._added: asyncio.Event | None = None

    def add(self, record: CloseRecord) -> None:
        self.records.append(record)
        if self._added is not None:
            self._added.set()
        if self._path is not None:
            with self._path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(asdict(record)) + "\n")

    async def wait(self, count: int, *, timeout: float = 2.0) -> list[CloseRecord]:
        """The records once there are at least ``count`` (TimeoutError after ``timeout`` seconds)."""
        async with asyncio.timeout(timeout):
            while len(self.records) < count:
                self._added = asyncio.Event()
                await self._added.wait()
        return list(self.records)

    def count(self, how: CloseHow) -> int:
        return sum(1 for r in self.records if r.how == how)

    @staticmethod
    def read(path: str | Path) -> list[CloseRecord]:
        """The records an emulator appended to ``path`` (for tests of another process)."""
        target = Path(path)
        if not target.exists():
            return []
        lines = target.read_text(encoding="utf-8").splitlines()
        return [CloseRecord(**json.loads(line)) for line in lines if line.strip()]
