"""Set-topic payloads to validated commands, and their outcomes to result payloads.

A message on ``<prefix>/<device_id>/set`` is JSON in one of three shapes, the two the HTTP API accepts
and the flat one that is handiest on MQTT:

- ``{"switch_1": true, "bright_value_v2": 500}``: values by code (or DP id);
- ``{"commands": [{"code": "switch_1", "value": true}]}``: the Tuya cloud shape, optionally with an
  ``"id"`` that the result echoes so a caller can match answers to questions;
- ``{"dps": {"1": true}}``: raw DP ids.

The values then go through :meth:`Device.set`, which validates them against the DP schema exactly as
for an HTTP command. The outcome is published on ``<prefix>/<device_id>/result``:
``{"ok": true, "route": "lan", "fallback": false, "dps": {...}}`` or
``{"ok": false, "error": {"code": "invalid_value", "message": "..."}}``, with the same stable error
codes as the HTTP API's ``{"error": {...}}`` bodies.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from tuyagate.deadline import Deadline
from tuyagate.device_api import Device
from tuyagate.error_codes import code_for
from tuyagate.errors import (
    TuyaError,
)

__all__ = ["MAX_COMMANDS", "MAX_PAYLOAD", "CommandError", "error_code", "failure", "parse_command", "run_command"]

MAX_PAYLOAD = 64 * 1024  # as the HTTP API's body limit
MAX_COMMANDS = 64
MAX_CODE = 64
MAX_ID = 128
_GRACE = 0.5  # seconds past a command's deadline before the bridge stops waiting for a device that ignores it


class CommandError(Exception):
    """A set-topic payload that is not a command at all (the HTTP API's 400/413/422 before any device call)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_code(exc: TuyaError) -> str:
    """The stable code of a device call's failure, the same as the HTTP API answers it with."""
    return code_for(exc)[1]


def failure(code: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error": {"code": code, "message": message}}
    if request_id is not None:
        body["id"] = request_id
    return body


def parse_command(payload: bytes) -> tuple[dict[str, Any], str | None]:
    """The values of a set-topic payload and its request id; CommandError when it is not a command."""
    if len(payload) > MAX_PAYLOAD:
        raise CommandError("payload_too_large", f"a command must be at most {MAX_PAYLOAD} bytes")
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise CommandError("bad_request", 'a command must be a JSON object, e.g. {"switch_1": true}') from None
    if not isinstance(body, dict) or not body:
        raise CommandError("invalid_request", 'a command must be a non-empty JSON object, e.g. {"switch_1": true}')
    request_id = body.get("id") if ("commands" in body or "dps" in body) else None
    if request_id is not None and (not isinstance(request_id, (str, int)) or len(str(request_id)) > MAX_ID):
        raise CommandError("invalid_request", f"'id' must be a string or number of at most {MAX_ID} characters")
    shown_id = None if request_id is None else str(request_id)
    if "commands" in body or "dps" in body:
        extra = set(body) - {"commands", "dps", "id"}
        if extra or ("commands" in body) == ("dps" in body):
            raise CommandError("invalid_request", "give exactly one of 'commands' or 'dps' (and optionally 'id')")
        values = _commands(body["commands"]) if "commands" in body else _dps(body["dps"])
    else:
        values = body
    if len(values) > MAX_COMMANDS:
        raise CommandError("invalid_request", f"at most {MAX_COMMANDS} values per command")
    for code in values:
        if not 1 <= len(code) <= MAX_CODE:
            raise CommandError("invalid_request", f"a code must be 1 to {MAX_CODE} characters")
    return values, shown_id


def _commands(items: Any) -> dict[str, Any]:
    if not isinstance(items, list) or not items:
        raise CommandError("invalid_request", '\'commands\' must be a non-empty list of {"code", "value"}')
    values: dict[str, Any] = {}
    for item in items[: MAX_COMMANDS + 1]:
        if not isinstance(item, dict) or set(item) != {"code", "value"} or not isinstance(item["code"], str):
            raise CommandError("invalid_request", 'each command must be {"code": "...", "value": ...}')
        values[item["code"]] = item["value"]
    if len(items) > MAX_COMMANDS:
        raise CommandError("invalid_request", f"at most {MAX_COMMANDS} values per command")
    return values


def _dps(dps: Any) -> dict[str, Any]:
    if not isinstance(dps, dict) or not dps:
        raise CommandError("invalid_request", "'dps' must be a non-empty object of DP id -> value")
    return {str(k): v for k, v in dps.items()}


async def run_command(
    device: Device, values: Mapping[str, Any], *, timeout: float, request_id: str | None = None
) -> dict[str, Any]:
    """Send ``values`` to ``device`` by a deadline; the result payload (never raises for a device error)."""
    try:
        async with asyncio.timeout(timeout + _GRACE):  # a device that ignores its deadline still ends here
            result = await device.set(values, deadline=Deadline.after(timeout))
    except TimeoutError as exc:
        if isinstance(exc, TuyaError):
            return failure(error_code(exc), str(exc), request_id)
        return failure("timeout", f"{device.info.name} did not answer within {timeout:.1f} s", request_id)
    except TuyaError as exc:
        return failure(error_code(exc), str(exc), request_id)
    body: dict[str, Any] = {"ok": True, "route": result.route, "fallback": result.fallback, "dps": result.dps}
    if request_id is not None:
        body["id"] = request_id
    return body
