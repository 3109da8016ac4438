"""A re-paired device (new local key) is reconnected with the key its source now holds, and a device that
accepted our key once is not accused of refusing it when it drops a connection.

Both were found by the fault matrix (benchmarks/faults.py): a connection kept using the key it was
built with until the gateway restarted, and a command dropped on a fresh link was reported as a
wrong key on 3.1-3.3, though the same key had worked minutes before.
"""

from __future__ import annotations

import time

import pytest

from tuyagate.errors import LocalKeyError, TuyaConnectionLost, TuyaError

from .conftest import KEY, WRONG_KEY, ClientFactory, SimFactory, until

NEW_KEY = "a1b2c3d4e5f60718"


@pytest.mark.parametrize("version", ["3.1", "3.3", "3.4", "3.5"])
async def test_a_new_key_at_the_source_is_used_on_reconnect(
    sim: SimFactory, client: ClientFactory, version: str
) -> None:
    device = await sim(version=version)
    stored = {"key": KEY}
    dev = client(device, key_source=lambda: stored["key"])
    await dev.set_dps({"1": False})
    device.rekey(NEW_KEY)  # re-paired in the app: the old key no longer works
    with pytest.raises(TuyaError):
        await dev.set_dps({"1": True})
    assert device.dps == {"1": False, "2": 0}  # not applied
    stored["key"] = NEW_KEY  # `tuyagate cloud sync` stored the new key
    started = time.monotonic()
    await dev.set_dps({"1": True})  # no backoff for the old key's failure: at once
    assert time.monotonic() - started < 0.5
    assert device.dps["1"] is True
    assert NEW_KEY not in repr(dev)


async def test_without_a_source_the_old_key_stays(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.3")
    dev = client(device)
    await dev.status()
    device.rekey(NEW_KEY)
    for _ in range(2):
        with pytest.raises(LocalKeyError):
            await dev.status()


async def test_an_unreadable_source_keeps_the_key_in_use(sim: SimFactory, client: ClientFactory) -> None:
    from tuyagate.errors import ConfigError

    def broken() -> str:
        raise ConfigError("the vault cannot be opened")

    device = await sim(version="3.4")
    dev = client(device, key_source=broken)
    assert await dev.status() == {"1": True, "2": 0}


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
