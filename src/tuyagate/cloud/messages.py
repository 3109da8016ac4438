"""The Tuya message service's frames, sans-IO: decrypt, verify and parse them, or build them.

The OpenAPI message service (Apache Pulsar behind a websocket) wraps every event three times:

1. the websocket frame, Pulsar's consumer JSON: ``{"messageId", "payload": base64(...), ...}``;
2. the payload, Tuya's envelope: ``{"protocol", "pv", "t", "sign", "data": base64(AES-ECB(...))}``;
3. the decrypted ``data``: for protocol 4 ``{"devId", "productKey", "dataId", "status": [...]}``,
   for protocol 20 ``{"devId", "bizCode", "bizData"}``.

``data`` is AES-128-ECB with PKCS#7 padding under ``secret[8:24]``; ``sign`` is the MD5 of the
envelope's other non-empty fields as ``k=v`` sorted by key, joined by ``||``, then ``||secret``
(Tuya's "Data Signature" page). A frame that fails any step raises :class:`BadMessage`, whose text
never contains the payload (it may carry device state) nor the secret. The consumer
(:mod:`tuyagate.cloud.pulsar`) and the emulator (:mod:`tuyagate.sim.cloud_pulsar`) share this module,
so both sides of the test speak the one format, which the official ``TuyaOpenPulsar`` also reads.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "BadMessage",
    "CloudMessage",
    "build_frame",
    "consumer_password",
    "decode_frame",
    "envelope_sign",
    "value_text",
]

STATUS_PROTOCOL = 4  # device status report
EVENT_PROTOCOL = 20  # online, offline, nameUpdate, dpNameUpdate, bindUser, delete, ... (the legacy numbers)
DEVICE_PROTOCOL = 1001  # IoT Core's device management events (deviceOnline, deviceBindSpace, ...), since 2023
EVENT_PROTOCOLS = (EVENT_PROTOCOL, DEVICE_PROTOCOL)
# bizCode -> the kind tuyagate gives the event (names from Tuya's "Message Types" page and the SDKs).
BIZ_KINDS = {
    "online": "online",
    "offline": "offline",
    "nameUpdate": "name",
    "dpNameUpdate": "dp_name",  # a data point renamed: not the device's name
    "bindUser": "added",
    "delete": "removed",
    "deviceOnline": "online",
    "deviceOffline": "offline",
    "deviceNameUpdate": "name",
    "deviceBindSpace": "added",
    "deviceUnbindSpace": "removed",
}


class BadMessage(ValueError):
    """A frame that cannot be trusted or read (the message says which step failed, never the content)."""


@dataclass(frozen=True, slots=True)
class CloudMessage:
    """One decrypted, verified event of the message service.

    ``kind``: ``status`` (``status`` holds ``[{"code", "value", "t", ...}]``), ``online``, ``offline``,
    ``name`` (``biz_data["name"]``), ``dp_name`` (a data point renamed), ``added``, ``removed`` or
    ``other`` (a protocol or bizCode tuyagate does not act on). :data:`BIZ_KINDS` maps the bizCodes
    of both numberings (legacy protocol 20 and IoT Core's 1001) to these.
    """

    message_id: str
    protocol: int
    device_id: str
    kind: str
    t: int  # milliseconds, from the envelope
    status: list[dict[str, Any]] = field(default_factory=list)
    biz_code: str = ""
    biz_data: dict[str, Any] = field(default_factory=dict)
    redelivery_count: int = 0


def _md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def consumer_password(access_id: str, secret: str) -> str:
    """The Pulsar websocket ``password`` header: ``md5(access_id + md5(secret))[8:24]``."""
    return _md5_hex(access_id + _md5_hex(secret))[8:24]


def envelope_sign(envelope: dict[str, Any], secret: str) -> str:
    """MD5 of ``k1=v1||k2=v2||...||secret`` over the non-empty fields but ``sign``, sorted by key."""
    parts = [f"{k}={value_text(v)}" for k, v in sorted(envelope.items()) if k != "sign" and v not in (None, "")]
    return _md5_hex("||".join([*parts, secret]))


def value_text(value: Any) -> str:
    """A value as the cloud writes it in text (``true``, ``12``, JSON for lists and objects)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _cipher(secret: str) -> Cipher[modes.ECB]:
    key = secret[8:24].encode("utf-8")
    if len(key) != 16:
        raise BadMessage("the access secret is too short for the message key")
    return Cipher(algorithms.AES(key), modes.ECB())


def encrypt_data(plain: bytes, secret: str) -> str:
    padder = padding.PKCS7(128).padder()
    encryptor = _cipher(secret).encryptor()
    return base64.b64encode(encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()).decode()


def decrypt_data(data: str, secret: str) -> bytes:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadMessage("data is not base64") from None
    if not raw or len(raw) % 16:
        raise BadMessage("data is not whole AES blocks")
    decryptor = _cipher(secret).decryptor()
    padded = decryptor.update(raw) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise BadMessage("data does not decrypt with this secret (bad padding)") from None


def _json_object(raw: bytes | str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise BadMessage(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise BadMessage(f"{what} is not a JSON object")
    return value


def event_device_id(data: dict[str, Any]) -> Any:
    """The device an event names: ``data.devId``, else ``data.bizData.devId`` (where the app MQ and
    IoT Core's events carry it)."""
    device_id = data.get("devId")
    biz = data.get("bizData")
    if not device_id and isinstance(biz, dict):
        device_id = biz.get("devId")
    return device_id


def message_id_of(frame: str | bytes) -> str | None:
    """The frame's ``messageId`` (what an ack names), or None when even that cannot be read."""
    try:
        outer = json.loads(frame)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    mid = outer.get("messageId") if isinstance(outer, dict) else None
    return mid if isinstance(mid, str) and mid else None


def decode_frame(frame: str | bytes, secret: str, *, verify_sign: bool = True) -> CloudMessage:
    """Decode one websocket frame of the consumer; BadMessage when any layer is wrong."""
    outer = _json_object(frame, "frame")
    message_id = outer.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise BadMessage("frame has no messageId")
    try:
        payload = base64.b64decode(str(outer.get("payload", "")), validate=True)
    except (binascii.Error, ValueError):
        raise BadMessage("payload is not base64") from None
    envelope = _json_object(payload, "payload")
    data = envelope.get("data")
    if not isinstance(data, str):
        raise BadMessage("payload has no data")
    if verify_sign:
        sign = envelope.get("sign")
        if not isinstance(sign, str) or not hmac.compare_digest(sign.lower(), envelope_sign(envelope, secret)):
            raise BadMessage("payload sign does not match")
    inner = _json_object(decrypt_data(data, secret), "data")
    protocol = envelope.get("protocol")
    if not isinstance(protocol, int) or isinstance(protocol, bool):
        raise BadMessage("payload protocol is not a number")
    device_id = event_device_id(inner) if protocol in EVENT_PROTOCOLS else inner.get("devId")
    if not isinstance(device_id, str) or not device_id:
        raise BadMessage("data names no devId")
    t = envelope.get("t")
    stamp = t if isinstance(t, int) and not isinstance(t, bool) else 0
    redelivered = outer.get("redeliveryCount", 0)
    redelivery = redelivered if isinstance(redelivered, int) else 0
    if protocol == STATUS_PROTOCOL:
        status = inner.get("status")
        if not isinstance(status, list) or not all(isinstance(s, dict) and "code" in s for s in status):
            raise BadMessage("status report has no status list")
        return CloudMessage(
            message_id, protocol, device_id, "status", stamp, status=status, redelivery_count=redelivery
        )
    if protocol in EVENT_PROTOCOLS:
        biz_code = str(inner.get("bizCode", ""))
        biz_data = inner.get("bizData")
        return CloudMessage(
            message_id,
            protocol,
            device_id,
            BIZ_KINDS.get(biz_code, "other"),
            stamp,
            biz_code=biz_code,
            biz_data=biz_data if isinstance(biz_data, dict) else {},
            redelivery_count=redelivery,
        )
    return CloudMessage(message_id, protocol, device_id, "other", stamp, redelivery_count=redelivery)


def build_payload(protocol: int, data: dict[str, Any], secret: str, *, t: int, pv: str = "2.0") -> str:
    """The base64 payload of a frame: the signed envelope around the encrypted ``data``."""
    envelope: dict[str, Any] = {
        "data": encrypt_data(json.dumps(data, separators=(",", ":")).encode(), secret),
        "protocol": protocol,
        "pv": pv,
        "t": t,
    }
    envelope["sign"] = envelope_sign(envelope, secret)
    return base64.b64encode(json.dumps(envelope, separators=(",", ":")).encode()).decode()


def build_frame(message_id: str, payload: str, *, publish_time: str = "", redelivery_count: int = 0) -> str:
    """A Pulsar websocket consumer frame carrying ``payload`` (already base64)."""
    return json.dumps(
        {
            "messageId": message_id,
            "payload": payload,
            "properties": {},
            "publishTime": publish_time,
            "redeliveryCount": redelivery_count,
        },
        separators=(",", ":"),
    )
