"""One data point (DP): its type and limits, and the conversion between user values and wire values.

A *user value* is what people read and write (``23.5`` degrees, ``"colour"``, ``{"h": 120, ...}``). A
*wire value* is what the device carries in its DPs (``235`` with scale 1, a hex colour string, base64
for raw DPs). :meth:`DpDef.to_wire` validates before converting, so a bad value is refused with a
message that names the allowed range or options before anything is sent; :meth:`DpDef.from_wire`
is lenient, because what a device reports is a fact, not a request.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from tuyagate.errors import ConfigError, ValidationError
from tuyagate.schema.colour import HSV_KEYS, V1_MAX_SV, decode_colour, encode_colour_hex, is_colour_fields

__all__ = ["DpDef", "DpMode", "DpType"]

_TRUE_WORDS = frozenset({"true", "on", "yes", "1"})
_MAX_RAW = 2**63  # no DP value is wider than a signed 64-bit integer; anything bigger is refused early
_MAX_DIGITS = 20  # digits of a number given as text (2**64 has 20)
_MAX_QUOTED = 60  # characters of a bad value quoted in an error message
_FALSE_WORDS = frozenset({"false", "off", "no", "0"})


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
            raise ConfigError(f"unknown DP type {text!r} (expected one of {', '.join(t.value for t in cls)})")
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


@dataclass(frozen=True, slots=True)
class DpDef:
    """The definition of one DP. Limits of Integer DPs are in raw (wire) units, as Tuya gives them."""

    dp_id: int
    code: str
    type: DpType
    mode: DpMode = DpMode.RW
    unit: str = ""
    min: int | None = None  # Integer: raw units
    max: int | None = None
    scale: int = 0  # Integer: user value = raw / 10**scale
    step: int = 1  # Integer: raw units
    range: tuple[str, ...] = ()  # Enum options
    maxlen: int | None = None  # String (characters), Raw (bytes), Bitmap (bits)
    labels: tuple[str, ...] = ()  # Bitmap: the name of each bit, lowest first
    fields: Mapping[str, Any] = field(default_factory=dict, hash=False)  # Json: sub-schema (h/s/v for colours)

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def from_values(
        cls, dp_id: int | str, code: str, type_: str | DpType, values: Any, mode: str | DpMode = DpMode.RW
    ) -> DpDef:
        """Build from the cloud's ``values`` (a dict, or the JSON text the cloud sends)."""
        if isinstance(values, str):
            try:
                values = json.loads(values) if values.strip() else {}
            except ValueError:
                values = {}
        if not isinstance(values, dict):
            values = {}
        dp_type = type_ if isinstance(type_, DpType) else DpType.parse(type_)
        try:
            ident = int(dp_id)
        except (TypeError, ValueError):
            raise ConfigError(f"DP id of {code!r} must be an integer, got {dp_id!r}") from None
        kwargs: dict[str, Any] = {}
        if dp_type is DpType.INTEGER:
            kwargs = {
                "unit": str(values.get("unit") or ""),
                "min": _opt_int(values.get("min")),
                "max": _opt_int(values.get("max")),
                "scale": _opt_int(values.get("scale")) or 0,
                "step": max(_opt_int(values.get("step")) or 1, 1),
            }
        elif dp_type is DpType.ENUM:
            kwargs = {"range": tuple(str(v) for v in values.get("range") or ())}
        elif dp_type in (DpType.STRING, DpType.RAW):
            kwargs = {"maxlen": _opt_int(values.get("maxlen"))}
        elif dp_type is DpType.BITMAP:
            kwargs = {
                "labels": tuple(str(v) for v in values.get("label") or ()),
                "maxlen": _opt_int(values.get("maxlen")),
            }
        elif dp_type is DpType.JSON:
            kwargs = {"fields": dict(values)}
        return cls(dp_id=ident, code=str(code), type=dp_type, mode=DpMode(str(mode)), **kwargs)

    @property
    def values(self) -> dict[str, Any]:
        """The limits in the cloud's ``values`` shape (what :meth:`from_values` reads back)."""
        if self.type is DpType.INTEGER:
            out: dict[str, Any] = {"unit": self.unit}
            if self.min is not None:
                out["min"] = self.min
            if self.max is not None:
                out["max"] = self.max
            out.update(scale=self.scale, step=self.step)
            return out
        if self.type is DpType.ENUM:
            return {"range": list(self.range)}
        if self.type is DpType.BITMAP:
            bits: dict[str, Any] = {"label": list(self.labels)}
            if self.maxlen is not None:
                bits["maxlen"] = self.maxlen
            return bits
        if self.type in (DpType.STRING, DpType.RAW) and self.maxlen is not None:
            return {"maxlen": self.maxlen}
        if self.type is DpType.JSON:
            return dict(self.fields)
        return {}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``dp_id``, ``code``, ``type``, ``values``, ``mode`` (the fleet manifest's shape too)."""
        return {
            "dp_id": self.dp_id,
            "code": self.code,
            "type": self.type.value,
            "values": self.values,
            "mode": self.mode.value,
        }

    @property
    def writable(self) -> bool:
        return self.mode is not DpMode.RO

    @property
    def is_colour(self) -> bool:
        return self.type is DpType.JSON and is_colour_fields(self.fields)

    # ---- user value -> wire value (validating) -----------------------------------------------

    def to_wire(self, value: Any) -> Any:
        """Validate a user value and give the value to put in the device's DPs (LAN form)."""
        if not self.writable:
            raise ValidationError(f"{self.code} is read-only (the device only reports it)")
        if self.type is DpType.JSON:
            if self.is_colour:
                hsv = self._check_colour(value)
                v1 = _limit(self.fields["s"], "max", 1000) <= V1_MAX_SV
                return encode_colour_hex(hsv["h"], hsv["s"], hsv["v"], v1=v1)
            return self._json_text(value)
        return self._to_common(value)

    def to_cloud(self, value: Any) -> Any:
        """Validate a user value and give the value for a cloud command (``{"code", "value"}``)."""
        if not self.writable:
            raise ValidationError(f"{self.code} is read-only (the device only reports it)")
        if self.type is DpType.JSON:
            if self.is_colour:
                return self._check_colour(value)
            text = self._json_text(value)
            try:
                return json.loads(text)
            except ValueError:
                return text
        return self._to_common(value)

    def _to_common(self, value: Any) -> Any:
        if self.type is DpType.BOOLEAN:
            return self._check_bool(value)
        if self.type is DpType.INTEGER:
            return self._check_integer(value)
        if self.type is DpType.ENUM:
            return self._check_enum(value)
        if self.type is DpType.STRING:
            return self._check_string(value)
        if self.type is DpType.RAW:
            return self._check_raw(value)
        return self._check_bitmap(value)

    def _check_bool(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            word = value.strip().lower()
            if word in _TRUE_WORDS:
                return True
            if word in _FALSE_WORDS:
                return False
        raise ValidationError(f"{self.code} must be true or false, got {_short(value)}")

    def _check_integer(self, value: Any) -> int:
        number = _to_decimal(value)
        raw = None if number is None else number.scaleb(self.scale)
        if raw is None or raw != raw.to_integral_value() or not self._in_range(raw):
            raise ValidationError(f"{self.code} must be {self._describe_integer()}, got {_short(value)}")
        return int(raw)

    def _in_range(self, raw: Decimal) -> bool:
        if raw.copy_abs() > _MAX_RAW:  # checked before int(), as is every parsed number: "1e999999999" stays small
            return False
        if self.min is not None and raw < self.min:
            return False
        if self.max is not None and raw > self.max:
            return False
        return (int(raw) - (self.min or 0)) % self.step == 0

    def _describe_integer(self) -> str:
        kind = "an integer" if self.scale == 0 else "a number"
        unit = f" {self.unit}" if self.unit else ""
        step = f"step {self._user(self.step)}"
        if self.min is not None and self.max is not None:
            return f"{kind} between {self._user(self.min)} and {self._user(self.max)}{unit} ({step})"
        if self.min is not None:
            return f"{kind} of at least {self._user(self.min)}{unit} ({step})"
        if self.max is not None:
            return f"{kind} of at most {self._user(self.max)}{unit} ({step})"
        return f"{kind}{unit} ({step})"

    def _user(self, raw: int) -> str:
        """A raw limit shown in user units (``50`` with scale 1 is ``5.0``)."""
        if self.scale <= 0:
            return str(raw * 10 ** (-self.scale))
        return f"{Decimal(raw).scaleb(-self.scale):.{self.scale}f}"

    def _check_enum(self, value: Any) -> str:
        text = value if isinstance(value, str) else None
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _MAX_RAW:
            text = str(value)  # options like "1", "2" given as numbers on a command line
        if text is not None and (text in self.range or not self.range):
            return text
        options = ", ".join(repr(v) for v in self.range)
        raise ValidationError(f"{self.code} must be one of {options}, got {_short(value)}")

    def _check_string(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError(f"{self.code} must be a string, got {_short(value)}")
        if self.maxlen is not None and len(value) > self.maxlen:
            raise ValidationError(
                f"{self.code} must be a string of at most {self.maxlen} characters, got {len(value)} characters"
            )
        return value

    def _check_raw(self, value: Any) -> str:
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
        elif isinstance(value, str) and value.startswith("hex:"):
            try:
                data = bytes.fromhex(value[4:])
            except ValueError:
                raise ValidationError(f"{self.code}: {value[:40]!r} is not valid hex after 'hex:'") from None
        elif isinstance(value, str):
            try:
                data = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ValidationError(
                    f"{self.code} must be raw bytes as base64 text or 'hex:...', got {value[:40]!r}"
                ) from None
        else:
            raise ValidationError(f"{self.code} must be raw bytes as base64 text or 'hex:...', got {_short(value)}")
        if self.maxlen is not None and len(data) > self.maxlen:
            raise ValidationError(f"{self.code} must be at most {self.maxlen} bytes, got {len(data)} bytes")
        return base64.b64encode(data).decode("ascii")

    def _check_bitmap(self, value: Any) -> int:
        bits = self.maxlen or len(self.labels) or 32
        if isinstance(value, (list, tuple, set, frozenset)):
            number = 0
            for label in value:
                if label not in self.labels:
                    options = ", ".join(repr(v) for v in self.labels)
                    raise ValidationError(f"{self.code}: unknown flag {_short(label)} (flags: {options})")
                number |= 1 << self.labels.index(label)
            return number
        if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= _MAX_DIGITS:
            value = int(value.strip())
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < (1 << bits):
            return value
        raise ValidationError(
            f"{self.code} must be an integer bitmap between 0 and {(1 << bits) - 1}, got {_short(value)}"
        )

    def _check_colour(self, value: Any) -> dict[str, int]:
        hsv = decode_colour(value)
        if hsv is None:
            raise ValidationError(
                f"{self.code} must be a colour {{'h': ..., 's': ..., 'v': ...}} (or its hex form), got {_short(value)}"
            )
        for key in HSV_KEYS:
            limits = self.fields[key]
            low, high = _limit(limits, "min", 0), _limit(limits, "max", 1000)
            if not low <= hsv[key] <= high:
                raise ValidationError(
                    f"{self.code}.{key} must be an integer between {low} and {high}, got {_short(hsv[key])}"
                )
        return hsv

    def _json_text(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, (dict, list)):
            try:
                return json.dumps(value, separators=(",", ":"), allow_nan=False)
            except (TypeError, ValueError):
                raise ValidationError(f"{self.code} must be JSON data, got {_short(value)}") from None
        raise ValidationError(f"{self.code} must be a JSON object, list or text, got {_short(value)}")

    # ---- wire value -> user value (lenient) ----------------------------------------------------

    def from_wire(self, raw: Any) -> Any:
        """The user value of a reported wire value; a value that does not fit the type is returned as is."""
        if self.type is DpType.INTEGER and self.scale and not isinstance(raw, bool):
            number = _to_decimal(raw)
            if number is None:
                return raw
            return float(number.scaleb(-self.scale))
        if self.type is DpType.INTEGER and isinstance(raw, str):
            number = _to_decimal(raw)
            if number is None or number != number.to_integral_value():
                return raw
            return int(number)
        if self.type is DpType.JSON:
            if self.is_colour:
                return decode_colour(raw) or raw
            if isinstance(raw, str):
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    return raw
                return parsed if isinstance(parsed, (dict, list)) else raw
        return raw

    def __repr__(self) -> str:
        return f"DpDef({self.dp_id}, {self.code!r}, {self.type.value}, mode={self.mode.value})"


def _short(value: Any) -> str:
    """A value quoted in an error, cut short: errors must stay one readable line."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print (Python limits int-to-text conversion)
        return f"an integer of {value.bit_length()} bits" if isinstance(value, int) else type(value).__name__
    return text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 3] + "..."


def _limit(limits: Mapping[str, Any], key: str, default: int) -> int:
    found = _opt_int(limits.get(key))
    return default if found is None else found


def _opt_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _to_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value) if abs(value) <= _MAX_RAW else None
    if isinstance(value, (float, str, Decimal)):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() and number.copy_abs() <= _MAX_RAW else None  # copy_abs: no context overflow
    return None
