"""A wrong local key gives a fast LocalKeyError wherever the protocol lets a client tell.

The emulator reacts to a wrong key as real devices do (``SimDevice(wrong_key="answer")``, the
default): 3.4/3.5 answer the handshake with a frame that fails our check; 3.2/3.3 answer a
request they cannot decrypt with return code 1 and an error text encrypted with their own key
(tinytuya #636, tuyapi #260: tinytuya shows that as its error 904, see tests/sim); 3.1 has no key
in its queries and ignores a command it cannot verify. ``"close"`` and ``"silent"`` are the other
reactions users report. Every test gives the client a long deadline and asserts the answer came
well before it.
"""

from __future__ import annotations

import time

import pytest

from tuyagate.errors import (
    DeviceError,
    KeyMismatchError,
    LocalKeyError,
    TuyaAuthError,
    TuyaConnectionLost,
    TuyaTimeoutError,
)
from tuyagate.lan import Backoff

from .conftest import KEY, WRONG_KEY, ClientFactory, SimFactory, until

DEADLINE = 3.0
FAST = 0.5  # "well before the deadline"


def _secret_free(exc: BaseException) -> None:
    assert KEY not in str(exc)
    assert WRONG_KEY not in str(exc)


@pytest.mark.parametrize("op", ["status", "set"])
@pytest.mark.parametrize("version", ["3.2", "3.3", "device22", "3.4", "3.5"])
async def test_a_device_that_answers_in_its_own_key(
    sim: SimFactory, client: ClientFactory, version: str, op: str
) -> None:
    device = await sim(version=version)
    dev = client(device, key=WRONG_KEY, timeout=DEADLINE)
    start = time.monotonic()
    request = dev.status() if op == "status" else dev.set_dps({"1": False})
    with pytest.raises(LocalKeyError, match="local key is wrong") as info:
        await request
    assert time.monotonic() - start < FAST
    assert isinstance(info.value, TuyaAuthError)
    assert isinstance(info.value, KeyMismatchError) == device.spec.session_key  # 3.4/3.5: found by the handshake
    assert device.dps == {"1": True, "2": 0}  # nothing was applied
    _secret_free(info.value)


@pytest.mark.parametrize("version", ["3.2", "3.3", "device22"])
async def test_a_device_that_closes_after_our_first_request(
    sim: SimFactory, client: ClientFactory, version: str
) -> None:
    device = await sim(version=version, wrong_key="close")
    dev = client(device, key=WRONG_KEY, timeout=DEADLINE)
    start = time.monotonic()
    with pytest.raises(LocalKeyError, match=r"closed the connection right after reading our first \w+") as info:
        await dev.status()
    assert time.monotonic() - start < FAST
    assert device.stats.connections_accepted == 1  # not retried: the same key would be refused again
    _secret_free(info.value)


async def test_31_queries_carry_no_key_but_commands_do(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.1", wrong_key="close")
    dev = client(device, key=WRONG_KEY, timeout=DEADLINE)
    assert await dev.status() == {"1": True, "2": 0}  # 3.1 asks in plaintext: a wrong key cannot show
    start = time.monotonic()
    with pytest.raises(LocalKeyError, match="first CONTROL"):
        await dev.set_dps({"1": False})
    assert time.monotonic() - start < FAST


async def test_a_31_device_ignores_a_command_it_cannot_verify(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.1")
    dev = client(device, key=WRONG_KEY, timeout=0.3)
    with pytest.raises(TuyaTimeoutError, match="wrong local key or version"):
        await dev.set_dps({"1": False})
    assert device.dps == {"1": True, "2": 0}


async def test_a_push_in_another_key_is_skipped_when_nothing_waits(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.1")
    dev = client(device, key=WRONG_KEY, timeout=DEADLINE)
    subscription = dev.events()
    assert await dev.status() == {"1": True, "2": 0}
    await device.set_dps({"2": 7})  # a button press: the push carries the device's MD5 tag
    await until(lambda: dev.stats.bad_frames == 1, what="the push being skipped")
    assert dev.connected
    assert dev.stats.events == 1  # CONNECTED, and no STATUS made up from the unreadable push
    subscription.close()


@pytest.mark.parametrize("mode", ["silent", "answer"])
async def test_the_right_key_still_works_against_every_mode(sim: SimFactory, client: ClientFactory, mode: str) -> None:
    device = await sim(version="3.3", wrong_key=mode)
    dev = client(device, timeout=DEADLINE)
    assert await dev.status() == {"1": True, "2": 0}
    await dev.set_dps({"1": False})
    assert device.dps["1"] is False


async def test_during_the_backoff_the_key_error_is_repeated_without_asking_the_device(
    sim: SimFactory, client: ClientFactory
) -> None:
    device = await sim(version="3.3")
    dev = client(device, key=WRONG_KEY, timeout=0.5, backoff=Backoff(2.0, 2.0))
    with pytest.raises(LocalKeyError):
        await dev.status()
    start = time.monotonic()
    with pytest.raises(LocalKeyError, match="next is allowed in"):
        await dev.status()
    assert time.monotonic() - start < 0.1
    assert device.stats.connections_accepted == 1


async def test_detection_stops_at_a_reply_in_another_key(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.3")
    dev = client(device, key=WRONG_KEY, version=None, timeout=DEADLINE)
    start = time.monotonic()
    with pytest.raises(LocalKeyError, match="does not decrypt with our local key"):
        await dev.status()
    assert time.monotonic() - start < FAST
    assert dev.version is None
    assert device.stats.connections_accepted == 1  # the first probe (3.3) was enough


async def test_a_second_client_turned_away_is_not_called_a_key_error(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.3", second_client="refuse")
    first = client(device)
    await first.status()
    second = client(device, timeout=DEADLINE)
    start = time.monotonic()
    with pytest.raises(TuyaConnectionLost, match="another client may hold") as info:
        await second.set_dps({"1": False})
    assert not isinstance(info.value, TuyaAuthError)
    assert time.monotonic() - start < FAST


async def test_an_error_text_from_the_device_stays_a_device_error(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.3", children={})
    dev = client(device, timeout=DEADLINE)
    with pytest.raises(DeviceError, match="data unvalid") as info:
        await dev.status(cid="nope")  # a readable text in the right key: the device said no
    assert not isinstance(info.value, LocalKeyError)
