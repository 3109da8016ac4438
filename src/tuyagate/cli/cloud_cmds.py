"""``tuyagate cloud call`` and ``tuyagate cloud devices``.

Credentials come from ``--client-id``/``--secret``, else ``TUYAGATE_CLOUD_CLIENT_ID``/
``TUYAGATE_CLOUD_SECRET``, else the login ``tuyagate cloud login`` stored in ``--data-dir``
(:func:`tuyagate.devices.cloud_login.stored_login_loader`); the endpoint from ``--region`` or
``--base-url``. ``add_cloud_options`` and ``client_from_args`` can serve other cloud commands.
``cloud devices`` also lists the devices of a stored Smart Life app login; ``cloud call`` signs
OpenAPI calls, so it needs a developer project.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuyagate.cli.context import add_data_dir_arg, emit, table
from tuyagate.cloud.credentials import CloudCredentials, resolve_credentials
from tuyagate.cloud.regions import REGIONS
from tuyagate.cloud.signing import SignScheme
from tuyagate.devices import paths
from tuyagate.devices.cloud_login import login_kind, stored_login_loader
from tuyagate.errors import ConfigError

if TYPE_CHECKING:  # the client (httpx) is imported when a command runs, not for --help
    from tuyagate.cloud.client import TuyaCloudClient

__all__ = ["add_cloud_options", "client_from_args", "register_cloud"]


def add_cloud_options(p: argparse.ArgumentParser) -> None:
    """The credential and endpoint options every ``tuyagate cloud`` command takes."""
    g = p.add_argument_group("cloud project")
    g.add_argument("--client-id", help="Access ID of the cloud project (or TUYAGATE_CLOUD_CLIENT_ID)")
    g.add_argument("--secret", help="Access Secret (better: TUYAGATE_CLOUD_SECRET, which ps cannot show)")
    g.add_argument("--region", help="data center: " + ", ".join(REGIONS) + " (or TUYAGATE_CLOUD_REGION)")
    g.add_argument("--base-url", help="custom endpoint, e.g. an emulator (or TUYAGATE_CLOUD_BASE_URL)")
    g.add_argument("--ca-bundle", help="CA file to trust, e.g. the emulator's --tls cert (or TUYAGATE_CLOUD_CA_BUNDLE)")
    g.add_argument("--old-sign", action="store_true", help="use the pre-2021 signature scheme")
    g.add_argument("--timeout", type=float, default=10.0, help="seconds per HTTP request (10)")


def client_from_args(
    args: argparse.Namespace, *, stored: Callable[[], CloudCredentials | None] | None = None
) -> TuyaCloudClient:
    """A client from the options, the environment or the stored login (default: the one in
    ``args.data_dir``, read only when options and environment do not give everything)."""
    from tuyagate.cloud.client import TuyaCloudClient

    if stored is None:
        stored = stored_login_loader(getattr(args, "data_dir", None))
    try:
        creds = resolve_credentials(
            CloudCredentials(
                client_id=args.client_id or "",
                secret=args.secret or "",
                region=args.region,
                base_url=args.base_url,
                ca_bundle=args.ca_bundle,
            ),
            stored=stored,
        )
    except ConfigError as exc:
        if _stored_kind(args) == "app":
            raise ConfigError(
                f"{exc}; the stored login is the Smart Life app's, and this command speaks the developer OpenAPI"
            ) from None
        raise
    return TuyaCloudClient(
        creds.client_id,
        creds.secret,
        region=creds.region,
        base_url=creds.base_url,
        verify=creds.ca_bundle or True,
        sign_scheme=SignScheme.OLD if args.old_sign else SignScheme.CURRENT,
        timeout=args.timeout,
    )


def register_cloud(cloud_commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``call`` and ``devices`` to ``tuyagate cloud``."""
    p = cloud_commands.add_parser(
        "call",
        help="make a signed OpenAPI call and print the JSON answer (like Tuya's API explorer)",
        description="Exit code 0 when the answer says success: true, 1 otherwise.",
    )
    p.add_argument("method", metavar="METHOD", help="GET, POST, PUT or DELETE")
    p.add_argument("path", metavar="PATH", help="e.g. /v1.0/devices/ID/status or '/v1.0/devices/ID/logs?type=7'")
    p.add_argument("--body", help="JSON request body, or @FILE to read it from a file")
    add_cloud_options(p)
    add_data_dir_arg(p)
    p.set_defaults(func=_call)

    p = cloud_commands.add_parser("devices", help="list the devices of the linked app accounts")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--show-keys", action="store_true", help="include local keys (they are secrets)")
    add_cloud_options(p)
    add_data_dir_arg(p)
    p.set_defaults(func=_devices)


def _body(text: str | None) -> Any:
    if text is None:
        return None
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the body file {text[1:]}: {exc.strerror or exc}") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"--body is not valid JSON: {exc}") from exc


async def _call(args: argparse.Namespace) -> int:
    body = _body(args.body)
    method = args.method.upper()
    if method not in ("GET", "POST", "PUT", "DELETE", "PATCH"):
        raise ConfigError(f"unknown HTTP method {args.method!r}")
    if not args.path.startswith("/"):
        raise ConfigError("PATH must start with /, e.g. /v1.0/devices/ID")
    async with client_from_args(args) as client:
        answer = await client.call(method, args.path, body=body)
    emit(json.dumps(answer, indent=2, ensure_ascii=False))
    return 0 if answer.get("success") else 1


def _stored_kind(args: argparse.Namespace) -> str | None:
    """Which login the data directory holds (without creating one)."""
    if not paths.db_path(paths.resolve_data_dir(getattr(args, "data_dir", None))).exists():
        return None
    from tuyagate.cli.context import open_store

    with open_store(args) as (registry, _vault):
        return login_kind(registry)


def _developer_named(args: argparse.Namespace) -> bool:
    from tuyagate.cloud.credentials import ENV_VARS

    named = (args.client_id, args.secret, *(os.environ.get(ENV_VARS[n]) for n in ("client_id", "secret")))
    return any(named)


async def _app_devices(args: argparse.Namespace) -> list[Any]:
    """The devices of the stored Smart Life app login."""
    from tuyagate.cli.context import open_store
    from tuyagate.cli.extras import require_extra
    from tuyagate.devices.cloud_app_login import app_client_for, load_app_login

    require_extra("app", "tuyagate cloud devices")
    with open_store(args) as (registry, vault):
        stored = load_app_login(registry, vault)
        if stored is None:
            raise ConfigError("the stored Smart Life app login is gone: log in again with `tuyagate cloud login --app`")
        async with app_client_for(registry, vault, stored, timeout=args.timeout) as app:
            return list(await app.devices())


async def _devices(args: argparse.Namespace) -> int:
    if not _developer_named(args) and _stored_kind(args) == "app":
        devices = await _app_devices(args)
    else:
        async with client_from_args(args) as client:
            devices = await client.devices()
    rows = []
    for d in devices:
        row = {f.name: getattr(d, f.name) for f in fields(d) if f.name not in ("raw", "status", "local_key")}
        row["status"] = d.status_dict()
        if args.show_keys:
            row["local_key"] = d.local_key
        rows.append(row)
    if args.json:
        emit(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    columns = ["id", "name", "category", "online", "sub", "product_name"] + (["local_key"] if args.show_keys else [])
    emit(table([[str(r[c]) for c in columns] for r in rows], columns))
    print(f"{len(rows)} device(s)", file=sys.stderr)
    return 0
