"""The two small vocabularies of a DP: its type and who may write it."""

from __future__ import annotations

import enum

from tuyagate.errors import ConfigError
from tuyagate.schema.quote import json_list, json_quote

__all__ = ["DpMode", "DpType"]


class DpType(enum.StrEnum):
    """DP types, spelled as the Tuya cloud spells them in specifications."""

    BOOLEAN = "Boolean"
    INTEGER = "Integer"
    ENUM = "Enum"
    STRING = "String"
    JSON = "Json"
    RAW = "Raw"
    BITMAP = "Bitmap"

    @classmethod
    def parse(cls, text: str) -> DpType:
        """Accept the cloud's names and the DP-level names of Tuya's docs (``bool``, ``value``, ``fault``)."""
        found = _TYPE_ALIASES.get(str(text).strip().lower())
        if found is None:
            raise ConfigError(f"unknown DP type {json_quote(text)} (expected one of {json_list(t.value for t in cls)})")
        return found


_TYPE_ALIASES: dict[str, DpType] = {
    "boolean": DpType.BOOLEAN,
    "bool": DpType.BOOLEAN,
    "integer": DpType.INTEGER,
    "value": DpType.INTEGER,
    "int": DpType.INTEGER,
    "enum": DpType.ENUM,
    "string": DpType.STRING,
    "str": DpType.STRING,
    "json": DpType.JSON,
    "raw": DpType.RAW,
    "bitmap": DpType.BITMAP,
    "fault": DpType.BITMAP,
}


class DpMode(enum.StrEnum):
    """Who may write a DP: ``rw`` both ways, ``ro`` reported only, ``wr`` write-only (commands)."""

    RW = "rw"
    RO = "ro"
    WR = "wr"
