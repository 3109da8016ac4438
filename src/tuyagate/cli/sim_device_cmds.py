"""``tuyagate sim device`` and ``tuyagate sim fleet``: emulated Tuya devices on loopback."""

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
        "--second-client",
        choices=["replace", "refuse", "ignore", "allow"],
        default="replace",
        help="what a 2nd client gets: replace the first, refused, ignored, or allow several at once (default replace)",
    )
    p.add_argument("--idle-timeout", type=float, default=30.0, help="close a connection after this many idle seconds")
    p.add_argument("--reply-delay", type=float, default=0.0, help="fault: seconds before every answer")
    quirks = p.add_argument_group("wire quirks of real devices")
    quirks.add_argument(
        "--seq-mode",
        choices=["device", "echo"],
        default=None,
        help="number sent frames from one device-wide counter, or echo the request's number "
        "(default: device for 3.4 and 3.5, echo otherwise)",
    )
    quirks.add_argument("--seq-start", type=int, default=None, help="number of the first frame (default random)")
    quirks.add_argument("--no-return-code", action="store_true", help="leave the 4-byte return code out of answers")
    quirks.add_argument(
        "--control-reply",
        choices=["ack+status", "ack"],
        default="ack+status",
        help="answer a control with an ACK then a STATUS push, or with the ACK only (default ack+status)",
    )
    quirks.add_argument(
        "--status-delay", type=float, default=0.02, help="seconds between a control's ACK and its STATUS (0.02)"
    )
    quirks.add_argument(
        "--close-log",
        default=None,
        metavar="FILE",
        help="append one JSON line per ended connection: clean (FIN), reset, or closed by the device",
    )
    battery = p.add_argument_group("battery-powered (sleepy) device")
    battery.add_argument(
        "--sleep-every",
        type=float,
        default=None,
        metavar="N",
        help="sleep N seconds between wake-ups, port closed (default: never sleeps)",
    )
    battery.add_argument(
        "--awake-for", type=float, default=2.0, metavar="M", help="stay awake M seconds per wake-up (default 2)"
    )
    battery.add_argument("--battery-dp", default=None, metavar="DP", help="DP id of the battery level in percent")
    battery.add_argument(
        "--battery-step", type=int, default=0, help="percent the battery DP drops at each wake-up (default 0)"
    )
    p.set_defaults(func=_run_device)

    f = sim_commands.add_parser(
        "fleet",
        help="run a fleet of emulated devices on loopback addresses, optionally with an emulated cloud",
        description=(
            "Start N emulated devices, one per loopback address (127.0.1.1, 127.0.1.2, ... on port 6668 like real "
            "devices), write the fleet manifest that `tuyagate sim cloud --fleet` reads, print one JSON line and run "
            "until SIGINT/SIGTERM. With --cloud-port the emulated cloud runs in the same process and shares the "
            "devices' state, so commands sent through the cloud are seen on the LAN."
        ),
    )
    f.add_argument("--count", type=int, default=10, help="number of devices (default 10)")
    f.add_argument("--versions", default="3.1,3.3,3.4,3.5", help="protocol versions, round-robin")
    f.add_argument("--kinds", default=None, help="device kinds, round-robin: plug,light,switch,cover,thermostat,sensor")
    f.add_argument("--demo", action="store_true", help="the demo fleet (a dozen devices incl. a Zigbee gateway)")
    f.add_argument("--manifest", required=True, help="where to write the fleet manifest (JSON, holds local keys)")
    f.add_argument("--first-ip", default="127.0.1.1", help="address of the first device (default 127.0.1.1)")
    f.add_argument("--port", type=int, default=6668, help="TCP port of every device (default 6668; 0 = any)")
    f.add_argument(
        "--cloud-port",
        type=int,
        default=None,
        help="also run the emulated cloud on this port" + extra_note("gateway"),
    )
    f.add_argument("--client-id", default="tuyagatesimclient", help="client id of the emulated cloud")
    f.add_argument("--secret", default=None, help="secret of the emulated cloud (default: random, printed once)")
    f.add_argument("--tls", action="store_true", help="serve the emulated cloud over HTTPS (self-signed)")
    f.set_defaults(func=_run_fleet)


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


def stop_signal() -> asyncio.Event:
    """An event set on SIGINT or SIGTERM; install it *before* announcing readiness."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


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
        seq_mode=args.seq_mode,
        seq_start=args.seq_start,
        return_codes=not args.no_return_code,
        control_reply=args.control_reply,
        status_delay=args.status_delay,
        close_log=args.close_log,
        discovery_to=_host_port(args.discovery_to) if args.discovery_to else None,
        discovery_interval=args.discovery_interval,
        probe_port=args.probe_port,
    )
    from tuyagate.sim.sleepy import SleepyRunner

    runner = None
    if args.sleep_every is not None:
        if args.sleep_every <= 0 or args.awake_for <= 0:
            raise ConfigError("--sleep-every and --awake-for must be positive")
        runner = SleepyRunner(
            device,
            sleep_every=args.sleep_every,
            awake_for=args.awake_for,
            battery_dp=args.battery_dp,
            battery_step=args.battery_step,
        )
    stop = stop_signal()
    try:
        await (runner.start() if runner is not None else device.start())
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    ready: dict[str, Any] = {
        "host": device.host,
        "port": device.port,
        "id": args.device_id,
        "version": device.spec.label,
        "seq_mode": device.seq_mode,
        "children": sorted(children),
        "pid": os.getpid(),
    }
    if runner is not None:
        ready["sleep_every"] = runner.sleep_every
        ready["awake_for"] = runner.awake_for
    print_ready(ready)
    try:
        await stop.wait()
    finally:
        await (runner.stop() if runner is not None else device.stop())
    return 0


async def _run_fleet(args: argparse.Namespace) -> int:
    import secrets

    from tuyagate.sim.fleet import SimFleet

    if args.cloud_port is not None:  # checked before any device starts
        require_extra("gateway", "tuyagate sim fleet --cloud-port")

    if args.demo:
        manifest = SimFleet.demo(first_ip=args.first_ip, port=args.port)
    else:
        kinds = args.kinds.split(",") if args.kinds else None
        manifest = SimFleet.generate(
            args.count,
            versions=[v.strip() for v in args.versions.split(",") if v.strip()],
            first_ip=args.first_ip,
            port=args.port,
            **({"kinds": kinds} if kinds else {}),
        )
    fleet = SimFleet(manifest)
    stop = stop_signal()
    await fleet.start()
    cloud = None
    info: dict[str, Any] = {
        "devices": len(manifest.devices),
        "lan_devices": len(fleet.sims),
        "manifest": os.path.abspath(args.manifest),  # noqa: ASYNC240 - a string operation, no I/O
        "first_ip": args.first_ip,
        "pid": os.getpid(),
    }
    try:
        manifest.save(args.manifest)
        if args.cloud_port is not None:
            from tuyagate.sim.cloud_server import start_cloud_server
            from tuyagate.sim.cloud_state import CloudConfig

            secret = args.secret or secrets.token_hex(16)
            cloud = await start_cloud_server(
                CloudConfig(client_id=args.client_id, secret=secret),
                manifest,
                port=args.cloud_port,
                tls=args.tls,
                backend=fleet.backend,
            )
            info["cloud"] = cloud.info()
            if not args.secret:
                info["cloud"]["secret"] = secret  # generated here, so the user can only learn it from this line
        print_ready(info)
        await stop.wait()
    finally:
        if cloud is not None:
            await cloud.stop()
        await fleet.stop()
    return 0
