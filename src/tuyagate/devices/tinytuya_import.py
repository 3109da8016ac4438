"""Import tinytuya's ``devices.json`` (from its wizard) and ``snapshot.json`` (from its scanner).

``devices.json`` is a list of ``{"name", "id", "key", "mac", "category", "product_id", "product_name",
"sub", "parent", "node_id", "ip", "version", "mapping", ...}``: names, local keys and DP mappings from
the cloud. ``snapshot.json`` is ``{"timestamp", "devices": [{"id", "ip", "ver", "name", "key", "mac",
"dps": {"dps": {...}}, ...}]}``: what a LAN scan found, with LAN addresses, versions and a status.
Together they give a complete registry entry; either one alone is enough to import.

The parsing functions are pure (JSON in, :class:`ImportResult` out); :func:`write_import` stores a
result in the registry and the vault in one transaction. Local keys go to the vault only; records
and warnings never contain them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuyagate.cloud.credentials import CloudCredentials
from tuyagate.devices.registry import DeviceRecord, Registry, secret_name
from tuyagate.devices.vault import Vault
from tuyagate.errors import ConfigError
from tuyagate.protocol.versions import DEVICE22
from tuyagate.schema import DpSchema
from tuyagate.schema.builtin import guess_builtin_schema

__all__ = [
    "ImportResult",
    "ImportedDevice",
    "load_tinytuya_files",
    "parse_devices_json",
    "parse_snapshot_json",
    "parse_tinytuya",
    "parse_tinytuya_credentials",
    "write_import",
]

TUYA_LAN_PORT = 6668
KNOWN_VERSIONS = ("3.1", "3.2", "3.3", "3.4", "3.5")
DEVICE22_VERSION = "3.22"  # how tuya-local and others spell tinytuya's "device22" variant of 3.3
_SETTINGS_KEYS = ("mac", "uuid", "sn", "model")
_NO_VERSION = (None, "", 0, 0.0, "0", "0.0")  # tinytuya's "not known" versions


@dataclass(frozen=True, slots=True)
class ImportedDevice:
    """A record plus the secrets that go with it (vault name -> value)."""

    record: DeviceRecord
    secrets: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"ImportedDevice({self.record!r}, secrets={sorted(self.secrets)})"


@dataclass(frozen=True, slots=True)
class ImportResult:
    devices: tuple[ImportedDevice, ...] = ()
    warnings: tuple[str, ...] = ()


def parse_devices_json(data: Any) -> ImportResult:
    """Parse a ``devices.json`` (its text, bytes, or the decoded list)."""
    return parse_tinytuya(devices=data)


def parse_snapshot_json(data: Any) -> ImportResult:
    """Parse a ``snapshot.json`` (its text, bytes, or the decoded object)."""
    return parse_tinytuya(snapshot=data)


def parse_tinytuya(devices: Any = None, snapshot: Any = None) -> ImportResult:
    """Parse either file or both, merged by device id (devices.json first, in its order).

    devices.json gives names, keys, categories and mappings; the snapshot adds LAN addresses,
    versions and the last status, and devices that devices.json does not list.
    """
    warnings: list[str] = []
    entries: dict[str, dict[str, Any]] = {}
    for entry in _device_entries(devices, warnings):
        entries.setdefault(entry["id"], {}).update(entry)
    seen_at: float | None = None
    if snapshot is not None:
        snap_entries, seen_at = _snapshot_entries(snapshot, warnings)
        for entry in snap_entries:
            merged = entries.setdefault(entry["id"], {})
            for key, value in entry.items():
                if value not in (None, "", {}) and (key in ("ip", "version", "dps", "dev_type") or not merged.get(key)):
                    merged[key] = value
    imported = [_imported(entry, seen_at, warnings) for entry in entries.values()]
    names: dict[str, list[str]] = {}
    for item in imported:
        names.setdefault(item.record.name, []).append(item.record.id)
    for name, ids in names.items():
        if len(ids) > 1:
            warnings.append(f"{len(ids)} devices are named {name!r} ({', '.join(ids)}); address them by id")
    return ImportResult(tuple(imported), tuple(warnings))


def parse_tinytuya_credentials(data: Any) -> CloudCredentials:
    """The cloud project of a ``tinytuya.json`` (``apiKey``, ``apiSecret``, ``apiRegion``).

    tinytuya's region codes (us, us-e, eu, eu-w, in, cn, sg) are ours too.
    """
    decoded = _decode(data, "tinytuya.json")
    if not isinstance(decoded, Mapping) or not decoded.get("apiKey") or not decoded.get("apiSecret"):
        raise ConfigError("tinytuya.json must be an object with apiKey and apiSecret (as tinytuya's wizard writes it)")
    region = str(decoded.get("apiRegion") or "").strip() or None
    return CloudCredentials(client_id=str(decoded["apiKey"]), secret=str(decoded["apiSecret"]), region=region)


def load_tinytuya_files(
    devices_path: str | os.PathLike[str] | None = None, snapshot_path: str | os.PathLike[str] | None = None
) -> ImportResult:
    """Read and parse the files (either may be None); ConfigError names a file that cannot be read."""
    if devices_path is None and snapshot_path is None:
        raise ConfigError("give a devices.json, a snapshot.json, or both")
    return parse_tinytuya(
        devices=None if devices_path is None else _read(devices_path),
        snapshot=None if snapshot_path is None else _read(snapshot_path),
    )


def write_import(result: ImportResult, registry: Registry, vault: Vault) -> list[DeviceRecord]:
    """Store every imported device and its secrets; all-or-nothing when both share one database.

    Devices already registered are updated (their last state is kept when the import has none).
    """
    stored = []
    with registry.db.transaction():
        for item in result.devices:
            stored.append(registry.upsert(item.record))
            for name, value in item.secrets.items():
                vault.put(name, value)
    return stored


# ---- helpers ---------------------------------------------------------------------------------------


def _read(path: str | os.PathLike[str]) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None


def _decode(data: Any, what: str) -> Any:
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("utf-8", errors="replace")
    if isinstance(data, str):
        try:
            return json.loads(data)
        except ValueError as exc:
            raise ConfigError(f"{what} is not valid JSON: {exc}") from None
    return data


def _device_entries(data: Any, warnings: list[str]) -> list[dict[str, Any]]:
    if data is None:
        return []
    decoded = _decode(data, "devices.json")
    if isinstance(decoded, Mapping) and isinstance(decoded.get("devices"), list):
        decoded = decoded["devices"]
    if not isinstance(decoded, list):
        raise ConfigError("devices.json must be a list of devices (as tinytuya's wizard writes it)")
    out = []
    for index, raw in enumerate(decoded):
        entry = _normalised(raw)
        if entry is None:
            warnings.append(f"devices.json entry {index} has no device id; skipped")
            continue
        out.append(entry)
    return out


def _snapshot_entries(data: Any, warnings: list[str]) -> tuple[list[dict[str, Any]], float | None]:
    decoded = _decode(data, "snapshot.json")
    if not isinstance(decoded, Mapping) or not isinstance(decoded.get("devices"), list):
        raise ConfigError("snapshot.json must be an object with a 'devices' list (as tinytuya's scanner writes it)")
    stamp = decoded.get("timestamp")
    seen_at = float(stamp) if isinstance(stamp, (int, float)) and not isinstance(stamp, bool) else None
    out = []
    for index, raw in enumerate(decoded["devices"]):
        entry = _normalised(raw)
        if entry is None:
            warnings.append(f"snapshot.json entry {index} has no device id; skipped")
            continue
        out.append(entry)
    return out, seen_at


def _normalised(raw: Any) -> dict[str, Any] | None:
    """One entry of either file in one shape; None without an id."""
    if not isinstance(raw, Mapping):
        return None
    ident = str(raw.get("id") or raw.get("gwId") or "").strip()
    if not ident:
        return None
    entry = {k: v for k, v in raw.items() if k not in ("gwId", "ver")}
    entry["id"] = ident
    version = raw.get("version") or raw.get("ver")
    entry["version"] = None if version in _NO_VERSION else version
    entry["key"] = raw.get("key") or raw.get("local_key") or ""
    dps = raw.get("dps")
    if isinstance(dps, Mapping) and isinstance(dps.get("dps"), Mapping):
        dps = dps["dps"]  # the scanner stores the whole status reply
    entry["dps"] = {str(k): v for k, v in dps.items()} if isinstance(dps, Mapping) else None
    dev_type = raw.get("dev_type") or raw.get("type")
    entry["dev_type"] = "device22" if dev_type == "device22" else None
    if not entry.get("product_id") and raw.get("productKey"):
        entry["product_id"] = raw["productKey"]
    return entry


def _version(value: Any, device_id: str, warnings: list[str]) -> tuple[str | None, bool]:
    """(protocol version, device22) from ``3.3``, ``"3.4"``, ``3.22``, ``0`` or nothing."""
    if value in _NO_VERSION:
        return None, False
    text = str(round(value, 2)) if isinstance(value, float) else str(value).strip()
    if text == DEVICE22_VERSION:
        return DEVICE22, True
    if text in KNOWN_VERSIONS:
        return text, False
    warnings.append(f"device {device_id}: unknown protocol version {text!r}; it will be detected")
    return None, False


def _imported(entry: dict[str, Any], seen_at: float | None, warnings: list[str]) -> ImportedDevice:
    ident = entry["id"]
    version, device22 = _version(entry.get("version"), ident, warnings)
    key = str(entry.get("key") or "")
    sub = bool(entry.get("sub")) or bool(entry.get("parent"))
    parent = str(entry.get("parent") or entry.get("gateway_id") or "") or None
    backend = "tuya-lan" if key else "tuya-cloud"
    if not key:
        warnings.append(f"device {ident}: no local key; registered as cloud-only (tuya-cloud)")
    address = str(entry.get("ip") or "").strip() or None
    category = str(entry.get("category") or "")
    dps = entry.get("dps")
    mapping = entry.get("mapping")
    schema, source = DpSchema(), ""
    if isinstance(mapping, Mapping) and mapping:
        schema, source = DpSchema.from_mapping(mapping), "tinytuya"
    if not schema:
        guessed = guess_builtin_schema(category, dps)
        if guessed is not None:
            schema, source = guessed, "builtin"
    settings: dict[str, Any] = {k: str(entry[k]) for k in _SETTINGS_KEYS if entry.get(k)}
    if device22 or entry.get("dev_type") == "device22":
        version = DEVICE22  # tinytuya's dev_type, stored as the version the CLI and the registry spell
    record = DeviceRecord(
        id=ident,
        name=str(entry.get("name") or "").strip() or ident,
        backend=backend,
        address=None if sub else address,
        port=TUYA_LAN_PORT if backend == "tuya-lan" and not sub else None,
        version=version,
        category=category,
        product_id=str(entry.get("product_id") or ""),
        product_name=str(entry.get("product_name") or ""),
        parent_id=parent if sub else None,
        cid=(str(entry.get("node_id") or entry.get("cid") or "") or None) if sub else None,
        schema=schema,
        schema_source=source,
        settings=settings,
        last_state=dps or None,
        last_seen=seen_at if dps else None,
    )
    return ImportedDevice(record, {secret_name(ident): key} if key else {})
