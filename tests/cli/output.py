"""Waiting for a CLI command running in a thread to print, instead of sleeping and hoping."""

from __future__ import annotations

import asyncio

import pytest


async def printed_lines(capsys: pytest.CaptureFixture[str], count: int = 1, *, timeout: float = 10.0) -> str:
    """What the command printed so far, once it has printed ``count`` lines (polled, with a deadline).

    The text is taken out of ``capsys``: add it in front of the rest when checking the whole output.
    """
    seen = ""
    async with asyncio.timeout(timeout):
        while seen.count("\n") < count:
            seen += capsys.readouterr().out
            if seen.count("\n") < count:
                await asyncio.sleep(0.01)
    return seen
