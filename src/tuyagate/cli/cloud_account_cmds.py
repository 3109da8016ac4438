"""``tuyagate cloud login | logout | sync``: the stored cloud login, and pulling devices from the cloud.

Two kinds of login, one stored at a time: ``login --app`` is the Smart Life app's QR login, no
developer account (:mod:`tuyagate.cli.cloud_app_cmds`); plain ``login`` takes a developer project's
Access ID and Secret from options, ``TUYAGATE_CLOUD_*`` variables, a prompt on a terminal, or stdin
(``--secret-stdin``), asks the cloud for a token and stores the login (secret in the vault) only when
that works, so a typo never replaces a good login. ``login --status`` says which login is stored.
``sync`` then uses the stored login (or the developer options/variables) to fill the registry
(:func:`tuyagate.devices.cloud_sync.sync_from_cloud`); ``logout`` forgets it (an app login is also
ended on the server when it can be reached).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path
from typing import Any

from tuyagate.cli.context import add_data_dir_arg, emit, open_store, read_secret
from tuyagate.cli.extras import extra_note, require_extra
from tuyagate.cloud.credentials import ENV_VARS, CloudCredentials
from tuyagate.cloud.regions import REGIONS, resolve_base_url
from tuyagate.devices import paths
from tuyagate.devices.cloud_login import (
    cloud_source_for,
    forget_cloud_login,
    load_cloud_login,
    login_kind,
    save_cloud_login,
)
from tuyagate.errors import ConfigError, TuyaError

__all__ = ["register_cloud"]

DEFAULT_REGION = "eu"


def register_cloud(cloud_commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``login``, ``logout`` and ``sync`` to ``tuyagate cloud``."""
    p = cloud_commands.add_parser(
        "login",
        help="log in with the Smart Life app (--app, no developer account) or a cloud project's Access ID and Secret",
        description=(
            "--app: the QR-code login of the Smart Life / Tuya Smart app (as Home Assistant's Tuya integration "
            "does it): give the user code the app shows (Me > Settings > Account and Security > User Code), scan "
            "the QR code with the app and confirm; needs the app extra. Without --app: a developer project, "
            "values from the options, else TUYAGATE_CLOUD_CLIENT_ID / _SECRET / _REGION / _BASE_URL / "
            "_CA_BUNDLE, else a prompt when stdin is a terminal. Either login is stored only after the cloud "
            "accepted it, and replaces the other. --status says which one is stored."
        ),
    )
    p.add_argument(
        "--app", action="store_true", help="log in with the Smart Life / Tuya Smart app (QR code)" + extra_note("app")
    )
    p.add_argument("--user-code", help="--app: the user code the app shows (else the stored one, else a prompt)")
    p.add_argument("--wait", type=float, default=120.0, help="--app: seconds to wait for the approval in the app (120)")
    p.add_argument("--qr-file", metavar="FILE", help="--app: also write the QR code to FILE (.png or .svg)")
    p.add_argument("--status", action="store_true", help="say which login is stored (changes nothing)")
    p.add_argument("--client-id", help="Access ID / Client ID of the cloud project")
    p.add_argument("--secret", help="Access Secret (better: the prompt, --secret-stdin or TUYAGATE_CLOUD_SECRET)")
    p.add_argument("--secret-stdin", action="store_true", help="read the secret from one line of stdin")
    p.add_argument("--region", help="data center: " + ", ".join(REGIONS))
    p.add_argument(
        "--base-url", help="custom endpoint instead of a region (with --app: of the QR login), e.g. an emulator"
    )
    p.add_argument("--ca-bundle", help="CA file to trust, e.g. an emulator's self-signed certificate")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per HTTP request (10)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    add_data_dir_arg(p)
    p.set_defaults(func=_login)

    p = cloud_commands.add_parser(
        "logout", help="forget the stored cloud login and its tokens (an app login is ended on the server too)"
    )
    p.add_argument("--timeout", type=float, default=5.0, help="seconds for ending an app login on the server (5)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    add_data_dir_arg(p)
    p.set_defaults(func=_logout)

    p = cloud_commands.add_parser(
        "sync",
        help="pull every device, local key, sub-device and DP schema from the cloud into the registry",
        description=(
            "Uses the stored login (tuyagate cloud login, or login --app), or the developer options / "
            "TUYAGATE_CLOUD_* variables. LAN addresses, ports and protocol versions already in the registry are "
            "kept: the cloud only knows the home's public address. Progress goes to stderr."
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
    if args.status:
        return _status(args)
    if args.app:
        from tuyagate.cli.cloud_app_cmds import app_login

        return await app_login(args)
    app_only = [f for f, v in (("--user-code", args.user_code), ("--qr-file", args.qr_file)) if v]
    if app_only:
        raise ConfigError(", ".join(app_only) + " go with --app (the Smart Life app login)")
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
        replaced = login_kind(registry)
        save_cloud_login(registry, vault, creds)
        where = str(registry.db.path)
    info = {"logged_in": True, "kind": "developer", "client_id": creds.client_id, "base_url": base_url}
    if args.json:
        emit(json.dumps({**info, "region": creds.region, "replaced": replaced}))
    else:
        note = " (it replaces the stored Smart Life app login)" if replaced == "app" else ""
        emit(f"logged in to {base_url} as {creds.client_id} (developer project); the login is stored in {where}{note}")
    return 0


def _status(args: argparse.Namespace) -> int:
    """``login --status``: which login is stored, read without creating a data directory."""
    info: dict[str, Any] = {"logged_in": False, "kind": None}
    where = paths.db_path(paths.resolve_data_dir(args.data_dir))
    if where.exists():
        from tuyagate.devices.cloud_app_login import load_app_login

        with open_store(args) as (registry, vault):
            kind = login_kind(registry)
            creds = load_cloud_login(registry, vault) if kind == "developer" else None
            app = load_app_login(registry, vault) if kind == "app" else None
        if creds is not None:
            base = resolve_base_url(creds.region, creds.base_url)
            info = {"logged_in": True, "kind": "developer", "client_id": creds.client_id, "base_url": base}
        elif app is not None:
            expires = datetime.datetime.fromtimestamp(app.login.token.expires_at_ms / 1000).astimezone()
            info = {
                "logged_in": True,
                "kind": "app",
                "username": app.login.username,
                "endpoint": app.login.endpoint,
                "token_expires": expires.isoformat(timespec="seconds"),
            }
        info["stored_in"] = str(where)
    overridden = [v for v in (ENV_VARS["client_id"], ENV_VARS["secret"]) if os.environ.get(v)]
    info["environment"] = overridden
    if args.json:
        emit(json.dumps(info))
        return 0
    if info["kind"] == "app":
        who = f" as {info['username']}" if info["username"] else ""
        emit(
            f"cloud login: the Smart Life app{who}, endpoint {info['endpoint']}; the access token is valid until "
            f"{info['token_expires']} and is refreshed automatically; stored in {info['stored_in']}"
        )
    elif info["kind"] == "developer":
        emit(f"cloud login: developer project {info['client_id']} at {info['base_url']}; stored in {info['stored_in']}")
    else:
        emit(
            "no stored cloud login: `tuyagate cloud login --app` logs in with the Smart Life app, "
            "`tuyagate cloud login --client-id ID` with a developer project"
        )
    if overridden:
        emit(f"note: {' and '.join(overridden)} set in the environment: cloud commands use that developer project")
    return 0


async def _logout(args: argparse.Namespace) -> int:
    ended: bool | None = None  # None: nothing to end on the server
    problem = ""
    with open_store(args) as (registry, vault):
        if login_kind(registry) == "app":
            ended, problem = await _end_app_login(registry, vault, args.timeout)
        removed = forget_cloud_login(registry, vault)
    if args.json:
        emit(json.dumps({"logged_out": removed, "ended_on_server": ended}))
        return 0
    if problem:
        print(
            f"note: the app login could not be ended on the server ({problem}); it is forgotten here", file=sys.stderr
        )
    emit("the stored cloud login is removed" if removed else "there was no stored cloud login")
    return 0


async def _end_app_login(registry: Any, vault: Any, timeout: float) -> tuple[bool, str]:
    """Best effort: the SDK's ``unload`` (the terminal's token expires); (done, why not)."""
    from tuyagate.cli.extras import missing_modules

    if missing_modules("app"):
        return False, "the app extra is not installed"
    from tuyagate.devices.cloud_app_login import app_client_for, load_app_login

    try:
        stored = load_app_login(registry, vault)
        if stored is None:
            return False, "no app login"
        async with app_client_for(registry, vault, stored, timeout=timeout) as client:
            await client.revoke()
    except TuyaError as exc:
        return False, str(exc)
    return True, ""


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

    given = CloudCredentials(
        client_id=args.client_id or "",
        secret=args.secret or "",
        region=args.region,
        base_url=args.base_url,
        ca_bundle=args.ca_bundle,
    )
    with open_store(args) as (registry, vault):
        if login_kind(registry) == "app" and not (args.client_id or args.secret):
            require_extra("app", "tuyagate cloud sync")
        source = cloud_source_for(registry, vault, given, timeout=args.timeout)
        if source is None:
            raise ConfigError(
                "no cloud login: run `tuyagate cloud login --app` (Smart Life app) or `tuyagate cloud login` "
                "(developer project) first, or set TUYAGATE_CLOUD_*"
            )
        print(f"reading the device list from {source.base_url} ...", file=sys.stderr, flush=True)
        try:
            report = await sync_from_cloud(source, registry, vault, progress=_Progress())
        finally:
            await source.aclose()
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    from tuyagate.cli.gateway_link import reload_gateway

    await reload_gateway(getattr(args, "data_dir", None))  # a running gateway serves what the sync changed at once
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
