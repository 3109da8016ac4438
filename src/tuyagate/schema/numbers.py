"""Reading numbers that arrive as anything (JSON numbers, text from a command line, cloud strings).

Every parsed number is bounded before it is built: ``"1e999999999"`` or a 5,000-digit integer is
refused in constant time instead of being turned into a huge int.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["MAX_DIGITS", "MAX_RAW", "limit", "opt_int", "to_decimal"]

MAX_RAW = 2**63  # no DP value is wider than a signed 64-bit integer; anything bigger is refused early
MAX_DIGITS = 20  # digits of a number given as text (2**64 has 20)


def to_decimal(value: Any) -> Decimal | None:
    """A finite number within MAX_RAW as a Decimal, or None (booleans are not numbers here)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value) if abs(value) <= MAX_RAW else None
    if isinstance(value, (float, str, Decimal)):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() and number.copy_abs() <= MAX_RAW else None  # copy_abs: no context overflow
    return None


def opt_int(value: Any) -> int | None:
    """An int from a cloud field that may be missing, empty or text; None when it is not one."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def limit(limits: Mapping[str, Any], key: str, default: int) -> int:
    """One bound of a sub-schema (``{"min": 0, "max": 360}``), with a default when it is absent."""
    found = opt_int(limits.get(key))
    return default if found is None else found
