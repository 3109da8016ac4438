"""Emulator controls that change the account itself: pair a device into it, remove one from it.

``POST /_sim/devices`` with ``{"device": {...}}`` (a fleet manifest device) pairs a device into
the account, as the app does, and publishes ``bindUser``; ``DELETE /_sim/devices/{id}`` removes
one and publishes ``delete``. Both go out on the message service and the app MQ (on the home's
topic there, as a client cannot follow a device it does not know yet).
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tuyagate.sim.cloud_state import CloudState
from tuyagate.sim.manifest import ManifestDevice

__all__ = ["account_routes"]


async def pair_device(request: Request) -> Response:
    state: CloudState = request.app.state.cloud
    try:
        body = json.loads(await request.body() or b"{}")
        if not isinstance(body, dict) or not isinstance(body.get("device"), dict):
            raise ValueError('give {"device": {...}} (a fleet manifest device)')
        device = ManifestDevice.from_dict(body["device"])
        state.fleet.add(device)
    except (ValueError, KeyError, TypeError) as exc:
        return JSONResponse({"error": f"bad device: {exc}"}, status_code=400)
    published = state.report_event(device, "bindUser", {"name": device.name})
    return JSONResponse({"published": [published]}, status_code=201)


async def remove_device(request: Request) -> Response:
    state: CloudState = request.app.state.cloud
    device = state.fleet.get(request.path_params["device_id"])
    if device is None:
        return JSONResponse({"error": "no such device"}, status_code=404)
    published = state.report_event(device, "delete")  # published while the device is still known
    state.fleet.remove(device.id)
    return JSONResponse({"published": [published]})


def account_routes() -> list[Route]:
    return [
        Route("/_sim/devices", pair_device, methods=["POST"]),
        Route("/_sim/devices/{device_id}", remove_device, methods=["DELETE"]),
    ]
