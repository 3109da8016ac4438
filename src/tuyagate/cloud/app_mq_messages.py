"""The Smart Life app MQ's config and messages, sans-IO: check and parse them.

What ``tuya-device-sharing-sdk`` (``SharingMQ``, ``Manager.on_message``) expects, read from its
source: the config call (``POST /v1.0/m/life/ha/access/config``) answers ``url`` (``ssl://host:port``),
``clientId``, ``username``, ``password``, ``expireTime`` (seconds) and the topic templates
``topic.ownerId.sub`` and ``topic.devId.sub``. A device's messages come on its topic with ``/sta``
(status items by ``code``, what tuyagate subscribes to) or ``/pen`` (by ``dpId``) appended. The
messages are plain JSON, protected only by the TLS of the connection: protocol 4 is a status report
(``data.devId``, ``data.status``), protocol 20 an event (``data.bizCode``, ``data.bizData.devId``).

Since nothing in a message is signed, "verification" here is what can be checked: the JSON shape
and that a message on a device's topic names that device (a report for another device, or one
that cannot be read, is :class:`~tuyagate.cloud.messages.BadMessage`); the broker itself is checked
by TLS. A message's id is its ``data.dataId`` when it has one, else the SHA-256 of its bytes (a
duplicate delivery is the same bytes).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tuyagate.cloud.messages import (
    BIZ_KINDS,
    EVENT_PROTOCOLS,
    STATUS_PROTOCOL,
    BadMessage,
    CloudMessage,
    event_device_id,
)

__all__ = ["MAX_PAYLOAD", "AppMqConfig", "decode_app_message", "device_topic", "parse_mq_config"]

MAX_PAYLOAD = 256 * 1024  # a status report is a few hundred bytes


@dataclass(frozen=True, slots=True)
class AppMqConfig:
    """One answer of the config call: where to connect, as whom, which topics, until when."""

    url: str
    client_id: str
    username: str
    password: str = field(repr=False)
    expire_time: float  # seconds the login is good for, from when it was fetched
    owner_topic: str  # template with {ownerId}
    device_topic: str  # template with {devId}

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "ssl" else 1883)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme in ("ssl", "mqtts", "tls")


def parse_mq_config(result: Any) -> AppMqConfig:
    """The config call's ``result``; BadMessage (naming the field, never the password) when malformed."""
    if not isinstance(result, dict):
        raise BadMessage("the MQ config is not an object")
    try:
        topics = result["topic"]
        owner, device = topics["ownerId"]["sub"], topics["devId"]["sub"]
        config = AppMqConfig(
            url=str(result["url"]),
            client_id=str(result["clientId"]),
            username=str(result["username"]),
            password=str(result["password"]),
            expire_time=float(result.get("expireTime") or 0),
            owner_topic=str(owner),
            device_topic=str(device),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadMessage(f"the MQ config lacks {exc}") from None
    if not config.host or "{devId}" not in config.device_topic or "{ownerId}" not in config.owner_topic:
        raise BadMessage("the MQ config names no broker host or no topic templates")
    return config


def device_topic(config: AppMqConfig, device_id: str) -> str:
    """The topic of a device's status items by code (the ``/sta`` one)."""
    return config.device_topic.replace("{devId}", device_id) + "/sta"


def decode_app_message(payload: bytes, *, topic_device: str | None) -> CloudMessage:
    """One MQ message; ``topic_device`` is the device whose topic it came on (None: a home's topic)."""
    if len(payload) > MAX_PAYLOAD:
        raise BadMessage("message is too large")
    try:
        message = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise BadMessage("message is not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("data"), dict):
        raise BadMessage("message has no data object")
    data: dict[str, Any] = message["data"]
    protocol = message.get("protocol")
    if not isinstance(protocol, int) or isinstance(protocol, bool):
        raise BadMessage("message protocol is not a number")
    biz_data = data.get("bizData")
    biz = biz_data if isinstance(biz_data, dict) else {}
    device_id = event_device_id(data) if protocol in EVENT_PROTOCOLS else data.get("devId")
    if not isinstance(device_id, str) or not device_id:
        raise BadMessage("message names no devId")
    if topic_device is not None and device_id != topic_device:
        raise BadMessage("message names another device than its topic")
    data_id = data.get("dataId")
    message_id = data_id if isinstance(data_id, str) and data_id else hashlib.sha256(payload).hexdigest()
    t = message.get("t")
    stamp = t if isinstance(t, int) and not isinstance(t, bool) else 0
    if protocol == STATUS_PROTOCOL:
        status = data.get("status")
        if not isinstance(status, list) or not all(isinstance(s, dict) and "code" in s for s in status):
            raise BadMessage("status report has no status list by code")
        return CloudMessage(message_id, protocol, device_id, "status", stamp, status=status)
    if protocol in EVENT_PROTOCOLS:
        biz_code = str(data.get("bizCode", ""))
        return CloudMessage(
            message_id, protocol, device_id, BIZ_KINDS.get(biz_code, "other"), stamp, biz_code=biz_code, biz_data=biz
        )
    return CloudMessage(message_id, protocol, device_id, "other", stamp)
