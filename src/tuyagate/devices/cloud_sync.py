"""Pull the devices of a Tuya cloud account into the registry (``tuyagate cloud sync``).

Two logins feed it through one :class:`CloudSource`: a developer project's OpenAPI
(:class:`~tuyagate.cloud.client.TuyaCloudClient`) and the Smart Life app login
(:class:`~tuyagate.cloud.app_client.AppCloudClient`). A source lists the devices (with local keys),
the children of a gateway, and a device's specification with DP ids; the rules below are the same
for both.

What the cloud knows best goes in: names, categories and products, local keys (to the vault),
which gateway a sub-device hangs off and its node id, and each product's DP specification. What
the LAN knows best is kept: addresses, ports and protocol versions already in the registry are
never replaced, because the cloud's ``ip`` is the home's public (WAN) address, not a LAN one.
Addresses come from discovery, ``tuyagate devices add`` or an import.

Everything is fetched first and written in one transaction at the end, so a sync that fails
half-way (network, quota) changes nothing. The report names devices and changed fields, never
a key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol

from tuyagate.cloud.models import GATEWAY_CATEGORIES  # gateways are asked for their children when needed
from tuyagate.devices.registry import DeviceRecord, Registry, secret_name
from tuyagate.devices.vault import Vault
from tuyagate.errors import CloudError, ConfigError, TuyaError
from tuyagate.schema import DpSchema
from tuyagate.schema.builtin import guess_builtin_schema

if TYPE_CHECKING:
    from tuyagate.cloud.models import CloudDevice, Specification, SubDevice

__all__ = ["GATEWAY_CATEGORIES", "CloudSource", "SyncReport", "SyncedDevice", "summarize", "sync_from_cloud"]

_LOGGER = logging.getLogger(__name__)
Action = Literal["added", "updated", "unchanged", "skipped"]
Progress = Callable[[int, int, str], None]  # (done, total, device name)
SPEC_CONCURRENCY = 4  # specification calls in flight; the cloud's QPS limit is per project
_NO_SPEC_CODES = ("2009",)  # "not support this device": no standard DPs
_COMPARED = ("name", "backend", "category", "product_id", "product_name", "parent_id", "cid", "schema", "settings")


class CloudSource(Protocol):
    """What the sync reads from a cloud login (both cloud clients have it)."""

    @property
    def base_url(self) -> str:
        """The endpoint it talks to (for messages)."""
        ...

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far (the report counts the sync's own)."""
        ...

    async def devices(self) -> Sequence[CloudDevice]:
        """Every device of the account, with local keys where the cloud gives them."""
        ...

    async def sub_devices(self, gateway_id: str) -> Sequence[SubDevice]:
        """The devices behind a gateway (asked only when the device list does not say)."""
        ...

    async def specification(self, device_id: str) -> Specification:
        """Functions and status with DP ids; CloudError 2009 when the device has no standard DPs."""
        ...

    async def aclose(self) -> None:
        """Close its connections."""
        ...


@dataclass(frozen=True, slots=True)
class SyncedDevice:
    """What the sync did to one device; ``changes`` names fields (``local_key`` included), never values."""

    id: str
    name: str
    action: Action
    backend: str
    parent_id: str | None = None
    cid: str | None = None
    dps: int = 0  # DPs in the stored schema
    changes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "action": self.action,
            "backend": self.backend,
            "parent_id": self.parent_id,
            "cid": self.cid,
            "dps": self.dps,
            "changes": list(self.changes),
        }


@dataclass(frozen=True, slots=True)
class SyncReport:
    """The outcome of one sync: every cloud device, plus registry devices the cloud no longer lists."""

    devices: tuple[SyncedDevice, ...] = ()
    not_in_cloud: tuple[str, ...] = ()  # ids of Tuya devices in the registry that the cloud did not list
    warnings: tuple[str, ...] = ()
    cloud_calls: int = 0

    def _ids(self, action: Action) -> list[str]:
        return [d.id for d in self.devices if d.action == action]

    @property
    def added(self) -> list[str]:
        return self._ids("added")

    @property
    def updated(self) -> list[str]:
        return self._ids("updated")

    @property
    def unchanged(self) -> list[str]:
        return self._ids("unchanged")

    @property
    def skipped(self) -> list[str]:
        return self._ids("skipped")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (what ``tuyagate cloud sync --json`` prints)."""
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "skipped": len(self.skipped),
            "devices": [d.to_dict() for d in self.devices],
            "not_in_cloud": list(self.not_in_cloud),
            "warnings": list(self.warnings),
            "cloud_calls": self.cloud_calls,
        }


@dataclass(slots=True)
class _Fetched:
    """What the cloud said about one device, before anything is written."""

    device: CloudDevice
    parent_id: str | None = None
    cid: str | None = None
    schema: DpSchema = field(default_factory=DpSchema)  # empty: no DPs, or the call failed


async def sync_from_cloud(
    client: CloudSource, registry: Registry, vault: Vault, *, progress: Progress | None = None
) -> SyncReport:
    """Fetch every device of the cloud account and store it; see the module docstring for the rules.

    ``progress`` is called after each device's specification is fetched (the slow part).
    Raises the client's errors (CloudError, TuyaConnectionError, ...) if the device list cannot be
    read; a specification that cannot be read is a warning, and the device keeps its old schema.
    """
    warnings: list[str] = []
    calls_before = client.requests_sent
    devices = [d for d in await client.devices() if d.id]
    fetched = {d.id: _Fetched(d) for d in devices}
    await _link_sub_devices(client, fetched, warnings)
    await _fetch_schemas(client, list(fetched.values()), warnings, progress)

    results: list[SyncedDevice] = []
    with registry.db.transaction():
        for item in fetched.values():
            results.append(_store(item, registry, vault, warnings))
        listed = set(fetched)
        gone = tuple(r.id for r in registry.devices() if r.backend in ("tuya-lan", "tuya-cloud") and r.id not in listed)
    return SyncReport(
        devices=tuple(results),
        not_in_cloud=gone,
        warnings=tuple(warnings),
        cloud_calls=client.requests_sent - calls_before,
    )


async def _link_sub_devices(client: CloudSource, fetched: dict[str, _Fetched], warnings: list[str]) -> None:
    """Fill each sub-device's gateway and node id, asking gateways for their children when needed."""
    for item in fetched.values():
        d = item.device
        if d.sub or d.gateway_id:
            item.parent_id = d.gateway_id or None
            item.cid = d.node_id or None
    lacking = [i for i in fetched.values() if (i.device.sub or i.parent_id) and not (i.parent_id and i.cid)]
    if not lacking:
        return
    ask = {i.parent_id for i in lacking if i.parent_id}
    if any(not i.parent_id for i in lacking):
        ask |= {i.device.id for i in fetched.values() if not i.device.sub and i.device.category in GATEWAY_CATEGORIES}
    for gateway_id in sorted(ask):
        try:
            children = await client.sub_devices(gateway_id)
        except CloudError as exc:
            warnings.append(f"could not list the sub-devices of gateway {gateway_id}: {exc}")
            continue
        for child in children:
            found = fetched.get(child.id)
            if found is not None:
                found.parent_id = found.parent_id or gateway_id
                found.cid = found.cid or child.node_id or None
    for item in lacking:
        if not (item.parent_id and item.cid):
            warnings.append(
                f"sub-device {item.device.name or item.device.id} ({item.device.id}): the cloud did not say which "
                "gateway and node id it has; it is registered as a cloud device"
            )


async def _fetch_schemas(
    client: CloudSource, items: list[_Fetched], warnings: list[str], progress: Progress | None
) -> None:
    """One specification per product (devices of one product share it), a few calls at a time."""
    by_product: dict[str, asyncio.Task[Specification | None]] = {}
    gate = asyncio.Semaphore(SPEC_CONCURRENCY)
    done = 0

    async def fetch(device_id: str) -> Specification | None:
        async with gate:
            try:
                return await client.specification(device_id)
            except CloudError as exc:
                if str(exc.code) in _NO_SPEC_CODES:
                    return None  # no standard DPs: an empty schema, not an error
                raise

    async def one(item: _Fetched) -> None:
        nonlocal done
        key = item.device.product_id or f"device:{item.device.id}"
        task = by_product.get(key)
        if task is None:
            task = by_product[key] = asyncio.ensure_future(fetch(item.device.id))
        try:
            spec = await task
        except TuyaError as exc:
            warnings.append(f"{item.device.name or item.device.id}: no DP specification ({exc}); the old one is kept")
        else:
            item.schema = DpSchema() if spec is None else _schema_from(spec, item.device.id, warnings)
        done += 1
        if progress is not None:
            progress(done, len(items), item.device.name or item.device.id)

    await asyncio.gather(*(one(i) for i in items))


def _schema_from(spec: Specification, device_id: str, warnings: list[str]) -> DpSchema:
    as_dict = {
        "functions": [_spec_entry(f) for f in spec.functions],
        "status": [_spec_entry(s) for s in spec.status],
    }
    try:
        return DpSchema.from_cloud_specification(as_dict)
    except ConfigError as exc:
        warnings.append(f"device {device_id}: unusable DP specification ({exc})")
        return DpSchema()


def _spec_entry(entry: Any) -> dict[str, Any]:
    return {"code": entry.code, "type": entry.type, "values": entry.raw_values or entry.values, "dp_id": entry.dp_id}


def _store(item: _Fetched, registry: Registry, vault: Vault, warnings: list[str]) -> SyncedDevice:
    d = item.device
    old = registry.find(d.id)
    if old is not None and old.id != d.id:
        old = None  # find() matched a device *named* like this id
    if old is not None and old.backend not in ("tuya-lan", "tuya-cloud"):
        # a reflashed device the cloud still lists: the local record is the truth
        return SyncedDevice(d.id, old.name, "skipped", old.backend, old.parent_id, old.cid, len(old.schema))
    key_name = secret_name(d.id)
    has_key = bool(d.local_key) or (old is not None and key_name in vault)
    sub = bool(item.parent_id and item.cid)
    schema, source = _pick_schema(item, old)
    settings: dict[str, Any] = dict(old.settings) if old is not None else {}
    settings.update({k: v for k, v in (("uuid", d.uuid), ("model", d.model)) if v})
    new = DeviceRecord(
        id=d.id,
        name=d.name or (old.name if old is not None else d.id),
        backend="tuya-lan" if has_key else "tuya-cloud",
        address=None if sub else (old.address if old is not None else None),
        port=None if sub else (old.port if old is not None else None),
        version=old.version if old is not None else None,
        category=d.category or (old.category if old is not None else ""),
        product_id=d.product_id or (old.product_id if old is not None else ""),
        product_name=d.product_name or (old.product_name if old is not None else ""),
        parent_id=item.parent_id if sub else None,
        cid=item.cid if sub else None,
        schema=schema,
        schema_source=source,
        settings=settings,
    )
    changes = [f for f in _COMPARED if old is None or getattr(old, f) != getattr(new, f)]
    if d.local_key and vault.get(key_name) != d.local_key:
        vault.put(key_name, d.local_key)
        changes.append("local_key")
    if old is None:
        action: Action = "added"
        registry.add(new)
    elif changes:
        action = "updated"
        registry.upsert(replace(new, last_state=old.last_state, last_seen=old.last_seen))
    else:
        action = "unchanged"
    if not has_key:
        warnings.append(f"{new.name} ({d.id}): the cloud gave no local key; it is controlled through the cloud")
    return SyncedDevice(
        d.id, new.name, action, new.backend, new.parent_id, new.cid, len(schema), tuple(changes) if old else ()
    )


def _pick_schema(item: _Fetched, old: DeviceRecord | None) -> tuple[DpSchema, str]:
    """The cloud's specification, unless the user wrote the schema or the cloud gave none."""
    if old is not None and old.schema_source == "user":
        return old.schema, old.schema_source
    if item.schema:
        return item.schema, "cloud"
    if old is not None and old.schema:
        return old.schema, old.schema_source
    guessed = guess_builtin_schema(item.device.category, None)
    return (guessed, "builtin") if guessed else (DpSchema(), "")


def summarize(report: SyncReport) -> str:
    """One line for people: ``13 cloud device(s): 2 added, 1 updated, 10 unchanged``."""
    parts = [f"{len(report.added)} added", f"{len(report.updated)} updated", f"{len(report.unchanged)} unchanged"]
    if report.skipped:
        parts.append(f"{len(report.skipped)} skipped (reflashed)")
    return f"{len(report.devices)} cloud device(s): " + ", ".join(parts)
