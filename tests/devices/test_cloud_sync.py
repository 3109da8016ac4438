"""sync_from_cloud against the emulated cloud serving the demo fleet (real sockets on loopback)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, fields, replace
from pathlib import Path

import pytest

from tests.emulated_home import emulated_home
from tuyagate.cloud.client import TuyaCloudClient
from tuyagate.cloud.models import CloudDevice, Specification
from tuyagate.devices.cloud_sync import SyncReport, sync_from_cloud
from tuyagate.devices.hub import HubOptions, build_hub
from tuyagate.devices.manifest_import import parse_fleet_manifest
from tuyagate.devices.registry import DeviceRecord, Registry, secret_name
from tuyagate.devices.vault import Vault
from tuyagate.errors import CloudError
from tuyagate.schema import DpSchema
from tuyagate.sim.cloud_server import RunningCloud
from tuyagate.sim.fleet import SimFleet
from tuyagate.sim.manifest import FleetManifest

CLIENT_ID, SECRET = "synctestclient", "s" * 32  # test values, not real secrets


@dataclass
class Env:
    manifest: FleetManifest
    fleet: SimFleet
    cloud: RunningCloud
    client: TuyaCloudClient
    registry: Registry
    vault: Vault
    data_dir: Path


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with emulated_home("127.0.4.1", CLIENT_ID, SECRET) as home:
        client = TuyaCloudClient(CLIENT_ID, SECRET, base_url=home.cloud.base_url, retries=0, timeout=3)
        registry = Registry.open(tmp_path)
        vault = Vault.open(registry.db, tmp_path, env={})  # key file in tmp_path
        try:
            yield Env(home.manifest, home.fleet, home.cloud, client, registry, vault, tmp_path)
        finally:
            await client.aclose()
            registry.close()


async def _sync(env: Env) -> SyncReport:
    return await sync_from_cloud(env.client, env.registry, env.vault)


async def test_every_device_key_sub_device_and_schema_lands_in_the_registry(env: Env) -> None:
    seen: list[tuple[int, int]] = []
    report = await sync_from_cloud(env.client, env.registry, env.vault, progress=lambda d, t, _n: seen.append((d, t)))
    ids = [d.id for d in env.manifest.devices]
    assert sorted(report.added) == sorted(ids)
    assert (report.updated, report.unchanged, report.skipped, report.not_in_cloud) == ([], [], [], ())
    assert seen[-1] == (13, 13)
    assert len(seen) == 13
    for dev in env.manifest.devices:
        rec = env.registry.get(dev.id)
        assert (rec.name, rec.category, rec.product_id, rec.product_name) == (
            dev.name,
            dev.category,
            dev.product_id,
            dev.product_name,
        )
        assert rec.backend == "tuya-lan"
        # the cloud's `ip` is never taken as a LAN address
        assert (rec.address, rec.port, rec.version) == (None, None, None)
        assert (rec.parent_id, rec.cid) == (dev.parent_id, dev.cid)
        assert env.vault.get(secret_name(dev.id)) == dev.local_key
        want = DpSchema.from_dicts(
            [{"dp_id": s.dp_id, "code": s.code, "type": s.type, "values": s.values, "mode": s.mode} for s in dev.schema]
        )
        assert rec.schema == want, dev.name
        assert rec.schema_source == ("cloud" if dev.schema else "")
    garden = env.registry.get("Garden sensor")
    assert garden.parent_id == env.registry.get("Zigbee gateway").id
    assert garden.cid == "a4c1380000000000"
    assert env.registry.get("Office thermostat").schema.to_wire("temp_set", 21.5) == 215
    # keys are in the vault, encrypted: no key appears in the database files
    blob = b"".join(p.read_bytes() for p in env.data_dir.glob("tuyagate.db*"))
    for dev in env.manifest.devices:
        assert dev.local_key.encode() not in blob
    text = repr(report) + str(report.to_dict())
    assert not any(dev.local_key in text for dev in env.manifest.devices)


async def test_second_sync_keeps_lan_fields_and_reports_changes(env: Env) -> None:
    await _sync(env)
    desk = env.manifest.devices[0]
    env.registry.update(desk.id, address="192.168.1.50", port=6669, version="3.3")
    assert (await _sync(env)).unchanged == [d.id for d in env.manifest.devices]

    desk.name = "Desk plug (renamed in the app)"
    desk.local_key = "NewKeyNewKey1234"
    report = await _sync(env)
    assert report.updated == [desk.id]
    changed = next(d for d in report.devices if d.id == desk.id)
    assert changed.changes == ("name", "local_key")
    assert "NewKeyNewKey1234" not in str(report.to_dict())
    rec = env.registry.get(desk.id)
    assert (rec.name, rec.address, rec.port, rec.version) == (desk.name, "192.168.1.50", 6669, "3.3")
    assert env.vault.get(secret_name(desk.id)) == "NewKeyNewKey1234"


async def test_local_records_that_the_cloud_must_not_touch(env: Env) -> None:
    light, thermostat = env.manifest.devices[4], env.manifest.devices[8]
    env.registry.add(DeviceRecord(id=light.id, name="Reflashed light", backend="tasmota", settings={"url": "http://x"}))
    user_schema = DpSchema.from_dicts([{"dp_id": 1, "code": "power", "type": "Boolean"}])
    env.registry.add(DeviceRecord(id=thermostat.id, name="T", schema=user_schema, schema_source="user"))
    env.registry.add(DeviceRecord(id="bfnotinthecloud00001", name="Old plug", address="10.0.0.9", port=6668))
    report = await _sync(env)
    assert report.skipped == [light.id]
    assert env.registry.get(light.id).backend == "tasmota"
    assert secret_name(light.id) not in env.vault
    assert env.registry.get(thermostat.id).schema == user_schema
    assert env.registry.get(thermostat.id).name == "Office thermostat"
    assert report.not_in_cloud == ("bfnotinthecloud00001",)


async def test_a_failing_cloud_changes_nothing(env: Env) -> None:
    env.cloud.state.http_error_next(5, status=503)
    with pytest.raises(CloudError, match="503"):
        await _sync(env)
    assert env.registry.count() == 0
    assert env.vault.names() == []


async def test_after_sync_and_discovery_every_device_is_controlled_by_name_lan_first(env: Env) -> None:
    await _sync(env)
    # discovery's part: LAN addresses from the fleet manifest, merged the way `devices import` does
    lan = parse_fleet_manifest(env.manifest.to_dict())
    for item in lan.devices:
        old = env.registry.get(item.record.id)
        env.registry.upsert(
            replace(old, address=item.record.address, port=item.record.port, version=item.record.version)
        )
    options = HubOptions(timeout=3.0, lan_timeout=1.0, retry_base=0.2, retry_cap=1.0)
    hub = build_hub(env.registry, env.vault, cloud=env.client, options=options)
    await hub.start()
    try:
        for dev in env.manifest.devices:
            state = await hub.device(dev.name).status()
            assert state.route == ("lan" if dev.lan else "cloud"), dev.name
            if dev.status:
                assert state.dps == dev.status, dev.name
        plug = hub.device("Desk plug")
        result = await plug.set({"switch_1": True})
        assert (result.route, result.fallback) == ("lan", False)
        assert env.fleet.sim_for(plug.info.id).dps["1"] is True
    finally:
        await hub.close()


class SparseListClient(TuyaCloudClient):
    """The real client, but its device list lacks what some accounts' lists lack (gateway and node ids),
    and it counts specification calls; everything else goes to the emulator."""

    spec_calls: list[str]
    refuse_spec: set[str]

    async def devices(self) -> list[CloudDevice]:
        return [replace(d, gateway_id="", node_id="") for d in await super().devices()]

    async def specification(self, device_id: str) -> Specification:
        self.spec_calls.append(device_id)
        if device_id in self.refuse_spec:
            raise CloudError(1106, "permission deny")
        return await super().specification(device_id)


async def test_gateways_are_asked_for_children_and_products_share_one_specification(env: Env) -> None:
    plugs = [d for d in env.manifest.devices if d.category == "cz" and not d.parent_id]
    for plug in plugs:
        plug.product_id = "sameplugproduct1"
    client = SparseListClient(CLIENT_ID, SECRET, base_url=env.cloud.base_url, retries=0, timeout=3)
    client.spec_calls, client.refuse_spec = [], set()
    try:
        report = await sync_from_cloud(client, env.registry, env.vault)
    finally:
        await client.aclose()
    assert report.warnings == ()
    garden = env.registry.get("Garden sensor")
    assert (garden.parent_id, garden.cid) == (env.registry.get("Zigbee gateway").id, "a4c1380000000000")
    assert len(client.spec_calls) == len(env.manifest.devices) - len(plugs) + 1
    assert all(len(env.registry.get(p.id).schema) == 6 for p in plugs)


async def test_an_unreadable_specification_is_a_warning_and_keeps_the_old_schema(env: Env) -> None:
    await _sync(env)
    hall = env.registry.get("Hall light")
    client = SparseListClient(CLIENT_ID, SECRET, base_url=env.cloud.base_url, retries=0, timeout=3)
    client.spec_calls, client.refuse_spec = [], {hall.id}
    try:
        report = await sync_from_cloud(client, env.registry, env.vault)
    finally:
        await client.aclose()
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith("Hall light: no DP specification (cloud error 1106")
    assert env.registry.get(hall.id).schema == hall.schema
    assert report.unchanged == [d.id for d in env.manifest.devices]


# ---- the same sync from the Smart Life app login --------------------------------------------------------


async def test_the_app_login_fills_the_registry_as_the_developer_project_does(env: Env) -> None:
    """One sync, two sources: the app API (through the official SDK) gives the same registry."""
    pytest.importorskip("tuya_sharing")
    from tests.cloud.app_support import app_login
    from tuyagate.cloud.app_client import AppCloudClient

    async with AppCloudClient(await app_login(env.cloud), timeout=3.0) as app:
        report = await sync_from_cloud(app, env.registry, env.vault)
    assert sorted(report.added) == sorted(d.id for d in env.manifest.devices)
    assert report.warnings == ()
    assert report.cloud_calls == app.requests_sent
    # the developer project's sync into a second registry, for comparison
    other_dir = env.data_dir / "developer"
    with Registry.open(other_dir) as other:
        other_vault = Vault.open(other.db, other_dir, env={})
        await sync_from_cloud(env.client, other, other_vault)
        for dev in env.manifest.devices:
            mine, theirs = env.registry.get(dev.id), other.get(dev.id)
            assert _content(mine) == _content(theirs), dev.name
            assert env.vault.get(secret_name(dev.id)) == other_vault.get(secret_name(dev.id)) == dev.local_key
    garden = env.registry.get("Garden sensor")
    assert (garden.parent_id, garden.cid) == (env.registry.get("Zigbee gateway").id, "a4c1380000000000")
    # a second app sync changes nothing
    async with AppCloudClient(await app_login(env.cloud), timeout=3.0) as app:
        again = await sync_from_cloud(app, env.registry, env.vault)
    assert sorted(again.unchanged) == sorted(d.id for d in env.manifest.devices)


def _content(record: DeviceRecord) -> dict[str, object]:
    """A record's fields, without the ones that say when it was written or seen."""
    skip = ("created_at", "updated_at", "last_seen", "last_state")
    return {f.name: getattr(record, f.name) for f in fields(record) if f.name not in skip}
