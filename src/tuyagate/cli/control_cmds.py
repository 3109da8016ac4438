"""`tuyagate status | set | watch | scan`: talk to one device on the LAN from the shell.

A device is named ad hoc (``--id --ip --key [--version] [--port] [--cid]``), which talks to it
directly over the LAN, or by its registry name or id (``DEVICE``), which goes through the router:
LAN first, the cloud when the LAN fails and a cloud login exists, or the device's firmware for a
reflashed one; values may then be given by code (``switch_1=true``) and are validated against the
schema. Keys with shell-hostile characters can come from the ``TUYAGATE_LOCAL_KEY`` environment
variable instead of ``--key``. While a gateway (``tuyagate serve`` or ``demo``) runs on the same
data directory, named commands go through it (:mod:`tuyagate.cli.gateway_link`): the device
keeps its one local connection, the gateway's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuyagate.cli.context import add_data_dir_arg
from tuyagate.errors import ConfigError, NotFoundError, TuyaError
from tuyagate.lan import DEFAULT_PORT, DeviceConnection, EventKind

if TYPE_CHECKING:
    from tuyagate.cli.gateway_link import GatewayClient

__all__ = ["DeviceTarget", "parse_assignments", "register", "resolve_named"]

KEY_ENV = "TUYAGATE_LOCAL_KEY"


@dataclass(frozen=True, slots=True)
class DeviceTarget:
    """Everything needed to reach one device (or one child of a gateway) on the LAN."""

    device_id: str
    host: str
    local_key: str
    version: str | None = None
    port: int = DEFAULT_PORT
    cid: str | None = None

    def __repr__(self) -> str:  # never shows the key
        return f"DeviceTarget(id={self.device_id!r}, host={self.host!r}, version={self.version!r}, cid={self.cid!r})"


def resolve_named(name: str) -> DeviceTarget:
    """Named devices go through the router (see :func:`_named`), never through a bare target."""
    raise NotFoundError(f"{name!r} is a registry name: it is reached through the registry, not ad hoc")


def _named(args: argparse.Namespace, device: str | None) -> bool:
    """True when the command names a registered device instead of giving one ad hoc."""
    return device is not None and args.id is None and args.ip is None


def resolve_target(args: argparse.Namespace, device: str | None) -> DeviceTarget:
    """The target from ad hoc options, or from the registry when only DEVICE is given."""
    if args.id is None and args.ip is None:
        if device is None:
            raise ConfigError("name a device: DEVICE (from the registry) or --id, --ip and --key")
        target = resolve_named(device)
        return target if args.cid is None else DeviceTarget(**{**_fields(target), "cid": args.cid})
    key = args.key if args.key is not None else os.environ.get(KEY_ENV)
    missing = [flag for flag, value in (("--id", args.id), ("--ip", args.ip), ("--key", key)) if not value]
    if missing:
        raise ConfigError(f"missing {', '.join(missing)} (the key may also come from ${KEY_ENV})")
    assert key is not None
    return DeviceTarget(args.id, args.ip, key, args.protocol, args.port, args.cid)


def _fields(target: DeviceTarget) -> dict[str, Any]:
    return {name: getattr(target, name) for name in target.__slots__}


def parse_assignments(items: Sequence[str]) -> dict[str, Any]:
    """``["1=true", "2=50", "3=white"]`` -> ``{"1": True, "2": 50, "3": "white"}`` (JSON when it parses)."""
    values: dict[str, Any] = {}
    for item in items:
        dp, sep, raw = item.partition("=")
        dp = dp.strip()
        if not sep or not dp:
            raise ConfigError(f"expected DP=VALUE, got {item!r}")
        try:
            values[dp] = json.loads(raw)
        except ValueError:
            values[dp] = raw
    return values


def _connection(target: DeviceTarget, args: argparse.Namespace, **kwargs: Any) -> DeviceConnection:
    return DeviceConnection(
        target.device_id,
        target.host,
        target.local_key,
        target.version,
        port=target.port,
        timeout=args.timeout,
        **kwargs,
    )


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, separators=(",", ":"), ensure_ascii=False), flush=True)


# ---------------------------------------------------------------- handlers


async def _status(args: argparse.Namespace) -> int:
    if _named(args, args.device):
        return await _status_named(args, args.device)
    target = resolve_target(args, args.device)
    async with _connection(target, args, heartbeat_interval=None) as dev:
        dps = await dev.status(cid=target.cid)
        if args.json:
            out: dict[str, Any] = {"device": target.device_id, "version": dev.version, "dps": dps}
            if target.cid:
                out["cid"] = target.cid
            _print_json(out)
        else:
            for dp, value in dps.items():
                print(f"{dp}: {json.dumps(value, ensure_ascii=False)}")
    return 0


async def _set(args: argparse.Namespace) -> int:
    items = list(args.items)
    device = None
    if items and "=" not in items[0]:
        device = items.pop(0)
    if not items:
        raise ConfigError("give at least one DP=VALUE, e.g. 1=true 2=50")
    values = parse_assignments(items)
    if _named(args, device):
        assert device is not None
        return await _set_named(args, device, values)
    target = resolve_target(args, device)
    codes = [dp for dp in values if not dp.isdigit()]
    if codes:
        raise ConfigError(f"{', '.join(codes)}: DP codes need the device's schema from the registry; use DP ids here")
    async with _connection(target, args, heartbeat_interval=None) as dev:
        await dev.set_dps(values, cid=target.cid)
        if args.json:
            _print_json({"device": target.device_id, "dps": values, "ok": True})
        else:
            print("ok")
    return 0


async def _watch(args: argparse.Namespace) -> int:
    if _named(args, args.device):
        return await _watch_named(args, args.device)
    target = resolve_target(args, args.device)
    loop = asyncio.get_running_loop()
    end = None if args.duration is None else loop.time() + args.duration
    seen = 0
    async with _connection(target, args) as dev, dev.events(cid=target.cid) as events:
        state = await dev.status(cid=target.cid)
        first: dict[str, Any] = {"event": "state", "device": target.device_id, "dps": state}
        if target.cid:
            first["cid"] = target.cid
        _emit(args, first)
        while args.count is None or seen < args.count:
            remaining = None if end is None else end - loop.time()
            if remaining is not None and remaining <= 0:
                break
            try:
                event = await events.get(timeout=remaining)
            except TimeoutError:
                break
            except StopAsyncIteration:
                break
            if event.kind is EventKind.STATUS:
                seen += 1
            _emit(args, event.as_dict())
    return 0


def _emit(args: argparse.Namespace, obj: dict[str, Any]) -> None:
    if args.json:
        _print_json(obj)
        return
    stamp = time.strftime("%H:%M:%S")
    who = obj["device"] + (f"/{obj['cid']}" if "cid" in obj else "")
    detail = json.dumps(obj["dps"], ensure_ascii=False) if "dps" in obj else obj.get("reason", "")
    if "online" in obj:
        detail = f"online={obj['online']} offline={obj['offline']}"
    print(f"{stamp} {who} {obj['event']} {detail}".rstrip(), flush=True)


async def _scan(args: argparse.Namespace) -> int:
    from tuyagate.lan.scanner import SweepProgress, scan

    ports = [int(p) for p in str(args.ports).split(",") if p.strip()]
    probes = [] if args.no_probe else [_host_port(p) for p in args.probe_to or ["255.255.255.255:7000"]]
    wanted = set(args.want_id or ())
    last_shown = 0.0

    def show(progress: SweepProgress) -> None:  # stderr, so --json output stays clean
        nonlocal last_shown
        now = time.monotonic()
        if progress.tried == progress.total or now - last_shown >= 0.25:
            last_shown = now
            end = "\n" if progress.tried == progress.total else ""
            print(
                f"\rsweeping {progress.subnet}: {progress.tried}/{progress.total} addresses, {progress.open} with TCP "
                f"{args.sweep_port} open",
                end=end,
                file=sys.stderr,
                flush=True,
            )

    result = await scan(
        args.duration,
        listen_host=args.listen,
        ports=ports,
        probe_to=probes,
        want_ids=wanted,
        want_count=args.count,
        subnet=args.subnet,
        sweep_port=args.sweep_port,
        sweep_probe_port=args.sweep_probe_port,
        sweep_concurrency=args.concurrency,
        progress=show if args.subnet else None,
    )
    known = _registry_view(args)
    rows = []
    for d in result.devices:
        row = d.as_dict()
        if known is not None:
            name, has_key = known.get(d.device_id, (None, False))
            row["name"] = name
            row["key_known"] = has_key
        rows.append(row)
    missing = sorted(wanted - {d.device_id for d in result.devices})
    if args.json:
        out: dict[str, Any] = {"devices": rows, "unidentified": result.unidentified}
        if missing:
            out["missing"] = missing
        _print_json(out)
    else:
        for row in rows:
            line = f"{row['id']}  {row['ip']}  version {row['version'] or '?'}  product {row['product_key'] or '?'}"
            if known is not None:
                key = "key known" if row["key_known"] else "key unknown: tuyagate cloud sync, or devices add --key"
                line += f"  {row['name'] or '(not in the registry)'}  {key}"
            print(line)
        for ip in result.unidentified:
            print(f"{ip}  TCP {args.sweep_port} open, no answer to the probe (a device older than 3.5, or not Tuya)")
        print(f"{len(rows)} device(s) found in {result.elapsed:.1f} s", file=sys.stderr)
        if missing:
            print(f"not found: {', '.join(missing)}", file=sys.stderr)
    return 0 if not missing else 1


def _registry_view(args: argparse.Namespace) -> dict[str, tuple[str, bool]] | None:
    """``{id: (name, key known)}`` from the data dir's registry, or None when there is none (never creates one)."""
    from tuyagate.devices import paths
    from tuyagate.devices.registry import secret_name

    directory = paths.data_dir(getattr(args, "data_dir", None), create=False)
    if not paths.db_path(directory).exists():
        return None
    from tuyagate.cli.context import open_store

    try:
        with open_store(args) as (registry, vault):
            return {r.id: (r.name, secret_name(r.id) in vault) for r in registry.devices()}
    except TuyaError as exc:  # a locked vault must not cost the scan its results
        print(f"note: names not shown, the registry could not be read: {exc}", file=sys.stderr)
        return None


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--probe-to wants HOST:PORT, got {text!r}")
    return host, int(port)


# ---------------------------------------------------------------- registered devices, through the router


def _running_gateway(args: argparse.Namespace) -> GatewayClient | None:
    """A client of the gateway serving this data directory, unless there is none or ``--direct``."""
    if getattr(args, "direct", False):
        return None
    from tuyagate.cli.gateway_link import TOKEN_ENV, GatewayClient, find_gateway
    from tuyagate.devices import paths

    found = find_gateway(paths.data_dir(getattr(args, "data_dir", None), create=False))
    if found is None:
        return None
    return GatewayClient(found, timeout=args.timeout, token=os.environ.get(TOKEN_ENV) or None)


async def _status_via(args: argparse.Namespace, gateway: GatewayClient, name: str) -> int:
    async with gateway:
        state = await gateway.status(name)
        about = await gateway.device(state["device_id"]) if args.json else {}
    if args.json:
        out: dict[str, Any] = {"device": state["device_id"], "name": about.get("name"), "route": state["route"]}
        out.update(dps=state["dps"], values=state["values"])
        out.update({k: state[k] for k in ("asleep", "age", "stale_after", "battery") if k in state})
        out["gateway"] = gateway.url
        _print_json(out)
    else:
        for code, value in state["values"].items():
            print(f"{code}: {json.dumps(value, ensure_ascii=False)}")
        print(f"(via {state['route']}, through the gateway at {gateway.url})", file=sys.stderr)
    return 0


async def _status_named(args: argparse.Namespace, name: str) -> int:
    from tuyagate.cli.context import hub_session

    gateway = _running_gateway(args)
    if gateway is not None:
        return await _status_via(args, gateway, name)
    async with hub_session(args, names=[name]) as hub:
        device = hub.device(name)
        state = await device.status(timeout=args.timeout)
        if args.json:
            _print_json(
                {
                    "device": device.info.id,
                    "name": device.info.name,
                    "route": state.route,
                    "dps": state.dps,
                    "values": state.values,
                }
            )
        else:
            for code, value in state.values.items():
                print(f"{code}: {json.dumps(value, ensure_ascii=False)}")
            print(f"(via {state.route})", file=sys.stderr)
    return 0


async def _set_named(args: argparse.Namespace, name: str, values: dict[str, Any]) -> int:
    from tuyagate.cli.context import hub_session

    gateway = _running_gateway(args)
    if gateway is not None:
        async with gateway:
            answer = await gateway.set(name, values)
        if args.json:
            keys = ("dps", "route", "fallback", "validated")
            _print_json({"device": answer["device_id"], **{k: answer[k] for k in keys}, "gateway": gateway.url})
        else:
            after = ", after the LAN failed" if answer.get("fallback") else ""
            print(f"ok (via {answer['route']}{after}, through the gateway at {gateway.url})")
        return 0
    async with hub_session(args, names=[name]) as hub:
        device = hub.device(name)
        result = await device.set(values, timeout=args.timeout)
        if args.json:
            _print_json(
                {
                    "device": device.info.id,
                    "dps": result.dps,
                    "route": result.route,
                    "fallback": result.fallback,
                    "validated": result.validated,
                }
            )
        else:
            print(f"ok (via {result.route}{', after the LAN failed' if result.fallback else ''})")
            if not result.validated:
                print("note: this device has no DP schema, so the values were sent unchecked", file=sys.stderr)
    return 0


async def _watch_named(args: argparse.Namespace, name: str) -> int:
    from tuyagate.cli.context import hub_session

    gateway = _running_gateway(args)
    if gateway is not None:
        return await _watch_via(args, gateway, name)
    loop = asyncio.get_running_loop()
    end = None if args.duration is None else loop.time() + args.duration
    seen = 0
    async with hub_session(args, names=[name]) as hub:
        device = hub.device(name)
        events = device.events()
        state = await device.status(timeout=args.timeout)
        _emit(args, {"event": "state", "device": device.info.id, "dps": state.values})
        iterator = aiter(events)
        while args.count is None or seen < args.count:
            remaining = None if end is None else end - loop.time()
            if remaining is not None and remaining <= 0:
                break
            try:
                event = await asyncio.wait_for(anext(iterator), remaining)
            except (TimeoutError, StopAsyncIteration):
                break
            if event.kind == "state":
                seen += 1
                _emit(args, {"event": "state", "device": event.device_id, "dps": event.values, "route": event.route})
            else:
                _emit(args, {"event": event.kind, "device": event.device_id})
    return 0


async def _watch_via(args: argparse.Namespace, gateway: GatewayClient, name: str) -> int:
    """``watch`` through the gateway's event stream (SSE): its state first, then each event."""
    loop = asyncio.get_running_loop()
    end = None if args.duration is None else loop.time() + args.duration
    seen = 0
    async with gateway:
        device_id = str((await gateway.device(name))["id"])
        stream = aiter(gateway.events(device_id))
        # The stream is opened before the first read, so no change between the two is missed.
        first = asyncio.ensure_future(anext(stream))
        try:
            state = await gateway.status(name, refresh=False)
            _emit(args, {"event": "state", "device": device_id, "dps": state["values"]})
            pending: asyncio.Future[dict[str, Any]] | None = first
            while args.count is None or seen < args.count:
                remaining = None if end is None else end - loop.time()
                if remaining is not None and remaining <= 0:
                    break
                nxt = pending if pending is not None else asyncio.ensure_future(anext(stream))
                pending = None
                try:
                    event = await asyncio.wait_for(nxt, remaining)
                except (TimeoutError, StopAsyncIteration):
                    break
                kind = str(event.get("kind", "lost"))
                if kind == "state":
                    seen += 1
                    out = {"event": "state", "device": device_id, "dps": event["values"], "route": event["route"]}
                    _emit(args, out)
                else:
                    _emit(args, {"event": kind, "device": device_id})
        finally:
            first.cancel()
            with contextlib.suppress(BaseException):
                await stream.aclose()  # type: ignore[attr-defined]
    return 0


# ---------------------------------------------------------------- argparse


def _device_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("device given ad hoc (instead of a registry name)")
    group.add_argument("--id", help="device id (gwId)")
    group.add_argument("--ip", help="device IP address")
    group.add_argument("--key", help=f"16-character local key (or set ${KEY_ENV})")
    group.add_argument(
        "--version",
        dest="protocol",
        metavar="VERSION",
        help="protocol 3.1, 3.2, 3.3, 3.4, 3.5 or device22 (detected when omitted)",
    )
    group.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    group.add_argument("--cid", help="sub-device id behind a Zigbee/BLE gateway")
    parser.add_argument("--timeout", type=float, default=5.0, help="deadline of each request in seconds (default 5)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--direct",
        action="store_true",
        help="talk to a named device itself even while a gateway on the same data dir holds its connection",
    )
    add_data_dir_arg(parser)


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``status``, ``set``, ``watch`` and ``scan`` to the top-level parser."""
    status = commands.add_parser("status", help="print a device's DP values")
    status.add_argument("device", nargs="?", metavar="DEVICE", help="registry name or id")
    _device_options(status)
    status.set_defaults(func=_status)

    setter = commands.add_parser(
        "set", help="set DP values: tuyagate set [DEVICE] 1=true 2=50 (values are JSON when they parse)"
    )
    setter.add_argument("items", nargs="+", metavar="[DEVICE] DP=VALUE", help="optional DEVICE, then DP=VALUE pairs")
    _device_options(setter)
    setter.set_defaults(func=_set)

    watch = commands.add_parser("watch", help="print a device's pushes until Ctrl-C")
    watch.add_argument("device", nargs="?", metavar="DEVICE", help="registry name or id")
    _device_options(watch)
    watch.add_argument("--count", type=int, help="stop after this many status pushes")
    watch.add_argument("--duration", type=float, help="stop after this many seconds")
    watch.set_defaults(func=_watch)

    scan = commands.add_parser(
        "scan", help="find devices: UDP broadcasts, the 3.5 probe, and a TCP sweep of other subnets with --subnet"
    )
    scan.add_argument("--duration", type=float, default=8.0, help="seconds to listen at most (default 8)")
    scan.add_argument("--listen", default="0.0.0.0", help="address to listen on (default all)")
    scan.add_argument("--ports", default="6666,6667,7000", help="UDP ports to listen on (default 6666,6667,7000)")
    scan.add_argument(
        "--probe-to",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="send the 3.5 REQ_DEVINFO probe here (repeatable; default 255.255.255.255:7000)",
    )
    scan.add_argument("--no-probe", action="store_true", help="only listen, send nothing")
    scan.add_argument(
        "--id", dest="want_id", action="append", metavar="ID", help="stop as soon as these ids are found (repeatable)"
    )
    scan.add_argument("--count", type=int, help="stop as soon as this many devices are found")
    scan.add_argument(
        "--subnet", metavar="CIDR", help="also sweep this subnet (other VLANs): TCP connect, then a unicast probe"
    )
    scan.add_argument("--sweep-port", type=int, default=6668, help="TCP port the sweep connects to (default 6668)")
    scan.add_argument(
        "--sweep-probe-port", type=int, default=7000, help="UDP port the sweep's probes go to (default 7000)"
    )
    scan.add_argument("--concurrency", type=int, default=128, help="sweep connections at a time (default 128)")
    scan.add_argument("--json", action="store_true", help="machine-readable output")
    add_data_dir_arg(scan)
    scan.set_defaults(func=_scan)
