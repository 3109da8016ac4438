"""``tuyagate devices list | add | remove | import | rotate-key``: the device registry from the shell.

While a gateway serves the same data directory, ``add``, ``remove`` and ``import`` tell it to reload, so
the change is served at once (:func:`tuyagate.cli.gateway_link.tell_gateway`).

Records go to the registry, keys and passwords to the vault (:mod:`tuyagate.devices.vault`);
nothing here prints a secret, except ``rotate-key`` showing the new master key when the old one
came from ``$TUYAGATE_MASTER_KEY`` (the user has to put the new one there). Keys and passwords
may come from an option, one line of stdin (``--key-stdin``) or a hidden prompt, so they can stay
out of the shell history.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tuyagate.cli.context import add_data_dir_arg, emit, open_store, read_secret, table
from tuyagate.cli.gateway_link import tell_gateway
from tuyagate.devices.registry import DeviceRecord, Registry, secret_name
from tuyagate.devices.tinytuya_import import ImportResult, parse_tinytuya
from tuyagate.devices.vault import Vault, format_master_key, move_key_to_keyring, rotate_master_key
from tuyagate.errors import ConfigError
from tuyagate.protocol.versions import VERSIONS as PROTOCOL_VERSIONS

__all__ = ["device_row", "merge_import", "register"]

TUYA_PORT = 6668
VERSIONS = tuple(PROTOCOL_VERSIONS)  # "3.1" .. "3.5" and "device22", from the one version table
FLASHED = ("tasmota", "openbeken", "esphome")
BACKEND_CHOICES = ("tuya", "tuya-lan", "tuya-cloud", *FLASHED)
# How much a schema source is trusted; an import replaces a schema only with one at least as good.
_SCHEMA_RANK = {"user": 4, "cloud": 3, "manifest": 3, "tinytuya": 2, "builtin": 1, "": 0}


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``tuyagate devices ...``."""
    devices = commands.add_parser("devices", help="list, add, remove and import devices of the registry")
    actions = devices.add_subparsers(dest="devices_command", metavar="ACTION")
    actions.required = True

    p = actions.add_parser("list", help="list the registered devices (never their keys)")
    p.add_argument("--backend", choices=BACKEND_CHOICES[1:], help="only devices of this backend")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    add_data_dir_arg(p)
    p.set_defaults(func=_list)

    p = actions.add_parser(
        "add",
        help="register a device, or change one already registered (same --id)",
        description=(
            "Stock Tuya device: --id --name --ip --key [--version] [--port]; a Zigbee sub-device: --id --name "
            "--parent GATEWAY --cid NODE_ID. Reflashed device: --backend tasmota|openbeken|esphome --url URL --name "
            "NAME [--user] [--password]. Without --key (or --key-stdin) the key is asked for when stdin is a terminal."
        ),
    )
    p.add_argument("--backend", choices=BACKEND_CHOICES, default=None, help="tuya (default), tuya-cloud or firmware")
    p.add_argument("--id", dest="device_id", help="device id (required for Tuya devices)")
    p.add_argument("--name", help="a name to call the device by")
    p.add_argument("--ip", help="LAN address (Tuya)")
    p.add_argument("--port", type=int, help=f"TCP port (default {TUYA_PORT})")
    p.add_argument("--version", choices=VERSIONS, help="Tuya protocol version (default: detect)")
    p.add_argument("--key", help="local key (better: --key-stdin or the prompt, which history does not keep)")
    p.add_argument("--key-stdin", action="store_true", help="read the local key from one line of stdin")
    p.add_argument("--category", help="Tuya category code (kg, cz, dj, ...), picks a built-in DP schema")
    p.add_argument("--parent", metavar="GATEWAY", help="the gateway (id or name) of a sub-device")
    p.add_argument("--cid", help="the sub-device's node id at its gateway")
    p.add_argument(
        "--sleepy",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="battery-powered: asleep between wake-ups, reads answered from its last values, commands refused",
    )
    p.add_argument("--wakes-every", type=float, metavar="SECONDS", help="a sleepy device's wake interval (300)")
    p.add_argument("--url", help="reflashed devices: the firmware's base URL, e.g. http://192.168.1.60")
    p.add_argument("--user", help="reflashed devices: web user name")
    p.add_argument("--password", help="reflashed devices: web password (better: --password-stdin)")
    p.add_argument("--password-stdin", action="store_true", help="read the web password from one line of stdin")
    p.add_argument("--json", action="store_true", help="print the stored device as JSON")
    add_data_dir_arg(p)
    p.set_defaults(func=_add)

    p = actions.add_parser("remove", help="remove devices and their secrets")
    p.add_argument("devices", nargs="+", metavar="DEVICE", help="id or name")
    p.add_argument("--json", action="store_true", help="print the removed devices as JSON")
    add_data_dir_arg(p)
    p.set_defaults(func=_remove)

    p = actions.add_parser(
        "import",
        help="import tinytuya's devices.json / snapshot.json, or a `tuyagate sim fleet` manifest",
        description=(
            "Each FILE is recognised by its content. tinytuya's devices.json and snapshot.json are merged by device "
            "id. Devices already registered are updated: new addresses, versions and keys replace the old ones, "
            "anything the file does not know is kept."
        ),
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    add_data_dir_arg(p)
    p.set_defaults(func=_import)

    p = actions.add_parser(
        "rotate-key",
        help="re-encrypt every secret under a new master key",
        description=(
            "With a key file (<data dir>/master.key) the file is replaced; with the key in the OS keyring, the "
            "keyring entry. With $TUYAGATE_MASTER_KEY the new key is printed on stdout: put it in the variable, the "
            "old one no longer opens the vault. --to-keyring then moves the key from the key file into the OS "
            "keyring (the keyring extra) and deletes the file."
        ),
    )
    p.add_argument("--to-keyring", action="store_true", help="keep the new key in the OS keyring, not in a file")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    add_data_dir_arg(p)
    p.set_defaults(func=_rotate)


# ---- list ------------------------------------------------------------------------------------------


def device_row(record: DeviceRecord, vault: Vault) -> dict[str, Any]:
    """What ``devices list --json`` shows of a device: everything but secrets (only whether they exist)."""
    return {
        "id": record.id,
        "name": record.name,
        "backend": record.backend,
        "address": record.address,
        "port": record.port,
        "version": record.version,
        "category": record.category,
        "product_id": record.product_id,
        "product_name": record.product_name,
        "parent_id": record.parent_id,
        "cid": record.cid,
        "dps": len(record.schema),
        "schema_source": record.schema_source,
        "settings": dict(record.settings),
        "has_local_key": secret_name(record.id) in vault,
        "has_password": secret_name(record.id, "password") in vault,
        "online": None,  # not known without asking the device: `tuyagate status` does
        "last_seen": record.last_seen,
    }


def _where(record: DeviceRecord) -> str:
    if record.parent_id:
        return f"via {record.parent_id} cid {record.cid}"
    if record.backend in FLASHED:
        return str(record.settings.get("url", ""))
    if record.address:
        return f"{record.address}:{record.port or TUYA_PORT}"
    return "cloud" if record.backend == "tuya-cloud" else "(address unknown)"


def _list(args: argparse.Namespace) -> int:
    with open_store(args) as (registry, vault):
        records = registry.devices(backend=args.backend)
        if args.json:
            emit(json.dumps([device_row(r, vault) for r in records], indent=2, ensure_ascii=False))
            return 0
        rows = [
            [r.id, r.name, r.backend, _where(r), r.version or "-", r.category or "-", str(len(r.schema))]
            for r in records
        ]
    emit(table(rows, ["id", "name", "backend", "address", "version", "category", "dps"]))
    print(f"{len(records)} device(s)", file=sys.stderr)
    return 0


# ---- add -------------------------------------------------------------------------------------------


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "device"


def _existing(registry: Registry, device_id: str | None) -> DeviceRecord | None:
    if not device_id:
        return None
    found = registry.find(device_id)
    return found if found is not None and found.id == device_id else None


def _add(args: argparse.Namespace) -> int:
    backend = "tuya-lan" if args.backend == "tuya" else args.backend
    if backend in FLASHED:
        for flag, value in (("--ip", args.ip), ("--key", args.key or args.key_stdin), ("--parent", args.parent)):
            if value:
                raise ConfigError(f"{flag} is for stock Tuya devices; a {backend} device is reached at --url")
    with open_store(args) as (registry, vault):
        old = _existing(registry, args.device_id)
        if backend is None and old is not None and old.backend in FLASHED:
            backend = old.backend
        if backend is None and args.url:
            raise ConfigError("a reflashed device needs --backend tasmota, openbeken or esphome")
        if backend in FLASHED:
            record, secret, action = _flashed_record(args, backend, registry)
        else:
            record, secret, action = _tuya_record(args, backend, registry)
        with registry.db.transaction():
            stored = registry.add(record) if action == "added" else registry.upsert(record)
            if secret is not None:
                vault.put(*secret)
        row = device_row(stored, vault)
    if args.json:
        emit(json.dumps(row, indent=2, ensure_ascii=False))
    else:
        emit(f"{action} {stored.name} ({stored.id}, {stored.backend}, {_where(stored)})")
    tell_gateway(args.data_dir)
    return 0


def _sleepy_settings(args: argparse.Namespace, settings: dict[str, Any]) -> None:
    """``--sleepy`` / ``--no-sleepy`` and ``--wakes-every`` into a Tuya device's settings."""
    if args.wakes_every is not None:
        if args.wakes_every <= 0:
            raise ConfigError("--wakes-every must be a positive number of seconds")
        if args.sleepy is False:
            raise ConfigError("--wakes-every is for sleepy devices; it contradicts --no-sleepy")
        settings["wakes_every"] = args.wakes_every
    if args.sleepy is True or (args.wakes_every is not None and args.sleepy is None):
        settings["sleepy"] = True
    elif args.sleepy is False:
        settings.pop("sleepy", None)
        settings.pop("wakes_every", None)


def _tuya_record(
    args: argparse.Namespace, backend: str | None, registry: Registry
) -> tuple[DeviceRecord, tuple[str, str] | None, str]:
    if not args.device_id:
        raise ConfigError("a Tuya device needs --id (its device id / gwId)")
    if args.url or args.user or args.password or args.password_stdin:
        raise ConfigError(
            "--url, --user and --password are for reflashed devices (--backend tasmota|openbeken|esphome)"
        )
    if bool(args.parent) != bool(args.cid):
        raise ConfigError("a sub-device needs both --parent (its gateway) and --cid (its node id)")
    old = _existing(registry, args.device_id)
    parent_id = registry.get(args.parent).id if args.parent else None
    sub = parent_id is not None or (old is not None and old.parent_id is not None and not args.ip)
    target = backend or (old.backend if old is not None and old.backend not in FLASHED else "tuya-lan")
    ask = old is None and target == "tuya-lan" and not sub
    key = read_secret(args.key, from_stdin=args.key_stdin, prompt="Local key: ", ask=ask)
    if key is not None and len(key.encode("latin-1", errors="replace")) != 16:
        raise ConfigError("a Tuya local key is 16 characters long")
    version = args.version  # "device22" included: the registry stores the version as the CLI spells it
    settings = dict(old.settings) if old is not None else {}
    _sleepy_settings(args, settings)
    if old is None:
        if not args.name:
            raise ConfigError("a new device needs --name")
        if target == "tuya-lan" and not sub and not args.ip:
            raise ConfigError("a LAN device needs --ip (or add it with --backend tuya-cloud, or as a sub-device)")
        if target == "tuya-lan" and not sub and key is None:
            raise ConfigError("a LAN device needs its local key: --key, --key-stdin, or the prompt on a terminal")
        record = DeviceRecord(id=args.device_id, name=args.name, backend=target)
    else:
        record = replace(old, backend=target)
    record = replace(
        record,
        name=args.name or record.name,
        address=None if sub else (args.ip or record.address),
        port=None if sub else (args.port or record.port or (TUYA_PORT if target == "tuya-lan" else None)),
        version=version or record.version,
        category=args.category or record.category,
        parent_id=parent_id or (record.parent_id if sub else None),
        cid=args.cid or (record.cid if sub else None),
        settings=settings,
    )
    if not record.schema and record.category:
        from tuyagate.schema.builtin import guess_builtin_schema

        guessed = guess_builtin_schema(record.category, record.last_state)
        if guessed:
            record = replace(record, schema=guessed, schema_source="builtin")
    secret = (secret_name(record.id), key) if key is not None else None
    return record, secret, "added" if old is None else "updated"


def _flashed_record(
    args: argparse.Namespace, backend: str, registry: Registry
) -> tuple[DeviceRecord, tuple[str, str] | None, str]:
    if args.sleepy is not None or args.wakes_every is not None:
        raise ConfigError("--sleepy and --wakes-every are for battery-powered Tuya devices, not reflashed ones")
    device_id = args.device_id or (f"{backend}-{_slug(args.name)}" if args.name else None)
    old = _existing(registry, device_id)
    if old is None and not (args.name and args.url):
        raise ConfigError(f"a new {backend} device needs --name and --url")
    url = args.url or (str(old.settings.get("url", "")) if old is not None else "")
    if not url.startswith(("http://", "https://")):
        raise ConfigError("--url must start with http:// or https://")
    parts = urlsplit(url)
    if parts.username or parts.password:  # the URL is shown by `devices list`; credentials belong in the vault
        raise ConfigError("give the web user and password with --user and --password, not inside --url")
    settings = dict(old.settings) if old is not None else {}
    settings["url"] = url.rstrip("/")
    if args.user:
        settings["user"] = args.user
    password = read_secret(
        args.password, from_stdin=args.password_stdin, prompt="Web password: ", ask=bool(args.user) and old is None
    )
    assert device_id is not None
    base = old if old is not None else DeviceRecord(id=device_id, name=args.name, backend=backend)
    record = replace(
        base,
        name=args.name or base.name,
        backend=backend,
        category=args.category or base.category,
        settings=settings,
    )
    secret = (secret_name(device_id, "password"), password) if password else None
    return record, secret, "added" if old is None else "updated"


# ---- remove ----------------------------------------------------------------------------------------


def _remove(args: argparse.Namespace) -> int:
    removed = []
    with open_store(args) as (registry, vault):
        targets = [registry.get(name) for name in args.devices]  # all or nothing: check every name first
        with registry.db.transaction():
            for record in targets:
                removed.append(device_row(record, vault))
                registry.remove(record.id)
        for record in targets:
            orphans = registry.devices(parent_id=record.id)
            if orphans:
                print(
                    f"note: {len(orphans)} sub-device(s) of {record.name} stay registered: "
                    + ", ".join(o.name for o in orphans),
                    file=sys.stderr,
                )
    if args.json:
        emit(json.dumps(removed, indent=2, ensure_ascii=False))
    else:
        for row in removed:
            emit(f"removed {row['name']} ({row['id']})")
    tell_gateway(args.data_dir)
    return 0


# ---- import ----------------------------------------------------------------------------------------


def _read_json(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None


def _parse_files(paths: list[str]) -> ImportResult:
    from tuyagate.devices.manifest_import import is_fleet_manifest, parse_fleet_manifest

    devices_json: list[Any] = []
    snapshot: Any = None
    results: list[ImportResult] = []
    for path in paths:
        data = _read_json(path)
        if is_fleet_manifest(data):
            results.append(parse_fleet_manifest(data))
        elif isinstance(data, list):
            devices_json.extend(data)
        elif isinstance(data, dict) and isinstance(data.get("devices"), list):
            if snapshot is not None:
                raise ConfigError("give at most one snapshot.json")
            snapshot = data
        elif isinstance(data, dict) and "apiKey" in data:
            raise ConfigError(
                f"{path} is tinytuya's cloud project (tinytuya.json): log in with `tuyagate cloud login`, "
                "then `tuyagate cloud sync`"
            )
        else:
            raise ConfigError(f"{path} is neither a tinytuya devices.json/snapshot.json nor a fleet manifest")
    if devices_json or snapshot is not None:
        results.append(parse_tinytuya(devices=devices_json or None, snapshot=snapshot))
    return ImportResult(
        devices=tuple(d for r in results for d in r.devices), warnings=tuple(w for r in results for w in r.warnings)
    )


def _merged(old: DeviceRecord, new: DeviceRecord) -> DeviceRecord:
    """``new`` over ``old``: what the import knows replaces, what it does not know is kept."""
    new_rank, old_rank = _SCHEMA_RANK.get(new.schema_source, 0), _SCHEMA_RANK.get(old.schema_source, 0)
    keep_schema = not new.schema or new_rank < old_rank or (new_rank == old_rank and new.schema == old.schema)
    backend = new.backend
    if new.backend == "tuya-cloud" and old.backend == "tuya-lan":
        backend = "tuya-lan"  # the file has no key, the vault has; without an address the cloud route serves
    return replace(
        new,
        name=old.name if new.name == new.id else new.name,
        backend=backend,
        address=new.address or (None if new.parent_id else old.address),
        port=new.port or (None if new.parent_id else old.port),
        version=new.version or old.version,
        category=new.category or old.category,
        product_id=new.product_id or old.product_id,
        product_name=new.product_name or old.product_name,
        parent_id=new.parent_id or old.parent_id,
        cid=new.cid or old.cid,
        schema=old.schema if keep_schema else new.schema,
        schema_source=old.schema_source if keep_schema else new.schema_source,
        settings={**old.settings, **new.settings},
        last_state=new.last_state if new.last_state is not None else old.last_state,
        last_seen=new.last_seen if new.last_seen is not None else old.last_seen,
    )


def merge_import(result: ImportResult, registry: Registry, vault: Vault) -> dict[str, list[str]]:
    """Store an import, merging into devices already registered; ids by ``added``/``updated``/``unchanged``."""
    outcome: dict[str, list[str]] = {"added": [], "updated": [], "unchanged": []}
    compared = [f.name for f in fields(DeviceRecord) if f.name not in ("created_at", "updated_at", "last_seen")]
    with registry.db.transaction():
        for item in result.devices:
            old = _existing(registry, item.record.id)
            record = item.record if old is None else _merged(old, item.record)
            changed = old is None or any(getattr(old, f) != getattr(record, f) for f in compared)
            for name, value in item.secrets.items():
                if vault.get(name) != value:
                    vault.put(name, value)
                    changed = True
            if old is None:
                registry.add(record)
                outcome["added"].append(record.id)
            elif changed:
                registry.upsert(record)
                outcome["updated"].append(record.id)
            else:
                outcome["unchanged"].append(record.id)
    return outcome


def _import(args: argparse.Namespace) -> int:
    result = _parse_files(args.files)
    with open_store(args) as (registry, vault):
        outcome = merge_import(result, registry, vault)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        emit(json.dumps({**outcome, "warnings": list(result.warnings)}, indent=2, ensure_ascii=False))
    else:
        emit(
            f"imported {len(result.devices)} device(s): {len(outcome['added'])} added, "
            f"{len(outcome['updated'])} updated, {len(outcome['unchanged'])} unchanged"
        )
    if outcome["added"] or outcome["updated"]:
        tell_gateway(args.data_dir)
    return 0


# ---- rotate-key ------------------------------------------------------------------------------------


def _rotate(args: argparse.Namespace) -> int:
    with open_store(args) as (_registry, vault):
        source, key_file = vault.key_source, vault.key_file
        if args.to_keyring and source == "env":
            raise ConfigError("--to-keyring moves a key file's key; with TUYAGATE_MASTER_KEY set there is no file")
        new_key = rotate_master_key(vault)
        secrets = len(vault.names())
        if args.to_keyring and source == "file":
            move_key_to_keyring(vault)
            source = "keyring"
    info: dict[str, Any] = {"rotated": True, "secrets": secrets, "key_source": source}
    if args.to_keyring and source == "env":
        raise ConfigError("--to-keyring moves a key file's key; with TUYAGATE_MASTER_KEY set there is no file")
    if source == "keyring":
        emit(
            json.dumps(info)
            if args.json
            else f"re-encrypted {secrets} secret(s); the new master key is in the OS keyring"
        )
        return 0
    if source == "env":
        info["master_key"] = format_master_key(new_key)
        print(
            "the vault is now encrypted with the key below: set TUYAGATE_MASTER_KEY to it "
            "(the old key no longer opens the vault)",
            file=sys.stderr,
        )
        emit(json.dumps(info) if args.json else info["master_key"])
        return 0
    info["key_file"] = str(key_file)
    emit(json.dumps(info) if args.json else f"re-encrypted {secrets} secret(s); the new master key is in {key_file}")
    return 0
