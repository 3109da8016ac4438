"""Helper of ``benchmarks.lan_bench``: run a fleet of emulated devices in its own process.

Keeping the emulators out of the measured process means the client's CPU time and memory are
the client's alone. With ``--discovery-to`` every device also announces itself by UDP there (for
servers that learn devices from announcements, as tinytuya's API server does). The fleet's
manifest (ids, keys, addresses, bound ports) is written to ``--manifest``; "ready" is printed once
every device listens; the fleet stops when stdin closes.

Run: ``python -m benchmarks.lan_devices --count 500 --first-ip 127.0.1.1 --port 6668 --manifest m.json``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import resource
import sys

from tuyagate.sim.device import SimDevice
from tuyagate.sim.fleet import SimFleet


def raise_nofile() -> int:
    """Lift the soft open-files limit to the hard one (1,000 devices need ~2,000 sockets here)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` of the announcements' listener; loopback only (announcements never leave the host)."""
    host, _, port = text.rpartition(":")
    if not host.startswith("127."):
        raise SystemExit(f"--discovery-to {text!r}: announcements go to a loopback address (127.x.y.z) only")
    return host, int(port)


async def serve(args: argparse.Namespace) -> None:
    manifest = SimFleet.generate(
        args.offset + args.count,
        versions=args.versions.split(","),
        first_ip=args.first_ip,
        port=args.port,
        kinds=["plug"],
    )
    manifest.devices = manifest.devices[args.offset :]  # this process's share of a bigger fleet
    async with contextlib.AsyncExitStack() as stack:
        for dev in manifest.devices:
            sim = SimDevice(
                device_id=dev.id,
                local_key=dev.local_key,
                version=dev.version,
                dps=dev.status or {"1": False},
                host=dev.ip,
                port=dev.port,
                idle_timeout=600.0,
                status_delay=args.status_delay,
                discovery_to=_host_port(args.discovery_to) if args.discovery_to else None,
                discovery_interval=args.discovery_interval,
            )
            await stack.enter_async_context(sim)
            dev.port = sim.port  # port 0 resolves to the bound port
        manifest.save(args.manifest)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--offset", type=int, default=0, help="skip this many devices of the generated fleet")
    parser.add_argument("--first-ip", default="127.0.1.1")
    parser.add_argument("--port", type=int, default=6668)
    parser.add_argument("--versions", default="3.1,3.3,3.4,3.5")
    parser.add_argument("--manifest", required=True)
    parser.add_argument(
        "--status-delay",
        type=float,
        default=0.0,
        help="seconds from a control's ACK to the STATUS push (default 0: the clients' own costs show; the "
        "emulator's own default is 0.02, and a client that waits for the STATUS then waits that long)",
    )
    parser.add_argument(
        "--discovery-to",
        metavar="HOST:PORT",
        help="every device announces itself there by UDP (as real devices broadcast; loopback only)",
    )
    parser.add_argument("--discovery-interval", type=float, default=5.0, help="seconds between announcements")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop (must be installed)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    raise_nofile()
    if args.uvloop:
        import uvloop  # type: ignore[import-not-found,unused-ignore]

        uvloop.run(serve(args))
    else:
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
