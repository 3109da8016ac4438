"""The world of the load audit and the crash test: an emulated fleet, its registry, the real gateway.

The gateway runs as ``tuyagate serve`` in a subprocess, as a user starts it, so that its memory
(RSS) and open file descriptors are its own, read from ``/proc``, and so that it can be killed with
SIGKILL like a crashed process. The emulated devices run in the caller's process, so their state,
faults and application logs (:attr:`tuyagate.sim.device.SimDevice.applied`) outlive every gateway.
Only the PID started here is ever signalled.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from tuyagate.cli.main import run as cli_run
from tuyagate.devices.db import Database
from tuyagate.devices.registry import Registry
from tuyagate.devices.vault import Vault
from tuyagate.sim.fleet import SimFleet

__all__ = ["GatewayProcess", "Snapshot", "World", "snapshot"]

READY_TIMEOUT = 60.0  # seconds a gateway may take to print its ready line on a loaded machine
KINDS = ("plug", "switch", "light")  # each has a writable integer DP wide enough to tag commands


class GatewayProcess:
    """One ``tuyagate serve`` subprocess on a free loopback port (``--no-follow``: no UDP listening).

    ``start`` after ``kill`` or ``stop`` starts a new process on the same port and data directory.
    """

    def __init__(self, data_dir: Path, *, request_timeout: float, log: Path) -> None:
        self.data_dir = data_dir
        self.request_timeout = request_timeout
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""
        self.port = 0  # a free one at first; restarts come back on the same port, as a configured gateway
        self.starts = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> float:
        """Start it and wait for its ready line; returns the seconds that took."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUYAGATE_")}
        env["TUYAGATE_REQUEST_TIMEOUT"] = str(self.request_timeout)
        loop = asyncio.get_running_loop()
        began = loop.time()
        with self.log.open("ab") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tuyagate.cli", "serve", "--port", str(self.port), "--no-follow",
                "--data-dir", str(self.data_dir),
                stdout=asyncio.subprocess.PIPE, stderr=err, env=env,
            )  # fmt: skip
        assert self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), READY_TIMEOUT)
            info = json.loads(line)
        except (TimeoutError, ValueError):
            await self.kill()
            raise RuntimeError(f"the gateway did not start; see {self.log}") from None
        self.url = str(info["url"])
        self.port = int(self.url.rsplit(":", 1)[1])
        self.starts += 1
        return loop.time() - began

    def rss_kib(self) -> int:
        """Resident memory of the gateway now (VmRSS)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS in /proc status")

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the gateway used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def runqueue_wait_s(self) -> float:
        """Seconds the gateway's event-loop thread has spent runnable but waiting for a CPU
        (``/proc/PID/schedstat``): on a shared machine, time no deadline logic can make up for."""
        return int(Path(f"/proc/{self.pid}/schedstat").read_text().split()[1]) / 1e9

    def fds(self) -> int:
        """Open file descriptors of the gateway now."""
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    async def kill(self) -> int:
        """SIGKILL (a crash: no shutdown code runs); returns the exit status."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        return await asyncio.wait_for(self.proc.wait(), 20)

    async def stop(self) -> int:
        """SIGTERM and wait for a clean exit (SIGKILL after 20 s)."""
        if self.proc is None:
            return 0
        if self.proc.returncode is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), 20)
        except TimeoutError:
            return await self.kill()


@dataclass(frozen=True)
class Snapshot:
    """What the registry and the vault hold, minus what the gateway updates while it runs."""

    integrity: list[str]
    devices: dict[str, dict[str, Any]]
    secrets: dict[str, str] = field(repr=False)


def snapshot(data_dir: Path) -> Snapshot:
    """Open the registry and the vault as a new process would, and read everything that must last."""
    db = Database(data_dir / "tuyagate.db")
    try:
        registry = Registry(db)
        vault = Vault.open(db, data_dir, env={})
        volatile = {"last_state", "last_seen", "updated_at"}  # the gateway's periodic state flush
        devices = {r.id: {k: v for k, v in _fields(r).items() if k not in volatile} for r in registry.devices()}
        secrets = {name: (vault.get_bytes(name) or b"").hex() for name in vault.names()}
        return Snapshot(db.integrity_check(), devices, secrets)
    finally:
        db.close()


def _fields(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


class World:
    """``devices`` emulated devices (plugs, switches, lights, 3.1/3.3/3.4/3.5) imported into a fresh
    registry, and a gateway in front of them. ``first_ip`` names the first loopback address; every
    device takes a free port there, so worlds never collide with other fleets on the machine."""

    def __init__(
        self, devices: int, *, first_ip: str = "127.0.20.1", request_timeout: float = 2.4, idle_timeout: float = 30.0
    ) -> None:
        manifest = SimFleet.generate(devices, kinds=KINDS, first_ip=first_ip, port=0)
        self.fleet = SimFleet(manifest, idle_timeout=idle_timeout)
        self._tmp = tempfile.TemporaryDirectory(prefix="tuyagate-soak-")
        self.root = Path(self._tmp.name)
        self.data_dir = self.root / "data"
        self.gateway = GatewayProcess(self.data_dir, request_timeout=request_timeout, log=self.root / "gateway.log")

    async def start(self) -> None:
        await self.fleet.start()
        self.fleet.manifest.save(self.root / "fleet.json")
        args = ["devices", "import", str(self.root / "fleet.json"), "--data-dir", str(self.data_dir)]
        code = await asyncio.to_thread(cli_run, args)
        if code != 0:
            raise RuntimeError("tuyagate devices import failed")
        await self.gateway.start()

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.gateway.stop()
        await self.fleet.stop()
        self._tmp.cleanup()

    async def __aenter__(self) -> World:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
