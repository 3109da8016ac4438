"""Refused credentials as HTTP answers, from real parts: a wrong local key (the 3.5 handshake fails),
a wrong firmware password (an emulated Tasmota refuses it), a wrong cloud secret (the emulated Tuya
cloud refuses the signature). Each is a 502 that names the credential to fix, never a timeout."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.gateway.conftest import GatewayFactory, HomeFactory
from tuyagate.devices.registry import DeviceRecord, Registry, secret_name
from tuyagate.devices.vault import Vault
from tuyagate.sim.tasmota import TasmotaConfig
from tuyagate.sim.tasmota_app import TasmotaSim, start_tasmota

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECRETS = ("0123456789abcdef", "wrong-password", "w" * 32)


@pytest_asyncio.fixture(loop_scope="module")
async def tasmota() -> AsyncIterator[TasmotaSim]:
    sim = await start_tasmota(TasmotaConfig(password="the-right-one"), host="127.0.0.1")
    yield sim
    await sim.stop()


async def test_a_wrong_local_key_is_key_mismatch_naming_the_key(
    start_home: HomeFactory, start_gateway: GatewayFactory
) -> None:
    def wrong_key(registry: Registry, vault: Vault) -> None:
        vault.put(secret_name(registry.get("Heater plug").id), SECRETS[0])  # a 3.5 device

    home = await start_home(cloud=False, tamper=wrong_key)
    gateway = await start_gateway(home=home, request_timeout=3.0)
    started = time.monotonic()
    r = await gateway.client.post("/api/v1/devices/Heater plug/commands", json={"dps": {"1": True}})
    assert time.monotonic() - started < 2.0  # the handshake says so at once: no waiting out the deadline
    assert r.status_code == 502
    error = r.json()["error"]
    assert error["code"] == "key_mismatch"  # the public code it always had
    assert "local key" in error["message"]
    assert SECRETS[0] not in r.text
    assert home.sim("Heater plug").dps["1"] is False  # nothing reached the device


async def test_a_wrong_local_key_on_a_33_device_is_key_mismatch_at_once(
    start_home: HomeFactory, start_gateway: GatewayFactory
) -> None:
    """3.3 has no handshake: the device's answer in its own key says so (LocalKeyError), not a timeout."""

    def wrong_key(registry: Registry, vault: Vault) -> None:
        vault.put(secret_name(registry.get("Desk plug").id), "fedcba9876543210")  # a 3.3 device

    home = await start_home(cloud=False, tamper=wrong_key)
    gateway = await start_gateway(home=home, request_timeout=3.0)
    started = time.monotonic()
    r = await gateway.client.post("/api/v1/devices/Desk plug/commands", json={"dps": {"1": True}})
    assert time.monotonic() - started < 1.0
    assert r.status_code == 502
    error = r.json()["error"]
    assert error["code"] == "key_mismatch"
    assert "local key" in error["message"]
    assert "fedcba9876543210" not in r.text
    assert home.sim("Desk plug").dps["1"] is False


async def test_a_wrong_firmware_password_is_auth_failed(
    start_home: HomeFactory, start_gateway: GatewayFactory, tasmota: TasmotaSim
) -> None:
    def porch_plug(registry: Registry, vault: Vault) -> None:
        registry.add(DeviceRecord(id="porchplug", name="Porch plug", backend="tasmota", settings={"url": tasmota.url}))
        vault.put(secret_name("porchplug", "password"), SECRETS[1])

    home = await start_home(cloud=False, tamper=porch_plug)
    gateway = await start_gateway(home=home, request_timeout=3.0)
    r = await gateway.client.get("/api/v1/devices/Porch plug/status", params={"refresh": "true"})
    assert r.status_code == 502
    error = r.json()["error"]
    assert error["code"] == "auth_failed"
    assert "password" in error["message"]
    assert SECRETS[1] not in r.text


async def test_a_wrong_cloud_secret_is_auth_failed(start_home: HomeFactory, start_gateway: GatewayFactory) -> None:
    home = await start_home(cloud_secret=SECRETS[2])
    gateway = await start_gateway(home=home, request_timeout=3.0)
    r = await gateway.client.get("/api/v1/devices/Cellar plug (cloud only)/status", params={"refresh": "true"})
    assert r.status_code == 502
    error = r.json()["error"]
    assert error["code"] == "auth_failed"
    assert "Secret" in error["message"]
    assert SECRETS[2] not in r.text
