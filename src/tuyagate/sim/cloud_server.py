"""Run the cloud emulator on a real socket (uvicorn), from tests, the demo or the CLI.

``start_cloud_server`` binds the socket itself (port 0 = a free port, known before the first
request), starts uvicorn on it in the running event loop and returns a :class:`RunningCloud`
with the base URL, the certificate path in TLS mode, the app state, and ``stop()``::

    async with await start_cloud_server(CloudConfig("id", "secret"), manifest) as cloud:
        ...  # cloud.base_url, cloud.state.expire_all_tokens(), ...
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette

from tuyagate.sim.cloud_app import create_cloud_app
from tuyagate.sim.cloud_devices import CloudDeviceBackend
from tuyagate.sim.cloud_state import CloudConfig, CloudState
from tuyagate.sim.cloud_tls import make_self_signed_cert
from tuyagate.sim.manifest import FleetManifest

__all__ = ["RunningCloud", "start_cloud_server"]


@dataclass
class RunningCloud:
    """A cloud emulator that is listening."""

    base_url: str
    app: Starlette
    cert_path: Path | None
    _server: uvicorn.Server = field(repr=False)
    _task: asyncio.Task[None] = field(repr=False)
    _sock: socket.socket = field(repr=False)
    _tls_dir: Path | None = field(default=None, repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def state(self) -> CloudState:
        """The emulator's state: faults, tokens, counters, fleet."""
        state: CloudState = self.app.state.cloud
        return state

    @property
    def port(self) -> int:
        port: int = self._sock.getsockname()[1]
        return port

    def info(self) -> dict[str, Any]:
        """What ``tuyagate sim cloud`` prints (no secret)."""
        return {
            "base_url": self.base_url,
            "client_id": self.state.config.client_id,
            "uid": self.state.config.uid,
            "devices": len(self.state.fleet.devices),
            "tls": self.cert_path is not None,
            "cert": str(self.cert_path) if self.cert_path else None,
        }

    async def stop(self) -> None:
        """Stop serving, close the socket and remove the generated certificate (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self._server.should_exit = True
        self._task.cancel()  # the loop only refreshes the Date header; no need to wait for its tick
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self._server.shutdown(sockets=[self._sock])
        if self._tls_dir is not None:
            shutil.rmtree(self._tls_dir, ignore_errors=True)

    async def __aenter__(self) -> RunningCloud:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says TCP, and accepted
    # sockets inherit it; with proto 0 every answer waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


async def start_cloud_server(
    config: CloudConfig,
    manifest: FleetManifest | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: bool = False,
    backend: CloudDeviceBackend | None = None,
    clock: Callable[[], float] = time.time,
) -> RunningCloud:
    """Start the emulator on ``host:port`` (0 = any free port); HTTPS with a fresh cert if ``tls``."""
    app = create_cloud_app(config, manifest, backend=backend, clock=clock)
    cert = make_self_signed_cert() if tls else None
    sock = _bind(host, port)
    server_config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,  # paths carry refresh tokens
        lifespan="off",
        timeout_graceful_shutdown=2,
        ssl_certfile=str(cert.cert_path) if cert else None,
        ssl_keyfile=str(cert.key_path) if cert else None,
    )
    server_config.load()
    server = uvicorn.Server(server_config)
    server.lifespan = server_config.lifespan_class(server_config)
    try:
        await server.startup(sockets=[sock])
    except BaseException:
        sock.close()
        if cert is not None:
            shutil.rmtree(cert.directory, ignore_errors=True)
        raise
    task = asyncio.create_task(server.main_loop(), name="tuyagate-sim-cloud")
    scheme = "https" if tls else "http"
    base_url = f"{scheme}://{_url_host(host)}:{sock.getsockname()[1]}"
    return RunningCloud(
        base_url=base_url,
        app=app,
        cert_path=cert.cert_path if cert else None,
        _server=server,
        _task=task,
        _sock=sock,
        _tls_dir=cert.directory if cert else None,
    )
