"""The CLI on a running gateway: ``status``, ``set`` and ``watch`` by name go through it, and commands
that change the registry (``devices add/remove/import``, ``cloud sync``) tell it to reload.

A Tuya device serves one local client at a time. While ``tuyagate serve`` or ``tuyagate demo``
holds the devices' connections, a second connection from the CLI would take a device away from
the gateway (or be turned away), and ``watch`` would print disconnects. So a running gateway
leaves a small runtime file in its data directory, ``gateway.json`` (its URL and PID, mode 0600,
removed on a clean shutdown), and the CLI's named commands talk to that gateway's native API
instead. A file whose PID no longer runs is left from a crash and ignored. When the gateway
requires API tokens the CLI sends ``$TUYAGATE_TOKEN``; without one it says so.

After a registry change, :func:`tell_gateway` asks the running gateway to serve the registry as it
is now (``POST /api/v1/reload``), so a device added, removed or edited from the shell is served, or
no longer served, at once; it prints what changed on stderr (stdout stays the command's output).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tuyagate.errors import (
    ConfigError,
    DeviceAsleepError,
    NotFoundError,
    TuyaAuthError,
    TuyaConnectionError,
    TuyaError,
    TuyaTimeoutError,
    ValidationError,
)

__all__ = [
    "RUNTIME_FILE",
    "TOKEN_ENV",
    "GatewayClient",
    "RunningGateway",
    "find_gateway",
    "reload_gateway",
    "remove_runtime_file",
    "tell_gateway",
    "write_runtime_file",
]

RUNTIME_FILE = "gateway.json"
TOKEN_ENV = "TUYAGATE_TOKEN"
# Error codes of the native API and the library error each stands for, so the CLI's one-line
# error and exit code are the same whether it went through a gateway or not.
_ERRORS: dict[str, type[TuyaError]] = {
    "not_found": NotFoundError,
    "unknown_dp": ValidationError,
    "invalid_value": ValidationError,
    "invalid_request": ValidationError,
    "bad_request": ConfigError,
    "device_asleep": DeviceAsleepError,
    "timeout": TuyaTimeoutError,
    "key_mismatch": TuyaAuthError,
    "auth_failed": TuyaAuthError,
    "device_unreachable": TuyaConnectionError,
}


@dataclass(frozen=True, slots=True)
class RunningGateway:
    """A gateway found from its runtime file."""

    url: str
    pid: int
    started_at: float


def write_runtime_file(data_dir: str | Path, url: str) -> Path:
    """Say that this process serves ``data_dir``'s devices at ``url`` (atomically, mode 0600)."""
    directory = Path(data_dir)
    path = directory / RUNTIME_FILE
    tmp = directory / f".{RUNTIME_FILE}.{os.getpid()}"
    body = json.dumps({"url": url, "pid": os.getpid(), "started_at": time.time()})
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(body + "\n")
    os.replace(tmp, path)
    return path


def remove_runtime_file(data_dir: str | Path) -> None:
    """Remove the runtime file if this process wrote it (another gateway's is left alone)."""
    path = Path(data_dir) / RUNTIME_FILE
    found = _read(path)
    if found is not None and found.pid == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def find_gateway(data_dir: str | Path) -> RunningGateway | None:
    """The gateway serving ``data_dir`` now, or None (no file, a broken one, or its process is gone)."""
    found = _read(Path(data_dir) / RUNTIME_FILE)
    if found is None or not _alive(found.pid):
        return None
    return found


def _read(path: Path) -> RunningGateway | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        url, pid = raw["url"], raw["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or not isinstance(pid, int):
        return None
    started = raw.get("started_at")
    return RunningGateway(url.rstrip("/"), pid, float(started) if isinstance(started, int | float) else 0.0)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


class GatewayClient:
    """The few native-API calls the CLI needs: a device's status, a command, its event stream."""

    def __init__(self, gateway: RunningGateway, *, timeout: float, token: str | None = None) -> None:
        import httpx

        self.url = gateway.url
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout + 2.0)
        self._token = token

    def __repr__(self) -> str:  # never shows the token
        return f"GatewayClient({self.url!r})"

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def device(self, name: str) -> dict[str, Any]:
        return await self._call("GET", f"/api/v1/devices/{_seg(name)}")

    async def status(self, name: str, *, refresh: bool = True) -> dict[str, Any]:
        params = {"refresh": "true" if refresh else "false"}
        return await self._call("GET", f"/api/v1/devices/{_seg(name)}/status", params=params)

    async def set(self, name: str, values: Mapping[str, Any]) -> dict[str, Any]:
        return await self._call("POST", f"/api/v1/devices/{_seg(name)}/commands", json={"dps": dict(values)})

    async def reload(self) -> dict[str, Any]:
        """Make the gateway serve the registry as it is now; what it ``added``, ``removed`` and ``replaced``."""
        return await self._call("POST", "/api/v1/reload")

    async def events(self, device_id: str) -> AsyncIterator[dict[str, Any]]:
        """The device's SSE events as dicts (``kind``, ``values``, ``route``, ...), until the stream ends."""
        import httpx

        try:
            async with self._http.stream(
                "GET", "/api/v1/events", params={"device": device_id}, timeout=httpx.Timeout(10.0, read=None)
            ) as answer:
                if answer.status_code != 200:
                    await answer.aread()
                    raise self._error(answer.status_code, answer.content)
                async for line in answer.aiter_lines():
                    if line.startswith("data:"):
                        yield json.loads(line[5:].strip())
        except httpx.TransportError as exc:
            raise TuyaConnectionError(f"the gateway at {self.url} went away: {exc}") from None

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        import httpx

        try:
            answer = await self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise TuyaTimeoutError(f"the gateway at {self.url} did not answer in time") from None
        except httpx.TransportError as exc:
            raise TuyaConnectionError(f"cannot reach the gateway at {self.url}: {exc}") from None
        if answer.status_code >= 400:
            raise self._error(answer.status_code, answer.content)
        body: dict[str, Any] = answer.json()
        return body

    def _error(self, status: int, content: bytes) -> TuyaError:
        try:
            error = json.loads(content)["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            code, message = "", f"HTTP {status}"
        if status == 401:
            hint = f"set ${TOKEN_ENV} to a token" if not self._token else f"${TOKEN_ENV} was refused"
            return ConfigError(
                f"the gateway at {self.url} requires an API token: {hint} (tuyagate tokens create --name cli)"
            )
        if status == 403:
            return ConfigError(f"the gateway at {self.url} refused: {message} (the token needs the control scope)")
        return _ERRORS.get(code, TuyaError)(f"{message} (through the gateway at {self.url})")


def _seg(name: str) -> str:
    return quote(name, safe="")


def tell_gateway(data_dir: str | Path | None, *, timeout: float = 10.0) -> dict[str, Any] | None:
    """:func:`reload_gateway` for a command that runs no event loop of its own."""
    return asyncio.run(reload_gateway(data_dir, timeout=timeout))


async def reload_gateway(data_dir: str | Path | None, *, timeout: float = 10.0) -> dict[str, Any] | None:
    """Ask the gateway serving ``data_dir`` (if one runs) to reload its registry; print what changed.

    Returns the gateway's answer, or None when no gateway runs or it could not be told (then a
    note on stderr says how to apply the change). Never raises: the registry change itself is done.
    """
    from tuyagate.devices import paths

    found = find_gateway(paths.data_dir(data_dir, create=False))
    if found is None:
        return None
    try:
        async with GatewayClient(found, timeout=timeout, token=os.environ.get(TOKEN_ENV) or None) as client:
            answer = await client.reload()
    except TuyaError as exc:
        print(
            f"note: the gateway at {found.url} was not told ({exc}); it serves the change after "
            "`POST /api/v1/reload` or a restart",
            file=sys.stderr,
        )
        return None
    parts = [f"{len(answer.get(k) or [])} {k}" for k in ("added", "removed", "replaced") if answer.get(k)]
    print(f"the gateway at {found.url} serves it now ({', '.join(parts) or 'no device changed'})", file=sys.stderr)
    for device_id, reason in (answer.get("errors") or {}).items():
        print(f"warning: the gateway cannot serve {device_id}: {reason}", file=sys.stderr)
    return answer
