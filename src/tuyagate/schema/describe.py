"""Typed descriptions of DPs: what a front end needs to show one and to offer a control for it.

MQTT discovery, the dashboard and the gateway's device detail read a DP's type, its range in the
units people read (``5.0 .. 35.0 °C`` in steps of ``0.5``, not the raw ``50 .. 350``), its options or
flags, whether it can be read and written, and a human label. :class:`DpDescription` holds exactly
that, built by :meth:`tuyagate.schema.DpDef.description`; :meth:`DpDescription.to_dict` is its JSON
form, with the same keys for every type (those that do not apply are ``null`` or empty), so a
client needs one parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tuyagate.schema.kinds import DpMode, DpType

__all__ = ["DpDescription", "user_number"]


def user_number(raw: int, scale: int) -> int | float:
    """A raw Integer limit in user units: ``50`` with scale 1 is ``5.0``; scale 0 stays an int."""
    if scale <= 0:
        return int(raw * 10 ** (-scale))
    return float(Decimal(raw).scaleb(-scale))


@dataclass(frozen=True, slots=True)
class DpDescription:
    """One DP as a front end shows it; numbers in user units (the values ``status()`` reports)."""

    dp_id: int
    code: str
    type: DpType
    mode: DpMode
    label: str  # the human name: the schema's own, else made from the code ("cur_power" -> "Power")
    unit: str = ""
    min: int | float | None = None  # Integer only
    max: int | float | None = None
    step: int | float | None = None
    scale: int = 0  # Integer: decimals of the user value (raw = user x 10**scale)
    options: tuple[str, ...] = ()  # Enum
    flags: tuple[str, ...] = ()  # Bitmap: the name of each bit, lowest first
    maxlen: int | None = None  # String (characters), Raw (bytes), Bitmap (bits)
    colour: Mapping[str, tuple[int, int]] | None = field(default=None, hash=False)  # Json colours: h/s/v ranges

    @property
    def read_only(self) -> bool:
        """The device reports it; commands cannot set it."""
        return self.mode is DpMode.RO

    @property
    def write_only(self) -> bool:
        """Commands set it; the device does not report it (a button, a one-shot action)."""
        return self.mode is DpMode.WR

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, the same keys for every type."""
        colour = None if self.colour is None else {k: {"min": lo, "max": hi} for k, (lo, hi) in self.colour.items()}
        return {
            "dp_id": self.dp_id,
            "code": self.code,
            "type": self.type.value,
            "mode": self.mode.value,
            "label": self.label,
            "read_only": self.read_only,
            "write_only": self.write_only,
            "unit": self.unit,
            "min": self.min,
            "max": self.max,
            "step": self.step,
            "scale": self.scale,
            "options": list(self.options),
            "flags": list(self.flags),
            "maxlen": self.maxlen,
            "colour": colour,
        }
