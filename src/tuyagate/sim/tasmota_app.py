"""The HTTP face of the Tasmota/OpenBeken emulator: ``/cm`` (GET and POST) and OpenBeken's ``/api/channels``.

Auth follows the firmware: Tasmota 12+ takes HTTP Basic or ``user``/``password`` query parameters and
answers a miss with HTTP 401 and ``{"WARNING":"Need user=<username>&password=<password>"}``; legacy
Tasmota only reads the query and answers the same warning with HTTP 200; OpenBeken takes Basic auth
(user ``admin``) and answers a miss with an empty HTTP 401 and ``WWW-Authenticate``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tuyagate.sim.http_server import (
    Faults,
    RunningEmulator,
    basic_credentials,
    fault_response,
    same_secret,
    serve_app,
)
from tuyagate.sim.tasmota import TasmotaConfig, TasmotaEmulator

__all__ = ["TasmotaSim", "create_app", "start_tasmota"]

NEED_AUTH = {"WARNING": "Need user=<username>&password=<password>"}


def _json(doc: Any, status: int = 200) -> Response:
    return Response(json.dumps(doc, separators=(",", ":")), status_code=status, media_type="application/json")


def create_app(emulator: TasmotaEmulator) -> Starlette:
    """The ASGI app of one emulated device; all state lives on ``emulator``."""
    config = emulator.config

    def authorized(request: Request, args: dict[str, str]) -> bool:
        if not config.password:
            return True
        if not (config.legacy and not emulator.obk):
            creds = basic_credentials(request)
            if creds is not None and same_secret(creds[0], config.user) and same_secret(creds[1], config.password):
                return True
        if emulator.obk:
            return False
        return same_secret(args.get("user", ""), config.user) and same_secret(args.get("password", ""), config.password)

    async def faulty() -> Response | None:
        return await fault_response(emulator.faults, '<html><body>{"POWER":')

    async def cm(request: Request) -> Response:
        args = dict(request.query_params)
        if request.method == "POST":  # a form body (cmnd=...), parsed here: no multipart library needed
            body = (await request.body()).decode("utf-8", "replace")
            args.update({k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()})
        if (fault := await faulty()) is not None:
            return fault
        if not authorized(request, args):
            if emulator.obk:
                return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="OpenBeken HTTP Server"'})
            return _json(NEED_AUTH, 200 if config.legacy else 401)
        command = args.get("cmnd", "").strip()
        if not command:
            return (
                Response(b"", media_type="application/json")
                if emulator.obk
                else _json({"WARNING": "Enter command cmnd="})
            )
        answer = emulator.execute(command)
        if answer is None:  # Backlog: the firmware answers before the commands' results exist
            legacy = config.legacy and not emulator.obk
            return _json({"WARNING": "Enable weblog 2 if response expected"} if legacy else {})
        return _json(answer)

    async def channels(request: Request) -> Response:
        if (fault := await faulty()) is not None:
            return fault
        if not authorized(request, {}):
            return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="OpenBeken HTTP Server"'})
        return _json(emulator.channels())

    routes = [Route("/cm", cm, methods=["GET", "POST"])]
    if emulator.obk:
        routes.append(Route("/api/channels", channels, methods=["GET"]))
    return Starlette(routes=routes)


class TasmotaSim(RunningEmulator[TasmotaEmulator]):
    """A running Tasmota (or OpenBeken) emulator."""

    def info(self) -> dict[str, Any]:
        """The JSON line ``tuyagate sim tasmota`` prints (never the password)."""
        cfg = self.emulator.config
        return {
            **self._where(),
            "backend": cfg.mode,
            "relays": cfg.relays,
            "light": cfg.light,
            "energy": cfg.energy,
            "legacy": cfg.legacy,
            "auth": bool(cfg.password),
            "user": cfg.user if cfg.password else None,
        }


async def start_tasmota(
    config: TasmotaConfig | None = None, *, host: str = "127.0.0.1", port: int = 0, faults: Faults | None = None
) -> TasmotaSim:
    """Start an emulated Tasmota (or OpenBeken, by ``config.mode``) on ``host:port``."""
    emulator = TasmotaEmulator(config=config or TasmotaConfig(), faults=faults or Faults())
    server = await serve_app(create_app(emulator), host, port)
    return TasmotaSim(emulator, server)
