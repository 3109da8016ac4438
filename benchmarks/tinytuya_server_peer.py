"""tinytuya's API server under the same wrk load as tuyagate's gateway (``benchmarks.gateway_load``).

tinytuya's API server is ``server/server.py`` in the tinytuya repository: it is on neither PyPI
nor Debian (the tinytuya sdist and wheel hold the library only). This benchmark takes it from a
clone of https://github.com/jasonacox/tinytuya (``--tinytuya-repo PATH`` or ``TINYTUYA_REPO``: a
work tree or a bare git dir), at the tag of the installed tinytuya (``v1.20.0`` for 1.20.0), and
keeps the file in ``.cache/tinytuya-server/<version>/`` so later runs need no clone; where neither
exists it stops and says how to get one. Nothing of tinytuya's is kept in this repository.

What one run does, all on loopback:

1. starts the same emulated devices as the tuyagate run (``benchmarks.lan_devices``: 20 plugs
   over 3.1/3.3/3.4/3.5 on uvloop, here at 127.0.9.x:6668, the port tinytuya's server always
   dials), each announcing itself by UDP every 2 s to the server's discovery port: the server
   lists a device only once it has heard it (the IP and version it dials come from there);
2. starts tinytuya's server (with the installed tinytuya, in a child process under
   ``benchmarks.loopback_guard``: it binds every interface and broadcasts a discovery probe
   otherwise) on free loopback TCP/UDP ports, with a ``devices.json`` (tinytuya's wizard format,
   where it looks a heard device's key up) and no cloud configuration;
3. waits (with a deadline) until ``/numdevices`` reports every device, then runs gateway_load's
   wrk phase on ``GET /status/{id}``, round-robin over the devices, and prints the row in
   gateway_load's format with the server's CPU per request (from /proc, every thread); every
   child is stopped by its PID at the end.

What the server does per ``/status`` request (read in its code): it has no cache: a thread per
request (``ThreadingMixIn``), a new ``tinytuya.OutletDevice``, a new TCP connection to the device
(with the 3.4/3.5 session-key handshake), one status query, close; HTTP/1.0, so a new HTTP
connection per request too. Its errors come back as HTTP 200 with an ``"Error"`` key in the
body, so the wrk script counts such bodies as errors. The tuyagate phase to set beside it is the
forced-fresh read (every request asks the device, over the gateway's persistent connection).

    .venv/bin/python -m benchmarks.tinytuya_server_peer --tinytuya-repo PATH [--seconds 10] [--check]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # so `benchmarks.*` resolves when run as a script
    sys.path.insert(0, str(ROOT))

from benchmarks.gateway_bench import _cpu_seconds  # noqa: E402
from benchmarks.gateway_load import HEADER, ensure_wrk, print_row, wrk_phase  # noqa: E402
from tuyagate.sim.manifest import FleetManifest, ManifestDevice  # noqa: E402

CACHE = ROOT / ".cache" / "tinytuya-server"
REPO_URL = "https://github.com/jasonacox/tinytuya"
DEVICE_PORT = 6668  # tinytuya's server makes its OutletDevice without a port: tinytuya's default
VERSIONS = "3.1,3.3,3.4,3.5"  # as gateway_load's devices (benchmarks.lan_devices' default)
ERROR_MARKER = '"Error"'  # how the server's answers say that a request failed (with HTTP 200)


class SourceUnavailable(RuntimeError):
    """tinytuya's server is neither cached nor in a clone given to us."""


def tinytuya_version() -> str:
    return importlib.metadata.version("tinytuya")


def server_source(repo: str | Path | None = None, *, cache: Path = CACHE, version: str | None = None) -> Path:
    """The path of ``server.py`` of the installed tinytuya's version: cached, or extracted into the cache
    from ``repo`` (a clone of tinytuya's repository; default ``$TINYTUYA_REPO``) at tag ``v<version>``."""
    version = version or tinytuya_version()
    cached = cache / version / "server.py"
    if cached.is_file():
        return cached
    repo = repo or os.environ.get("TINYTUYA_REPO")
    if not repo:
        raise SourceUnavailable(
            f"tinytuya's API server (server/server.py) is not on PyPI: the tinytuya {version} sdist and wheel "
            f"hold the library only. Give a clone of {REPO_URL} (git clone {REPO_URL}) with --tinytuya-repo PATH "
            f"or TINYTUYA_REPO=PATH: its tag v{version} is extracted once into {cache / version}"
        )
    tag = f"v{version}"
    try:
        shown = subprocess.run(
            ["git", "-C", str(repo), "show", f"{tag}:server/server.py"], capture_output=True, check=False, timeout=60
        )
    except FileNotFoundError:
        raise SourceUnavailable(f"git is not installed: it reads server/server.py from the clone {repo}") from None
    if shown.returncode != 0:
        raise SourceUnavailable(
            f"{repo}: no server/server.py at tag {tag} (the installed tinytuya is {version}): "
            f"{shown.stderr.decode(errors='replace').strip()}"
        )
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", f"{tag}^{{commit}}"], capture_output=True, text=True, check=True
    ).stdout.strip()
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".partial")
    partial.write_bytes(shown.stdout)
    partial.replace(cached)
    (cached.parent / "SOURCE").write_text(f"{REPO_URL} {tag} {commit} server/server.py\n")
    return cached


def write_devices_json(devices: list[ManifestDevice], path: Path) -> None:
    """tinytuya's ``devices.json`` (its wizard's list) for the server: it looks a heard device's key and
    name up by id; the IP and version it dials come from the device's announcement."""
    entries = [{"name": d.name, "id": d.id, "key": d.local_key, "ip": d.ip, "version": d.version} for d in devices]
    path.write_text(json.dumps(entries, indent=2) + "\n")


def free_port(kind: socket.SocketKind) -> int:
    """A port free on 127.0.0.1 now (tinytuya's server takes its ports from the environment, not port 0)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return json.load(answer)


@dataclass
class Fleet:
    devices: list[ManifestDevice]
    pid: int  # of the one process the devices run in


@contextlib.contextmanager
def emulated_fleet(count: int, *, first_ip: str, announce_to: int, versions: str = VERSIONS) -> Iterator[Fleet]:
    """``count`` plugs in one child process at ``first_ip``.. port 6668, announcing every 2 s to
    127.0.0.1:``announce_to``."""
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp, "fleet.json")
        argv = [sys.executable, "-m", "benchmarks.lan_devices", "--count", str(count), "--first-ip", first_ip]
        argv += ["--port", str(DEVICE_PORT), "--versions", versions, "--manifest", str(manifest), "--uvloop"]
        argv += ["--discovery-to", f"127.0.0.1:{announce_to}", "--discovery-interval", "2"]
        proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the emulated devices did not start (exit code {proc.wait(10)})")
            yield Fleet(FleetManifest.load(manifest).devices, proc.pid)
        finally:
            _stop(proc, close_stdin=True)


def _stop(proc: subprocess.Popen[Any], *, close_stdin: bool = False) -> None:
    """Stop a child we started, by its PID: politely first, then for good."""
    if close_stdin and proc.stdin:
        proc.stdin.close()
    else:
        proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class TinytuyaServer:
    """tinytuya's API server in a child process (see the module docstring), on free loopback ports."""

    def __init__(self, server_py: Path, workdir: Path, devices: list[ManifestDevice], udp_port: int) -> None:
        self.workdir = workdir
        self.api_port = free_port(socket.SOCK_STREAM)
        self.udp_ports = [udp_port, free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)]
        write_devices_json(devices, workdir / "devices.json")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "APIPORT": str(self.api_port),
            "UDPPORT": str(self.udp_ports[0]),  # where the devices announce
            "UDPPORTS": str(self.udp_ports[1]),
            "UDPPORTAPP": str(self.udp_ports[2]),
            "DEVICEFILE": str(workdir / "devices.json"),
            "SNAPSHOTFILE": str(workdir / "snapshot.json"),
            "CONFIGFILE": str(workdir / "tinytuya.json"),  # absent: no cloud credentials, no cloud calls
            "SAVEDEVICEFILE": "False",
            "DEBUGMODE": "no",
        }
        self.log = workdir / "server.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.loopback_guard", "--no-discovery-probe", str(server_py)],
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.base = f"http://127.0.0.1:{self.api_port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_until_it_knows(self, count: int, deadline: float) -> dict[str, Any]:
        """Poll ``/numdevices`` until ``count`` devices are found; the last answer. Raises at ``deadline``
        (``time.monotonic``) with the server's log."""
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tinytuya's server exited ({self.proc.returncode}):\n{self.log_tail()}")
            with contextlib.suppress(OSError, ValueError):
                last = get_json(f"{self.base}/numdevices", timeout=2)
                if last.get("found", 0) >= count:
                    return last
            time.sleep(0.2)
        raise TimeoutError(f"tinytuya's server knew {last.get('found', 0)} of {count} devices:\n{self.log_tail()}")

    def status(self, device_id: str) -> Any:
        return get_json(f"{self.base}/status/{device_id}", timeout=20)

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def refusals(self) -> list[str]:
        """What the loopback guard refused (lines of the server's output)."""
        return [ln for ln in self.log.read_text(errors="replace").splitlines() if "loopback-guard: refused" in ln]

    def stop(self) -> None:
        _stop(self.proc)


@contextlib.contextmanager
def running(
    server_py: Path, count: int, *, first_ip: str, versions: str = VERSIONS, deadline_s: float = 30.0
) -> Iterator[tuple[TinytuyaServer, Fleet]]:
    """``count`` emulated devices and tinytuya's server once it has heard them all."""
    with tempfile.TemporaryDirectory() as tmp:
        udp_port = free_port(socket.SOCK_DGRAM)  # where the devices announce: the server's UDPPORT
        with emulated_fleet(count, first_ip=first_ip, announce_to=udp_port, versions=versions) as fleet:
            server = TinytuyaServer(server_py, Path(tmp), fleet.devices, udp_port)
            try:
                server.wait_until_it_knows(count, time.monotonic() + deadline_s)
                yield server, fleet
            finally:
                server.stop()


def check(server: TinytuyaServer, devices: list[ManifestDevice]) -> list[str]:
    """One ``/status`` per device; the problems found (none when every device answered its DPs)."""
    problems = []
    for dev in devices:
        answer = server.status(dev.id)
        if "Error" in answer or "1" not in answer.get("dps", {}):
            problems.append(f"{dev.id} ({dev.version}): {answer}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tinytuya-repo", help=f"a clone of {REPO_URL} (default $TINYTUYA_REPO; once, then cached)")
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--first-ip", default="127.0.9.1")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--check", action="store_true", help="only ask each device once through the server")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    try:
        server_py = server_source(args.tinytuya_repo)
    except SourceUnavailable as exc:
        raise SystemExit(f"tinytuya_server_peer: {exc}") from None
    wrk = None if args.check else ensure_wrk()
    with running(server_py, args.devices, first_ip=args.first_ip) as (server, fleet):
        devices = fleet.devices
        if args.check:
            problems = check(server, devices)
            print(f"tinytuya {tinytuya_version()} API server: {len(devices) - len(problems)}/{len(devices)} answered")
            for problem in problems:
                print(problem)
            return 1 if problems else 0
        assert wrk is not None
        ids = [d.id for d in devices]
        print(
            f"tinytuya {tinytuya_version()} API server ({server_py}), {len(ids)} emulated LAN devices; "
            f"wrk {args.threads} threads, {args.connections} connections, {args.seconds:g} s; "
            f"load {os.getloadavg()[0]:.1f}"
        )
        print(HEADER)
        template = "/status/{id}"
        wrk_phase(wrk, server.base, template, ids, "reads", threads=1, connections=4, seconds=1)  # warm-up
        server_before, devices_before = _cpu_seconds(server.pid), _cpu_seconds(fleet.pid)
        r = wrk_phase(
            wrk,
            server.base,
            template,
            ids,
            "reads",
            threads=args.threads,
            connections=args.connections,
            seconds=args.seconds,
            error_marker=ERROR_MARKER,
        )
        r["server_cpu_us"] = (_cpu_seconds(server.pid) - server_before) / max(1, r["requests"]) * 1e6
        r["devices_cpu_us"] = (_cpu_seconds(fleet.pid) - devices_before) / max(1, r["requests"]) * 1e6
        print_row("status (asks device)", r, r["server_cpu_us"], who="server")
        refused = server.refusals()
        if refused:
            print(f"the loopback guard refused {len(refused)} socket calls of the server, e.g. {refused[0]}")
    if args.json:
        Path(args.json).write_text(json.dumps({"status": r}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
