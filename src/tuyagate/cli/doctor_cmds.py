"""`tuyagate doctor DEVICE`: say why a device does not answer, and what to do about it.

The LAN observations come from :mod:`tuyagate.lan.diagnose`; this command adds what only the
registry knows (the stored address, version and key: is there a key at all?) and the cloud login
(a login that expired is why the cloud route fails too). The exit code is 0 when nothing is wrong,
1 when a problem was found, so scripts can use it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from tuyagate.cli.context import add_data_dir_arg
from tuyagate.errors import CloudAuthError, ConfigError, TuyaError
from tuyagate.lan.connection import DEFAULT_PORT
from tuyagate.lan.diagnose import Diagnosis, Finding, diagnose

__all__ = ["register"]

KEY_ENV = "TUYAGATE_LOCAL_KEY"
_LABELS = {"problem": "PROBLEM", "warning": "warning", "info": "info", "ok": "ok"}


async def _doctor(args: argparse.Namespace) -> int:
    target = _target(args)
    result = await diagnose(
        target["id"],
        target["host"],
        target["key"],
        target["version"],
        port=target["port"],
        timeout=args.timeout,
        listen_for=args.listen_for,
        listen_host=args.listen,
        listen_ports=[int(p) for p in str(args.ports).split(",") if p.strip()],
        probe_port=args.probe_port,
    )
    if target["registered"]:
        cloud = await _check_cloud(args)
        if cloud is not None:
            result.add(cloud)
    _print(args, result, target["name"])
    return 0 if result.healthy else 1


def _target(args: argparse.Namespace) -> dict[str, Any]:
    """The device from the registry (DEVICE) or ad hoc (--id, --ip, --key)."""
    if args.device is not None and args.id is None:
        from tuyagate.cli.context import open_store
        from tuyagate.devices.registry import secret_name

        with open_store(args) as (registry, vault):
            record = registry.get(args.device)
            key = vault.get(secret_name(record.id))
        if record.backend != "tuya-lan":
            raise ConfigError(f"{record.name!r} is a {record.backend} device; doctor checks Tuya LAN devices")
        return {
            "id": record.id,
            "name": record.name,
            "host": args.ip or record.address,
            "port": record.port or DEFAULT_PORT,
            "version": args.protocol or record.version,
            "key": key,
            "registered": True,
        }
    if args.id is None:
        raise ConfigError("name a device: DEVICE (from the registry) or --id with --ip and --key")
    key = args.key if args.key is not None else os.environ.get(KEY_ENV)
    port = args.port or DEFAULT_PORT
    return {
        "id": args.id,
        "name": None,
        "host": args.ip,
        "port": port,
        "version": args.protocol,
        "key": key,
        "registered": False,
    }


async def _check_cloud(args: argparse.Namespace) -> Finding | None:
    """Is the stored cloud login still good? None when there is no login (a LAN-only setup)."""
    from tuyagate.cli.context import cloud_client_from_store, open_store

    with open_store(args) as (registry, vault):
        client = cloud_client_from_store(registry, vault, args)
    if client is None:
        return None
    try:
        await client.token()
    except CloudAuthError as exc:
        return Finding(
            "cloud_login_expired",
            "problem",
            f"the cloud login is no longer accepted ({exc.code})",
            "log in again: `tuyagate cloud login` (then `tuyagate cloud sync` for new keys)",
        )
    except TuyaError as exc:
        return Finding("cloud_unreachable", "warning", f"the cloud did not answer: {exc}", "check the network")
    finally:
        await client.aclose()
    return Finding("cloud_login", "ok", "the cloud login is valid (the cloud route works if the LAN does not)")


def _print(args: argparse.Namespace, result: Diagnosis, name: str | None) -> None:
    if args.json:
        out = result.as_dict()
        out["name"] = name
        print(json.dumps(out, separators=(",", ":"), ensure_ascii=False), flush=True)
        return
    who = f"{name} ({result.device_id})" if name else result.device_id
    verdict = "looks healthy" if result.healthy else "has a problem"
    print(f"{who} at {result.host or 'an unknown address'} {verdict}")
    for finding in result.findings:
        print(f"  {_LABELS[finding.severity]:7s} {finding.code}: {finding.message}")
        if finding.advice and finding.severity != "ok":
            print(f"          -> {finding.advice}")
    if not result.healthy:
        print("(the first PROBLEM is the likely cause)", file=sys.stderr)


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``doctor`` to the top-level parser."""
    doctor = commands.add_parser("doctor", help="explain why a device does not answer, and what to do")
    doctor.add_argument("device", nargs="?", metavar="DEVICE", help="registry name or id")
    adhoc = doctor.add_argument_group("device given ad hoc (instead of a registry name)")
    adhoc.add_argument("--id", help="device id (gwId)")
    adhoc.add_argument("--ip", help="device IP address (found from its announcement when omitted)")
    adhoc.add_argument("--key", help=f"local key (or set ${KEY_ENV})")
    adhoc.add_argument("--version", dest="protocol", metavar="VERSION", help="protocol version to check")
    adhoc.add_argument("--port", type=int, default=None, help=f"TCP port (default {DEFAULT_PORT})")
    doctor.add_argument("--timeout", type=float, default=4.0, help="deadline of each LAN check (default 4 s)")
    doctor.add_argument("--listen-for", type=float, default=6.0, help="seconds to wait for an announcement (default 6)")
    doctor.add_argument("--listen", default="0.0.0.0", help="address to listen for announcements on")
    doctor.add_argument("--ports", default="6666,6667,7000", help="UDP ports to listen on (default 6666,6667,7000)")
    doctor.add_argument("--probe-port", type=int, default=7000, help="UDP port of the 3.5 probe (default 7000)")
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    add_data_dir_arg(doctor)
    doctor.set_defaults(func=_doctor)
