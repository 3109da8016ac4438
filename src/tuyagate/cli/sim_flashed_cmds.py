"""``tuyagate sim tasmota`` and ``tuyagate sim esphome``: emulated reflashed devices on loopback.

Each prints exactly one JSON line on stdout once it listens (``{"url": ..., "host": ..., "port": ...}``)
and runs until SIGINT or SIGTERM. OpenBeken is ``tuyagate sim tasmota --mode openbeken``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Any

from tuyagate.cli.extras import extra_note, require_extra

__all__ = ["register_sim"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one, printed)")
    parser.add_argument("--user", default="admin", help="web user name (default admin)")
    parser.add_argument(
        "--password",
        default=os.environ.get("TUYAGATE_SIM_PASSWORD"),
        help="web password; none by default (or $TUYAGATE_SIM_PASSWORD)",
    )
    parser.add_argument("--name", default=None, help="device name it reports")
    parser.add_argument("--delay", type=float, default=0.0, help="fault: seconds to wait before every answer")
    parser.add_argument("--garbage", action="store_true", help="fault: answer text that is not JSON")
    parser.add_argument("--fail-status", type=int, default=None, metavar="HTTP", help="fault: answer this status")


def register_sim(sim_commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``tasmota`` and ``esphome`` to ``tuyagate sim`` (HTTP servers: they need the gateway extra)."""
    note = extra_note("gateway")
    tas = sim_commands.add_parser(
        "tasmota",
        help="an emulated Tasmota (or OpenBeken) device: /cm?cmnd=..." + note,
        description=note.strip() or None,
    )
    _common(tas)
    tas.add_argument("--relays", type=int, default=1, help="number of power outputs (default 1)")
    tas.add_argument("--light", choices=["none", "dimmer", "ct", "rgb", "rgbct"], default="none", help="light type")
    tas.add_argument("--no-energy", action="store_true", help="no power meter (StatusSNS.ENERGY)")
    tas.add_argument("--mode", choices=["tasmota", "openbeken"], default="tasmota", help="firmware to emulate")
    tas.add_argument("--legacy", action="store_true", help="Tasmota before 12: query-string auth, integer Power")
    tas.set_defaults(func=_run_tasmota)

    esp = sim_commands.add_parser(
        "esphome",
        help="an emulated ESPHome device: web_server REST API and /events" + note,
        description=note.strip() or None,
    )
    _common(esp)
    esp.add_argument(
        "--id-format",
        choices=["current", "transition", "legacy"],
        default="current",
        help="entity ids of ESPHome 2026.8+ (current), 2026.1.3-2026.8 (transition) or older (legacy)",
    )
    esp.add_argument("--ping-interval", type=float, default=10.0, help="seconds between /events pings")
    esp.add_argument(
        "--entities",
        metavar="FILE",
        default=None,
        help='JSON list of entities instead of the default plug, e.g. [{"domain": "switch", "name": "Relay 1"}, '
        '{"domain": "sensor", "name": "Power", "value": 0, "uom": "W", "derived": "power"}]',
    )
    esp.set_defaults(func=_run_esphome)


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _run_tasmota(args: argparse.Namespace) -> int:
    require_extra("gateway", "tuyagate sim tasmota")
    from tuyagate.sim.tasmota import Faults, TasmotaConfig
    from tuyagate.sim.tasmota_app import start_tasmota

    config = TasmotaConfig(
        relays=args.relays,
        light=args.light,
        energy=not args.no_energy,
        user=args.user,
        password=args.password or None,
        mode=args.mode,
        legacy=args.legacy,
        name=args.name or ("openbeken-sim" if args.mode == "openbeken" else "tasmota-sim"),
    )
    faults = Faults(delay=args.delay, status=args.fail_status, garbage=args.garbage)
    sim = await start_tasmota(config, host=args.host, port=args.port, faults=faults)
    print(json.dumps(sim.info()), flush=True)
    try:
        await _until_signal()
    finally:
        await sim.stop()
    return 0


def _entities(path: str) -> list[Any]:
    """Entities from a JSON file: a list of objects with the fields of ``tuyagate.sim.esphome.Entity``."""
    from tuyagate.errors import ConfigError
    from tuyagate.sim.esphome import Entity

    domains = {"switch", "light", "sensor", "binary_sensor", "text_sensor", "cover", "select", "number", "button"}
    try:
        items = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(items, list) or not items:
            raise ValueError("expected a non-empty JSON list of entities")
        entities = []
        for item in items:
            if not isinstance(item, dict) or item.get("domain") not in domains or not item.get("name"):
                raise ValueError(f"each entity needs a domain ({', '.join(sorted(domains))}) and a name: {item!r}")
            if "rgb" in item:
                item["rgb"] = tuple(item["rgb"])
            entities.append(Entity(**item))
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"cannot use entities from {path}: {exc}") from exc
    return entities


async def _run_esphome(args: argparse.Namespace) -> int:
    require_extra("gateway", "tuyagate sim esphome")
    from tuyagate.sim.esphome import EspHomeConfig, Faults, default_entities
    from tuyagate.sim.esphome_app import start_esphome

    config = EspHomeConfig(
        entities=_entities(args.entities) if args.entities else default_entities(),
        user=args.user,
        password=args.password or None,
        id_format=args.id_format,
        name=args.name or "esphome-sim",
        ping_interval=args.ping_interval,
    )
    faults = Faults(delay=args.delay, status=args.fail_status, garbage=args.garbage)
    sim = await start_esphome(config, host=args.host, port=args.port, faults=faults)
    print(json.dumps(sim.info()), flush=True)
    try:
        await _until_signal()
    finally:
        await sim.stop()
    return 0
