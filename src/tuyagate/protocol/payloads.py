"""JSON bodies of LAN requests and device answers, per version template.

Pure functions: the device id, the child ``cid`` and the time ``t`` are passed in. The key order
of each dict matches what Tuya apps and tinytuya send, because some firmware parses JSON by
position. Encoding to bytes (:func:`dump_json`) is compact but keeps spaces inside string
values, unlike tinytuya, which strips every space and so corrupts ``"hello world"``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tuyagate.protocol.commands import Command
from tuyagate.protocol.versions import Template, VersionSpec

__all__ = [
    "control_request",
    "dump_json",
    "heartbeat_request",
    "query_reply",
    "query_request",
    "status_push",
    "subdev_online_query",
    "subdev_online_report",
    "updatedps_request",
]

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


def _make_dumps() -> Callable[[Any], str]:
    # JSONEncoder.encode builds a new C encoder on every call, which costs as much as encoding a
    # small Tuya payload. Build CPython's C encoder once, with the same settings as _ENCODER
    # (no circular-reference markers: our payloads are trees built by this module and its
    # callers). Where the C encoder is missing or has another signature, use _ENCODER itself.
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _ENCODER.encode
    try:
        iterencode = make(
            None, _ENCODER.default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True
        )
        probe: dict[str, Any] = {"a b": [1, 2.5, None, True, "\u00e9"]}
        if "".join(iterencode(probe, 0)) != _ENCODER.encode(probe):
            return _ENCODER.encode
    except TypeError:
        return _ENCODER.encode

    def dumps(obj: Any) -> str:
        return "".join(iterencode(obj, 0))

    return dumps


_dumps = _make_dumps()


def dump_json(obj: Any) -> bytes:
    """Compact JSON bytes; string values keep their spaces."""
    return _dumps(obj).encode("ascii")


def query_request(
    spec: VersionSpec, device_id: str, *, t: int, cid: str | None = None, dp_ids: Iterable[str] | None = None
) -> tuple[Command, dict[str, Any]]:
    """The status query: the command comes from the version table, the body from its template.

    Legacy devices get ``{"gwId","devId","uid","t"}`` (device22: the control shape with the wanted
    DPs set to null), 3.4/3.5 an empty object; a sub-device query names only the ``cid``.
    """
    protocol5 = spec.template is Template.PROTOCOL5
    if cid:
        return spec.child_query_cmd, ({"cid": cid} if protocol5 else {"t": t, "cid": cid})
    if protocol5:
        return spec.query_cmd, {}
    if spec.device22:
        wanted = list(dp_ids) if dp_ids else ["1"]
        return spec.query_cmd, {
            "devId": device_id,
            "uid": device_id,
            "t": str(t),
            "dps": dict.fromkeys(wanted),
        }
    return spec.query_cmd, {"gwId": device_id, "devId": device_id, "uid": device_id, "t": str(t)}


def control_request(
    spec: VersionSpec, device_id: str, dps: Mapping[str, Any], *, t: int, cid: str | None = None
) -> tuple[Command, dict[str, Any]]:
    """Set DP values: the version's control command, legacy body or ``protocol: 5`` (3.4/3.5)."""
    values = {str(k): v for k, v in dps.items()}
    cmd = spec.control_cmd
    if spec.template is Template.PROTOCOL5:
        if cid:
            return cmd, {
                "protocol": 5,
                "t": t,
                "data": {"cid": cid, "ctype": 0, "dps": values},
                "cid": cid,
            }
        return cmd, {"protocol": 5, "t": t, "data": {"dps": values}}
    if cid:
        return cmd, {"t": t, "cid": cid, "dps": values}
    return cmd, {"devId": device_id, "uid": device_id, "t": str(t), "dps": values}


def heartbeat_request(device_id: str, *, gateway_id: str | None = None) -> tuple[Command, dict[str, Any]]:
    """The keep-alive ping."""
    return Command.HEART_BEAT, {"gwId": gateway_id or device_id, "devId": device_id}


def updatedps_request(dp_ids: Iterable[int | str]) -> tuple[Command, dict[str, Any]]:
    """Ask the device to re-measure and push these DPs (energy readings go stale otherwise)."""
    return Command.UPDATEDPS, {"dpId": [int(d) for d in dp_ids]}


def subdev_online_query(cids: Iterable[str] = ()) -> tuple[Command, dict[str, Any]]:
    """Ask a gateway which sub-devices are online (an empty list means all)."""
    return Command.LAN_EXT_STREAM, {"reqType": "subdev_online_stat_query", "data": {"cids": list(cids)}}


def subdev_online_report(online: Iterable[str], offline: Iterable[str]) -> dict[str, Any]:
    """A gateway's answer to :func:`subdev_online_query`."""
    return {"reqType": "subdev_online_stat_report", "data": {"online": list(online), "offline": list(offline)}}


def status_push(
    spec: VersionSpec, device_id: str, dps: Mapping[str, Any], *, t: int, cid: str | None = None
) -> dict[str, Any]:
    """What a device sends unsolicited (cmd STATUS) when DPs change."""
    values = {str(k): v for k, v in dps.items()}
    if spec.template is Template.PROTOCOL5:
        data: dict[str, Any] = {"cid": cid, "dps": values} if cid else {"dps": values}
        return {"protocol": 4, "t": t, "data": data}
    if cid:
        return {"cid": cid, "dps": values, "t": t}
    return {"devId": device_id, "dps": values, "t": t}


def query_reply(
    spec: VersionSpec, device_id: str, dps: Mapping[str, Any], *, t: int, cid: str | None = None
) -> dict[str, Any]:
    """A device's answer to a status query."""
    values = {str(k): v for k, v in dps.items()}
    if spec.template is Template.PROTOCOL5:
        data: dict[str, Any] = {"cid": cid, "dps": values} if cid else {"dps": values}
        return {"protocol": 4, "t": t, "data": data}
    if cid:
        return {"cid": cid, "dps": values}
    return {"devId": device_id, "dps": values}
