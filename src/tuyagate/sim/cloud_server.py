"""Run the cloud emulator on a real socket (uvicorn), from tests, the demo or the CLI.

``start_cloud_server`` binds the socket itself (port 0 = a free port, known before the first
request), starts uvicorn on it in the running event loop and returns a :class:`RunningCloud`
with the base URL, the message service's ``pulsar_url``, the certificate path in TLS mode, the
app state, and ``stop()``. With ``CloudConfig.app_mq`` set it first connects the app MQ's
publisher to that broker (TimeoutError when it cannot)::

    async with await start_cloud_server(CloudConfig("id", "secret"), manifest) as cloud:
        ...  # cloud.base_url, cloud.state.expire_all_tokens(), ...
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from tuyagate.sim.cloud_app import create_cloud_app
from tuyagate.sim.cloud_devices import CloudDeviceBackend
from tuyagate.sim.cloud_state import CloudConfig, CloudState
from tuyagate.sim.cloud_tls import make_self_signed_cert
from tuyagate.sim.http_server import RunningServer, serve_app
from tuyagate.sim.manifest import FleetManifest

__all__ = ["RunningCloud", "start_cloud_server"]


@dataclass
class RunningCloud:
    """A cloud emulator that is listening."""

    base_url: str
    app: Starlette
    cert_path: Path | None
    _running: RunningServer = field(repr=False)
    _tls_dir: Path | None = field(default=None, repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def state(self) -> CloudState:
        """The emulator's state: faults, tokens, counters, fleet."""
        state: CloudState = self.app.state.cloud
        return state

    @property
    def port(self) -> int:
        return self._running.port

    @property
    def pulsar_url(self) -> str:
        """The message service's ``ws_endpoint`` (what ``TuyaOpenPulsar`` and tuyagate's consumer take)."""
        scheme = "wss" if self.cert_path is not None else "ws"
        return scheme + ":" + self.base_url.partition(":")[2] + "/"

    def info(self) -> dict[str, Any]:
        """What ``tuyagate sim cloud`` prints (no secret)."""
        return {
            "base_url": self.base_url,
            "pulsar_url": self.pulsar_url,
            "client_id": self.state.config.client_id,
            "uid": self.state.config.uid,
            "devices": len(self.state.fleet.devices),
            "tls": self.cert_path is not None,
            "cert": str(self.cert_path) if self.cert_path else None,
            "app_login": "auto" if self.state.config.app.auto_approve else "manual",
            "app_approve_url": self.base_url + "/_sim/app-login/approve",
            "mq_url": self.state.config.app_mq.url if self.state.config.app_mq else None,
        }

    async def stop(self) -> None:
        """Stop serving, close the socket and remove the generated certificate (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        await self.state.app_mq.close()
        await self._running.stop()
        if self._tls_dir is not None:
            shutil.rmtree(self._tls_dir, ignore_errors=True)

    async def __aenter__(self) -> RunningCloud:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


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
    try:
        running = await serve_app(
            app,
            host,
            port,
            ssl_certfile=str(cert.cert_path) if cert else None,
            ssl_keyfile=str(cert.key_path) if cert else None,
            websockets=True,
        )
    except BaseException:
        if cert is not None:
            shutil.rmtree(cert.directory, ignore_errors=True)
        raise
    cloud = RunningCloud(
        base_url=running.url,
        app=app,
        cert_path=cert.cert_path if cert else None,
        _running=running,
        _tls_dir=cert.directory if cert else None,
    )
    try:
        await cloud.state.app_mq.start()  # the app MQ's publisher: connected before the first change
    except BaseException:
        await cloud.stop()
        raise
    return cloud
