"""A device that accepted our key once is not accused of refusing it when it drops a connection.

Found by the fault matrix (benchmarks/faults.py): a command dropped on a fresh link was reported as
a wrong key on 3.1-3.3, though the same key had worked minutes before.
"""

from __future__ import annotations

import pytest

from tuyagate.errors import LocalKeyError, TuyaConnectionLost

from .conftest import WRONG_KEY, ClientFactory, SimFactory, until


@pytest.mark.parametrize("version", ["3.1", "3.3"])
async def test_a_drop_after_the_key_was_accepted_is_not_a_wrong_key(
    sim: SimFactory, client: ClientFactory, version: str
) -> None:
    device = await sim(version=version)
    dev = client(device)
    await dev.set_dps({"1": False})  # the device accepted a command sealed with our key
    device.disconnect()  # then it drops the connection, and the next one mid-request
    await until(lambda: not dev.connected, what="the client seeing the close")
    device.faults.drop_requests = True
    with pytest.raises(TuyaConnectionLost):
        await dev.set_dps({"1": True})


@pytest.mark.parametrize("version", ["3.1", "3.3"])
async def test_a_first_request_dropped_with_an_unproven_key_still_suggests_the_key(
    sim: SimFactory, client: ClientFactory, version: str
) -> None:
    device = await sim(version=version, wrong_key="close")
    dev = client(device, key=WRONG_KEY)
    with pytest.raises(LocalKeyError, match="closed the connection right after reading our first"):
        await dev.set_dps({"1": False})
