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

A device's real schema (cloud specification or tinytuya mapping) always wins over these. They live
beside the schema itself so that every layer (the router, the emulators, tests) can use them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tuyagate.errors import NotFoundError
from tuyagate.schema.build import bitmap, boolean, colour, enum, integer, json_dp
from tuyagate.schema.device_schema import DpSchema
from tuyagate.schema.dp import DpDef, DpMode

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
RO = DpMode.RO


def switch_schema(gangs: int = 1, *, metering: bool = False) -> DpSchema:
    """Switches, sockets and strips with ``gangs`` outputs (1..6), optionally power metering."""
    if not 1 <= gangs <= MAX_GANGS:
        raise NotFoundError(f"no built-in schema for {gangs} gangs (1 to {MAX_GANGS})")
    dps: list[DpDef] = []
    for i in range(1, gangs + 1):
        dps.append(boolean(i, f"switch_{i}"))
        dps.append(integer(9 if gangs == 1 else 6 + i, f"countdown_{i}", 0, 86400, unit="s"))
    if metering:
        dps += [
            integer(17, "add_ele", 0, 50000, unit="kWh", scale=3, step=100),
            integer(18, "cur_current", 0, 30000, unit="mA", mode=RO),
            integer(19, "cur_power", 0, 80000, unit="W", scale=1, mode=RO),
            integer(20, "cur_voltage", 0, 5000, unit="V", scale=1, mode=RO),
            bitmap(26, "fault", ("ov_cr", "ov_vol", "ov_pwr", "ls_cr", "ls_vol", "ls_pow")),
            enum(38, "relay_status", ("off", "on", "memory")),
        ]
    return DpSchema(dps)


def light_schema() -> DpSchema:
    """White and colour lights with the v2 DP set (20..26)."""
    return DpSchema(
        [
            boolean(20, "switch_led"),
            enum(21, "work_mode", ("white", "colour", "scene", "music")),
            integer(22, "bright_value_v2", 10, 1000),
            integer(23, "temp_value_v2", 0, 1000),
            colour(24, "colour_data_v2"),
            json_dp(25, "scene_data_v2"),
            integer(26, "countdown_1", 0, 86400, unit="s"),
        ]
    )


def cover_schema() -> DpSchema:
    """Curtains, blinds and shutters."""
    return DpSchema(
        [
            enum(1, "control", ("open", "stop", "close", "continue")),
            integer(2, "percent_control", 0, 100, unit="%"),
            integer(3, "percent_state", 0, 100, unit="%", mode=RO),
            enum(5, "control_back_mode", ("forward", "back")),
            enum(7, "work_state", ("opening", "closing"), mode=RO),
        ]
    )


def thermostat_schema() -> DpSchema:
    """Room and floor thermostats: on/off, target and current temperature, mode."""
    return DpSchema(
        [
            boolean(1, "switch"),
            integer(2, "temp_set", 50, 350, unit="°C", scale=1, step=5),
            integer(3, "temp_current", -200, 1000, unit="°C", scale=1, mode=RO),
            enum(4, "mode", ("auto", "manual", "eco", "holiday", "program")),
            boolean(6, "child_lock"),
        ]
    )


def th_sensor_schema() -> DpSchema:
    """Battery temperature and humidity sensors."""
    return DpSchema(
        [
            integer(1, "va_temperature", -200, 600, unit="°C", scale=1, mode=RO),
            integer(2, "va_humidity", 0, 100, unit="%", mode=RO),
            enum(3, "battery_state", ("low", "middle", "high"), mode=RO),
            integer(4, "battery_percentage", 0, 100, unit="%", mode=RO),
            enum(9, "temp_unit_convert", ("c", "f")),
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
