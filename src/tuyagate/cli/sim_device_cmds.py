"""``tuyagate sim device`` and ``tuyagate sim fleet``: emulated Tuya devices on loopback."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from typing import Any

from tuyagate.errors import ConfigError


def register_sim(sim_commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``device`` and ``fleet`` to ``tuyagate sim``."""
    p = sim_commands.add_parser(
        "device",
        help="run one emulated Tuya device",
        description="Run one emulated Tuya device. Prints one JSON line once listening, runs until SIGINT/SIGTERM.",
    )
    p.add_argument("--version", default="3.3", help="3.1, 3.2, 3.3, 3.4, 3.5 or device22 (default 3.3)")
    p.add_argument("--id", required=True, dest="device_id", help="device id (gwId)")
    p.add_argument("--key", required=True, help="16-character local key")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=6668, help="TCP port (default 6668; 0 picks a free one)")
    p.add_argument("--dps", default='{"1": false}', help='initial DP state as JSON, e.g. \'{"1": true, "2": 50}\'')
    p.add_argument("--children", default=None, help='sub-devices as JSON: {"cid1": {"1": false}, ...} (a gateway)')
    p.add_argument("--discovery-to", default=None, metavar="HOST:PORT", help="send UDP announcements there")
    p.add_argument("--discovery-interval", type=float, default=5.0, help="seconds between announcements")
    p.add_argument("--probe-port", type=int, default=None, help="answer 3.5 REQ_DEVINFO probes on this UDP port")
    p.add_argument(
        "--second-client", choices=["replace", "refuse", "ignore"], default="replace", help="what a 2nd client gets"
    )
    p.add_argument("--idle-timeout", type=float, default=30.0, help="close a connection after this many idle seconds")
    p.add_argument("--reply-delay", type=float, default=0.0, help="fault: seconds before every answer")
    p.set_defaults(func=_run_device)


def _parse_json(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{what} is not valid JSON: {exc}") from None


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


async def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def print_ready(info: dict[str, Any]) -> None:
    """The one JSON line a sim prints once it listens (scripts wait for it)."""
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()


async def _run_device(args: argparse.Namespace) -> int:
    from tuyagate.sim.device import Faults, SimChild, SimDevice

    dps = _parse_json(args.dps, "--dps")
    if not isinstance(dps, dict):
        raise ConfigError("--dps must be a JSON object")
    children_raw = _parse_json(args.children, "--children") or {}
    children = {str(cid): SimChild(dps={str(k): v for k, v in d.items()}) for cid, d in children_raw.items()}
    if len(args.key.encode("latin-1")) != 16:
        raise ConfigError("the local key must be exactly 16 characters")
    device = SimDevice(
        device_id=args.device_id,
        local_key=args.key,
        version=args.version,
        dps=dps,
        host=args.host,
        port=args.port,
        children=children,
        faults=Faults(reply_delay=args.reply_delay),
        idle_timeout=args.idle_timeout,
        second_client=args.second_client,
        discovery_to=_host_port(args.discovery_to) if args.discovery_to else None,
        discovery_interval=args.discovery_interval,
        probe_port=args.probe_port,
    )
    try:
        await device.start()
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print_ready(
        {
            "host": device.host,
            "port": device.port,
            "id": args.device_id,
            "version": device.spec.name,
            "device22": device.spec.device22,
            "children": sorted(children),
            "pid": os.getpid(),
        }
    )
    try:
        await wait_for_signal()
    finally:
        await device.stop()
    return 0
