"""Import a fleet manifest (what ``tuyagate sim fleet --manifest`` writes) into the registry.

This lets anyone try tuyagate on an emulated fleet with the same commands as on a real home:
start ``tuyagate sim fleet``, ``tuyagate devices import fleet.json``, then control the devices
by name. Parsing is pure (JSON in, :class:`~tuyagate.devices.tinytuya_import.ImportResult`
out); writing reuses the tinytuya import's one-transaction writer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuyagate.devices.registry import DeviceRecord, secret_name
from tuyagate.devices.tinytuya_import import ImportedDevice, ImportResult
from tuyagate.errors import ConfigError
from tuyagate.schema import DpSchema

__all__ = ["is_fleet_manifest", "parse_fleet_manifest"]

_BACKENDS = {"tuya": "tuya-lan", "tasmota": "tasmota", "openbeken": "openbeken", "esphome": "esphome"}


def is_fleet_manifest(data: Any) -> bool:
    """A manifest is an object with a ``devices`` list whose entries carry ``local_key`` and ``schema``."""
    if not isinstance(data, Mapping) or not isinstance(data.get("devices"), list):
        return False
    return all(isinstance(d, Mapping) and "local_key" in d and "schema" in d for d in data["devices"])


def parse_fleet_manifest(data: Any) -> ImportResult:
    """Records and secrets for every device of a manifest."""
    if not is_fleet_manifest(data):
        raise ConfigError('not a fleet manifest: expected {"devices": [{"id", "local_key", "schema", ...}]}')
    out: list[ImportedDevice] = []
    for raw in data["devices"]:
        ident = str(raw["id"])
        backend = _BACKENDS.get(str(raw.get("backend", "tuya")), "tuya-lan")
        lan = bool(raw.get("lan", True))
        key = str(raw.get("local_key") or "")
        if backend == "tuya-lan" and not lan:
            backend = "tuya-cloud"
        sub = bool(raw.get("parent_id"))
        settings: dict[str, Any] = {}
        if raw.get("url"):
            settings["url"] = str(raw["url"])
        record = DeviceRecord(
            id=ident,
            name=str(raw.get("name") or ident),
            backend=backend,
            address=None if sub or backend != "tuya-lan" else (str(raw.get("ip") or "") or None),
            port=None if sub or backend != "tuya-lan" else int(raw.get("port") or 6668),
            version=str(raw["version"]) if raw.get("version") else None,
            category=str(raw.get("category") or ""),
            product_id=str(raw.get("product_id") or ""),
            product_name=str(raw.get("product_name") or ""),
            parent_id=str(raw["parent_id"]) if sub else None,
            cid=str(raw["cid"]) if sub and raw.get("cid") else None,
            schema=DpSchema.from_dicts(raw.get("schema") or []),
            schema_source="manifest",
            settings=settings,
            last_state={str(k): v for k, v in dict(raw.get("status") or {}).items()} or None,
        )
        secrets = {secret_name(ident): key} if key and backend in ("tuya-lan", "tuya-cloud") and lan else {}
        out.append(ImportedDevice(record, secrets))
    return ImportResult(devices=tuple(out))
