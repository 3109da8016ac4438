"""Tasmota-compatible HTTP API: ``GET /tasmota/{device}/cm?cmnd=Power%20On``.

Tasmota's web API authenticates with ``user`` and ``password`` query parameters; here the password
is an API token (the user name is ignored), and a bearer header works too. The answers are
Tasmota-shaped JSON; refusals of credentials use Tasmota's own ``WARNING`` text so Tasmota tools
show something sensible. Device failures still answer 502/504 with the gateway's error shape.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from typing_extensions import TypedDict

from tuyagate.deadline import Deadline
from tuyagate.device_api import Device
from tuyagate.gateway.auth import Scope
from tuyagate.gateway.endpoints import Endpoints, path_param, query
from tuyagate.gateway.errors import ApiError
from tuyagate.gateway.guard import bearer_token, client_ip
from tuyagate.gateway.serialize import json_response
from tuyagate.gateway.state import GatewayState
from tuyagate.gateway.tasmota_commands import KNOWN, LightModel, TasmotaCommand, parse_command, plan, render

__all__ = ["router"]

MAX_BACKLOG = 30
TasmotaAnswer = dict[str, Any]  # Tasmota's JSON: {"POWER": "ON"}, {"Dimmer": 40, ...}, {"Command": "Unknown"}


class NeedAuth(TypedDict):
    WARNING: str


_NEED_AUTH: NeedAuth = {"WARNING": "Need user=<username>&password=<password>"}

router = Endpoints(tags=("tasmota",))


def _authorize(request: Request, gw: GatewayState, password: str | None, need: Scope) -> Response | None:
    token = password or bearer_token(request)
    try:
        gw.guard.check(client_ip(request), token, need)
    except ApiError as exc:
        if exc.status == 401:
            return json_response(NeedAuth, _NEED_AUTH, status=401)
        raise
    return None


async def _run(
    gw: GatewayState, device: Device, model: LightModel, cmd: TasmotaCommand, deadline: Deadline
) -> dict[str, Any]:
    state = await gw.read(device, refresh=False, deadline=deadline)
    values = dict(state.values)
    result = plan(model, cmd, values)
    if result.changes:
        await gw.command(device, result.changes, deadline=deadline)
        values.update(result.changes)
    info = {"id": device.info.id, "name": device.info.name, "backend": device.info.backend, "ip": device.info.ip}
    return render(model, result, values, info)


def _needs_control(commands: list[TasmotaCommand]) -> bool:
    return any(c.arg and c.name not in ("status", "state") for c in commands)


@router.get(
    "/tasmota/{device_id}/cm",
    summary="Tasmota web command (Power, Dimmer, CT, HSBColor, Color, Status, State, Backlog)",
    description=(
        "Runs a Tasmota command against a Tuya device, e.g. `cmnd=Power1 TOGGLE`, `cmnd=Dimmer 40`, "
        "`cmnd=Backlog Power On;CT 300`. When API tokens are in use, pass one as `password`."
    ),
    params=(
        path_param("device_id", "device id or name", max_length=128),
        query("cmnd", "the Tasmota command", default="", max_length=1000),
        query("user", "ignored; Tasmota clients send it", max_length=64),
        query("password", "an API token", max_length=256),
    ),
    response=TasmotaAnswer,
    example={"POWER": "ON"},
    errors={
        401: ("no or an unknown API token, answered as Tasmota does", NeedAuth),
        403: "the API token has only the read scope",
        404: "unknown device",
        422: "a malformed parameter, or a value the device's DP schema refuses",
        502: "the device answered with an error, refused our credentials, or was unreachable",
        504: "the device did not answer before the deadline",
    },
)
async def tasmota_command(
    gw: GatewayState, request: Request, device_id: str, cmnd: str, user: str | None, password: str | None
) -> TasmotaAnswer | Response:
    first = parse_command(cmnd)
    if first.name == "backlog":
        commands = [parse_command(part) for part in first.arg.split(";") if part.strip()][:MAX_BACKLOG]
    else:
        commands = [first]
    refusal = _authorize(request, gw, password, "control" if _needs_control(commands) else "read")
    if refusal is not None:
        return refusal
    device = gw.manager.device(device_id)
    model = LightModel.from_schema(device.schema_dict())
    deadline = gw.deadline()  # one for the whole request, a Backlog's commands included
    if first.name == "backlog":
        for cmd in commands:
            if cmd.name in KNOWN and cmd.name != "backlog":
                await _run(gw, device, model, cmd, deadline)
        # Tasmota clears the response of a Backlog; this is the answer its web API gives.
        return {"WARNING": "Enable weblog 2 if response expected"}
    if first.name not in KNOWN:
        return {"Command": "Unknown"}
    return await _run(gw, device, model, first, deadline)
