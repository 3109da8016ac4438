"""The app factory: ``create_app(settings, manager)`` builds one gateway web app.

Everything the app needs (settings, device manager, metrics, token store, event streams) hangs off
``app.state.gateway``; there are no module globals, so tests and ``tuyagate demo`` can run several
gateways in one process. The app starts and stops the device manager with its lifespan unless told
that someone else owns it.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Protocol

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.routing import BaseRoute

from tuyagate import __version__
from tuyagate.device_api import DeviceManager
from tuyagate.devices.history import History, HistorySettings
from tuyagate.devices.hub import Home
from tuyagate.gateway import (
    actions_api,
    cloud_compat,
    events_api,
    home_api,
    native_api,
    postman,
    tasmota_compat,
    web_ui,
)
from tuyagate.gateway.actions_api import Actions
from tuyagate.gateway.auth import JsonTokenStore, TokenStore
from tuyagate.gateway.browser_guard import BrowserGuard
from tuyagate.gateway.cloud_tokens import CloudTokens
from tuyagate.gateway.endpoints import install_openapi
from tuyagate.gateway.errors import install_error_handlers
from tuyagate.gateway.events_api import EventStreams
from tuyagate.gateway.front_door import FrontDoor
from tuyagate.gateway.guard import Guard
from tuyagate.gateway.limits import RequestLimits
from tuyagate.gateway.metrics import Metrics
from tuyagate.gateway.recorder import RecentEvents, Recorder
from tuyagate.gateway.settings import GatewaySettings
from tuyagate.gateway.state import GatewayState

__all__ = ["create_app"]

log = logging.getLogger(__name__)

DOCS_ASSETS = "/docs-assets"  # where /docs loads their scripts and styles from

DESCRIPTION = """A fast, local HTTP API for Tuya devices.

* **Native API** under `/api/v1`: devices, status, commands, Server-Sent Events.
* **Tuya-cloud-compatible API** under `/v1.0`: the Tuya OpenAPI paths, signing and envelope, answered locally.
* **Tasmota-compatible API** under `/tasmota/{device}/cm?cmnd=...`.

Errors are `{"error": {"code", "message"}}`: 4xx when the request is wrong, 502 when the device or cloud
failed, 504 when it did not answer in time. When API tokens are in use, send `Authorization: Bearer <token>`.
"""


class _Routes(Protocol):
    @property
    def routes(self) -> Iterable[BaseRoute]: ...


def _mount(app: FastAPI, router: _Routes) -> None:
    """Add a router's routes (declared endpoints, or a FastAPI router's) to the app as they are.

    Equivalent to ``include_router`` for routers without prefix or shared dependencies (ours), but
    recent FastAPI wraps included routers in a route group that costs more per request than a cached
    status read itself (measured: ~350 -> ~200 us per request in-process).
    """
    app.router.routes.extend(router.routes)


def default_history(settings: GatewaySettings, manager: DeviceManager) -> History | None:
    """The history in the home's registry database (None: no registry, or ``history_days = 0``)."""
    if settings.history_days <= 0 or not isinstance(manager, Home) or manager.registry is None:
        return None
    bounds = HistorySettings(
        retention=settings.history_days * 86400.0,
        resolution=settings.history_resolution,
        max_points=settings.history_max_points,
    )
    return History(manager.registry.db, bounds)


def create_app(
    settings: GatewaySettings,
    manager: DeviceManager,
    *,
    token_store: TokenStore | None = None,
    manage_manager: bool = True,
    history: History | None = None,
) -> FastAPI:
    """Build the gateway for ``manager``'s devices.

    ``token_store`` defaults to the JSON file in ``settings.data_dir``. With ``manage_manager`` the
    app calls ``manager.start()`` on start-up and ``manager.close()`` on shutdown. ``history``
    defaults to one in the home's registry database (see :func:`default_history`).
    """
    metrics = Metrics()
    tokens = token_store if token_store is not None else JsonTokenStore(settings.tokens_file)
    streams = EventStreams(manager, metrics, queue_size=settings.sse_queue_size, max_clients=settings.sse_max_clients)
    state = GatewayState(
        settings=settings,
        manager=manager,
        metrics=metrics,
        streams=streams,
        guard=Guard(settings, tokens, metrics),
        tokens=tokens,
        cloud_tokens=CloudTokens(settings.cloud_token_ttl) if settings.cloud_compat_enabled else None,
        recorder=Recorder(manager, history or default_history(settings, manager), RecentEvents()),
        actions=Actions(settings, manager),
    )
    recorder = state.recorder
    assert recorder is not None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_manager:
            await manager.start()
        recorder.start()
        metrics.loop_lag.start()
        log.info("gateway ready with %d devices", len(manager.devices()))
        try:
            yield
        finally:
            metrics.loop_lag.stop()
            streams.close_streams()
            await recorder.stop()
            if manage_manager:
                await manager.close()

    # FastAPIOffline: /docs loads Swagger UI from assets shipped in the fastapi-offline package, so
    # the explorer works on a LAN cut off from the internet. No /redoc: ReDoc fetches its logo from
    # its CDN (the browser test caught it).
    app = FastAPIOffline(
        redoc_url=None,
        static_url=DOCS_ASSETS,
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from the online validator
        title="tuyagate",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        **telemetry_options(os.environ),
        openapi_tags=[
            {"name": "devices", "description": "The native REST API."},
            {"name": "events", "description": "Live state changes as Server-Sent Events."},
            {"name": "tuya-cloud-compatible", "description": "The Tuya OpenAPI, answered locally."},
            {"name": "tasmota", "description": "Tasmota's web command API for stock Tuya devices."},
            {"name": "dashboard", "description": "What the dashboard at / reads and starts."},
            {"name": "gateway", "description": "Health and metrics."},
        ],
    )
    app.state.gateway = state
    install_error_handlers(app)
    install_openapi(app)
    for router in (
        native_api.router,
        home_api.router,
        actions_api.router,
        postman.router,
        events_api.router,
        cloud_compat.router,
        tasmota_compat.router,
    ):
        _mount(app, router)
    app.router.routes.extend(web_ui.routes())
    # The front door is the stack's outermost layer (Starlette builds the stack on the first request
    # unless it is there already): the limits, the browser guard, the metrics, and the declared endpoints.
    limits = RequestLimits(
        max_bytes=settings.max_body_bytes,
        rate=settings.rate_limit,
        burst=settings.rate_limit_burst,
        rate_loopback=settings.rate_limit_loopback,
    )
    app.middleware_stack = FrontDoor(
        app.build_middleware_stack(),
        routes=list(app.router.routes),
        limits=limits,
        browser=BrowserGuard(state.guard),
        metrics=metrics,
    )
    return app


def telemetry_options(environ: Mapping[str, str]) -> dict[str, Any]:
    """FastAPI's native OpenTelemetry, off unless the environment asks for OpenTelemetry.

    FastAPI 0.16x checks on every request whether a tracer, meter or logger provider is configured,
    reading ``os.environ`` three times (~5 % of a cached read's CPU). tuyagate exports its own
    metrics (``/metrics``); whoever configures OpenTelemetry (any ``OTEL_*`` variable, or
    ``FASTAPI_OTEL_AUTO_CONFIGURE``) keeps FastAPI's default. Older FastAPI has no such option.
    """
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    if "FASTAPI_OTEL_AUTO_CONFIGURE" in environ or any(name.startswith("OTEL_") for name in environ):
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
