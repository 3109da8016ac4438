"""Push events of a device connection: what they say, and which subscriber each is for.

The fan-out itself is the one event bus (:mod:`tuyagate.bus`): the connection's reader publishes and
never waits, each subscriber has a bounded queue that drops its oldest event when full. A
subscription for one sub-device (``cid``) sees that child's STATUS pushes and every connection-wide
event (connected, disconnected, online reports).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeAlias

from tuyagate.bus import Subscription as _BusSubscription

__all__ = ["Event", "EventKind", "Subscription", "for_child"]


class EventKind(Enum):
    """What an event reports."""

    STATUS = "status"  # DP values the device pushed (cmd STATUS, or UPDATEDPS results)
    ONLINE = "online"  # sub-device online/offline report from a gateway
    CONNECTED = "connected"  # the connection to the device was (re)opened
    DISCONNECTED = "disconnected"  # the connection was lost; a reconnect follows while subscribed


@dataclass(frozen=True, slots=True)
class Event:
    """One event. ``cid`` names the sub-device (None for the device itself)."""

    kind: EventKind
    device_id: str
    dps: dict[str, Any] = field(default_factory=dict)
    cid: str | None = None
    online: list[str] | None = None
    offline: list[str] | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (what ``tuyagate watch --json`` prints)."""
        out: dict[str, Any] = {"event": self.kind.value, "device": self.device_id}
        if self.cid is not None:
            out["cid"] = self.cid
        if self.kind is EventKind.STATUS:
            out["dps"] = self.dps
        if self.online is not None:
            out["online"] = self.online
            out["offline"] = self.offline or []
        if self.reason:
            out["reason"] = self.reason
        return out


Subscription: TypeAlias = _BusSubscription[Event]
"""A bounded stream of one connection's events (``async for`` / ``async with``)."""

_PER_CHILD = frozenset({EventKind.STATUS})


def for_child(cid: str | None) -> Callable[[Event], bool] | None:
    """The bus filter of a subscription to sub-device ``cid`` (None: the whole connection)."""
    if cid is None:
        return None

    def accept(event: Event) -> bool:
        return event.cid == cid or event.kind not in _PER_CHILD

    return accept
