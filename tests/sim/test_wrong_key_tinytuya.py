"""The emulator meets a wrong local key as real devices do, as seen by tinytuya (written by nobody here).

Users of real 3.3 devices with a wrong key get tinytuya's error 904 "Unexpected Payload from
Device" at once (tinytuya #636: the device "rejects the command (a response with retcode=1) and
has a payload which does not decode"); 3.4/3.5 devices give its 914 (the handshake fails, see
test_tinytuya_client.py); a 3.1 device answers queries (they carry no key) and ignores commands.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import tinytuya

from tuyagate.sim.device import SimDevice

DEV_ID = "bf0123456789abcdef01"
KEY = "0123456789abcdef"
WRONG_KEY = "fedcba9876543210"


def _tinytuya(version: str, port: int, *, timeout: float = 2.0) -> Any:
    # Made as 3.x and switched after the DPs are set: tinytuya's set_version(3.2) would otherwise
    # first probe the device for its DPs (dozens of round trips that all fail with this key).
    dev = tinytuya.OutletDevice(
        DEV_ID,
        "127.0.0.1",
        WRONG_KEY,
        version=3.1 if version == "3.1" else 3.3,
        connection_timeout=timeout,
        port=port,
        connection_retry_limit=1,
        connection_retry_delay=0,
    )
    dev.set_socketRetryLimit(1)
    if version in ("3.2", "device22"):
        dev.set_dpsUsed({"1": None})
        dev.dev_type = "device22"
    if version == "3.2":
        dev.set_version(3.2)
    return dev


@pytest.mark.parametrize("version", ["3.2", "3.3", "device22"])
async def test_tinytuya_gets_its_unexpected_payload_error_at_once(version: str) -> None:
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version=version, dps={"1": True}) as sim:
        dev = _tinytuya(version, sim.port)
        for call in (dev.status, lambda: dev.set_status(False, 1)):
            start = time.monotonic()
            result = await asyncio.to_thread(call)
            assert result["Err"] == "904", result  # "Unexpected Payload from Device"
            assert time.monotonic() - start < 1.0
        assert sim.dps == {"1": True}
        assert sim.stats.commands == 0


async def test_a_31_device_answers_tinytuyas_query_and_ignores_its_command() -> None:
    async with SimDevice(device_id=DEV_ID, local_key=KEY, version="3.1", dps={"1": True}) as sim:
        dev = _tinytuya("3.1", sim.port, timeout=0.5)
        assert (await asyncio.to_thread(dev.status))["dps"] == {"1": True}
        result = await asyncio.to_thread(dev.set_status, False, 1)
        assert result["Err"] == "902"  # tinytuya's timeout: nothing came back
        assert sim.dps == {"1": True}
