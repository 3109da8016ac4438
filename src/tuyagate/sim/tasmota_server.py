"""Serve an ASGI app with uvicorn on a socket we bind ourselves (so port 0 works), for the emulators.

``serve_app`` binds, starts uvicorn in a task and returns once it accepts connections, with the real
host/port and a ``stop()`` that closes the socket: after it, connecting is refused, exactly like a
device that was unplugged.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

__all__ = ["RunningServer", "serve_app"]


class _QuietServer(uvicorn.Server):
    """uvicorn without its own SIGINT/SIGTERM handlers: the caller (a test, the CLI) owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(slots=True)
class RunningServer:
    """A started server: where it listens and how to stop it."""

    host: str
    port: int
    server: uvicorn.Server
    task: asyncio.Task[None]
    sock: socket.socket
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop accepting, end open connections (event streams included) within about a second."""
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout=2.0)
        except TimeoutError:
            self.server.force_exit = True
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        with contextlib.suppress(OSError):
            self.sock.close()


async def serve_app(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, startup_timeout: float = 10.0
) -> RunningServer:
    """Bind ``host:port`` (0 picks a free port), serve ``app`` and return once it is listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every answer (headers and body written apart) waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=1, ws="none"
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(startup_timeout):
        while not server.started:
            if task.done():
                task.result()  # raises the start-up error
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
    real_host, real_port = sock.getsockname()[:2]
    return RunningServer(host=real_host, port=real_port, server=server, task=task, sock=sock)
