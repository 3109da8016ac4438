"""Values quoted in error messages as JSON, the language callers write them in.

A gateway client sent ``{"switch_1": null}``, so the error says ``got null``, not Python's ``None``;
``got true``, ``got "abc"``, ``got {"h": 1}`` likewise. Every message of :mod:`tuyagate.schema` quotes
values through :func:`json_quote`, which never raises (the value is whatever a caller sent) and cuts
long values short so that an error stays one readable line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

__all__ = ["MAX_QUOTED", "json_list", "json_quote"]

MAX_QUOTED = 60  # characters of a value quoted in an error message
_MAX_BYTES = 32  # bytes of a Python bytes value shown (as hex) before the cut


def json_quote(value: Any) -> str:
    """``value`` as JSON text (``null``, ``true``, ``"abc"``, ``{"h": 1}``), at most MAX_QUOTED characters."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=_jsonable)
    except (TypeError, ValueError, RecursionError):
        text = _unprintable(value)
    return text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 3] + "..."


def json_list(values: Iterable[Any]) -> str:
    """Options or flags for a message: ``"off", "on", "memory"``."""
    return ", ".join(json_quote(v) for v in values)


def _jsonable(value: Any) -> Any:
    """What JSON has no word for, in the nearest JSON form (``json.dumps`` calls this)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return "hex:" + data[:_MAX_BYTES].hex() + ("..." if len(data) > _MAX_BYTES else "")
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(type(value).__name__)


def _unprintable(value: Any) -> str:
    """Words for a value JSON cannot show: an int too long to print, a cycle, an object."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"an integer of {value.bit_length()} bits"
    if isinstance(value, (dict, list, tuple)):
        return f"a {'JSON object' if isinstance(value, dict) else 'list'} that cannot be shown"
    return f"a value of type {type(value).__name__}"
