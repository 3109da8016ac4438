"""Writable DPs that no richer platform claimed: ``switch``, ``number``, ``select`` and ``button``.

A Boolean that can be read and written is a switch (an ``outlet`` on plugs and strips), one that can
only be written is a button (a momentary command such as a restart); an Integer is a number with its
real range and step in user units; an Enum is a select of its options. Write-only DPs get no state
topic, because the device never reports them.
"""

from __future__ import annotations

from collections.abc import Iterable

from tuyagate.mqtt.discovery.entity import Context, Entity, command, literal, value
from tuyagate.mqtt.discovery.view import DpView

__all__ = ["control_entities"]

_OUTLET_CATEGORIES = frozenset({"cz", "pc"})
_CONFIG_CODES = ("child_lock", "relay_status", "light_mode", "countdown")  # settings, not the device's job
_DURATION_UNITS = frozenset({"s", "min", "h", "d"})


def _is_setting(code: str) -> bool:
    return code.startswith(_CONFIG_CODES)


def control_entities(ctx: Context, dps: Iterable[DpView], *, main: str | None = None) -> list[Entity]:
    """Entities for the writable DPs in ``dps``; the one named ``main`` is the device's main entity (no name)."""
    out: list[Entity] = []
    category = ctx.view.info.category
    for dp in dps:
        if not dp.writable:
            continue
        name = None if dp.code == main else dp.label
        codes = frozenset({dp.code})
        extra: dict[str, object] = {"command_topic": ctx.command_topic}
        if dp.readable:
            extra["state_topic"] = ctx.state_topic
        if _is_setting(dp.code):
            extra["entity_category"] = "config"
        if dp.kind == "bool" and dp.readable:
            extra.update(
                payload_on=literal({dp.code: True}),
                payload_off=literal({dp.code: False}),
                state_on="ON",
                state_off="OFF",
                value_template="{{ 'ON' if " + value(dp.code) + " else 'OFF' }}",
            )
            if dp.code.startswith("switch"):
                extra["device_class"] = "outlet" if category in _OUTLET_CATEGORIES else "switch"
            out.append(ctx.entity("switch", dp.code, name, codes, **extra))
        elif dp.kind == "bool":
            extra["payload_press"] = literal({dp.code: True})
            if "restart" in dp.code or "reboot" in dp.code:
                extra["device_class"] = "restart"
            out.append(ctx.entity("button", dp.code, name, codes, **extra))
        elif dp.kind == "int":
            extra["command_template"] = command({dp.code: "{{ value }}"})
            if dp.readable:
                extra["value_template"] = "{{ " + value(dp.code) + " }}"
            if dp.minimum is not None:
                extra["min"] = dp.minimum
            if dp.maximum is not None:
                extra["max"] = dp.maximum
            extra["step"] = dp.step
            if dp.unit:
                extra["unit_of_measurement"] = dp.unit
                if dp.unit in _DURATION_UNITS:
                    extra["device_class"] = "duration"
            out.append(ctx.entity("number", dp.code, name, codes, **extra))
        elif dp.kind == "enum" and dp.options:
            extra["options"] = list(dp.options)
            extra["command_template"] = command({dp.code: "{{ value | tojson }}"})
            if dp.readable:
                extra["value_template"] = "{{ " + value(dp.code) + " }}"
            out.append(ctx.entity("select", dp.code, name, codes, **extra))
    return out
