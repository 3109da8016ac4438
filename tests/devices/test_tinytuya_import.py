"""Import of tinytuya's devices.json and snapshot.json, including files written by tinytuya itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tinytuya import Cloud, scanner

from tuyagate.devices.paths import DB_FILENAME
from tuyagate.devices.registry import DeviceRecord, Registry, secret_name
from tuyagate.devices.tinytuya_import import (
    ImportedDevice,
    ImportResult,
    load_tinytuya_files,
    parse_devices_json,
    parse_snapshot_json,
    parse_tinytuya,
    write_import,
)
from tuyagate.devices.vault import Vault
from tuyagate.errors import ConfigError
from tuyagate.schema.builtin import switch_schema

FIXTURES = Path(__file__).with_name("fixtures") / "tinytuya"
DEVICES = FIXTURES / "devices.json"
SNAPSHOT = FIXTURES / "snapshot.json"
PLUG, BULB, GATEWAY, DOOR, BLE = (
    "bf3f7e6a2c1d4e5f6a7b8c",
    "eb9a8b7c6d5e4f3a2b1c0d",
    "bf00112233445566778899",
    "bf5566778899aabbccddee",
    "bfcc0011223344556677aa",
)
SCANNED_ONLY = "bf77665544332211009988"


def test_devices_json_alone() -> None:
    result = parse_devices_json(DEVICES.read_text())
    by_id = {d.record.id: d for d in result.devices}
    assert list(by_id) == [PLUG, BULB, GATEWAY, DOOR, BLE]
    assert result.warnings == (
        "devices.json entry 5 has no device id; skipped",
        f"device {BLE}: no local key; registered as cloud-only (tuya-cloud)",
    )
    plug = by_id[PLUG]
    assert plug.secrets == {f"device/{PLUG}/local_key": "a1B2c3D4e5F6g7H8"}
    rec = plug.record
    assert (rec.name, rec.backend, rec.address, rec.port, rec.version, rec.category) == (
        "Desk plug",
        "tuya-lan",
        None,
        6668,
        "3.3",
        "cz",
    )
    assert (rec.product_id, rec.product_name, rec.schema_source) == ("jsuxtfrkr6abcdef", "Smart Plug+", "tinytuya")
    assert rec.settings == {"mac": "10:d5:61:00:00:01", "uuid": "ab12cd34ef56ab78", "model": "SP22"}
    assert rec.schema.decode({"19": 530, "20": 2301, "17": 12}) == {
        "cur_power": 53.0,
        "cur_voltage": 230.1,
        "add_ele": 0.012,
    }
    assert rec.last_state is None
    assert rec.last_seen is None
    bulb = by_id[BULB].record
    assert bulb.schema.to_wire("colour_data_v2", {"h": 120, "s": 1000, "v": 500}) == "007803e801f4"
    assert bulb.schema.dp("music_data").maxlen == 255
    door = by_id[DOOR].record
    assert (door.parent_id, door.cid, door.address, door.port, door.backend) == (
        GATEWAY,
        "a4c13800aabbccdd",
        None,
        None,
        "tuya-lan",
    )
    ble = by_id[BLE]
    assert ble.record.backend == "tuya-cloud"
    assert ble.secrets == {}
    assert ble.record.schema_source == "builtin"
    assert "va_temperature" in ble.record.schema
    assert by_id[GATEWAY].record.schema_source == ""  # no mapping and no built-in schema for wg2


def test_snapshot_alone() -> None:
    result = parse_snapshot_json(SNAPSHOT.read_bytes())
    by_id = {d.record.id: d.record for d in result.devices}
    assert list(by_id) == [PLUG, BULB, GATEWAY, SCANNED_ONLY, BLE]
    plug = by_id[PLUG]
    assert (plug.address, plug.version, plug.product_id, plug.last_seen) == (
        "192.168.1.50",
        "3.3",
        "jsuxtfrkr6abcdef",
        1764160000.25,
    )
    assert plug.last_state == {"1": True, "9": 0, "17": 12, "18": 230, "19": 530, "20": 2301, "38": "memory"}
    scanned = by_id[SCANNED_ONLY]
    assert (scanned.name, scanned.version, scanned.settings) == (SCANNED_ONLY, "device22", {})
    assert by_id[BULB].version == "3.5"
    assert by_id[BLE].version is None
    assert by_id[BLE].address is None


def test_both_files_merge() -> None:
    result = load_tinytuya_files(DEVICES, SNAPSHOT)
    by_id = {d.record.id: d for d in result.devices}
    assert list(by_id) == [PLUG, BULB, GATEWAY, DOOR, BLE, SCANNED_ONLY]
    plug = by_id[PLUG].record
    assert (plug.name, plug.address, plug.version, plug.schema_source, plug.category) == (
        "Desk plug",
        "192.168.1.50",
        "3.3",
        "tinytuya",
        "cz",
    )
    assert plug.schema.decode(dict(plug.last_state or {}))["cur_voltage"] == 230.1
    assert by_id[GATEWAY].record.address == "192.168.1.60"
    assert by_id[GATEWAY].record.version == "3.4"
    assert by_id[BULB].record.version == "3.5"
    assert by_id[SCANNED_ONLY].secrets == {secret_name(SCANNED_ONLY): "0123456789abcdef"}


def test_write_import_stores_records_and_secrets_only_in_the_vault(tmp_path: Path) -> None:
    result = load_tinytuya_files(DEVICES, SNAPSHOT)
    with Registry.open(tmp_path) as registry:
        vault = Vault(registry.db, bytes(32))
        stored = write_import(result, registry, vault)
        assert len(stored) == registry.count() == 6
        assert registry.get("Desk plug").address == "192.168.1.50"
        assert vault.get(secret_name(PLUG)) == "a1B2c3D4e5F6g7H8"
        assert vault.names() == sorted(f"device/{i}/local_key" for i in (PLUG, BULB, GATEWAY, DOOR, SCANNED_ONLY))
        registry.record_state(PLUG, {"1": False})
        write_import(parse_devices_json(DEVICES.read_text()), registry, vault)  # re-import: state kept
        assert dict(registry.get(PLUG).last_state or {})["1"] is False
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith(DB_FILENAME))
    for key in ("a1B2c3D4e5F6g7H8", "Zz9Yy8Xx7Ww6Vv5U", "GwKeyGwKeyGwKey1", "0123456789abcdef"):
        assert key.encode() not in blob
    assert "a1B2" not in repr(result)
    assert "secrets=['device/" in repr(result.devices[0])


def test_write_import_is_all_or_nothing(tmp_path: Path) -> None:
    good = parse_devices_json(DEVICES.read_text()).devices
    bad = ImportedDevice(DeviceRecord(id="x", name="x", backend="zigbee"), {"device/x/local_key": "k" * 16})
    with Registry.open(tmp_path) as registry:
        vault = Vault(registry.db, bytes(32))
        with pytest.raises(ConfigError, match="backend must be one of"):
            write_import(ImportResult((*good, bad)), registry, vault)
        assert registry.count() == 0
        assert vault.names() == []


def test_duplicate_names_warn() -> None:
    data = [{"id": "a", "name": "Plug", "key": "k" * 16}, {"id": "b", "name": "Plug", "key": "k" * 16}]
    assert parse_devices_json(data).warnings == ("2 devices are named 'Plug' (a, b); address them by id",)


def test_versions_and_bad_files() -> None:
    def version_of(v: object) -> tuple[str | None, tuple[str, ...]]:
        result = parse_devices_json([{"id": "a", "name": "A", "key": "k" * 16, "version": v}])
        return result.devices[0].record.version, result.warnings

    assert version_of(3.3) == ("3.3", ())
    assert version_of("3.5") == ("3.5", ())
    assert version_of(3.1) == ("3.1", ())
    assert version_of(0) == (None, ())
    assert version_of("9.9") == (None, ("device a: unknown protocol version '9.9'; it will be detected",))
    with pytest.raises(ConfigError, match=r"devices\.json is not valid JSON"):
        parse_devices_json("{not json")
    with pytest.raises(ConfigError, match="must be a list of devices"):
        parse_devices_json({"a": 1})
    with pytest.raises(ConfigError, match="must be an object with a 'devices' list"):
        parse_snapshot_json([])
    with pytest.raises(ConfigError, match="cannot read"):
        load_tinytuya_files("/nonexistent/devices.json")
    with pytest.raises(ConfigError, match=r"give a devices\.json, a snapshot\.json, or both"):
        load_tinytuya_files()


def test_files_written_by_tinytuya_itself(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """tinytuya 1.20 writes the snapshot and builds the mapping; we read what it wrote."""
    spec = [
        {"code": "switch_1", "dp_id": 1, "type": "Boolean", "values": "{}"},
        {"code": "switch_2", "dp_id": 2, "type": "Boolean", "values": "{}"},
        {
            "code": "temp_set",
            "dp_id": 16,
            "type": "Integer",
            "values": '{"unit":"℃","min":50,"max":350,"scale":1,"step":5}',
        },
    ]
    mapping: dict[str, object] = {}
    Cloud._build_mapping(spec, mapping)
    devices = [
        {"name": "Kitchen switch", "id": "bfaa11", "key": "KitchenKey123456", "category": "kg", "mapping": mapping}
    ]
    snapshot_file = tmp_path / "snapshot.json"
    polled = {
        "gwId": "bfaa11",
        "ip": "127.0.0.8",
        "version": 3.4,
        "name": "Kitchen switch",
        "key": "KitchenKey123456",
        "mac": "",
        "origin": "broadcast",
        "dps": {"dps": {"1": True, "2": False, "16": 215}},
    }
    scanner.save_snapshotfile(str(snapshot_file), [polled])
    capsys.readouterr()
    result = parse_tinytuya(devices=json.dumps(devices), snapshot=snapshot_file.read_text())
    (item,) = result.devices
    rec = item.record
    assert (rec.address, rec.version, rec.schema_source) == ("127.0.0.8", "3.4", "tinytuya")
    assert rec.schema.dp("temp_set").unit == "°C"
    assert rec.schema.decode(dict(rec.last_state or {})) == {"switch_1": True, "switch_2": False, "temp_set": 21.5}
    assert rec.schema.to_wire("temp_set", 22) == 220


def test_builtin_schema_sized_from_snapshot_status() -> None:
    devices = [{"id": "sw", "name": "Strip", "key": "k" * 16, "category": "pc"}]
    snapshot = {
        "devices": [{"id": "sw", "ip": "127.0.0.9", "ver": "3.3", "dps": {"dps": {"1": True, "2": True, "3": False}}}]
    }
    (item,) = parse_tinytuya(devices=devices, snapshot=snapshot).devices
    assert item.record.schema == switch_schema(3)
    assert item.record.schema_source == "builtin"
