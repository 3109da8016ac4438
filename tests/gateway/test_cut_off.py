"""The gateway's cut-off of device calls that overrun their deadline (``tuyagate.gateway.cut_off``)."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from tuyagate.deadline import Deadline
from tuyagate.errors import TuyaTimeoutError
from tuyagate.gateway.cut_off import CutOff
from tuyagate.gateway.state import GatewayState


async def _forever() -> None:
    await asyncio.Event().wait()


async def _value_after(seconds: float, value: str) -> str:
    await asyncio.sleep(seconds)
    return value


async def test_a_call_past_its_deadline_is_cut_off_and_others_run_on() -> None:
    cut = CutOff()
    loop = asyncio.get_running_loop()
    start = loop.time()
    late = asyncio.create_task(cut.run(start + 0.2, _forever()))
    later = asyncio.create_task(cut.run(start + 0.5, _forever()))
    in_time = asyncio.create_task(cut.run(start + 0.5, _value_after(0.3, "done")))
    with pytest.raises(TimeoutError):
        await late
    assert 0.2 <= loop.time() - start < 0.45
    assert not later.done()  # its own deadline is later
    assert await in_time == "done"
    with pytest.raises(TimeoutError):
        await later
    assert 0.5 <= loop.time() - start < 0.8
    assert len(cut) == 0


async def test_a_call_that_returns_in_time_leaves_its_task_uncancelled() -> None:
    cut = CutOff()
    loop = asyncio.get_running_loop()
    for _ in range(100):
        assert await cut.run(loop.time() + 0.05, _value_after(0, "ok")) == "ok"
    await asyncio.sleep(0.1)  # past every deadline noted: the timer fires and finds nothing to cut
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    assert len(cut) == 0


async def test_a_cancel_from_elsewhere_stays_a_cancel() -> None:
    cut = CutOff()
    task = asyncio.create_task(cut.run(asyncio.get_running_loop().time() + 10, _forever()))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(cut) == 0


async def test_an_earlier_deadline_noted_later_is_kept() -> None:
    cut = CutOff()
    loop = asyncio.get_running_loop()
    start = loop.time()
    slow = asyncio.create_task(cut.run(start + 5, _forever()))
    await asyncio.sleep(0)  # the timer is armed for +5 s
    with pytest.raises(TimeoutError):
        await cut.run(start + 0.1, _forever())
    assert loop.time() - start < 1.0
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow


class _Deaf:
    """A device that ignores the deadline it is given (none of tuyagate's does)."""

    info = SimpleNamespace(id="deaf0000000000000001")

    async def set(self, values: Any, *, deadline: Deadline | None = None) -> Any:
        await asyncio.Event().wait()


async def test_the_gateway_answers_a_deaf_device_with_its_timeout_error(tmp_path: Any) -> None:
    from tuyagate.gateway.app import create_app
    from tuyagate.gateway.settings import GatewaySettings

    app = create_app(GatewaySettings(data_dir=tmp_path, request_timeout=0.2), _NoDevices(), manage_manager=False)  # type: ignore[arg-type]
    gw: GatewayState = app.state.gateway
    started = time.monotonic()
    with pytest.raises(TuyaTimeoutError, match=r"did not answer within 0\.2 s"):
        await gw.command(_Deaf(), {"1": True})  # type: ignore[arg-type]
    assert 0.2 <= time.monotonic() - started < 1.5  # the request's deadline and the grace


class _NoDevices:
    def devices(self) -> list[Any]:
        return []
