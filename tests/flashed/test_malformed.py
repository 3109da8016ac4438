"""Malformed firmware answers: any JSON gives values or a ProtocolError, never another exception."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuyagate.errors import ProtocolError, TuyaError
from tuyagate.flashed.device import tasmota_device
from tuyagate.flashed.esphome_map import bind, values_from_state
from tuyagate.flashed.tasmota import TasmotaClient, parse_state

from .conftest import FAST

SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=6,
)
TASMOTA_KEYS = st.sampled_from(
    [
        "POWER",
        "POWER1",
        "POWER2",
        "Dimmer",
        "CT",
        "HSBColor",
        "Color",
        "ENERGY",
        "Power",
        "Total",
        "Voltage",
        "Current",
        "Temperature",
        "Humidity",
        "AM2301",
        "FriendlyName",
    ]
)
TASMOTA_DOC = st.dictionaries(
    TASMOTA_KEYS | st.text(max_size=6), JSON | st.dictionaries(TASMOTA_KEYS, JSON, max_size=5), max_size=6
)


@pytest.fixture(scope="module")
def client() -> Any:
    client = TasmotaClient("http://127.0.0.1:9", options=FAST)
    yield client
    asyncio.run(client.close())


@settings(max_examples=60, deadline=None)
@given(sts=TASMOTA_DOC, sns=TASMOTA_DOC, status=TASMOTA_DOC)
def test_any_status_document_parses_or_is_a_protocol_error(
    client: TasmotaClient, sts: Any, sns: Any, status: Any
) -> None:
    try:
        values = client.parse_status({"StatusSTS": sts, "StatusSNS": sns, "Status": status})
        parse_state(sts, "x")
    except ProtocolError:
        return
    assert isinstance(values, dict)


ESP_KEYS = st.sampled_from(
    [
        "value",
        "state",
        "brightness",
        "color",
        "color_temp",
        "position",
        "uom",
        "option",
        "min_value",
        "max_value",
        "step",
        "name",
    ]
)
ESP_DOC = st.dictionaries(ESP_KEYS, JSON | st.dictionaries(st.sampled_from("rgb"), JSON, max_size=3), max_size=6)
DOMAINS = st.sampled_from(
    [
        "switch",
        "light",
        "sensor",
        "binary_sensor",
        "text_sensor",
        "cover",
        "select",
        "number",
        "button",
        "fan",
        "climate",
    ]
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(DOMAINS, st.text(min_size=1, max_size=8), ESP_DOC), max_size=6), ESP_DOC)
def test_any_esphome_entities_bind_and_read_or_protocol_error(entities: Any, other: Any) -> None:
    docs = [{"id": f"{d}/{n}", **doc} for d, n, doc in entities]
    try:
        bindings = bind(docs)
    except (ProtocolError, TuyaError):
        return
    for binding, doc in zip(
        bindings, [d for d in docs if d["id"].split("/")[0] not in ("fan", "climate")], strict=False
    ):
        assert isinstance(values_from_state(binding, doc), dict)
        assert isinstance(values_from_state(binding, other), dict)


async def test_device_with_garbage_answers_stays_usable(tasmota) -> None:
    sim = await tasmota(relays=1, energy=False)
    dev = tasmota_device(sim.url, options=FAST)
    try:
        await dev.status()
        sim.emulator.faults.garbage = True
        with pytest.raises(ProtocolError, match="not JSON"):
            await dev.status()
        health = dev.routes()[0]
        assert "not JSON" in (health.last_error or "")
        sim.emulator.faults.garbage = False
        assert (await dev.set({"switch_1": True})).dps == {"1": True}
        cached = dev.cached_state()
        assert cached is not None
        assert cached.values == {"switch_1": True}
    finally:
        await dev.close()
