"""Tuya LAN command numbers (the ``cmd`` field of every frame)."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["NO_VERSION_HEADER", "Command"]


class Command(IntEnum):
    """Command numbers as devices use them on TCP 6668 and UDP 6666/6667/7000."""

    AP_CONFIG = 0x01
    ACTIVE = 0x02
    SESS_KEY_NEG_START = 0x03
    SESS_KEY_NEG_RESP = 0x04
    SESS_KEY_NEG_FINISH = 0x05
    UNBIND = 0x06
    CONTROL = 0x07
    STATUS = 0x08
    HEART_BEAT = 0x09
    DP_QUERY = 0x0A
    QUERY_WIFI = 0x0B
    TOKEN_BIND = 0x0C
    CONTROL_NEW = 0x0D
    ENABLE_WIFI = 0x0E
    WIFI_INFO = 0x0F
    DP_QUERY_NEW = 0x10
    SCENE_EXECUTE = 0x11
    UPDATEDPS = 0x12
    UDP_NEW = 0x13
    AP_CONFIG_NEW = 0x14
    BOARDCAST_LPV34 = 0x23
    REQ_DEVINFO = 0x25
    LAN_EXT_STREAM = 0x40


# Commands whose payload never carries the 15-byte version header (3.2 and later).
NO_VERSION_HEADER: frozenset[int] = frozenset(
    {
        Command.DP_QUERY,
        Command.DP_QUERY_NEW,
        Command.UPDATEDPS,
        Command.HEART_BEAT,
        Command.SESS_KEY_NEG_START,
        Command.SESS_KEY_NEG_RESP,
        Command.SESS_KEY_NEG_FINISH,
        Command.LAN_EXT_STREAM,
    }
)
