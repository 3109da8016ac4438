"""The emulated cloud's view of the fleet: device objects, specifications, commands, logs.

Device *state* sits behind :class:`CloudDeviceBackend` (DP values by DP id). The in-memory
backend keeps it in a dict seeded from the manifest; a backend that forwards to the emulated
LAN devices makes the cloud and the LAN agree. Either is passed to the app factory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from tuyagate.errors import TuyaConnectionError, TuyaError, TuyaTimeoutError
from tuyagate.schema import DpDef, DpType
from tuyagate.sim.manifest import FleetManifest, ManifestDevice

__all__ = ["CloudDeviceBackend", "CloudFleet", "CommandRefused", "InMemoryBackend"]

LOG_TYPES = {"online": 1, "offline": 2, "command": 5, "report": 7}


@runtime_checkable
class CloudDeviceBackend(Protocol):
    """Where the emulated cloud reads and writes device state (DP values keyed by DP id)."""

    async def get_dps(self, device: ManifestDevice) -> dict[str, Any]:
        """The device's current DP values, by DP id (``{"1": true}``)."""
        ...

    async def set_dps(self, device: ManifestDevice, dps: dict[str, Any]) -> None:
        """Apply DP values; raise TuyaConnectionError/TuyaTimeoutError when the device is unreachable."""
        ...


class InMemoryBackend:
    """State in memory, seeded from each device's manifest ``status``."""

    def __init__(self, manifest: FleetManifest) -> None:
        self._dps = {d.id: dict(d.status) for d in manifest.devices}

    async def get_dps(self, device: ManifestDevice) -> dict[str, Any]:
        return dict(self._dps.setdefault(device.id, dict(device.status)))

    async def set_dps(self, device: ManifestDevice, dps: dict[str, Any]) -> None:
        self._dps.setdefault(device.id, dict(device.status)).update(dps)


class CommandRefused(Exception):
    """A command the cloud refuses with ``code`` (2001 offline, 2008 bad code/value, 1103 failed)."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def _value_ok(dp: DpDef, value: Any) -> bool:
    """The checks the real cloud makes on a command value (raw units: ``temp_set`` 215, not 21.5)."""
    if dp.type is DpType.BOOLEAN:
        return isinstance(value, bool)
    if dp.type is DpType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            return False
        return (dp.min is None or value >= dp.min) and (dp.max is None or value <= dp.max)
    if dp.type is DpType.ENUM:
        return value in dp.range
    if dp.type is DpType.STRING:
        return isinstance(value, str) and len(value) <= (dp.maxlen if dp.maxlen is not None else 255)
    if dp.type is DpType.BITMAP:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str | dict | list)  # Json, Raw


def _log_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


class CloudFleet:
    """The manifest's devices as the cloud shows them, plus their log."""

    def __init__(
        self, manifest: FleetManifest, backend: CloudDeviceBackend, *, uid: str, clock: Callable[[], float]
    ) -> None:
        self.manifest = manifest
        self.backend = backend
        self.uid = uid
        self._clock = clock
        self.born = int(clock()) - 86400
        self._logs: dict[str, list[dict[str, Any]]] = {d.id: [] for d in manifest.devices}
        for device in manifest.devices:
            self._log(device.id, "online" if device.online else "offline", "", "", "1")

    @property
    def devices(self) -> list[ManifestDevice]:
        return self.manifest.devices

    def get(self, device_id: str) -> ManifestDevice | None:
        return self.manifest.get(device_id)

    def add(self, device: ManifestDevice) -> None:
        """Pair ``device`` into the account (ValueError when the id is taken)."""
        if self.manifest.get(device.id) is not None:
            raise ValueError(f"the account already has a device {device.id}")
        self.manifest.devices.append(device)
        self._logs[device.id] = []
        self._log(device.id, "online" if device.online else "offline", "", "", "1")

    def remove(self, device_id: str) -> ManifestDevice | None:
        """Remove a device (and its sub-devices' link) from the account; the removed one, or None."""
        device = self.manifest.get(device_id)
        if device is not None:
            self.manifest.devices.remove(device)
            self._logs.pop(device_id, None)
        return device

    def children(self, gateway_id: str) -> list[ManifestDevice]:
        return [d for d in self.manifest.devices if d.parent_id == gateway_id]

    # -- rendering -------------------------------------------------------------------------

    @staticmethod
    def status_items(device: ManifestDevice, dps: dict[str, Any]) -> list[dict[str, Any]]:
        """``[{"code", "value"}]`` for the DPs the schema names (the cloud hides the others)."""
        return [
            {"code": dp.code, "value": dps[str(dp.dp_id)]}
            for dp in device.schema
            if dp.readable and str(dp.dp_id) in dps
        ]

    async def status(self, device: ManifestDevice) -> list[dict[str, Any]]:
        return self.status_items(device, await self.backend.get_dps(device))

    def uuid(self, device: ManifestDevice) -> str:
        return hashlib.sha1(device.id.encode()).hexdigest()[:16]

    def mac(self, device: ManifestDevice) -> str:
        digest = hashlib.sha1(b"mac" + device.id.encode()).digest()
        return ":".join(f"{b:02x}" for b in (b"\x10\xd5\x61" + digest[:3]))

    def device_object(self, device: ManifestDevice, *, status: list[dict[str, Any]] | None) -> dict[str, Any]:
        """The device object of ``/v1.0/devices/{id}`` (``status`` None: the iot-03 shape)."""
        sub = device.parent_id is not None
        obj: dict[str, Any] = {
            "id": device.id,
            "uuid": self.uuid(device),
            "uid": self.uid,
            "name": device.name,
            "local_key": device.local_key,
            "ip": "" if sub or not device.lan else device.ip,
            "time_zone": "+00:00",
            "category": device.category,
            "product_id": device.product_id,
            "product_name": device.product_name,
            "model": device.product_name,
            "icon": f"smart/icon/{device.category or 'device'}.png",
            "sub": sub,
            "online": device.online,
            "owner_id": "10000001",
            "biz_type": 0,
            "lat": "",
            "lon": "",
            "active_time": self.born,
            "create_time": self.born,
            "update_time": self.born,
        }
        if sub:
            obj["node_id"] = device.cid or ""
        if status is not None:
            obj["status"] = status
        else:
            obj["asset_id"] = ""
            obj["gateway_id"] = device.parent_id or ""
        return obj

    @staticmethod
    def spec_entry(dp: DpDef, *, with_dp_id: bool) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "code": dp.code,
            "type": dp.type.value,
            "values": json.dumps(dp.values, separators=(",", ":"), ensure_ascii=False),
            "name": dp.label,
            "desc": "",
        }
        if with_dp_id:
            entry["dp_id"] = dp.dp_id
        return entry

    def functions(self, device: ManifestDevice, *, with_dp_id: bool = False) -> list[dict[str, Any]]:
        return [self.spec_entry(dp, with_dp_id=with_dp_id) for dp in device.schema if dp.writable]

    def status_set(self, device: ManifestDevice, *, with_dp_id: bool = False) -> list[dict[str, Any]]:
        return [self.spec_entry(dp, with_dp_id=with_dp_id) for dp in device.schema if dp.readable]

    # -- commands --------------------------------------------------------------------------

    def to_dps(self, device: ManifestDevice, commands: Iterable[Any]) -> dict[str, Any]:
        """Check ``[{"code", "value"}]`` against the schema and map it to ``{dp_id: value}``."""
        dps: dict[str, Any] = {}
        for command in commands:
            if not isinstance(command, dict) or "code" not in command:
                raise CommandRefused(1109, "param is illegal, please check it")
            dp = next((d for d in device.schema if d.code == command["code"]), None)
            if dp is None or not dp.writable or not _value_ok(dp, command.get("value")):
                raise CommandRefused(2008, "command or value not support")
            dps[str(dp.dp_id)] = command.get("value")
        return dps

    async def command(self, device: ManifestDevice, commands: list[Any]) -> dict[str, Any]:
        """Validate and apply commands through the backend; log them as the cloud would.

        Returns the DPs applied (by DP id), which the message service then reports."""
        dps = self.to_dps(device, commands)
        if not device.online:
            raise CommandRefused(2001, "device is offline")
        try:
            await self.backend.set_dps(device, dps)
        except (TuyaConnectionError, TuyaTimeoutError) as exc:
            raise CommandRefused(2001, "device is offline") from exc
        except TuyaError as exc:
            raise CommandRefused(1103, "commands issue error") from exc
        for dp_id, value in dps.items():
            code = device.code_for(dp_id) or dp_id
            self._log(device.id, "command", code, value, "4")
            self._log(device.id, "report", code, value, "1")
        return dps

    # -- logs ------------------------------------------------------------------------------

    def _log(self, device_id: str, kind: str, code: str, value: Any, source: str) -> None:
        self._logs.setdefault(device_id, []).append(
            {
                "code": code,
                "value": _log_text(value),
                "event_time": int(self._clock() * 1000),
                "event_from": source,
                "event_id": LOG_TYPES[kind],
            }
        )

    def logs(self, device_id: str, *, types: set[int], start: int, end: int, codes: set[str]) -> list[dict[str, Any]]:
        """Matching events, newest first."""
        found = [
            e
            for e in self._logs.get(device_id, [])
            if e["event_id"] in types and start <= e["event_time"] <= end and (not codes or e["code"] in codes)
        ]
        return found[::-1]
