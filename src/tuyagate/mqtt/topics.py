"""Every MQTT topic the bridge uses, built in one place so that the names in the docs are the names on the wire.

Device topics carry no node id: a Tuya device id is unique in the world, so ``tuyagate/<device_id>/state``
means the same device whichever gateway serves it, and a device that moves to another site keeps its
topics. What is per gateway carries the node id: the bridge's availability (its last will) and its
Home Assistant discovery topics (``homeassistant/<component>/<node_id>/<object_id>/config``), so that
several gateways share one broker without touching each other's entries.
"""

from __future__ import annotations

import re

__all__ = ["Topics", "object_id", "topic_safe"]

_OBJECT_ID = re.compile(r"[^A-Za-z0-9_-]")


def topic_safe(device_id: str) -> bool:
    """True when ``device_id`` can be one topic level (no ``/``, wildcards or NUL)."""
    return bool(device_id) and not any(c in device_id for c in "/+#\x00") and device_id != "bridge"


def object_id(*parts: str) -> str:
    """A discovery object id from parts: only letters, digits, ``_`` and ``-`` (what Home Assistant matches)."""
    return _OBJECT_ID.sub("_", "_".join(p for p in parts if p))


class Topics:
    """The topic names of one bridge."""

    __slots__ = (
        "bridge_availability",
        "discovery_filter",
        "discovery_prefix",
        "ha_status",
        "node_id",
        "prefix",
        "set_filter",
        "sync",
    )

    def __init__(self, prefix: str, node_id: str, discovery_prefix: str) -> None:
        self.prefix = prefix
        self.node_id = node_id
        self.discovery_prefix = discovery_prefix
        self.bridge_availability = f"{prefix}/bridge/{node_id}/availability"
        self.sync = f"{prefix}/bridge/{node_id}/sync"  # the bridge's own echo: "every retained config has arrived"
        self.set_filter = f"{prefix}/+/set"
        self.ha_status = f"{discovery_prefix}/status"
        self.discovery_filter = f"{discovery_prefix}/+/{node_id}/+/config"

    def state(self, device_id: str) -> str:
        return f"{self.prefix}/{device_id}/state"

    def availability(self, device_id: str) -> str:
        return f"{self.prefix}/{device_id}/availability"

    def set(self, device_id: str) -> str:
        return f"{self.prefix}/{device_id}/set"

    def result(self, device_id: str) -> str:
        return f"{self.prefix}/{device_id}/result"

    def discovery(self, component: str, object_id: str) -> str:
        return f"{self.discovery_prefix}/{component}/{self.node_id}/{object_id}/config"

    def device_of_set(self, topic: str) -> str | None:
        """The device id of a ``<prefix>/<device_id>/set`` topic, else None."""
        head, sep, rest = topic.partition("/")
        if not sep or head != self.prefix or not rest.endswith("/set"):
            return None
        device_id = rest[: -len("/set")]
        return device_id if topic_safe(device_id) else None

    def is_discovery(self, topic: str) -> bool:
        """True for one of this bridge's discovery topics (``<discovery_prefix>/<component>/<node_id>/<id>/config``)."""
        head = self.discovery_prefix + "/"
        if not topic.startswith(head) or not topic.endswith("/config"):
            return False
        parts = topic[len(head) : -len("/config")].split("/")
        return len(parts) == 3 and parts[1] == self.node_id
