"""Fixtures: emulated Tasmota/OpenBeken/ESPHome devices on 127.0.0.1, stopped after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tuyagate.flashed.http_base import HttpOptions
from tuyagate.sim.esphome import EspHomeConfig
from tuyagate.sim.esphome_app import EspHomeSim, start_esphome
from tuyagate.sim.tasmota import TasmotaConfig
from tuyagate.sim.tasmota_app import TasmotaSim, start_tasmota

FAST = HttpOptions(timeout=2.0, retries=1, backoff=0.05)


@pytest.fixture
async def tasmota() -> AsyncIterator[Callable[..., Awaitable[TasmotaSim]]]:
    """``await tasmota(relays=2, ...)`` starts an emulator with those TasmotaConfig fields."""
    started: list[TasmotaSim] = []

    async def start(port: int = 0, **config: Any) -> TasmotaSim:
        sim = await start_tasmota(TasmotaConfig(**config), port=port)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        await sim.stop()


@pytest.fixture
async def esphome() -> AsyncIterator[Callable[..., Awaitable[EspHomeSim]]]:
    """``await esphome(id_format="legacy", ...)`` starts an ESPHome emulator."""
    started: list[EspHomeSim] = []

    async def start(port: int = 0, **config: Any) -> EspHomeSim:
        config.setdefault("ping_interval", 0.5)
        sim = await start_esphome(EspHomeConfig(**config), port=port)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        await sim.stop()
