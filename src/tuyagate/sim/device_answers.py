"""What an emulated device answers to a status query or a control: pure functions of its state.

The device (:mod:`tuyagate.sim.device`) sends these; keeping them apart keeps the rules of the
protocol (device22 rejects a plain DP_QUERY, a control with null values is a device22 query, a
sub-device that is offline or unknown is rejected) readable on their own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tuyagate.protocol import payloads
from tuyagate.protocol.commands import Command
from tuyagate.protocol.versions import Template, VersionSpec
from tuyagate.sim.device_options import SimChild

__all__ = ["UNVALID", "ControlPlan", "cid_of", "plan_control", "query_answer"]

UNVALID = b"json obj data unvalid"  # what devices answer a request they cannot parse (retcode 1)


def cid_of(data: Mapping[str, Any]) -> str | None:
    """The sub-device a request is for (``cid`` at the top or inside ``data``)."""
    cid = data.get("cid")
    inner = data.get("data")
    if cid is None and isinstance(inner, dict):
        cid = inner.get("cid")
    return str(cid) if cid is not None else None


def query_answer(
    spec: VersionSpec,
    device_id: str,
    dps: Mapping[str, Any],
    children: Mapping[str, SimChild],
    cmd: Command,
    data: Mapping[str, Any],
) -> tuple[bytes | dict[str, Any], int]:
    """The body and return code that answer a DP_QUERY / DP_QUERY_NEW."""
    cid = cid_of(data)
    if cid is not None:
        child = children.get(cid)
        if child is None or not child.online:
            return UNVALID, 1
        values: Mapping[str, Any] = child.dps
    else:
        if spec.device22 and cmd == Command.DP_QUERY:
            return UNVALID, 1  # the device22 symptom: a plain query is rejected
        values = dps
    return payloads.query_reply(spec, device_id, values, t=int(time.time()), cid=cid), 0


@dataclass(slots=True)
class ControlPlan:
    """How to answer a CONTROL / CONTROL_NEW: reject it, answer it as a query, or ACK and apply."""

    reject: bool = False
    reply: dict[str, Any] | None = None  # a device22 query answered with values
    cid: str | None = None
    wanted: dict[str, Any] = field(default_factory=dict)  # values to apply after the ACK


def plan_control(
    spec: VersionSpec,
    device_id: str,
    dps: Mapping[str, Any],
    children: Mapping[str, SimChild],
    cmd: Command,
    data: Mapping[str, Any],
) -> ControlPlan:
    inner = data.get("data")
    values = inner.get("dps") if isinstance(inner, dict) and "dps" in inner else data.get("dps")
    cid = cid_of(data)
    if not isinstance(values, dict) or (cid is not None and (cid not in children or not children[cid].online)):
        return ControlPlan(reject=True, cid=cid)
    wanted = {str(k): v for k, v in values.items() if v is not None}
    asked = [str(k) for k, v in values.items() if v is None]
    if asked and not wanted and cmd == Command.CONTROL_NEW and spec.template is Template.LEGACY:
        # device22 status query: CONTROL_NEW with the wanted DPs set to null.
        source = children[cid].dps if cid else dps
        found = {k: source[k] for k in asked if k in source}
        return ControlPlan(reply=payloads.query_reply(spec, device_id, found, t=int(time.time()), cid=cid), cid=cid)
    return ControlPlan(cid=cid, wanted=wanted)
