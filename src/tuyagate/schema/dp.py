"""One data point (DP): its type and limits, and the conversion between user values and wire values.

A *user value* is what people read and write (``23.5`` degrees, ``"colour"``, ``{"h": 120, ...}``). A
*wire value* is what the device carries in its DPs (``235`` with scale 1, a hex colour string, base64
for raw DPs). :meth:`DpDef.to_wire` validates before converting, so a bad value is refused with a
message that names the allowed range or options before anything is sent; :meth:`DpDef.from_wire`
is lenient, because what a device reports is a fact, not a request. Messages quote values as JSON
(``got null``, ``got "abc"``), the way callers of the gateway wrote them.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tuyagate.errors import ConfigError, ValidationError
from tuyagate.schema.colour import HSV_KEYS, V1_MAX_SV, decode_colour, encode_colour_hex, is_colour_fields
from tuyagate.schema.describe import DpDescription, user_number
from tuyagate.schema.kinds import DpMode, DpType
from tuyagate.schema.labels import default_label
from tuyagate.schema.numbers import MAX_DIGITS, MAX_RAW, limit, opt_int, to_decimal
from tuyagate.schema.quote import json_list, json_quote

__all__ = ["DpDef", "DpMode", "DpType"]

_TRUE_WORDS = frozenset({"true", "on", "yes", "1"})
_FALSE_WORDS = frozenset({"false", "off", "no", "0"})
_COLOUR_SHAPE = '{"h": ..., "s": ..., "v": ...}'


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
    name: str = ""  # a human name given by the schema's source; "" = made from the code (see ``label``)

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def from_values(
        cls,
        dp_id: int | str,
        code: str,
        type_: str | DpType,
        values: Any,
        mode: str | DpMode = DpMode.RW,
        *,
        name: str = "",
    ) -> DpDef:
        """Build from the cloud's ``values`` (a dict, or the JSON text the cloud sends)."""
        if isinstance(values, str):
            try:
                values = json.loads(values) if values.strip() else {}
            except (ValueError, RecursionError):
                values = {}
        if not isinstance(values, dict):
            values = {}
        dp_type = type_ if isinstance(type_, DpType) else DpType.parse(type_)
        try:
            ident = int(dp_id)
        except (TypeError, ValueError):
            raise ConfigError(f"DP id of {json_quote(code)} must be an integer, got {json_quote(dp_id)}") from None
        kwargs: dict[str, Any] = {}
        if dp_type is DpType.INTEGER:
            kwargs = {
                "unit": str(values.get("unit") or ""),
                "min": opt_int(values.get("min")),
                "max": opt_int(values.get("max")),
                "scale": opt_int(values.get("scale")) or 0,
                "step": max(opt_int(values.get("step")) or 1, 1),
            }
        elif dp_type is DpType.ENUM:
            kwargs = {"range": tuple(str(v) for v in values.get("range") or ())}
        elif dp_type in (DpType.STRING, DpType.RAW):
            kwargs = {"maxlen": opt_int(values.get("maxlen"))}
        elif dp_type is DpType.BITMAP:
            kwargs = {
                "labels": tuple(str(v) for v in values.get("label") or ()),
                "maxlen": opt_int(values.get("maxlen")),
            }
        elif dp_type is DpType.JSON:
            kwargs = {"fields": dict(values)}
        return cls(dp_id=ident, code=str(code), type=dp_type, mode=DpMode(str(mode)), name=str(name or ""), **kwargs)

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
        """JSON-ready: ``dp_id``, ``code``, ``type``, ``values``, ``mode`` (the fleet manifest's shape too).

        ``name`` is added only when the schema's source gave one, so stored schemas keep their shape.
        """
        out = {
            "dp_id": self.dp_id,
            "code": self.code,
            "type": self.type.value,
            "values": self.values,
            "mode": self.mode.value,
        }
        if self.name:
            out["name"] = self.name
        return out

    # ---- description --------------------------------------------------------------------------

    @property
    def writable(self) -> bool:
        """Commands may set it (``rw``, ``wr``)."""
        return self.mode is not DpMode.RO

    @property
    def readable(self) -> bool:
        """The device reports it (``rw``, ``ro``)."""
        return self.mode is not DpMode.WR

    @property
    def is_colour(self) -> bool:
        return self.type is DpType.JSON and is_colour_fields(self.fields)

    @property
    def label(self) -> str:
        """The human name: the schema's own ``name``, else one made from the code (``cur_power`` -> "Power")."""
        return self.name or default_label(self.code)

    def description(self) -> DpDescription:
        """The typed description front ends read (ranges in user units)."""
        number = self.type is DpType.INTEGER
        return DpDescription(
            dp_id=self.dp_id,
            code=self.code,
            type=self.type,
            mode=self.mode,
            label=self.label,
            unit=self.unit,
            min=None if not number or self.min is None else user_number(self.min, self.scale),
            max=None if not number or self.max is None else user_number(self.max, self.scale),
            step=user_number(self.step, self.scale) if number else None,
            scale=self.scale if number else 0,
            options=self.range,
            flags=self.labels,
            maxlen=self.maxlen,
            colour={k: self._colour_range(k) for k in HSV_KEYS} if self.is_colour else None,
        )

    def describe(self) -> dict[str, Any]:
        """JSON-ready: :meth:`to_dict`'s keys plus the description's (label, user-unit range, ...)."""
        return self.to_dict() | self.description().to_dict()

    def _colour_range(self, key: str) -> tuple[int, int]:
        limits = self.fields[key]
        return limit(limits, "min", 0), limit(limits, "max", 1000)

    # ---- user value -> wire value (validating) -----------------------------------------------

    def to_wire(self, value: Any) -> Any:
        """Validate a user value and give the value to put in the device's DPs (LAN form)."""
        if not self.writable:
            raise ValidationError(f"{self.code} is read-only (the device only reports it)")
        if self.type is DpType.JSON:
            if self.is_colour:
                hsv = self._check_colour(value)
                return encode_colour_hex(hsv["h"], hsv["s"], hsv["v"], v1=self._colour_range("s")[1] <= V1_MAX_SV)
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
            except (ValueError, RecursionError):
                return text
        return self._to_common(value)

    def wire_of(self, value: Any) -> Any:
        """The wire form of a value a device *reported* in user units, without checks (a report is a fact).

        The lenient inverse of :meth:`from_wire`, for backends that read user units (reflashed
        firmware) but show Tuya-style ``dps``: a value that does not fit the type is returned as is.
        """
        if self.type is DpType.INTEGER:
            number = to_decimal(value)
            if number is not None:
                return int(number.scaleb(self.scale).to_integral_value())
        elif self.is_colour:
            hsv = decode_colour(value)
            if hsv is not None:
                return encode_colour_hex(hsv["h"], hsv["s"], hsv["v"], v1=self._colour_range("s")[1] <= V1_MAX_SV)
        return value

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
        raise ValidationError(f"{self.code} must be true or false, got {json_quote(value)}")

    def _check_integer(self, value: Any) -> int:
        number = to_decimal(value)
        raw = None if number is None else number.scaleb(self.scale)
        if raw is None or raw != raw.to_integral_value() or not self._in_range(raw):
            raise ValidationError(f"{self.code} must be {self._describe_integer()}, got {json_quote(value)}")
        return int(raw)

    def _in_range(self, raw: Decimal) -> bool:
        if raw.copy_abs() > MAX_RAW:  # checked before int(), as is every parsed number: "1e999999999" stays small
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
        """A raw limit shown in user units with the DP's decimals (``50`` with scale 1 is ``5.0``)."""
        if self.scale <= 0:
            return str(raw * 10 ** (-self.scale))
        return f"{Decimal(raw).scaleb(-self.scale):.{self.scale}f}"

    def _check_enum(self, value: Any) -> str:
        text = value if isinstance(value, str) else None
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_RAW:
            text = str(value)  # options like "1", "2" given as numbers on a command line
        if text is not None and (text in self.range or not self.range):
            return text
        raise ValidationError(f"{self.code} must be one of {json_list(self.range)}, got {json_quote(value)}")

    def _check_string(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError(f"{self.code} must be a string, got {json_quote(value)}")
        if self.maxlen is not None and len(value) > self.maxlen:
            raise ValidationError(
                f"{self.code} must be a string of at most {self.maxlen} characters, got {len(value)} characters"
            )
        return value

    def _check_raw(self, value: Any) -> str:
        shape = f'{self.code} must be raw bytes as base64 text or "hex:...", got {json_quote(value)}'
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
        elif isinstance(value, str) and value.startswith("hex:"):
            try:
                data = bytes.fromhex(value[4:])
            except ValueError:
                raise ValidationError(f'{self.code}: {json_quote(value)} is not valid hex after "hex:"') from None
        elif isinstance(value, str):
            try:
                data = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ValidationError(shape) from None
        else:
            raise ValidationError(shape)
        if self.maxlen is not None and len(data) > self.maxlen:
            raise ValidationError(f"{self.code} must be at most {self.maxlen} bytes, got {len(data)} bytes")
        return base64.b64encode(data).decode("ascii")

    def _check_bitmap(self, value: Any) -> int:
        bits = self.maxlen or len(self.labels) or 32
        if isinstance(value, (list, tuple, set, frozenset)):
            number = 0
            for label in value:
                if label not in self.labels:
                    raise ValidationError(
                        f"{self.code}: unknown flag {json_quote(label)} (flags: {json_list(self.labels)})"
                    )
                number |= 1 << self.labels.index(label)
            return number
        if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= MAX_DIGITS:
            value = int(value.strip())
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < (1 << bits):
            return value
        raise ValidationError(
            f"{self.code} must be an integer bitmap between 0 and {(1 << bits) - 1}, got {json_quote(value)}"
        )

    def _check_colour(self, value: Any) -> dict[str, int]:
        hsv = decode_colour(value)
        if hsv is None:
            raise ValidationError(
                f"{self.code} must be a colour {_COLOUR_SHAPE} (or its hex form), got {json_quote(value)}"
            )
        for key in HSV_KEYS:
            low, high = self._colour_range(key)
            if not low <= hsv[key] <= high:
                raise ValidationError(
                    f"{self.code}.{key} must be an integer between {low} and {high}, got {json_quote(hsv[key])}"
                )
        return hsv

    def _json_text(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, (dict, list)):
            try:
                return json.dumps(value, separators=(",", ":"), allow_nan=False)
            except (TypeError, ValueError):
                raise ValidationError(f"{self.code} must be JSON data, got {json_quote(value)}") from None
        raise ValidationError(f"{self.code} must be a JSON object, list or text, got {json_quote(value)}")

    # ---- wire value -> user value (lenient) ----------------------------------------------------

    def from_wire(self, raw: Any) -> Any:
        """The user value of a reported wire value; a value that does not fit the type is returned as is."""
        if self.type is DpType.INTEGER and self.scale and not isinstance(raw, bool):
            number = to_decimal(raw)
            if number is None:
                return raw
            return float(number.scaleb(-self.scale))
        if self.type is DpType.INTEGER and isinstance(raw, str):
            number = to_decimal(raw)
            if number is None or number != number.to_integral_value():
                return raw
            return int(number)
        if self.type is DpType.JSON:
            if self.is_colour:
                return decode_colour(raw) or raw
            if isinstance(raw, str):
                try:
                    parsed = json.loads(raw)
                except (ValueError, RecursionError):
                    return raw
                return parsed if isinstance(parsed, (dict, list)) else raw
        return raw

    def __repr__(self) -> str:
        return f"DpDef({self.dp_id}, {self.code!r}, {self.type.value}, mode={self.mode.value})"
