"""Polling with a deadline, for conditions no event announces (a connection closing, a flag changing)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], object], *, timeout: float = 5.0, what: str = "the condition") -> None:
    """Wait until ``condition()`` is true, polling every 20 ms; fail the test after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.02)
