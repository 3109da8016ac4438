"""``tuyagate cloud login | logout | sync``: the stored cloud login, and pulling devices from the cloud.

``login`` takes the project's Access ID and Secret from options, ``TUYAGATE_CLOUD_*`` variables, a
prompt on a terminal, or stdin (``--secret-stdin``); it asks the cloud for a token and stores the
login (secret in the vault) only when that works, so a typo never replaces a good login. ``sync``
then uses the stored login (or the same options/variables) to fill the registry
(:func:`tuyagate.devices.cloud_sync.sync_from_cloud`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from tuyagate.cli.context import add_data_dir_arg, cloud_client_from_store, emit, open_store, read_secret
from tuyagate.cloud.credentials import ENV_VARS, CloudCredentials
from tuyagate.cloud.regions import REGIONS, resolve_base_url
from tuyagate.devices.cloud_login import forget_cloud_login, save_cloud_login
from tuyagate.errors import ConfigError

__all__ = ["register_cloud"]

DEFAULT_REGION = "eu"


def register_cloud(cloud_commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``login``, ``logout`` and ``sync`` to ``tuyagate cloud``."""
    p = cloud_commands.add_parser(
        "login",
        help="check and store the cloud project's Access ID and Secret (the secret goes to the vault)",
        description=(
            "Values come from the options, else TUYAGATE_CLOUD_CLIENT_ID / _SECRET / _REGION / _BASE_URL / "
            "_CA_BUNDLE, else a prompt when stdin is a terminal. The login is stored only after the cloud "
            "accepted it (a token call)."
        ),
    )
    p.add_argument("--client-id", help="Access ID / Client ID of the cloud project")
    p.add_argument("--secret", help="Access Secret (better: the prompt, --secret-stdin or TUYAGATE_CLOUD_SECRET)")
    p.add_argument("--secret-stdin", action="store_true", help="read the secret from one line of stdin")
    p.add_argument("--region", help="data center: " + ", ".join(REGIONS))
    p.add_argument("--base-url", help="custom endpoint instead of a region, e.g. an emulator")
    p.add_argument("--ca-bundle", help="CA file to trust, e.g. an emulator's self-signed certificate")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per HTTP request (10)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    add_data_dir_arg(p)
    p.set_defaults(func=_login)

    p = cloud_commands.add_parser("logout", help="forget the stored cloud login and its tokens")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    add_data_dir_arg(p)
    p.set_defaults(func=_logout)

    p = cloud_commands.add_parser(
        "sync",
        help="pull every device, local key, sub-device and DP schema from the cloud into the registry",
        description=(
            "Uses the stored login (tuyagate cloud login), or the cloud options / TUYAGATE_CLOUD_* variables. "
            "LAN addresses, ports and protocol versions already in the registry are kept: the cloud only knows "
            "the home's public address. Progress goes to stderr."
        ),
    )
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    g = p.add_argument_group("another cloud project than the stored login (or TUYAGATE_CLOUD_*)")
    g.add_argument("--client-id", help="Access ID")
    g.add_argument("--secret", help="Access Secret (better: TUYAGATE_CLOUD_SECRET)")
    g.add_argument("--region", help="data center: " + ", ".join(REGIONS))
    g.add_argument("--base-url", help="custom endpoint, e.g. an emulator")
    g.add_argument("--ca-bundle", help="CA file to trust, e.g. an emulator's self-signed certificate")
    g.add_argument("--timeout", type=float, default=10.0, help="seconds per HTTP request (10)")
    add_data_dir_arg(p)
    p.set_defaults(func=_sync)


# ---- login -----------------------------------------------------------------------------------------


def _ask(prompt: str, default: str | None = None) -> str | None:
    if not sys.stdin.isatty():
        return default
    shown = f"{prompt} [{default}]: " if default else f"{prompt}: "
    print(shown, end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip()
    return answer or default


def _login_credentials(args: argparse.Namespace) -> CloudCredentials:
    env = os.environ
    client_id = args.client_id or env.get(ENV_VARS["client_id"]) or _ask("Access ID (client id)")
    secret = read_secret(
        args.secret or env.get(ENV_VARS["secret"]), from_stdin=args.secret_stdin, prompt="Access Secret: ", ask=True
    )
    base_url = args.base_url or env.get(ENV_VARS["base_url"])
    region = args.region or env.get(ENV_VARS["region"])
    if not (region or base_url):
        region = _ask("Region (" + ", ".join(REGIONS) + ")", DEFAULT_REGION if sys.stdin.isatty() else None)
    missing = [flag for flag, value in (("--client-id", client_id), ("--secret", secret)) if not value]
    if not (region or base_url):
        missing.append("--region or --base-url")
    if missing:
        raise ConfigError(
            "cloud login needs " + ", ".join(missing) + " (or the TUYAGATE_CLOUD_* variables, or a terminal to ask on)"
        )
    ca_bundle = args.ca_bundle or env.get(ENV_VARS["ca_bundle"])
    if ca_bundle:
        bundle = Path(ca_bundle).expanduser().resolve()
        if not bundle.is_file():
            raise ConfigError(f"the CA bundle {ca_bundle} is not a file")
        ca_bundle = str(bundle)  # stored: later commands may run from another directory
    resolve_base_url(region, base_url)  # a bad region or URL fails here, before any network
    return CloudCredentials(
        client_id=client_id or "", secret=secret or "", region=region, base_url=base_url, ca_bundle=ca_bundle
    )


async def _login(args: argparse.Namespace) -> int:
    from tuyagate.cloud.client import TuyaCloudClient

    creds = _login_credentials(args)
    async with TuyaCloudClient(
        creds.client_id,
        creds.secret,
        region=creds.region,
        base_url=creds.base_url,
        verify=creds.ca_bundle or True,
        timeout=args.timeout,
        retries=1,
    ) as client:
        await client.token()  # raises CloudError (wrong id/secret), TuyaConnectionError, ...: nothing is stored
        base_url = client.base_url
    with open_store(args) as (registry, vault):
        save_cloud_login(registry, vault, creds)
        where = str(registry.db.path)
    info = {"logged_in": True, "client_id": creds.client_id, "base_url": base_url, "region": creds.region}
    if args.json:
        emit(json.dumps(info))
    else:
        emit(f"logged in to {base_url} as {creds.client_id}; the login is stored in {where}")
    return 0


def _logout(args: argparse.Namespace) -> int:
    with open_store(args) as (registry, vault):
        removed = forget_cloud_login(registry, vault)
    if args.json:
        emit(json.dumps({"logged_out": removed}))
    else:
        emit("the stored cloud login is removed" if removed else "there was no stored cloud login")
    return 0


# ---- sync ------------------------------------------------------------------------------------------


class _Progress:
    """Progress on stderr: one rewritten line on a terminal, a line every few devices otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int, name: str) -> None:
        if self.tty:
            end = "\n" if done == total else ""
            print(f"\r\x1b[Kfetching DP schemas {done}/{total}: {name}", end=end, file=sys.stderr, flush=True)
        elif done == total or done % 25 == 0:
            print(f"fetching DP schemas {done}/{total}", file=sys.stderr, flush=True)


async def _sync(args: argparse.Namespace) -> int:
    from tuyagate.devices.cloud_sync import summarize, sync_from_cloud

    with open_store(args) as (registry, vault):
        client = cloud_client_from_store(registry, vault, args)
        if client is None:
            raise ConfigError("no cloud login: run `tuyagate cloud login` first (or set TUYAGATE_CLOUD_*)")
        print(f"reading the device list from {client.base_url} ...", file=sys.stderr, flush=True)
        async with client:
            report = await sync_from_cloud(client, registry, vault, progress=_Progress())
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        emit(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return 0
    for device in report.devices:
        if device.action in ("added", "updated"):
            detail = f" ({', '.join(device.changes)})" if device.changes else ""
            emit(f"{device.action:8} {device.name} ({device.id}){detail}")
    if report.not_in_cloud:
        print(
            f"note: {len(report.not_in_cloud)} registered Tuya device(s) are not in the cloud any more: "
            + ", ".join(report.not_in_cloud),
            file=sys.stderr,
        )
    emit(summarize(report))
    return 0
