"""Registry: CRUD, lookups, state, settings, migrations, file settings and use from several threads."""

from __future__ import annotations

import sqlite3
import stat
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from tuyagate.device_api import DeviceInfo
from tuyagate.devices.db import SCHEMA_VERSION, Database
from tuyagate.devices.paths import DB_FILENAME
from tuyagate.devices.registry import DeviceRecord, Registry, secret_name
from tuyagate.devices.vault import Vault
from tuyagate.errors import ConfigError, NotFoundError
from tuyagate.schema.builtin import builtin_schema

KEY = bytes(range(32))


@pytest.fixture
def registry(tmp_path: Path):
    with Registry.open(tmp_path) as reg:
        yield reg


def plug(ident: str = "bf01", name: str = "Desk plug", **kw) -> DeviceRecord:
    fields = {"address": "127.0.0.5", "port": 6668, "version": "3.4", "category": "cz", **kw}
    return DeviceRecord(id=ident, name=name, **fields)


def test_add_get_by_id_and_name(registry: Registry) -> None:
    stored = registry.add(plug(schema=builtin_schema("cz", metering=True), schema_source="builtin"))
    assert stored.created_at > 0
    assert stored.updated_at == stored.created_at
    assert registry.get("bf01") == stored
    assert registry.get("Desk plug") == stored
    assert registry.get("bf01").schema.from_wire(19, 1187) == 118.7
    assert registry.find("nope") is None
    with pytest.raises(NotFoundError, match="no device with id or name 'nope'"):
        registry.get("nope")
    with pytest.raises(ConfigError, match="already registered"):
        registry.add(plug())
    assert "bf01" in registry
    assert "Desk plug" in registry
    assert "x" not in registry
    assert registry.count() == 1


def test_same_name_twice_is_ambiguous_but_ids_work(registry: Registry) -> None:
    registry.add(plug("a1", "Plug"))
    registry.add(plug("a2", "Plug"))
    with pytest.raises(NotFoundError, match=r"2 devices are named 'Plug' \(ids a1, a2\)"):
        registry.get("Plug")
    assert registry.get("a2").id == "a2"


def test_validation(registry: Registry) -> None:
    with pytest.raises(ConfigError, match="backend must be one of tuya-lan, tuya-cloud, tasmota, openbeken, esphome"):
        registry.add(plug(backend="zigbee"))
    with pytest.raises(ConfigError, match=r"port must be 1\.\.65535"):
        registry.add(plug(port=70000))
    with pytest.raises(ConfigError, match="needs a non-empty id"):
        registry.add(plug(ident=""))
    with pytest.raises(ConfigError, match="cannot update field"):
        registry.update("bf01", id="other")


def test_update_upsert_and_list(registry: Registry) -> None:
    registry.add(plug("b2", "Zeta"))
    first = registry.add(plug("b1", "Alpha"))
    moved = registry.update("Alpha", address="127.0.0.9", version="3.5")
    assert (moved.address, moved.version, moved.created_at) == ("127.0.0.9", "3.5", first.created_at)
    assert registry.get("b1").address == "127.0.0.9"
    registry.record_state("b1", {"1": True})
    again = registry.upsert(replace(moved, name="Alpha 2"))
    assert again.name == "Alpha 2"
    assert again.last_state == {"1": True}
    assert again.created_at == first.created_at
    registry.add(DeviceRecord(id="c1", name="Child", parent_id="b1", cid="0001", backend="tuya-lan"))
    registry.add(DeviceRecord(id="t1", name="Kitchen", backend="tasmota", address="127.0.0.20", port=80))
    assert [r.id for r in registry.devices()] == ["b1", "c1", "t1", "b2"]
    assert [r.id for r in registry.devices(parent_id="b1")] == ["c1"]
    assert [r.id for r in registry.devices(backend="tasmota")] == ["t1"]
    with pytest.raises(NotFoundError):
        registry.update("missing", name="x")


def test_record_state_merges_and_touch(registry: Registry) -> None:
    registry.add(plug())
    registry.record_state("bf01", {"1": True, "19": 10}, seen_at=100.0)
    registry.record_state("bf01", {"19": 22}, seen_at=200.0)
    record = registry.get("bf01")
    assert record.last_state == {"1": True, "19": 22}
    assert record.last_seen == 200.0
    registry.touch("bf01", seen_at=300.0)
    assert registry.get("bf01").last_seen == 300.0
    registry.record_state("unknown", {"1": True})  # a late report for a removed device is ignored


def test_remove_forgets_the_device_secrets_only(registry: Registry) -> None:
    vault = Vault(registry.db, KEY)
    registry.add(plug("d1"))
    registry.add(plug("d10", "Other"))
    vault.put(secret_name("d1"), "0123456789abcdef")
    vault.put(secret_name("d1", "password"), "pw")
    vault.put(secret_name("d10"), "fedcba9876543210")
    removed = registry.remove("d1")
    assert removed.id == "d1"
    assert registry.find("d1") is None
    assert vault.names() == ["device/d10/local_key"]
    with pytest.raises(NotFoundError):
        registry.remove("d1")


def test_settings(registry: Registry) -> None:
    assert registry.get_setting("cloud") is None
    assert registry.get_setting("cloud", {}) == {}
    registry.set_setting("cloud", {"region": "eu", "access_id": "abc", "secret": "cloud/secret"})
    registry.set_setting("poll_interval", 30)
    assert registry.get_setting("cloud")["region"] == "eu"
    assert registry.settings() == {
        "cloud": {"region": "eu", "access_id": "abc", "secret": "cloud/secret"},
        "poll_interval": 30,
    }
    assert registry.delete_setting("poll_interval")
    assert not registry.delete_setting("poll_interval")


def test_persists_and_file_is_wal_full_private(tmp_path: Path) -> None:
    with Registry.open(tmp_path) as registry:
        registry.add(plug())
        with registry.db.read() as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert registry.db.schema_version == SCHEMA_VERSION
    assert stat.S_IMODE((tmp_path / DB_FILENAME).stat().st_mode) == 0o600
    with Registry.open(tmp_path) as registry:
        assert registry.get("bf01").name == "Desk plug"


def test_migrations_and_newer_files(tmp_path: Path) -> None:
    db_file = tmp_path / "t.db"
    Database(db_file).close()
    conn = sqlite3.connect(db_file)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} >= {
        "devices",
        "secrets",
        "vault_meta",
        "settings",
    }
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(ConfigError, match="written by a newer tuyagate"):
        Database(db_file)


def test_not_a_database(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.db"
    bogus.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ConfigError, match="not a usable tuyagate database"):
        Database(bogus)


def test_outer_transaction_makes_several_writes_atomic(registry: Registry) -> None:
    def two_writes_then_fail() -> None:
        with registry.db.transaction():
            registry.add(plug("x1"))
            registry.add(plug("x2"))
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError, match="abort"):
        two_writes_then_fail()
    assert registry.count() == 0


def test_threads_share_one_registry(registry: Registry) -> None:
    errors: list[Exception] = []

    def worker(n: int) -> None:
        try:
            for i in range(25):
                registry.add(plug(f"t{n}-{i}", f"T {n} {i}"))
                registry.record_state(f"t{n}-{i}", {"1": True})
                registry.devices()
        except Exception as exc:  # noqa: BLE001  # handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert registry.count() == 100


def test_record_repr_and_info() -> None:
    record = plug()
    assert repr(record) == "DeviceRecord(id='bf01', name='Desk plug', backend='tuya-lan' at 127.0.0.5:6668, dps=0)"
    assert record.info() == DeviceInfo(
        id="bf01", name="Desk plug", backend="tuya-lan", category="cz", version="3.4", ip="127.0.0.5", port=6668
    )


def test_name_lookup_ignores_case_when_nothing_matches_exactly(registry: Registry) -> None:
    registry.add(plug("n1", "Desk plug"))
    registry.add(plug("n2", "desk PLUG"))
    assert registry.get("desk PLUG").id == "n2"
    registry.add(plug("n3", "Hall light"))
    assert registry.get("HALL LIGHT").id == "n3"
    with pytest.raises(NotFoundError, match=r"2 devices are named 'DESK plug' \(ids n1, n2\)"):
        registry.get("DESK plug")


def test_record_states_in_one_transaction(registry: Registry) -> None:
    registry.add(plug("s1"))
    registry.add(plug("s2", "Two"))
    registry.record_states({"s1": {"1": True}, "s2": {"1": False}, "gone": {"1": True}}, seen_at=5.0)
    assert [(r.id, r.last_state, r.last_seen) for r in registry.devices()] == [
        ("s1", {"1": True}, 5.0),
        ("s2", {"1": False}, 5.0),
    ]


def test_a_locked_file_is_a_config_error_not_a_hang(tmp_path: Path) -> None:
    db_file = tmp_path / "t.db"
    with Registry(Database(db_file, timeout=0.2), owns_db=True) as registry:
        other = sqlite3.connect(db_file, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            with pytest.raises(ConfigError, match="database is locked"):
                registry.add(plug())
        finally:
            other.execute("ROLLBACK")
            other.close()
        registry.add(plug())
        assert registry.count() == 1
