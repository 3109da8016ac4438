"""The fleet manifest: one JSON file that describes an emulated fleet.

`tuyagate sim fleet` writes it, `tuyagate sim cloud` serves the devices it lists, and the demo
and the tests read it to know where every emulated device listens. Keeping one format means the
emulated cloud and the emulated LAN devices always describe the same devices.

Shape::

    {"devices": [
        {"id": "bf...", "name": "Desk plug", "local_key": "0123456789abcdef", "version": "3.4",
         "category": "cz", "product_id": "p1", "product_name": "Smart plug",
         "ip": "127.0.1.1", "port": 6668, "lan": true, "online": true,
         "parent_id": null, "cid": null, "backend": "tuya", "url": null,
         "schema": [{"dp_id": 1, "code": "switch_1", "type": "Boolean", "values": {}, "mode": "rw"}],
         "status": {"1": true}}
    ]}

``lan`` false marks a cloud-only device (no LAN route). ``parent_id``/``cid`` mark a sub-device
reached through its gateway's connection. ``backend`` is ``tuya`` for stock devices, or
``tasmota``/``openbeken``/``esphome`` for reflashed ones reached at ``url``. ``schema`` entries are
:class:`tuyagate.schema.DpDef` in memory and :meth:`~tuyagate.schema.DpDef.to_dict`'s shape on disk:
the emulators describe their DPs with the same schema the gateway validates with.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tuyagate.schema import DpDef, DpSchema

__all__ = ["FleetManifest", "ManifestDevice"]


@dataclass(slots=True)
class ManifestDevice:
    """One emulated device."""

    id: str
    name: str
    local_key: str
    version: str = "3.3"
    category: str = "cz"
    product_id: str = ""
    product_name: str = ""
    ip: str = "127.0.0.1"
    port: int = 6668
    lan: bool = True
    online: bool = True
    parent_id: str | None = None
    cid: str | None = None
    backend: str = "tuya"
    url: str | None = None
    schema: list[DpDef] = field(default_factory=list)  # the DPs as the emulated cloud's specification gives them
    status: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ManifestDevice:
        return cls(
            id=str(data["id"]),
            name=str(data.get("name", data["id"])),
            local_key=str(data.get("local_key", "")),
            version=str(data.get("version", "3.3")),
            category=str(data.get("category", "")),
            product_id=str(data.get("product_id", "")),
            product_name=str(data.get("product_name", "")),
            ip=str(data.get("ip", "127.0.0.1")),
            port=int(data.get("port", 6668)),
            lan=bool(data.get("lan", True)),
            online=bool(data.get("online", True)),
            parent_id=data.get("parent_id"),
            cid=data.get("cid"),
            backend=str(data.get("backend", "tuya")),
            url=data.get("url"),
            schema=list(DpSchema.from_dicts(data.get("schema", []))),
            status={str(k): v for k, v in dict(data.get("status", {})).items()},
        )

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["schema"] = [dp.to_dict() for dp in self.schema]
        out["status"] = dict(self.status)
        return out

    def code_for(self, dp_id: str | int) -> str | None:
        """The code of a DP id, from the schema (None when the schema does not name it)."""
        for dp in self.schema:
            if dp.dp_id == int(dp_id):
                return dp.code
        return None

    def dp_for(self, code: str) -> str | None:
        """The DP id (as a string) of a code, from the schema."""
        for dp in self.schema:
            if dp.code == code:
                return str(dp.dp_id)
        return None


@dataclass(slots=True)
class FleetManifest:
    """A list of emulated devices, saved as JSON."""

    devices: list[ManifestDevice] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FleetManifest:
        return cls(devices=[ManifestDevice.from_dict(d) for d in data.get("devices", [])])

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FleetManifest:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def to_dict(self) -> dict[str, Any]:
        return {"devices": [d.to_dict() for d in self.devices]}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically (temp file + rename), mode 0600: the manifest holds local keys."""
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh, indent=2)
        os.replace(tmp, target)

    def get(self, device_id: str) -> ManifestDevice | None:
        for device in self.devices:
            if device.id == device_id:
                return device
        return None
