"""Typed results of the Tuya OpenAPI client.

Each class has ``from_api`` that reads the cloud's JSON (tolerating missing fields), and keeps
what it does not model in ``raw``. Nothing here shows a local key in its ``repr``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "GATEWAY_CATEGORIES",
    "CloudDevice",
    "DeviceLog",
    "DpMapEntry",
    "DpMapping",
    "FunctionSpec",
    "Specification",
    "StatusItem",
    "SubDevice",
    "object_items",
]


# Categories of Tuya gateways (Zigbee, BLE mesh, multi-mode): the devices that sub-devices hang off.
GATEWAY_CATEGORIES = frozenset({"wg", "wg2", "wfcon", "wgsxj", "bywg"})


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float
        return default


def object_items(value: Any) -> tuple[Mapping[str, Any], ...]:
    """The objects of a list the cloud should have sent; anything else (a number, a string) is no items."""
    return tuple(i for i in value if isinstance(i, Mapping)) if isinstance(value, list | tuple) else ()


@dataclass(frozen=True, slots=True)
class StatusItem:
    """One reported value, by code (``{"code": "switch_1", "value": true}``)."""

    code: str
    value: Any

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> StatusItem:
        return cls(code=str(data.get("code", "")), value=data.get("value"))


def _status(items: Any) -> tuple[StatusItem, ...]:
    return tuple(StatusItem.from_api(i) for i in object_items(items))


@dataclass(frozen=True, slots=True)
class CloudDevice:
    """A device as the cloud describes it. ``local_key`` is never shown by ``repr``."""

    id: str
    name: str = ""
    local_key: str = field(default="", repr=False)
    category: str = ""
    product_id: str = ""
    product_name: str = ""
    uid: str = ""
    ip: str = ""  # the public (WAN) address the cloud sees, not a LAN address
    online: bool = False
    sub: bool = False
    node_id: str = ""
    gateway_id: str = ""
    uuid: str = ""
    model: str = ""
    icon: str = ""
    time_zone: str = ""
    active_time: int = 0
    create_time: int = 0
    update_time: int = 0
    status: tuple[StatusItem, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> CloudDevice:
        online = data.get("online", data.get("is_online", False))
        return cls(
            id=str(data.get("id", "")),
            name=str(data.get("name") or data.get("custom_name") or ""),
            local_key=str(data.get("local_key") or ""),
            category=str(data.get("category") or ""),
            product_id=str(data.get("product_id") or ""),
            product_name=str(data.get("product_name") or ""),
            uid=str(data.get("uid") or ""),
            ip=str(data.get("ip") or ""),
            online=bool(online),
            sub=bool(data.get("sub", False)),
            node_id=str(data.get("node_id") or ""),
            gateway_id=str(data.get("gateway_id") or ""),
            uuid=str(data.get("uuid") or ""),
            model=str(data.get("model") or ""),
            icon=str(data.get("icon") or ""),
            time_zone=str(data.get("time_zone") or ""),
            active_time=_int(data.get("active_time")),
            create_time=_int(data.get("create_time")),
            update_time=_int(data.get("update_time")),
            status=_status(data.get("status")),
            raw=dict(data),
        )

    def status_dict(self) -> dict[str, Any]:
        """The inline status as ``{code: value}``."""
        return {s.code: s.value for s in self.status}


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """One function (writable) or status (reportable) entry of a device's specification."""

    code: str
    type: str
    values: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    desc: str = ""
    dp_id: int | None = None
    raw_values: str = ""  # the cloud's JSON string, as sent (key order matters for Json types)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> FunctionSpec:
        raw = data.get("values", "")
        values: Any
        if isinstance(raw, str):
            try:
                values = json.loads(raw) if raw.strip() else {}
            except (ValueError, RecursionError):
                values = {}
            raw_text = raw
        else:
            values, raw_text = raw or {}, json.dumps(raw or {})
        dp = data.get("dp_id", data.get("dpId"))
        return cls(
            code=str(data.get("code", "")),
            type=str(data.get("type", "")),
            values=dict(values) if isinstance(values, Mapping) else {},
            name=str(data.get("name") or ""),
            desc=str(data.get("desc") or ""),
            dp_id=None if dp is None else _int(dp),
            raw_values=raw_text,
        )


def _specs(items: Any) -> tuple[FunctionSpec, ...]:
    return tuple(FunctionSpec.from_api(i) for i in object_items(items))


@dataclass(frozen=True, slots=True)
class Specification:
    """A device's instruction set (``functions``) and status set (``status``)."""

    category: str
    functions: tuple[FunctionSpec, ...] = ()
    status: tuple[FunctionSpec, ...] = ()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Specification:
        return cls(
            category=str(data.get("category") or ""),
            functions=_specs(data.get("functions")),
            status=_specs(data.get("status")),
        )


@dataclass(frozen=True, slots=True)
class DpMapEntry:
    """How one DP id maps to a cloud code, with its type and value schema."""

    dp_id: int
    code: str
    type: str
    values: dict[str, Any] = field(default_factory=dict)
    readable: bool = True
    writable: bool = False


@dataclass(frozen=True, slots=True)
class DpMapping:
    """The DP id <-> code mapping of a device (empty when the cloud has no standard DPs)."""

    entries: tuple[DpMapEntry, ...] = ()

    @classmethod
    def from_specification(cls, spec: Specification) -> DpMapping:
        """Merge the status and functions sets by DP id (entries without a dp_id are skipped)."""
        merged: dict[int, DpMapEntry] = {}
        tagged = [(s, False) for s in spec.status] + [(f, True) for f in spec.functions]
        for item, writable in tagged:
            if item.dp_id is None:
                continue
            known = merged.get(item.dp_id)
            if known is None:
                merged[item.dp_id] = DpMapEntry(
                    dp_id=item.dp_id,
                    code=item.code,
                    type=item.type,
                    values=dict(item.values),
                    readable=not writable,
                    writable=writable,
                )
            elif writable and not known.writable:
                merged[item.dp_id] = DpMapEntry(
                    known.dp_id, known.code, known.type, known.values, known.readable, writable=True
                )
        return cls(tuple(sorted(merged.values(), key=lambda e: e.dp_id)))

    def code_for(self, dp_id: int | str) -> str | None:
        """The code of a DP id, or None."""
        want = _int(dp_id, -1)
        return next((e.code for e in self.entries if e.dp_id == want), None)

    def dp_for(self, code: str) -> int | None:
        """The DP id of a code, or None."""
        return next((e.dp_id for e in self.entries if e.code == code), None)

    def to_codes(self, dps: Mapping[str, Any]) -> dict[str, Any]:
        """``{"1": true}`` -> ``{"switch_1": true}`` (DPs without a code are dropped)."""
        out = {}
        for dp_id, value in dps.items():
            code = self.code_for(dp_id)
            if code is not None:
                out[code] = value
        return out

    def to_dps(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``{"switch_1": true}`` -> ``{"1": true}`` (unknown codes are dropped)."""
        out = {}
        for code, value in values.items():
            dp_id = self.dp_for(code)
            if dp_id is not None:
                out[str(dp_id)] = value
        return out

    def __len__(self) -> int:
        return len(self.entries)


@dataclass(frozen=True, slots=True)
class DeviceLog:
    """One log event (``event_time`` in milliseconds)."""

    code: str
    value: Any
    event_time: int
    event_id: int = 0  # 1 online, 2 offline, 5 command issued, 7 DP report, ...
    event_from: str = ""  # 1 device, 2 client, 3 third party, 4 cloud, -1 unknown

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> DeviceLog:
        return cls(
            code=str(data.get("code") or ""),
            value=data.get("value"),
            event_time=_int(data.get("event_time")),
            event_id=_int(data.get("event_id")),
            event_from=str(data.get("event_from") or ""),
        )


@dataclass(frozen=True, slots=True)
class SubDevice:
    """A device behind a gateway, as listed by the gateway's sub-devices API."""

    id: str
    name: str = ""
    online: bool = False
    category: str = ""
    product_id: str = ""
    node_id: str = ""
    active_time: int = 0
    update_time: int = 0

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> SubDevice:
        return cls(
            id=str(data.get("id", "")),
            name=str(data.get("name") or ""),
            online=bool(data.get("online", False)),
            category=str(data.get("category") or ""),
            product_id=str(data.get("product_id") or ""),
            node_id=str(data.get("node_id") or ""),
            active_time=_int(data.get("active_time")),
            update_time=_int(data.get("update_time")),
        )
