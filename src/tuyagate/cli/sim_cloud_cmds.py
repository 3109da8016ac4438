"""``tuyagate sim cloud``: run the Tuya cloud emulator (OpenAPI and Smart Life app API) until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from typing import Any

from tuyagate.cli.extras import extra_note, require_extra
from tuyagate.errors import ConfigError


def register_sim(sim_commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``cloud`` to ``tuyagate sim`` (an HTTP server: needs the gateway extra)."""
    note = extra_note("gateway")
    p = sim_commands.add_parser(
        "cloud",
        help="emulate the Tuya Cloud OpenAPI and the Smart Life app API (devices from a fleet manifest)" + note,
        description=(
            "Serve an emulated Tuya cloud project and Smart Life account. Prints one JSON line with its base URL "
            "once listening, then serves until interrupted. Faults: POST /_sim/faults; app QR logins are approved "
            "by POST /_sim/app-login/approve, or at once with --app-login auto (see the README, The Tuya cloud)." + note
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    p.add_argument("--client-id", help="the project's Access ID (or TUYAGATE_CLOUD_CLIENT_ID)")
    p.add_argument("--secret", help="the project's Access Secret (or TUYAGATE_CLOUD_SECRET, preferred)")
    p.add_argument("--fleet", metavar="FILE", help="fleet manifest JSON (default: a small built-in fleet)")
    p.add_argument("--tls", action="store_true", help="serve HTTPS with a generated self-signed certificate")
    p.add_argument("--uid", default=None, help="the app account uid the devices belong to")
    p.add_argument("--token-ttl", type=float, default=7200.0, help="access token lifetime in seconds (7200)")
    p.add_argument("--qps", type=float, default=None, help="calls per second before 1199 (default: no limit)")
    p.add_argument("--quota", type=int, default=None, help="calls in total before 28841004 (default: no limit)")
    p.add_argument("--no-old-sign", action="store_true", help="refuse the pre-2021 signature scheme")
    p.add_argument(
        "--app-login",
        choices=("manual", "auto"),
        default="manual",
        help="Smart Life QR logins: approved by POST /_sim/app-login/approve (manual, default) or at once (auto)",
    )
    p.add_argument(
        "--user-code",
        action="append",
        default=[],
        help="a user code the emulated app shows (repeatable; default: any code is the account's)",
    )
    mq = p.add_argument_group("the Smart Life app MQ (a broker you run, e.g. Mosquitto with TLS)")
    mq.add_argument("--mq-url", help="the broker the app MQ config hands out, e.g. ssl://127.0.0.1:8883")
    mq.add_argument("--mq-username", default="tuyagate-sim", help="the broker login handed out (and published with)")
    mq.add_argument("--mq-password", help="its password (or TUYAGATE_SIM_MQ_PASSWORD, preferred)")
    mq.add_argument("--mq-ca", metavar="FILE", help="the CA file that signed the broker's certificate (ssl://)")
    mq.add_argument("--mq-ttl", type=float, default=7200.0, help="expireTime of each MQ config in seconds (7200)")
    p.set_defaults(func=_run)


async def _run(args: argparse.Namespace) -> int:
    require_extra("gateway", "tuyagate sim cloud")
    from tuyagate.sim.app_state import AppSettings
    from tuyagate.sim.cloud_sample import sample_fleet
    from tuyagate.sim.cloud_server import start_cloud_server
    from tuyagate.sim.cloud_state import CloudConfig
    from tuyagate.sim.manifest import FleetManifest

    client_id = args.client_id or os.environ.get("TUYAGATE_CLOUD_CLIENT_ID")
    secret = args.secret or os.environ.get("TUYAGATE_CLOUD_SECRET")
    if not client_id or not secret:
        raise ConfigError("give --client-id and --secret (or TUYAGATE_CLOUD_CLIENT_ID / TUYAGATE_CLOUD_SECRET)")
    try:
        manifest = FleetManifest.load(args.fleet) if args.fleet else sample_fleet()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read the fleet manifest {args.fleet}: {exc}") from exc
    config = CloudConfig(
        client_id=client_id,
        secret=secret,
        token_ttl=args.token_ttl,
        qps=args.qps,
        quota=args.quota,
        allow_old_sign=not args.no_old_sign,
        app=AppSettings(auto_approve=args.app_login == "auto", user_codes=tuple(args.user_code)),
    )
    if args.uid:
        config.uid = args.uid
    if args.mq_url:
        require_extra("app", "tuyagate sim cloud --mq-url")
        from tuyagate.sim.app_mq import AppMqSettings

        password = args.mq_password or os.environ.get("TUYAGATE_SIM_MQ_PASSWORD") or ""
        config.app_mq = AppMqSettings(args.mq_url, args.mq_username, password, ca_file=args.mq_ca, ttl=args.mq_ttl)
    try:
        running = await start_cloud_server(config, manifest, host=args.host, port=args.port, tls=args.tls)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from exc
    except TimeoutError:
        raise ConfigError(f"cannot publish on the MQ broker {args.mq_url} (is it running, with that login?)") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        print(json.dumps(running.info()), flush=True)
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await running.stop()
    print("tuyagate sim cloud: stopped", file=sys.stderr)
    return 0
