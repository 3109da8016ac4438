"""Entry point of the ``tuyagate`` command.

Each command family lives in its own module with a ``register(subparsers)`` function; the
``sim`` and ``cloud`` groups are shared by several modules through ``register_sim`` and
``register_cloud``. A command handler returns an exit code, or a coroutine that does.
Every :class:`~tuyagate.errors.TuyaError` becomes one line on stderr and exit code 1; so does a command
whose optional dependencies are not installed (see :mod:`tuyagate.cli.extras`).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from tuyagate import __version__
from tuyagate.cli.extras import MissingExtraError, extra_for_module
from tuyagate.errors import TuyaError

# Modules that add top-level commands (status, set, watch, devices, serve, demo, ...).
TOP_LEVEL_MODULES = (
    "tuyagate.cli.control_cmds",
    "tuyagate.cli.doctor_cmds",
    "tuyagate.cli.registry_cmds",
    "tuyagate.cli.serve_cmds",
    "tuyagate.cli.token_cmds",
    "tuyagate.cli.mqtt_cmds",
)
# Modules that add `tuyagate sim ...` emulators.
SIM_MODULES = (
    "tuyagate.cli.sim_device_cmds",
    "tuyagate.cli.sim_cloud_cmds",
    "tuyagate.cli.sim_flashed_cmds",
)
# Modules that add `tuyagate cloud ...` commands.
CLOUD_MODULES = (
    "tuyagate.cli.cloud_cmds",
    "tuyagate.cli.cloud_account_cmds",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the whole argument parser (used by ``main`` and by the CLI tests)."""
    parser = argparse.ArgumentParser(
        prog="tuyagate",
        description="A fast, local HTTP API for every Tuya device.",
    )
    parser.add_argument("--version", action="version", version=f"tuyagate {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for name in TOP_LEVEL_MODULES:
        importlib.import_module(name).register(commands)

    sim = commands.add_parser("sim", help="run emulators of Tuya devices, the Tuya cloud and flashed firmware")
    sim_commands = sim.add_subparsers(dest="sim_command", metavar="EMULATOR")
    sim_commands.required = True
    for name in SIM_MODULES:
        importlib.import_module(name).register_sim(sim_commands)

    cloud = commands.add_parser("cloud", help="talk to the Tuya Cloud OpenAPI")
    cloud_commands = cloud.add_subparsers(dest="cloud_command", metavar="ACTION")
    cloud_commands.required = True
    for name in CLOUD_MODULES:
        importlib.import_module(name).register_cloud(cloud_commands)
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    handler: Any = args.func
    try:
        result = handler(args)
        if inspect.isawaitable(result):
            result = run_async(_await(result))
        return int(result or 0)
    except MissingExtraError as exc:
        print(exc, file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        extra = extra_for_module(exc.name)
        if extra is None:
            raise
        print(MissingExtraError(_command_name(args), extra, (str(exc.name),)), file=sys.stderr)
        return 1
    except TuyaError as exc:
        print(f"tuyagate: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _command_name(args: argparse.Namespace) -> str:
    """``tuyagate sim cloud``: the words the user typed to pick the command."""
    words = [getattr(args, attr, None) for attr in ("command", "sim_command", "cloud_command")]
    return " ".join(["tuyagate", *(w for w in words if isinstance(w, str))])


async def _await(result: Any) -> Any:
    return await result


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` on uvloop where it is installed (about half the CPU per request), else on asyncio.

    uvloop comes with the ``gateway`` extra: it pays off in the long-running servers (gateway,
    emulators); a one-shot ``status`` or ``set`` is as fast on stock asyncio.
    """
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())


if __name__ == "__main__":
    main()
