"""The fleet manifest keeps its DPs as the one schema's DpDef and its JSON shape stays what it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuyagate.devices.manifest_import import parse_fleet_manifest
from tuyagate.errors import ConfigError
from tuyagate.schema import DpDef, DpMode, DpSchema, DpType
from tuyagate.sim.fleet import SimFleet
from tuyagate.sim.manifest import FleetManifest

# A manifest written before the schema moved: values as the cloud's JSON text, a type alias, no mode.
OLD_STYLE = {
    "devices": [
        {
            "id": "bf0000000000000000a1",
            "name": "Old plug",
            "local_key": "0123456789abcdef",
            "schema": [
                {"dp_id": 1, "code": "switch_1", "type": "bool", "values": "{}"},
                {
                    "dp_id": 2,
                    "code": "temp_set",
                    "type": "Integer",
                    "values": '{"min":50,"max":350,"scale":1,"step":5}',
                },
                {"dp_id": 3, "code": "mode", "type": "Enum", "values": {"range": ["a", "b"]}, "mode": "wr"},
            ],
            "status": {"1": True},
        }
    ]
}


def test_old_manifests_load_as_dpdefs() -> None:
    device = FleetManifest.from_dict(OLD_STYLE).devices[0]
    assert all(isinstance(dp, DpDef) for dp in device.schema)
    switch, temp_set, mode = device.schema
    assert (switch.type, switch.mode) == (DpType.BOOLEAN, DpMode.RW)
    assert (temp_set.min, temp_set.max, temp_set.scale, temp_set.step) == (50, 350, 1, 5)
    assert (mode.range, mode.mode) == (("a", "b"), DpMode.WR)
    assert (device.code_for(2), device.dp_for("mode"), device.code_for(9)) == ("temp_set", "3", None)


def test_round_trip_keeps_the_json_shape(tmp_path: Path) -> None:
    manifest = SimFleet.demo()
    path = tmp_path / "fleet.json"
    manifest.save(path)
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    entries = [entry for device in on_disk["devices"] for entry in device["schema"]]
    assert entries
    assert {tuple(sorted(e)) for e in entries} == {("code", "dp_id", "mode", "type", "values")}
    plug = on_disk["devices"][0]["schema"]
    assert plug[0] == {"dp_id": 1, "code": "switch_1", "type": "Boolean", "values": {}, "mode": "rw"}
    assert plug[2] == {
        "dp_id": 17,
        "code": "add_ele",
        "type": "Integer",
        "values": {"unit": "kWh", "min": 0, "max": 50000, "scale": 3, "step": 100},
        "mode": "ro",
    }
    again = FleetManifest.load(path)
    assert again.to_dict() == manifest.to_dict()
    assert [d.schema for d in again.devices] == [d.schema for d in manifest.devices]
    # The registry imports the very same schema the emulators describe their devices with.
    records = {item.record.id: item.record for item in parse_fleet_manifest(on_disk).devices}
    for device in manifest.devices:
        assert records[device.id].schema == DpSchema(device.schema), device.name


def test_a_bad_schema_entry_is_a_clear_error() -> None:
    broken = json.loads(json.dumps(OLD_STYLE))
    broken["devices"][0]["schema"].append({"dp_id": 4, "type": "Boolean"})
    with pytest.raises(ConfigError, match='lacks "code"'):
        FleetManifest.from_dict(broken)
    broken["devices"][0]["schema"][-1] = {"dp_id": 1, "code": "again", "type": "Boolean"}
    with pytest.raises(ConfigError, match="DP id 1 is defined twice"):
        FleetManifest.from_dict(broken)
