"""What the HTTP emulators share (cloud, Tasmota/OpenBeken, ESPHome): serving, fault knobs, Basic auth.

``serve_app`` binds a socket itself (so port 0 works), starts uvicorn in a task (with TLS when given
a certificate) and returns once it accepts connections, with the real host/port and a ``stop()``
that closes the socket: after it, connecting is refused, exactly like a device that was unplugged.
:class:`Faults` are the test knobs (slow, failing or garbled answers) the firmware emulators honour
through :func:`fault_response`. Web libraries are imported when used, so the emulators' state modules
stay plain Python.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = [
    "Faults",
    "RunningEmulator",
    "RunningServer",
    "basic_credentials",
    "fault_response",
    "same_secret",
    "serve_app",
]


E = TypeVar("E")


@dataclass(slots=True)
class Faults:
    """Knobs for tests: slow, failing or garbled answers (changeable while the emulator runs)."""

    delay: float = 0.0  # seconds before every answer
    status: int | None = None  # answer this HTTP status instead
    garbage: bool = False  # answer text that is not JSON


async def fault_response(faults: Faults, garbage: str) -> Response | None:
    """Sleep ``delay``, then the injected answer if a fault is set (``garbage`` is the broken body)."""
    from starlette.responses import Response

    if faults.delay:
        await asyncio.sleep(faults.delay)
    if faults.status is not None:
        return Response("fault injected\n", status_code=faults.status, media_type="text/plain")
    if faults.garbage:
        return Response(garbage, media_type="application/json")
    return None


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic`` header, or None."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def same_secret(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode(), b.encode())


@dataclass(slots=True)
class RunningServer:
    """A started server: where it listens and how to stop it."""

    host: str
    port: int
    server: uvicorn.Server
    task: asyncio.Task[None]
    sock: socket.socket
    scheme: str = "http"

    @property
    def url(self) -> str:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)  # where a client connects
        host = f"[{host}]" if ":" in host else host
        return f"{self.scheme}://{host}:{self.port}"

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


class RunningEmulator(Generic[E]):
    """A running firmware emulator: ``url``, the ``emulator`` (state and fault knobs) and ``stop()``."""

    def __init__(self, emulator: E, server: RunningServer) -> None:
        self.emulator = emulator
        self.server = server

    @property
    def url(self) -> str:
        return self.server.url

    def _where(self) -> dict[str, Any]:
        """The address part of the JSON line the emulator's command prints."""
        return {"url": self.url, "host": self.server.host, "port": self.server.port}

    async def stop(self) -> None:
        await self.server.stop()


async def serve_app(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    startup_timeout: float = 10.0,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    websockets: bool = False,
) -> RunningServer:
    """Bind ``host:port`` (0 picks a free port), serve ``app`` and return once it is listening.

    ``websockets`` serves the app's websocket routes too (the cloud's message service); it needs
    the ``websockets`` package."""
    import uvicorn

    class _QuietServer(uvicorn.Server):
        """uvicorn without its own SIGINT/SIGTERM handlers: the caller (a test, the CLI) owns the signals."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

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
        app,
        log_config=None,
        log_level="warning",
        lifespan="off",
        access_log=False,  # request paths may carry refresh tokens and passwords
        timeout_graceful_shutdown=1,
        ws="websockets-sansio" if websockets else "none",
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
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
    scheme = "https" if ssl_certfile else "http"
    return RunningServer(host=real_host, port=real_port, server=server, task=task, sock=sock, scheme=scheme)
