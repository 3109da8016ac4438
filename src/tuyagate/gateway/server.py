"""Run the gateway app on uvicorn inside the caller's event loop: ``await serve_app(app, host, port)``.

The helper binds the socket itself (so port 0 works and the real port is known before the first
request), refuses to listen beyond loopback without an API token, bounds the request head in time and
size (:mod:`tuyagate.gateway.http_limits`), ends the SSE streams first on
shutdown (otherwise the server would wait for them until its grace period ran out), and returns a
handle with the URL, ``stop()`` and ``wait()``. It installs no signal handlers: stopping on Ctrl-C or
SIGTERM is the caller's decision (``tuyagate serve`` waits for its own stop signal, then calls
``stop()``; tests just call ``stop()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI

from tuyagate.errors import ConfigError, TuyaConnectionError
from tuyagate.gateway.http_limits import HeadLimits, protocol_with
from tuyagate.gateway.settings import is_loopback
from tuyagate.gateway.state import GatewayState

__all__ = ["TOKEN_HINT", "ServedApp", "freeze_startup_heap", "serve_app"]

log = logging.getLogger(__name__)

TOKEN_HINT = (
    "create one with: tuyagate tokens create --name NAME --scope control [--config tuyagate.toml] "
    "(or: python -m tuyagate.cli.token_cmds create --name NAME --scope control)"
)
STARTUP_DEADLINE = 30.0


class _GatewayServer(uvicorn.Server):
    """uvicorn's server, closing the gateway's event streams before it drains connections, and
    leaving signal handling to the caller (the CLI installs its own SIGINT/SIGTERM handlers; uvicorn's
    would silently replace them while serving)."""

    def __init__(self, config: uvicorn.Config, state: GatewayState) -> None:
        super().__init__(config)
        self._state = state

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    def install_signal_handlers(self) -> None:  # the hook's name in older uvicorn releases
        return None

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._state.streams.close_streams()
        await super().shutdown(sockets)


@dataclass
class ServedApp:
    """A running gateway: where it listens and how to stop it."""

    url: str
    host: str
    port: int
    _server: uvicorn.Server = field(repr=False)
    _task: asyncio.Task[None] = field(repr=False)

    async def wait(self) -> None:
        """Until the server has stopped (``stop()`` from another task)."""
        await asyncio.shield(self._task)

    async def stop(self) -> None:
        """Stop accepting, end event streams, let running requests finish (bounded), run shutdown."""
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=15.0)
        except TimeoutError:
            self._server.force_exit = True
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ConfigError(f"cannot resolve the listen address {host!r}: {exc}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise TuyaConnectionError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def check_exposure(state: GatewayState, host: str) -> None:
    """Refuse to serve beyond loopback unless API tokens protect the gateway."""
    if is_loopback(host):
        return
    if state.settings.auth == "off":
        raise ConfigError(f"refusing to listen on {host} with auth = 'off'; set auth = 'auto' and {TOKEN_HINT}")
    if not state.tokens.list():
        raise ConfigError(f"refusing to listen on {host} without an API token; {TOKEN_HINT}")


async def serve_app(
    app: FastAPI,
    host: str | None = None,
    port: int | None = None,
    *,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    **uvicorn_options: Any,
) -> ServedApp:
    """Start serving ``app`` (from ``create_app``) and return once it accepts connections.

    ``host``/``port`` default to the app's settings; ``port=0`` picks a free port (see ``.port``).
    """
    state: GatewayState = app.state.gateway
    settings = state.settings
    host = settings.host if host is None else host
    port = settings.port if port is None else port
    certfile = ssl_certfile or settings.ssl_certfile
    keyfile = ssl_keyfile or settings.ssl_keyfile
    check_exposure(state, host)
    state.guard.listen_host = host
    sock = _bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    options: dict[str, Any] = {
        "log_config": None,
        "access_log": False,  # the gateway logs paths itself, never query strings (they may hold passwords)
        "lifespan": "on",
        "timeout_graceful_shutdown": 5,
        "server_header": False,
        # Not behind a proxy by default: X-Forwarded-For must not let a client pick the IP that
        # failed-auth throttling counts against.
        "proxy_headers": False,
        "ssl_certfile": certfile,
        "ssl_keyfile": keyfile,
        # The request head's deadline and sizes (slow-loris, endless headers), which uvicorn lacks.
        "http": protocol_with(
            HeadLimits(
                header_timeout=settings.header_timeout,
                max_url_bytes=settings.max_url_bytes,
                max_header_bytes=settings.max_header_bytes,
                max_headers=settings.max_headers,
            )
        ),
    }
    options.update(uvicorn_options)
    server = _GatewayServer(uvicorn.Config(app, **options), state)
    task = asyncio.get_running_loop().create_task(_run(server, sock), name="tuyagate-gateway")
    try:
        async with asyncio.timeout(STARTUP_DEADLINE):
            while not server.started:
                if task.done():
                    break
                await asyncio.sleep(0.01)
    except TimeoutError:
        server.should_exit = True
        raise ConfigError(f"the gateway did not start within {STARTUP_DEADLINE:.0f} s") from None
    if not server.started:
        error = task.exception() if not task.cancelled() else None
        sock.close()
        raise ConfigError(f"the gateway failed to start: {error or 'startup was cancelled'}")
    scheme = "https" if certfile else "http"
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    url = f"{scheme}://{shown}:{bound_port}"
    log.info("gateway listening on %s", url)
    return ServedApp(url=url, host=bound_host, port=bound_port, _server=server, _task=task)


def freeze_startup_heap() -> int:
    """Hide what start-up left alive from the cyclic garbage collector (``gc.freeze``); the count frozen.

    A running gateway holds ~70,000 long-lived objects (FastAPI's routes, pydantic's validators,
    the schemas, the home). Each full collection walked them all: ~50 ms of CPU with the loop
    stopped, several times a minute under load, and the source of the forced-fresh reads' p99
    (BENCHMARKS.md section 12). Frozen, a full collection walks only what was made since: ~0.5 ms.
    Reference counting still frees frozen objects; only cycles among them are never collected,
    which start-up objects do not form once ``gc.collect()`` has run. For long-running servers
    (``tuyagate serve``), called once they are ready; not for processes that start many servers.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


async def _run(server: uvicorn.Server, sock: socket.socket) -> None:
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exc:  # uvicorn exits this way when the app's startup failed
        raise ConfigError(f"the gateway's startup failed (exit {exc.code})") from None
    finally:
        sock.close()
