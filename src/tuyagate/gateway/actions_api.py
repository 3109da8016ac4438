"""Actions: scan the LAN for devices, sync devices from the Tuya cloud, reload the registry.

Both take seconds, so each answer is a stream of JSON lines (``application/x-ndjson``) that shows
progress while the work runs and ends with the result::

    {"type": "progress", "done": 2.0, "total": 8.0, "message": "listening on UDP 6666, 6667, 7000"}
    {"type": "result", "scan": {"devices": [...], "new": 1}}

or ends with ``{"type": "error", "error": {"code", "message"}}`` when the work failed half-way (the
status was already sent). One of each runs at a time (409 ``busy`` otherwise). The scan is
``tuyagate scan`` with the gateway's ``scan_*`` settings (where to listen, where to send the 3.5
probe); the sync is ``tuyagate cloud sync`` with the home's cloud login. What a sync changes is served at
once: the home reloads its registry (:meth:`tuyagate.devices.hub.Home.reload`) and the result's ``home``
says which devices it added, removed and replaced. ``POST /api/v1/reload`` does only that reload, for
whoever changed the registry beside the gateway (``tuyagate devices add/remove/import`` call it when a
gateway runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import StreamingResponse
from typing_extensions import TypedDict  # pydantic reads TypedDicts from typing_extensions before 3.12

from tuyagate.cloud.client import TuyaCloudClient
from tuyagate.device_api import DeviceManager
from tuyagate.devices.cloud_login import cloud_source_for, login_kind
from tuyagate.devices.hub import Home
from tuyagate.errors import ConfigError, TuyaError
from tuyagate.gateway.endpoints import Endpoints
from tuyagate.gateway.errors import ApiError, status_for
from tuyagate.gateway.settings import GatewaySettings
from tuyagate.gateway.state import GatewayState

__all__ = ["Actions", "ReloadOut", "ScanIn", "router"]

log = logging.getLogger(__name__)
NDJSON = "application/x-ndjson"
TICK = 0.25  # seconds between progress lines while listening
Line = dict[str, Any]


class ScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(default=8.0, ge=0.5, le=60.0, description="how long to listen")


class ReloadOut(TypedDict):
    added: list[str]
    removed: list[str]
    replaced: list[str]
    errors: Annotated[dict[str, str], Field(description="device id -> why its record cannot be served")]


def _line(payload: Line) -> bytes:
    return json.dumps(payload, separators=(",", ":"), default=str).encode() + b"\n"


class Actions:
    """The running actions of one gateway (at most one of each kind)."""

    def __init__(self, settings: GatewaySettings, manager: DeviceManager) -> None:
        self.settings = settings
        self.manager = manager
        self._scan = asyncio.Lock()
        self._sync = asyncio.Lock()

    def cloud_sync_available(self) -> bool:
        """A cloud login the sync can read: the registry's stored one, or the home's developer client."""
        home = self.manager
        if not isinstance(home, Home) or home.registry is None:
            return False
        return login_kind(home.registry) is not None or isinstance(home.cloud, TuyaCloudClient)

    # ---------------------------------------------------------------- scan

    async def scan(self, seconds: float) -> AsyncIterator[bytes]:
        from tuyagate.lan.scanner import scan

        ports = self.settings.scan_port_list
        probe = self.settings.scan_probe_targets
        known = {d.info.id: d.info.name for d in self.manager.devices()}
        where = ", ".join(str(p) for p in ports)
        message = f"listening on UDP {where} of {self.settings.scan_listen}" + (
            f", probing {', '.join(f'{h}:{p}' for h, p in probe)}" if probe else ""
        )

        async def work() -> Line:
            found = await scan(seconds, listen_host=self.settings.scan_listen, ports=ports, probe_to=probe)
            devices = [
                {**d.as_dict(), "known": d.device_id in known, "name": known.get(d.device_id)} for d in found.devices
            ]
            new = sum(1 for d in devices if not d["known"])
            return {"devices": devices, "new": new, "listened": found.ports, "unidentified": found.unidentified}

        async for line in _with_progress(self._scan, "scan", work, seconds, message):
            yield line

    # ---------------------------------------------------------------- cloud sync

    async def cloud_sync(self) -> AsyncIterator[bytes]:
        from tuyagate.devices.cloud_sync import summarize, sync_from_cloud
        from tuyagate.devices.vault import Vault

        home = self.manager
        if not isinstance(home, Home) or home.registry is None or not self.cloud_sync_available():
            message = "no cloud login: run `tuyagate cloud login` (or `--app`) first"
            raise ApiError(409, "no_cloud_login", message)
        registry = home.registry
        progress: asyncio.Queue[Line] = asyncio.Queue()

        def report(done: int, total: int, name: str) -> None:
            progress.put_nowait({"type": "progress", "done": done, "total": total, "message": f"schema of {name}"})

        async def work() -> Line:
            vault = Vault.open(registry.db, registry.db.path.parent)
            # The stored login, read as `tuyagate cloud sync` reads it (a client of its own, closed
            # after); a home given a developer client without a stored login syncs through that one.
            source = cloud_source_for(registry, vault)
            if source is not None:
                async with contextlib.AsyncExitStack() as stack:
                    stack.push_async_callback(source.aclose)
                    result = await sync_from_cloud(source, registry, vault, progress=report)
            elif isinstance(home.cloud, TuyaCloudClient):
                result = await sync_from_cloud(home.cloud, registry, vault, progress=report)
            else:
                raise ConfigError("the cloud login is gone: run `tuyagate cloud login`")
            applied = await home.reload()  # what the sync changed is served at once
            summary = summarize(result)
            if applied:
                summary += "; " + _applied(applied.to_dict())
            return {**result.to_dict(), "summary": summary, "home": applied.to_dict()}

        async for line in _with_progress(
            self._sync, "cloud_sync", work, None, "reading the cloud's device list", progress
        ):
            yield line

    # ---------------------------------------------------------------- reload

    async def reload(self) -> ReloadOut:
        home = self.manager
        if not isinstance(home, Home) or home.registry is None:
            raise ApiError(409, "no_registry", "this gateway's devices do not come from a registry")
        result = await home.reload()
        if result:
            log.info("reloaded the registry: %s", _applied(result.to_dict()))
        return {
            "added": list(result.added),
            "removed": list(result.removed),
            "replaced": list(result.replaced),
            "errors": dict(result.errors),
        }


def _applied(result: dict[str, Any]) -> str:
    """``2 added, 1 replaced`` (what a reload changed)."""
    parts = [f"{len(result[k])} {k}" for k in ("added", "removed", "replaced") if result[k]]
    return ", ".join(parts) or "no device changed"


async def _with_progress(
    lock: asyncio.Lock,
    kind: str,
    work: Callable[[], Coroutine[Any, Any, Line]],
    seconds: float | None,
    message: str,
    progress: asyncio.Queue[Line] | None = None,
) -> AsyncIterator[bytes]:
    """Run ``work`` under ``lock``, yielding progress lines (timed ticks, or ``progress``'s) and the result."""
    if lock.locked():
        raise ApiError(409, "busy", f"a {kind.replace('_', ' ')} is already running")
    async with lock:
        loop = asyncio.get_running_loop()
        started = loop.time()
        task = asyncio.create_task(work(), name=f"tuyagate-{kind}")
        try:
            yield _line({"type": "progress", "done": 0, "total": seconds, "message": message})
            while not task.done():
                if progress is None:
                    await asyncio.wait({task}, timeout=TICK)
                    if not task.done():
                        elapsed = round(min(loop.time() - started, seconds or 0.0), 2)
                        yield _line({"type": "progress", "done": elapsed, "total": seconds, "message": message})
                    continue
                waiter = asyncio.ensure_future(progress.get())
                await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
                if waiter.done():
                    yield _line(waiter.result())
                else:
                    waiter.cancel()
            try:
                result = task.result()
            except TuyaError as exc:
                status, code = status_for(exc)
                log.warning("%s failed: %s", kind, exc)
                yield _line({"type": "error", "status": status, "error": {"code": code, "message": str(exc)}})
                return
            yield _line({"type": "result", kind: result})
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


def _stream(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(body, media_type=NDJSON, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _first(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Start ``stream`` now, so that refusals (409) become HTTP errors before the 200 is sent."""
    first = await anext(stream)

    async def rest() -> AsyncIterator[bytes]:
        yield first
        async for chunk in stream:
            yield chunk

    return rest()


def _actions(gw: GatewayState) -> Actions:
    actions = gw.actions
    if not isinstance(actions, Actions):
        raise ApiError(503, "unavailable", "this gateway runs no actions")
    return actions


router = Endpoints(tags=("dashboard",))
ACTION_ERRORS = {409: "the same action is already running, or (sync) there is no cloud login"}
RELOAD_ERRORS = {409: "this gateway's devices do not come from a registry"}


@router.post(
    "/api/v1/scan",
    summary="Scan the LAN for devices (UDP discovery); progress and result as JSON lines",
    body=ScanIn,
    response=str,
    media_type=NDJSON,
    errors=ACTION_ERRORS,
    scope="control",
)
async def post_scan(gw: GatewayState, request: Request, body: ScanIn) -> StreamingResponse:
    return _stream(await _first(_actions(gw).scan(body.seconds)))


@router.post(
    "/api/v1/cloud/sync",
    summary="Sync devices, keys and DP schemas from the Tuya cloud and serve them at once; progress and result "
    "as JSON lines (the result's `home` lists the device ids added, removed and replaced)",
    response=str,
    media_type=NDJSON,
    errors=ACTION_ERRORS,
    scope="control",
)
async def post_cloud_sync(gw: GatewayState, request: Request) -> StreamingResponse:
    return _stream(await _first(_actions(gw).cloud_sync()))


@router.post(
    "/api/v1/reload",
    summary="Serve the registry as it is now: add new devices, remove vanished ones, rebuild changed ones",
    description=(
        "For a registry changed beside the running gateway (`tuyagate devices add/remove/import` call it). "
        "Unchanged devices keep their connections; a rebuilt one keeps its id, so event streams follow it. "
        "`added`/`removed`/`replaced` list device ids; `errors` the records that cannot be served, and why."
    ),
    response=ReloadOut,
    errors=RELOAD_ERRORS,
    scope="control",
    tags=("devices",),
)
async def post_reload(gw: GatewayState, request: Request) -> ReloadOut:
    return await _actions(gw).reload()
