"""``tuyagate serve`` (the gateway on the registry's devices) and ``tuyagate demo`` (on an emulated home)."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from tuyagate.cli.extras import extra_note, require_extra
from tuyagate.cli.mqtt_cmds import add_mqtt_options, bridge_config, start_bridge
from tuyagate.cli.sim_device_cmds import print_ready, stop_signal
from tuyagate.errors import ConfigError


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``serve`` and ``demo`` (both need the gateway extra)."""
    note = extra_note("gateway")
    demo = commands.add_parser(
        "demo",
        help="run the gateway on an emulated home (no hardware needed)" + note,
        description=(
            "Start a dozen emulated Tuya devices (protocol 3.1-3.5, a Zigbee gateway with sub-devices, a cloud-only "
            "plug), an emulated Tuya cloud, an emulated Tasmota plug and ESPHome device, and the gateway in front of "
            "them. Prints one JSON line (url, client_id, secret of the Tuya-cloud-compatible API), then example "
            "commands, and runs until Ctrl-C." + note
        ),
    )
    demo.add_argument("--host", default="127.0.0.1", help="gateway address (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8080, help="gateway port (default 8080)")
    demo.add_argument("--fleet-ip", default="127.0.1.1", help="address of the first emulated device")
    demo.add_argument("--fleet-port", type=int, default=6668, help="TCP port of the emulated devices (0 = any)")
    demo.add_argument(
        "--data-dir",
        default=None,
        help="the demo's throw-away registry (default: $XDG_RUNTIME_DIR/tuyagate-demo); emptied at start, "
        "removed at exit, so only an empty directory or an earlier demo's is accepted",
    )
    add_mqtt_options(demo)
    demo.set_defaults(func=_run_demo)

    serve = commands.add_parser(
        "serve",
        help="run the gateway for the devices in the registry" + note,
        description="Serve the REST, Tuya-cloud-compatible and Tasmota-compatible APIs for every registered device."
        + note,
    )
    serve.add_argument("--config", default=None, help="TOML configuration file ([gateway] table)")
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8780)")
    serve.add_argument("--data-dir", default=None, help="registry and vault directory")
    serve.add_argument(
        "--no-follow",
        action="store_true",
        help="do not listen on UDP 6666/6667 for devices that moved to another IP (listening only, never sends)",
    )
    serve.add_argument(
        "--cloud-events",
        action="store_true",
        default=None,
        help="follow the cloud's message service for live changes of cloud-reachable devices (needs a cloud login; "
        "config: cloud_events = true)",
    )
    add_mqtt_options(serve)
    serve.set_defaults(func=_run_serve)


async def _run_demo(args: argparse.Namespace) -> int:
    require_extra("gateway", "tuyagate demo")
    from tuyagate.cli.demo import DemoWorld

    mqtt = bridge_config(args)
    if mqtt is not None:
        require_extra("mqtt", "tuyagate demo --mqtt")
    data_dir = _fresh_demo_dir(Path(args.data_dir) if args.data_dir else None)
    world = DemoWorld(
        host=args.host,
        port=args.port,
        fleet_ip=args.fleet_ip,
        fleet_port=args.fleet_port,
        data_dir=data_dir,
        mqtt=mqtt,
    )
    stop = stop_signal()
    try:
        await world.start()
    except OSError as exc:
        raise ConfigError(
            f"cannot start the demo: {exc.strerror or exc} (is another demo running? try --port)"
        ) from None
    try:
        print_ready(world.info())
        sys.stdout.write(world.examples() + "\n")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await world.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


DEMO_MARK = ".tuyagate-demo"  # marks a data dir as the demo's own, so it may be emptied


def _fresh_demo_dir(given: Path | None) -> Path:
    """The demo's data dir, emptied; refused while another demo runs there, or when it holds anything
    but an earlier demo's files (a real registry is never wiped)."""
    from tuyagate.cli.demo import demo_data_dir
    from tuyagate.cli.gateway_link import find_gateway

    path = given.expanduser() if given is not None else demo_data_dir()
    running = find_gateway(path)
    if running is not None:
        raise ConfigError(f"a demo is already running at {running.url} (pid {running.pid}, data dir {path})")
    if path.exists():
        if not path.is_dir() or (any(path.iterdir()) and not (path / DEMO_MARK).exists()):
            raise ConfigError(
                f"{path} is not an empty directory or an earlier demo's: give the demo another --data-dir"
            )
        shutil.rmtree(path)
    path.mkdir(mode=0o700, parents=True)
    (path / DEMO_MARK).touch()
    return path


async def _run_serve(args: argparse.Namespace) -> int:
    require_extra("gateway", "tuyagate serve")
    from tuyagate.cli.gateway_link import remove_runtime_file, write_runtime_file
    from tuyagate.cloud.app_mq import AppMqConsumer
    from tuyagate.devices import paths
    from tuyagate.devices.cloud_events import cloud_events_for
    from tuyagate.devices.home import open_home
    from tuyagate.devices.hub import HubOptions
    from tuyagate.gateway.app import create_app
    from tuyagate.gateway.server import freeze_startup_heap, serve_app
    from tuyagate.gateway.settings import load_settings

    settings = load_settings(
        Path(args.config) if args.config else None,
        host=args.host,
        port=args.port,
        data_dir=paths.data_dir(args.data_dir) if args.data_dir else None,
        cloud_events=args.cloud_events,
    )
    mqtt = bridge_config(args, args.config)
    if mqtt is not None:
        require_extra("mqtt", "tuyagate serve --mqtt")
    stop = stop_signal()
    options = HubOptions(discovery_listen=None if args.no_follow else "0.0.0.0")
    async with open_home(settings.data_dir, options=options) as home:
        events = cloud_events_for(home, settings.data_dir) if settings.cloud_events else None
        if isinstance(events, AppMqConsumer):  # an app login: the app's MQ, over aiomqtt
            require_extra("app", "tuyagate serve --cloud-events (with an app login)")
        served = await serve_app(create_app(settings, home, manage_manager=False))
        write_runtime_file(settings.data_dir, served.url)  # `tuyagate status NAME` ... go through this gateway
        if events is not None:
            await events.start()
        bridge = await start_bridge(home, mqtt, settings.data_dir) if mqtt is not None else None
        ready: dict[str, object] = {"url": served.url, "devices": len(home.devices()), "cloud": home.cloud is not None}
        ready["cloud_events"] = events is not None
        if bridge is not None:
            ready["mqtt"] = {"broker": bridge.config.display_url, "node_id": bridge.config.node_id}
        freeze_startup_heap()  # after the last start-up allocation: full GC pauses drop from ~50 ms to ~0.5 ms
        print_ready(ready)
        try:
            await stop.wait()
        finally:
            if bridge is not None:
                await bridge.close()
            if events is not None:
                await events.close()
            remove_runtime_file(settings.data_dir)
            await served.stop()
    return 0
