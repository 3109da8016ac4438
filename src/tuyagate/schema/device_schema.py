"""The DP schema of a device: code <-> DP id, types and limits, and value conversion for a whole device.

Where a schema comes from (the first that exists wins, see ``docs/sections/devices.md``):

- the cloud: ``GET /v1.1/devices/{id}/specifications`` (:meth:`DpSchema.from_cloud_specification`);
- tinytuya's ``devices.json`` ``mapping`` (:meth:`DpSchema.from_mapping`), itself made from that call;
- the user's configuration or our registry (:meth:`DpSchema.from_dicts`, the shape of :meth:`DpSchema.to_dicts`);
- the built-in schemas of common categories (:mod:`tuyagate.schema.builtin`).

A schema is immutable; :meth:`DpSchema.merged` gives a new one with some DPs overridden.

Commands name DPs by code or DP id and give user values either way (``{"temp_set": 21.5}`` and
``{"2": 21.5}`` are the same command). A DP the schema does not have is refused with
:class:`~tuyagate.errors.UnknownDpError` naming the known codes, whether it was named by code or by
id: a typo must not reach the device. Only a device with no schema at all takes DP ids as they are
(:attr:`DpSchema.validates` is then False, and command results say so).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from tuyagate.errors import ConfigError, TuyaError, UnknownDpError
from tuyagate.schema.describe import DpDescription
from tuyagate.schema.dp import DpDef, DpMode, DpType
from tuyagate.schema.quote import json_quote

__all__ = ["DpDef", "DpMode", "DpSchema", "DpType"]

_LOGGER = logging.getLogger(__name__)
_Values = Mapping[str, Any] | Mapping[int, Any] | Mapping[str | int, Any]  # keyed by code or DP id
_MAX_CODES_IN_ERROR = 12  # an unknown-DP error lists the known codes, up to this many
_ENTRY_KEYS = frozenset({"dp_id", "code", "type", "mode", "values", "name"})


class DpSchema:
    """All DPs of one device, looked up by code or by DP id (``20``, ``"20"`` or ``"switch_led"``)."""

    __slots__ = ("_by_code", "_by_id", "_dps")

    def __init__(self, dps: Iterable[DpDef] = ()) -> None:
        ordered = sorted(dps, key=lambda d: d.dp_id)
        self._by_id: dict[int, DpDef] = {}
        self._by_code: dict[str, DpDef] = {}
        for dp in ordered:
            if dp.dp_id in self._by_id:
                first = self._by_id[dp.dp_id].code
                raise ConfigError(f"DP id {dp.dp_id} is defined twice ({json_quote(first)} and {json_quote(dp.code)})")
            if dp.code in self._by_code:
                raise ConfigError(
                    f"DP code {json_quote(dp.code)} is defined twice (DP {self._by_code[dp.code].dp_id} and {dp.dp_id})"
                )
            self._by_id[dp.dp_id] = dp
            self._by_code[dp.code] = dp
        self._dps = tuple(ordered)

    # ---- sources --------------------------------------------------------------------------------

    @classmethod
    def from_cloud_specification(cls, spec: Mapping[str, Any]) -> DpSchema:
        """From ``/v1.1/devices/{id}/specifications`` (the response or its ``result``).

        ``functions`` are writable, ``status`` reported: a DP in both is ``rw``, in ``status`` only
        ``ro``, in ``functions`` only ``wr``. Entries without a DP id (the ``/v1.0`` variants of the
        call do not give one) cannot be used on the LAN and are left out.
        """
        result = spec.get("result", spec)
        if not isinstance(result, Mapping):
            raise ConfigError("a cloud specification must be an object with 'functions' and 'status'")
        functions = {e.get("code"): e for e in _entries(result.get("functions"))}
        status = {e.get("code"): e for e in _entries(result.get("status"))}
        dps: list[DpDef] = []
        for code in dict.fromkeys([*status, *functions]):
            entry = status.get(code) or functions[code]
            mode = DpMode.RW if code in status and code in functions else DpMode.RO if code in status else DpMode.WR
            dp_id = entry.get("dp_id", entry.get("dpId"))
            if dp_id is None or not isinstance(code, str):
                _LOGGER.debug("specification entry %r has no DP id; left out", code)
                continue
            dp = _lenient(dp_id, code, entry.get("type"), entry.get("values"), mode)
            if dp is not None:
                dps.append(dp)
        return cls(_dedupe(dps))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> DpSchema:
        """From tinytuya's ``devices.json`` ``mapping``: ``{"20": {"code", "type", "values"}, ...}``.

        The mapping merges the cloud's status and functions, so every DP is taken as ``rw``.
        Keys that are not DP ids (tinytuya keys by code when the cloud gave no id) are left out.
        """
        dps: list[DpDef] = []
        for key, entry in mapping.items():
            if not isinstance(entry, Mapping) or not str(key).strip().isdigit() or "code" not in entry:
                continue
            values = (
                entry.get("raw_values", entry.get("values")) if entry.get("type") == "Json" else entry.get("values")
            )
            dp = _lenient(key, entry["code"], entry.get("type"), values, DpMode.RW)
            if dp is not None:
                dps.append(dp)
        return cls(_dedupe(dps))

    @classmethod
    def from_dicts(cls, items: Iterable[Mapping[str, Any]]) -> DpSchema:
        """From :meth:`to_dicts` output or user configuration; strict, errors name the bad entry.

        Each item is ``{"dp_id", "code", "type", "values", "mode"}`` and optionally ``name`` (the human
        name front ends show); in hand-written configuration the limits may be given flat instead of in
        ``values`` (``{"dp_id": 2, "code": "temp_set", "type": "Integer", "min": 50, "max": 350,
        "scale": 1, "step": 5}``). ``mode`` defaults to ``rw``.
        """
        dps = []
        for item in items:
            try:
                dps.append(
                    DpDef.from_values(
                        item["dp_id"],
                        item["code"],
                        item.get("type", "Raw"),
                        item["values"] if "values" in item else _flat_values(item),
                        item.get("mode", "rw"),
                        name=str(item.get("name") or ""),
                    )
                )
            except KeyError as exc:
                raise ConfigError(f"DP schema entry {json_quote(dict(item))} lacks {json_quote(exc.args[0])}") from None
            except ValueError:
                raise ConfigError(f"DP schema entry {json_quote(dict(item))}: mode must be rw, ro or wr") from None
        return cls(dps)

    def to_dicts(self) -> list[dict[str, Any]]:
        """JSON-ready list, by DP id: ``{"dp_id", "code", "type", "values", "mode"}`` (the stored form)."""
        return [dp.to_dict() for dp in self._dps]

    def describe(self) -> list[dict[str, Any]]:
        """JSON-ready descriptions, by DP id: :meth:`to_dicts`'s keys plus label, user-unit range, ... ."""
        return [dp.describe() for dp in self._dps]

    def descriptions(self) -> list[DpDescription]:
        """The typed descriptions, by DP id (what MQTT discovery and the dashboard read)."""
        return [dp.description() for dp in self._dps]

    def merged(self, override: DpSchema | Iterable[DpDef]) -> DpSchema:
        """A schema with ``override``'s DPs replacing ours that share their DP id or their code."""
        new = list(override)
        ids = {d.dp_id for d in new}
        codes = {d.code for d in new}
        return DpSchema([*(d for d in self._dps if d.dp_id not in ids and d.code not in codes), *new])

    # ---- lookup ---------------------------------------------------------------------------------

    @property
    def validates(self) -> bool:
        """False for an empty schema: :meth:`encode` then passes DP ids through unchecked."""
        return bool(self._dps)

    def get(self, key: str | int) -> DpDef | None:
        """The DP named by code or DP id, or None."""
        if isinstance(key, str):
            found = self._by_code.get(key)
            if found is not None:
                return found
            key = key.strip()
            if not key.isdigit():
                return None
        elif not isinstance(key, int) or isinstance(key, bool):
            return None
        return self._by_id.get(int(key))

    def dp(self, key: str | int) -> DpDef:
        """The DP named by code or DP id; raises UnknownDpError naming the known codes."""
        found = self.get(key)
        if found is None:
            raise self.unknown(key)
        return found

    def unknown(self, key: Any) -> UnknownDpError:
        """The error for a DP this schema does not have: names the key and the known codes."""
        known = tuple(d.code for d in self._dps)
        text = str(key).strip()
        what = f"DP id {text}" if text.isdigit() else f"data point {json_quote(key)}"
        if known:
            listed = ", ".join(f"{d.code} ({d.dp_id})" for d in self._dps[:_MAX_CODES_IN_ERROR])
            hint = f"known: {listed}{', ...' if len(known) > _MAX_CODES_IN_ERROR else ''}"
        else:
            hint = "the device has no DP schema, so only DP ids can be given"
        return UnknownDpError(f"no {what} in this device's schema ({hint})", key=text, known=known)

    def code_for(self, dp_id: str | int) -> str | None:
        found = self._by_id.get(int(dp_id)) if str(dp_id).strip().isdigit() else None
        return found.code if found else None

    def id_for(self, code: str) -> int | None:
        found = self._by_code.get(code)
        return found.dp_id if found else None

    # ---- conversion -----------------------------------------------------------------------------

    def to_wire(self, key: str | int, value: Any) -> Any:
        """Validate and convert one user value to its LAN wire value (``23.5`` -> ``235`` with scale 1)."""
        return self.dp(key).to_wire(value)

    def to_cloud(self, key: str | int, value: Any) -> Any:
        """Validate and convert one user value to the value of a cloud command."""
        return self.dp(key).to_cloud(value)

    def from_wire(self, key: str | int, raw: Any) -> Any:
        """The user value of a reported raw value (``235`` -> ``23.5``); UnknownDpError for an unknown DP."""
        return self.dp(key).from_wire(raw)

    def encode(self, values: _Values) -> dict[str, Any]:
        """User values keyed by code or DP id -> LAN ``dps`` (``{"20": True, "22": 500}``), all validated.

        A code or DP id the schema does not have raises UnknownDpError; the first bad value raises
        ValidationError. An empty schema (a device nobody described) passes DP ids through as they
        are and refuses codes, since it knows none: see :attr:`validates`.
        """
        out: dict[str, Any] = {}
        for key, value in values.items():
            dp = self.get(key)
            if dp is None:
                text = str(key).strip()
                if self._dps or not text.isdigit():
                    raise self.unknown(key)
                out[str(int(text))] = value
                continue
            out[str(dp.dp_id)] = dp.to_wire(value)
        return out

    def encode_cloud(self, values: _Values) -> list[dict[str, Any]]:
        """User values keyed by code or DP id -> the cloud's ``commands`` list, all validated."""
        commands = []
        for key, value in values.items():
            dp = self.dp(key)
            commands.append({"code": dp.code, "value": dp.to_cloud(value)})
        return commands

    def dps_of(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Values a device reported by code, in user units -> LAN-form ``dps`` by DP id, unchecked.

        For backends that read user units (reflashed firmware); codes not in the schema are left out.
        """
        out: dict[str, Any] = {}
        for code, value in values.items():
            dp = self._by_code.get(code)
            if dp is not None:
                out[str(dp.dp_id)] = dp.wire_of(value)
        return out

    def decode(self, dps: Mapping[str, Any]) -> dict[str, Any]:
        """LAN ``dps`` -> user values by code; DPs not in the schema keep their id as key and raw value."""
        out: dict[str, Any] = {}
        for key, raw in dps.items():
            dp = self.get(key) if str(key).strip().isdigit() else None
            if dp is None:
                out[str(key)] = raw
            else:
                out[dp.code] = dp.from_wire(raw)
        return out

    def dps_from_cloud(self, status: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        """The cloud's ``[{"code", "value"}]`` status -> LAN-form ``dps`` by DP id (codes we lack are left out)."""
        out: dict[str, Any] = {}
        for item in status:
            dp = self._by_code.get(str(item.get("code")))
            if dp is None:
                continue
            value = item.get("value")
            if dp.is_colour:
                try:
                    value = replace(dp, mode=DpMode.RW).to_wire(dp.from_wire(value))
                except TuyaError:
                    pass  # keep what the cloud said
            out[str(dp.dp_id)] = value
        return out

    # ---- container protocol ---------------------------------------------------------------------

    def __iter__(self) -> Iterator[DpDef]:
        return iter(self._dps)

    def __len__(self) -> int:
        return len(self._dps)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, (str, int)) and self.get(key) is not None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DpSchema) and self.to_dicts() == other.to_dicts()

    __hash__ = None  # type: ignore[assignment]  # equal by content, and mutable-looking: not hashable

    def __repr__(self) -> str:
        return f"DpSchema({', '.join(f'{d.dp_id}:{d.code}' for d in self._dps)})"


def _flat_values(item: Mapping[str, Any]) -> dict[str, Any]:
    """Limits written next to ``dp_id``/``code`` in hand-written configuration."""
    return {k: v for k, v in item.items() if k not in _ENTRY_KEYS}


def _entries(value: Any) -> list[Mapping[str, Any]]:
    return [e for e in value if isinstance(e, Mapping)] if isinstance(value, list) else []


def _lenient(dp_id: Any, code: Any, type_: Any, values: Any, mode: DpMode) -> DpDef | None:
    """A DpDef from cloud-made data, or None (logged) when the entry cannot be understood."""
    try:
        return DpDef.from_values(dp_id, str(code), str(type_ or "Raw"), values, mode)
    except ConfigError as exc:
        _LOGGER.debug("DP entry %r left out: %s", code, exc)
        return None


def _dedupe(dps: list[DpDef]) -> list[DpDef]:
    """Keep the first DP for each id and each code, as tinytuya does when the cloud repeats one."""
    seen_ids: set[int] = set()
    seen_codes: set[str] = set()
    out = []
    for dp in dps:
        if dp.dp_id in seen_ids or dp.code in seen_codes:
            continue
        seen_ids.add(dp.dp_id)
        seen_codes.add(dp.code)
        out.append(dp)
    return out
