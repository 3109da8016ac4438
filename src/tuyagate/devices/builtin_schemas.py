"""Built-in DP schemas for the common categories, used when neither the cloud nor the user gave one.

DP ids and limits follow Tuya's standard function definitions and what real devices report:

- switches ``kg``, sockets ``cz``, power strips ``pc``: ``switch_1`` .. ``switch_n`` on DPs 1..n. A
  single-gang device has ``countdown_1`` on DP 9 (Tuya's metering-socket definition); multi-gang
  devices put ``countdown_i`` on DP 6+i (7..12), as wall switches and strips do.
- power metering (Tuya's "smart metering socket"): 17 ``add_ele`` (kWh, scale 3, step 100),
  18 ``cur_current`` (mA), 19 ``cur_power`` (W, scale 1), 20 ``cur_voltage`` (V, scale 1),
  26 ``fault`` (bitmap), 38 ``relay_status`` (off/on/memory).
- lights ``dj`` (v2 DP set): 20 ``switch_led``, 21 ``work_mode``, 22 ``bright_value_v2`` 10..1000,
  23 ``temp_value_v2`` 0..1000, 24 ``colour_data_v2`` (h 0..360, s/v 0..1000), 25 ``scene_data_v2``,
  26 ``countdown_1``.
- covers ``cl``: 1 ``control`` (open/stop/close/continue), 2 ``percent_control``, 3 ``percent_state``,
  5 ``control_back_mode``, 7 ``work_state``.
- thermostats ``wk``: 1 ``switch``, 2 ``temp_set`` (0.5 degree steps, scale 1), 3 ``temp_current``,
  4 ``mode``, 6 ``child_lock``. Thermostat DP layouts vary more than the others: prefer the cloud's.
- temperature/humidity sensors ``wsdcg``: 1 ``va_temperature`` (scale 1), 2 ``va_humidity``,
  3 ``battery_state``, 4 ``battery_percentage``, 9 ``temp_unit_convert``.

A device's real schema (cloud specification or tinytuya mapping) always wins over these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tuyagate.errors import NotFoundError
from tuyagate.schema import DpSchema
from tuyagate.schema.dp import DpDef, DpMode, DpType

__all__ = [
    "BUILTIN_CATEGORIES",
    "builtin_schema",
    "cover_schema",
    "guess_builtin_schema",
    "light_schema",
    "schema_for",
    "switch_schema",
    "th_sensor_schema",
    "thermostat_schema",
]

MAX_GANGS = 6  # switch_1..switch_6 is as far as Tuya's standard switch definition goes
SWITCH_CATEGORIES = ("kg", "cz", "pc")
METERING_DPS = ("17", "18", "19", "20")  # a device reporting any of these meters energy
RO, RW = DpMode.RO, DpMode.RW


def _int(
    dp_id: int, code: str, lo: int, hi: int, *, unit: str = "", scale: int = 0, step: int = 1, mode: DpMode = RW
) -> DpDef:
    return DpDef(dp_id, code, DpType.INTEGER, mode, unit=unit, min=lo, max=hi, scale=scale, step=step)


def _enum(dp_id: int, code: str, options: tuple[str, ...], mode: DpMode = RW) -> DpDef:
    return DpDef(dp_id, code, DpType.ENUM, mode, range=options)


def _bool(dp_id: int, code: str, mode: DpMode = RW) -> DpDef:
    return DpDef(dp_id, code, DpType.BOOLEAN, mode)


def switch_schema(gangs: int = 1, *, metering: bool = False) -> DpSchema:
    """Switches, sockets and strips with ``gangs`` outputs (1..6), optionally power metering."""
    if not 1 <= gangs <= MAX_GANGS:
        raise NotFoundError(f"no built-in schema for {gangs} gangs (1 to {MAX_GANGS})")
    dps: list[DpDef] = []
    for i in range(1, gangs + 1):
        dps.append(_bool(i, f"switch_{i}"))
        dps.append(_int(9 if gangs == 1 else 6 + i, f"countdown_{i}", 0, 86400, unit="s"))
    if metering:
        dps += [
            _int(17, "add_ele", 0, 50000, unit="kWh", scale=3, step=100),
            _int(18, "cur_current", 0, 30000, unit="mA", mode=RO),
            _int(19, "cur_power", 0, 80000, unit="W", scale=1, mode=RO),
            _int(20, "cur_voltage", 0, 5000, unit="V", scale=1, mode=RO),
            DpDef(26, "fault", DpType.BITMAP, RO, labels=("ov_cr", "ov_vol", "ov_pwr", "ls_cr", "ls_vol", "ls_pow")),
            _enum(38, "relay_status", ("off", "on", "memory")),
        ]
    return DpSchema(dps)


def light_schema() -> DpSchema:
    """White and colour lights with the v2 DP set (20..26)."""
    level = {"min": 0, "max": 1000, "scale": 0, "step": 1, "unit": ""}
    colour = {"h": {"min": 0, "max": 360, "scale": 0, "step": 1, "unit": ""}, "s": dict(level), "v": dict(level)}
    return DpSchema(
        [
            _bool(20, "switch_led"),
            _enum(21, "work_mode", ("white", "colour", "scene", "music")),
            _int(22, "bright_value_v2", 10, 1000),
            _int(23, "temp_value_v2", 0, 1000),
            DpDef(24, "colour_data_v2", DpType.JSON, RW, fields=colour),
            DpDef(25, "scene_data_v2", DpType.JSON, RW),
            _int(26, "countdown_1", 0, 86400, unit="s"),
        ]
    )


def cover_schema() -> DpSchema:
    """Curtains, blinds and shutters."""
    return DpSchema(
        [
            _enum(1, "control", ("open", "stop", "close", "continue")),
            _int(2, "percent_control", 0, 100, unit="%"),
            _int(3, "percent_state", 0, 100, unit="%", mode=RO),
            _enum(5, "control_back_mode", ("forward", "back")),
            _enum(7, "work_state", ("opening", "closing"), mode=RO),
        ]
    )


def thermostat_schema() -> DpSchema:
    """Room and floor thermostats: on/off, target and current temperature, mode."""
    return DpSchema(
        [
            _bool(1, "switch"),
            _int(2, "temp_set", 50, 350, unit="°C", scale=1, step=5),
            _int(3, "temp_current", -200, 1000, unit="°C", scale=1, mode=RO),
            _enum(4, "mode", ("auto", "manual", "eco", "holiday", "program")),
            _bool(6, "child_lock"),
        ]
    )


def th_sensor_schema() -> DpSchema:
    """Battery temperature and humidity sensors."""
    return DpSchema(
        [
            _int(1, "va_temperature", -200, 600, unit="°C", scale=1, mode=RO),
            _int(2, "va_humidity", 0, 100, unit="%", mode=RO),
            _enum(3, "battery_state", ("low", "middle", "high"), mode=RO),
            _int(4, "battery_percentage", 0, 100, unit="%", mode=RO),
            _enum(9, "temp_unit_convert", ("c", "f")),
        ]
    )


_FACTORIES: dict[str, Callable[[], DpSchema]] = {
    "dj": light_schema,
    "cl": cover_schema,
    "wk": thermostat_schema,
    "wsdcg": th_sensor_schema,
}
BUILTIN_CATEGORIES: tuple[str, ...] = (*SWITCH_CATEGORIES, *_FACTORIES)


def builtin_schema(category: str, *, gangs: int = 1, metering: bool = False) -> DpSchema:
    """The built-in schema of a category (``kg``, ``cz``, ``pc``, ``dj``, ``cl``, ``wk``, ``wsdcg``).

    ``gangs`` and ``metering`` apply to the switch categories. Raises NotFoundError for others.
    """
    if category in SWITCH_CATEGORIES:
        return switch_schema(gangs, metering=metering)
    factory = _FACTORIES.get(category)
    if factory is None:
        raise NotFoundError(
            f"no built-in DP schema for category {category!r} (built in: {', '.join(BUILTIN_CATEGORIES)}); "
            "import the cloud specification or give the schema in the configuration"
        )
    return factory()


def guess_builtin_schema(category: str, dps: Mapping[str, Any] | None = None) -> DpSchema | None:
    """A built-in schema for a category, sized from a status seen (gangs, metering), or None if none fits.

    For switches the number of gangs is the number of boolean DPs among 1..6 in ``dps``, and the
    metering DPs are added when any of 17..20 is present.
    """
    if category not in BUILTIN_CATEGORIES:
        return None
    if category not in SWITCH_CATEGORIES:
        return builtin_schema(category)
    seen = dps or {}
    gangs = sum(1 for i in range(1, MAX_GANGS + 1) if isinstance(seen.get(str(i)), bool)) or 1
    metering = any(k in seen for k in METERING_DPS)
    return switch_schema(gangs, metering=metering)


def schema_for(
    category: str = "",
    *,
    cloud: DpSchema | None = None,
    user: DpSchema | None = None,
    dps: Mapping[str, Any] | None = None,
) -> tuple[DpSchema, str]:
    """The schema a device should use, and its source: ``cloud``, ``builtin``, ``user`` or ``""``.

    The cloud's specification (or a tinytuya mapping, which is the same data) wins over the built-in
    schema of the category (sized from ``dps`` for switches); DPs the user configured replace the
    DPs with the same id or code on top of either. With nothing at all, the schema is empty and
    DPs can still be used by id.
    """
    base, source = (cloud, "cloud") if cloud else (guess_builtin_schema(category, dps), "builtin")
    if not base:
        base, source = DpSchema(), ""
    if user:
        return base.merged(user), "user"
    return base, source
