"""Any answer a reflashed device's web server gives: values, or a TuyaError (ProtocolError for what is not
the firmware's JSON), never another exception.

A loopback HTTP server answers the real Tasmota, OpenBeken and ESPHome clients with the status and bytes
Hypothesis draws (HTML error pages, JSON of any shape, JSON nested too deep, numbers out of range); the
ESPHome client reads its configured entities from the same answers.
Status documents and ESPHome entities of any shape: test_malformed.py; the event stream: test_sse.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.hostile import FUZZ, FUZZ_EXAMPLES, AnswerServer, hostile_bytes, json_values, objects
from tuyagate.errors import ProtocolError, TuyaError
from tuyagate.flashed.esphome import EspHomeClient
from tuyagate.flashed.http_base import HttpOptions, parse_json
from tuyagate.flashed.openbeken import OpenBekenClient
from tuyagate.flashed.tasmota import TasmotaClient

OPTIONS = HttpOptions(timeout=5.0, retries=0, backoff=0.01)
Clients = tuple[TasmotaClient, OpenBekenClient, EspHomeClient]
TASMOTA_KEYS = st.sampled_from(
    ["POWER", "POWER1", "Dimmer", "CT", "HSBColor", "Color", "StatusSTS", "StatusSNS", "Status", "ENERGY",
     "FriendlyName", "Module", "WARNING", "Command", "id", "state", "value", "brightness", "color", "name_id"]
)  # fmt: skip
answers = hostile_bytes(
    objects(TASMOTA_KEYS)
    | st.dictionaries(st.sampled_from(["StatusSTS", "StatusSNS", "Status"]), objects(TASMOTA_KEYS), max_size=3)
    | st.dictionaries(st.integers(0, 70).map(str) | st.text(max_size=3), json_values, max_size=6)
)


@FUZZ
@example(body=b"[" * 20_000)  # RecursionError before it was caught
@given(body=answers)
def test_parse_json_gives_a_value_or_a_protocol_error(body: bytes) -> None:
    refusal = ""
    try:
        parse_json(body, "the device")
    except ProtocolError as exc:
        refusal = str(exc)
    assert not refusal or "the device" in refusal


@pytest.fixture(scope="module")
def device() -> Iterator[AnswerServer]:
    with AnswerServer() as server:
        yield server


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def clients(loop: asyncio.AbstractEventLoop, device: AnswerServer) -> Iterator[Clients]:
    """One client of each firmware for all examples (making them costs more than the calls)."""
    tasmota = TasmotaClient(device.url, options=OPTIONS)
    beken = OpenBekenClient(device.url, options=OPTIONS)
    esphome = EspHomeClient(device.url, options=OPTIONS, entities=["switch/Relay", "sensor/Power", "light/Lamp"])
    yield tasmota, beken, esphome
    for client in (tasmota, beken, esphome):
        loop.run_until_complete(client.close())


async def _calls(tasmota: TasmotaClient, beken: OpenBekenClient, esphome: EspHomeClient) -> None:
    calls: list[Callable[[], Awaitable[Any]]] = [
        tasmota.status,
        lambda: tasmota.command("Power"),
        lambda: tasmota.set({"switch_1": True}),
        beken.channels,
        lambda: beken.set_channel(1, 1),
        lambda: esphome.entity("switch/Relay", detail=True),
        esphome.status,
    ]
    for call in calls:
        try:
            await call()
        except TuyaError:
            pass


@settings(FUZZ, max_examples=FUZZ_EXAMPLES // 2)
@example(status=200, body=b'{"1": 1e999}')  # an infinite channel value: OverflowError before it was caught
@given(status=st.sampled_from([200, 200, 200, 401, 404, 500]), body=answers)
def test_any_firmware_answer_gives_values_or_a_tuya_error(
    loop: asyncio.AbstractEventLoop,
    device: AnswerServer,
    clients: Clients,
    status: int,
    body: bytes,
) -> None:
    device.answer(status, body)
    loop.run_until_complete(asyncio.wait_for(_calls(*clients), timeout=30))
