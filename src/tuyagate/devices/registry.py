"""The device registry: every configured device, its DP schema, and its last known state.

Records hold no secrets: local keys and passwords live in the vault under ``device/<id>/local_key``
and ``device/<id>/password`` (:func:`secret_name`). Each method is one short transaction on the
shared :class:`~tuyagate.devices.db.Database`; wrap several in ``registry.db.transaction()`` to make
them all-or-nothing.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, cast, get_args

from tuyagate.device_api import Backend, DeviceInfo
from tuyagate.devices.db import Database
from tuyagate.errors import ConfigError, NotFoundError
from tuyagate.schema import DpSchema

__all__ = ["BACKENDS", "DeviceRecord", "Registry", "secret_name"]

BACKENDS: tuple[str, ...] = get_args(Backend)
SecretKind = Literal["local_key", "password"]
_SCHEMA_CACHE_SIZE = 256  # distinct schemas kept parsed; a fleet rarely has more products than this

_COLUMNS = (
    "id, name, backend, address, port, version, category, product_id, product_name, parent_id, cid, "
    "schema_json, schema_source, settings_json, last_state_json, last_seen, created_at, updated_at"
)


def secret_name(device_id: str, kind: SecretKind = "local_key") -> str:
    """The vault name of a device's secret: ``device/<id>/local_key`` or ``device/<id>/password``."""
    return f"device/{device_id}/{kind}"


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """One device as configured. Change one with :func:`dataclasses.replace` and :meth:`Registry.upsert`."""

    id: str
    name: str
    backend: str = "tuya-lan"  # one of BACKENDS
    address: str | None = None  # LAN IP or host name; None = unknown (found by discovery) or cloud only
    port: int | None = None
    version: str | None = None  # Tuya protocol version "3.1" .. "3.5" or "device22"; None = detect
    category: str = ""  # Tuya category code: kg, cz, dj, ...
    product_id: str = ""
    product_name: str = ""
    parent_id: str | None = None  # sub-devices: the gateway's id ...
    cid: str | None = None  # ... and the node id the gateway knows it by
    schema: DpSchema = field(default_factory=DpSchema)
    schema_source: str = ""  # cloud, tinytuya, builtin, user
    settings: Mapping[str, Any] = field(default_factory=dict)  # non-secret extras: mac, url, ...
    last_state: Mapping[str, Any] | None = None  # raw DPs by id, as last seen
    last_seen: float | None = None  # unix time
    created_at: float = 0.0
    updated_at: float = 0.0

    def info(self) -> DeviceInfo:
        """The shareable description used by the Device interface."""
        return DeviceInfo(
            id=self.id,
            name=self.name,
            backend=self.backend,
            category=self.category,
            product_name=self.product_name,
            version=self.version,
            ip=self.address,
            port=self.port,
            parent_id=self.parent_id,
            cid=self.cid,
        )

    def __repr__(self) -> str:
        where = f" at {self.address}:{self.port}" if self.address else ""
        return (
            f"DeviceRecord(id={self.id!r}, name={self.name!r}, backend={self.backend!r}{where}, dps={len(self.schema)})"
        )


class Registry:
    """CRUD over the ``devices`` and ``settings`` tables."""

    def __init__(self, db: Database, *, owns_db: bool = False) -> None:
        self.db = db
        self._owns_db = owns_db
        # Parsed schemas by their stored JSON: schemas are immutable and usually shared by many devices.
        self._schemas: dict[str, DpSchema] = {}

    @classmethod
    def open(cls, directory: str | os.PathLike[str] | None = None) -> Registry:
        """The registry in a data directory (``--data-dir``, ``$TUYAGATE_DATA_DIR`` or the XDG default)."""
        return cls(Database.open(directory), owns_db=True)

    def close(self) -> None:
        """Close the database if this registry opened it."""
        if self._owns_db:
            self.db.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writes ----------------------------------------------------------------------------------

    def add(self, record: DeviceRecord) -> DeviceRecord:
        """Insert a new device; ConfigError if the id is taken."""
        _validate(record)
        now = time.time()
        stored = replace(record, created_at=now, updated_at=now)
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM devices WHERE id = ?", (record.id,)).fetchone():
                raise ConfigError(f"a device with id {record.id!r} is already registered")
            conn.execute(f"INSERT INTO devices ({_COLUMNS}) VALUES ({', '.join('?' * 18)})", _row(stored))
        return stored

    def upsert(self, record: DeviceRecord) -> DeviceRecord:
        """Insert or replace a device's configuration, keeping its creation time and, when the new
        record has none, its last state and last-seen time."""
        _validate(record)
        now = time.time()
        with self.db.transaction() as conn:
            old = conn.execute(f"SELECT {_COLUMNS} FROM devices WHERE id = ?", (record.id,)).fetchone()
            stored = replace(record, created_at=now, updated_at=now)
            if old is not None:
                previous = self._record(old)
                stored = replace(
                    stored,
                    created_at=previous.created_at,
                    last_state=record.last_state if record.last_state is not None else previous.last_state,
                    last_seen=record.last_seen if record.last_seen is not None else previous.last_seen,
                )
            conn.execute(f"INSERT OR REPLACE INTO devices ({_COLUMNS}) VALUES ({', '.join('?' * 18)})", _row(stored))
        return stored

    def update(self, id_or_name: str, **changes: Any) -> DeviceRecord:
        """Change some fields of a device (``update("plug", address="10.0.0.7")``); NotFoundError if absent."""
        allowed = {f.name for f in fields(DeviceRecord)} - {"id", "created_at", "updated_at"}
        unknown = set(changes) - allowed
        if unknown:
            raise ConfigError(f"cannot update field(s) {', '.join(sorted(unknown))} of a device record")
        with self.db.transaction() as conn:
            stored = replace(self.get(id_or_name), **changes, updated_at=time.time())
            _validate(stored)
            conn.execute(f"INSERT OR REPLACE INTO devices ({_COLUMNS}) VALUES ({', '.join('?' * 18)})", _row(stored))
        return stored

    def remove(self, id_or_name: str) -> DeviceRecord:
        """Delete a device and its vault secrets (``device/<id>/...``) in one transaction."""
        with self.db.transaction() as conn:
            record = self.get(id_or_name)
            conn.execute("DELETE FROM devices WHERE id = ?", (record.id,))
            prefix = f"device/{record.id}/"
            conn.execute("DELETE FROM secrets WHERE substr(name, 1, ?) = ?", (len(prefix), prefix))
        return record

    def record_state(self, device_id: str, dps: Mapping[str, Any], *, seen_at: float | None = None) -> None:
        """Merge reported raw DPs into the last state and set last-seen (a no-op for an unknown id)."""
        seen = time.time() if seen_at is None else seen_at
        with self.db.transaction() as conn:
            row = conn.execute("SELECT last_state_json FROM devices WHERE id = ?", (device_id,)).fetchone()
            if row is None:
                return
            state = json.loads(row[0]) if row[0] else {}
            state.update({str(k): v for k, v in dps.items()})
            conn.execute(
                "UPDATE devices SET last_state_json = ?, last_seen = ? WHERE id = ?", (_dump(state), seen, device_id)
            )

    def record_states(self, updates: Mapping[str, Mapping[str, Any]], *, seen_at: float | None = None) -> None:
        """:meth:`record_state` for many devices in one transaction (one disk sync instead of many)."""
        with self.db.transaction():
            for device_id, dps in updates.items():
                self.record_state(device_id, dps, seen_at=seen_at)

    def touch(self, device_id: str, *, seen_at: float | None = None) -> None:
        """Set a device's last-seen time (an answer without new DPs)."""
        seen = time.time() if seen_at is None else seen_at
        with self.db.transaction() as conn:
            conn.execute("UPDATE devices SET last_seen = ? WHERE id = ?", (seen, device_id))

    # ---- reads -----------------------------------------------------------------------------------

    def find(self, id_or_name: str) -> DeviceRecord | None:
        """The device with this id, else the one device with this name (exact, then ignoring case), else None."""
        with self.db.read() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM devices WHERE id = ?", (id_or_name,)).fetchone()
            if row is not None:
                return self._record(row)
            rows = conn.execute(f"SELECT {_COLUMNS} FROM devices WHERE name = ? LIMIT 2", (id_or_name,)).fetchall()
            if not rows:  # "desk plug" finds "Desk plug" when nothing matches exactly
                query = f"SELECT {_COLUMNS} FROM devices WHERE name = ? COLLATE NOCASE LIMIT 2"
                rows = conn.execute(query, (id_or_name,)).fetchall()
        if len(rows) > 1:
            ids = self._ids_named(id_or_name)
            raise NotFoundError(
                f"{len(ids)} devices are named {id_or_name!r} (ids {', '.join(ids)}); name one by its id"
            )
        return self._record(rows[0]) if rows else None

    def get(self, id_or_name: str) -> DeviceRecord:
        """Like :meth:`find`, but NotFoundError when there is no such device."""
        record = self.find(id_or_name)
        if record is None:
            raise NotFoundError(f"no device with id or name {id_or_name!r} in the registry")
        return record

    def devices(self, *, backend: str | None = None, parent_id: str | None = None) -> list[DeviceRecord]:
        """All devices (optionally of one backend, or the children of one gateway), by name then id."""
        query, args = f"SELECT {_COLUMNS} FROM devices", []
        where = []
        if backend is not None:
            where.append("backend = ?")
            args.append(backend)
        if parent_id is not None:
            where.append("parent_id = ?")
            args.append(parent_id)
        if where:
            query += " WHERE " + " AND ".join(where)
        with self.db.read() as conn:
            rows = conn.execute(query + " ORDER BY name, id", args).fetchall()
        return [self._record(r) for r in rows]

    def count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute("SELECT count(*) FROM devices").fetchone()[0])

    def __contains__(self, id_or_name: object) -> bool:
        return isinstance(id_or_name, str) and self.find(id_or_name) is not None

    def _record(self, row: tuple[Any, ...]) -> DeviceRecord:
        schema = self._schemas.get(row[11])
        if schema is None:
            if len(self._schemas) >= _SCHEMA_CACHE_SIZE:
                self._schemas.clear()
            schema = self._schemas[row[11]] = DpSchema.from_dicts(json.loads(row[11]))
        return _record_from(row, schema)

    def _ids_named(self, name: str) -> list[str]:
        with self.db.read() as conn:
            rows = conn.execute("SELECT id FROM devices WHERE name = ? ORDER BY id", (name,)).fetchall()
            if len(rows) < 2:
                rows = conn.execute(
                    "SELECT id FROM devices WHERE name = ? COLLATE NOCASE ORDER BY id", (name,)
                ).fetchall()
            return [r[0] for r in rows]

    # ---- settings (non-secret; secrets go to the vault and settings hold their names) ------------

    def get_setting(self, key: str, default: Any = None) -> Any:
        with self.db.read() as conn:
            row = conn.execute("SELECT value_json FROM settings WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_setting(self, key: str, value: Any) -> None:
        """Store a JSON-able value, e.g. ``set_setting("cloud", {"region": "eu", "secret": "cloud/secret"})``."""
        with self.db.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO settings (key, value_json) VALUES (?, ?)", (key, _dump(value)))

    def delete_setting(self, key: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM settings WHERE key = ?", (key,)).rowcount > 0

    def settings(self) -> dict[str, Any]:
        with self.db.read() as conn:
            return {k: json.loads(v) for k, v in conn.execute("SELECT key, value_json FROM settings ORDER BY key")}

    def __repr__(self) -> str:
        return f"Registry({str(self.db.path)!r})"


def _validate(record: DeviceRecord) -> None:
    if not record.id or not isinstance(record.id, str):
        raise ConfigError("a device needs a non-empty id")
    if not record.name:
        raise ConfigError(f"device {record.id!r} needs a name")
    if record.backend not in BACKENDS:
        raise ConfigError(f"device {record.id!r}: backend must be one of {', '.join(BACKENDS)}, got {record.backend!r}")
    if record.port is not None and not 0 < record.port < 65536:
        raise ConfigError(f"device {record.id!r}: port must be 1..65535, got {record.port}")
    if not isinstance(record.schema, DpSchema):
        raise ConfigError(f"device {record.id!r}: schema must be a DpSchema")


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _row(r: DeviceRecord) -> tuple[Any, ...]:
    return (
        r.id,
        r.name,
        r.backend,
        r.address,
        r.port,
        r.version,
        r.category,
        r.product_id,
        r.product_name,
        r.parent_id,
        r.cid,
        _dump(r.schema.to_dicts()),
        r.schema_source,
        _dump(dict(r.settings)),
        None if r.last_state is None else _dump(dict(r.last_state)),
        r.last_seen,
        r.created_at,
        r.updated_at,
    )


def _stored_version(version: str | None, settings: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """Read records stored before device22 had one spelling: version "3.3" plus ``dev_type: device22``."""
    if settings.get("dev_type") == "device22":
        settings = {k: v for k, v in settings.items() if k != "dev_type"}
        version = "device22"
    return version, settings


def _record_from(row: tuple[Any, ...], schema: DpSchema) -> DeviceRecord:
    version, settings = _stored_version(row[5], cast(dict[str, Any], json.loads(row[13])))
    return DeviceRecord(
        id=row[0],
        name=row[1],
        backend=row[2],
        address=row[3],
        port=row[4],
        version=version,
        category=row[6],
        product_id=row[7],
        product_name=row[8],
        parent_id=row[9],
        cid=row[10],
        schema=schema,
        schema_source=row[12],
        settings=settings,
        last_state=None if row[14] is None else json.loads(row[14]),
        last_seen=row[15],
        created_at=row[16],
        updated_at=row[17],
    )
