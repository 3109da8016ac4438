"""An answer whose CRC, HMAC or GCM tag is wrong fails its request at once, with what happened.

Found by the fault matrix (benchmarks/faults.py): the corrupted answer was skipped like line noise
and the request waited for an answer that never comes, until its deadline. Noise and corrupted
frames of other commands are still skipped (tests/lan/test_faults.py: garbage before an answer).
"""

from __future__ import annotations

import time

import pytest

from tuyagate.errors import IntegrityError
from tuyagate.protocol.frames import encode_55aa, encode_6699, frame_command

from .conftest import VERSIONS, ClientFactory, SimFactory


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_corrupted_answer_fails_the_request_at_once(
    sim: SimFactory, client: ClientFactory, version: str
) -> None:
    device = await sim(version=version)
    dev = client(device, timeout=3.0)
    assert await dev.status() == {"1": True, "2": 0}
    device.faults.corrupt = True
    started = time.monotonic()
    with pytest.raises(IntegrityError, match="failed its integrity check"):
        await dev.status()
    assert time.monotonic() - started < 0.5
    device.faults.corrupt = False
    assert await dev.status() == {"1": True, "2": 0}  # the next request works (on a new connection)


def test_frame_command_reads_the_header_of_both_framings() -> None:
    assert frame_command(encode_55aa(7, 0x0A, b"x")) == 0x0A
    assert frame_command(encode_6699(7, 0x10, b"x", key=b"k" * 16, iv=b"i" * 12)) == 0x10
    assert frame_command(b"\x00\x00\x55\xaa\x00") is None
