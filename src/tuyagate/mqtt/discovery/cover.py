"""Curtains, blinds and shutters as a Home Assistant ``cover``: open/close/stop and position.

Tuya covers take a ``control`` Enum (``open``/``stop``/``close``, sometimes ``continue``) and a position
in percent (``percent_control`` to move, ``percent_state`` as reported, 0..100). Home Assistant's
position is 0 closed .. 100 open, as Tuya's standard curtain DPs are; the state (open, closed,
opening) follows from the position, so only the position topic is needed.
"""

from __future__ import annotations

from tuyagate.mqtt.discovery.entity import Context, Entity, command, literal, value
from tuyagate.mqtt.discovery.view import DeviceView

__all__ = ["cover_entity"]

_DEVICE_CLASSES = {"cl": "curtain", "clkg": "curtain", "ckmkzq": "garage", "mc": "door"}


def cover_entity(ctx: Context, view: DeviceView) -> Entity | None:
    """The cover of a device with a writable ``control`` Enum that can open and close, else None."""
    control = view.first("control", "mach_operate", kind="enum")
    if control is None or not control.writable or not {"open", "close"} <= set(control.options):
        return None
    codes = {control.code}
    config: dict[str, object] = {
        "command_topic": ctx.command_topic,
        "payload_open": literal({control.code: "open"}),
        "payload_close": literal({control.code: "close"}),
    }
    if "stop" in control.options:
        config["payload_stop"] = literal({control.code: "stop"})
    target = view.first("percent_control", "position", kind="int")
    reported = view.first("percent_state", kind="int")
    if target is not None and target.writable:
        codes.add(target.code)
        config.update(
            set_position_topic=ctx.command_topic,
            set_position_template=command({target.code: "{{ position }}"}),
        )
    shown = reported if reported is not None and reported.readable else target
    if shown is not None and shown.readable:
        codes.add(shown.code)
        config.update(
            position_topic=ctx.state_topic,
            position_template="{{ " + value(shown.code) + " }}",
            position_open=int(shown.maximum if shown.maximum is not None else 100),
            position_closed=int(shown.minimum if shown.minimum is not None else 0),
        )
    device_class = _DEVICE_CLASSES.get(ctx.view.info.category)
    if device_class:
        config["device_class"] = device_class
    return ctx.entity("cover", "cover", None, frozenset(codes), **config)
