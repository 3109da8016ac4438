"""Tasmota's HTTP command API (``/cm?cmnd=...``) as a code-keyed client.

Every Tasmota command is one GET; the answer is the JSON the command would publish on MQTT. The
client maps those answers to Tuya-style codes (synthetic.py): ``POWER``/``POWERn`` -> ``switch_n``,
``Dimmer`` -> ``bright_value``, ``CT`` -> ``temp_value``, ``HSBColor`` -> ``colour_data``, and the
``StatusSNS.ENERGY`` readings -> ``cur_power``/``cur_voltage``/``cur_current``/``add_ele``. It reads
``Status 0`` (one call answers everything), sends one command per single-value set and a ``Backlog``
for several values.

Firmware differences it absorbs: ``Status.Power`` is an integer bit mask before 14.x and a bit string
("011", relay 1 rightmost) since; Tasmota 12+ accepts HTTP Basic auth and answers a bad password with
HTTP 401, older versions only read ``user``/``password`` query parameters and answer HTTP 200
``{"WARNING":"Need user=<username>&password=<password>"}``. In ``auth="auto"`` mode the client sends
Basic auth and falls back to query parameters when it sees that warning.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import httpx

from tuyagate.errors import DeviceError, ProtocolError, ValidationError
from tuyagate.flashed.backend import Description
from tuyagate.flashed.errors import FlashedAuthError
from tuyagate.flashed.http_base import HttpOptions, HttpTransport, excerpt, parse_json
from tuyagate.flashed.light import (
    MIRED_COLD,
    MIRED_WARM,
    bright_from_percent,
    colour_from_hsb,
    hsb_from_colour,
    mired_from_temp,
    percent_from_bright,
    temp_from_mired,
)
from tuyagate.flashed.synthetic import canonical, synthetic_schema

__all__ = ["TasmotaClient", "parse_power_field", "parse_state"]

_LOG = logging.getLogger(__name__)
AuthMode = Literal["auto", "basic", "query"]
_POWER_KEY = re.compile(r"^POWER(\d*)$", re.IGNORECASE)
_ON = {"ON": True, "OFF": False, "1": True, "0": False}


class _RedactPassword(logging.Filter):
    """httpx logs request URLs at INFO; old Tasmota needs the password in the query, so hide it there."""

    _PATTERN = re.compile(r"(password=)[^&\s\"']*", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._PATTERN.sub(r"\1***", str(a)) if "password=" in str(a).lower() else a for a in record.args
            )
        return True


def _install_redaction() -> None:
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactPassword) for f in httpx_log.filters):
        httpx_log.addFilter(_RedactPassword())


def _on_off(value: Any, key: str, where: str) -> bool:
    if isinstance(value, bool):
        return value
    state = _ON.get(str(value).upper())
    if state is None:
        raise ProtocolError(f"{where} reported {key}={excerpt(repr(value))}, expected ON or OFF")
    return state


def _number(value: Any, key: str, where: str) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise ProtocolError(f"{where} reported {key}={excerpt(repr(value))}, expected a number")
    return number


def parse_power_field(value: Any, count: int) -> dict[str, bool]:
    """``Status.Power``: an int bit mask (before 14.x) or a bit string, relay 1 the lowest bit/rightmost char."""
    if isinstance(value, str):
        if not value or set(value) - {"0", "1"}:
            raise ProtocolError(f"Status.Power {excerpt(repr(value))} is neither a bit string nor a number")
        mask, count = int(value, 2), max(count, len(value))
    elif isinstance(value, int) and not isinstance(value, bool):
        mask = value
    else:
        raise ProtocolError(f"Status.Power {excerpt(repr(value))} is neither a bit string nor a number")
    return {f"switch_{n}": bool(mask >> (n - 1) & 1) for n in range(1, count + 1)}


def parse_state(
    doc: Mapping[str, Any], where: str, *, mired: tuple[int, int] = (MIRED_COLD, MIRED_WARM)
) -> dict[str, Any]:
    """A command answer or ``StatusSTS`` -> values by code (keys it does not know are ignored)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        match = _POWER_KEY.match(key)
        if match:
            out[f"switch_{int(match.group(1) or 1)}"] = _on_off(value, key, where)
    if "Dimmer" in doc:
        out["bright_value"] = bright_from_percent(_number(doc["Dimmer"], "Dimmer", where))
    if "CT" in doc:
        out["temp_value"] = temp_from_mired(_number(doc["CT"], "CT", where), *mired)
    if "HSBColor" in doc:
        colour = colour_from_hsb(doc["HSBColor"])
        if colour is None:
            raise ProtocolError(f"{where} reported HSBColor={excerpt(repr(doc['HSBColor']))}, expected h,s,b")
        out["colour_data"] = colour
    return out


class TasmotaClient:
    """One Tasmota device reached at ``url`` (``http://host[:port]``)."""

    kind: ClassVar[str] = "tasmota"
    product: ClassVar[str] = "Tasmota"
    mired: ClassVar[tuple[int, int]] = (MIRED_COLD, MIRED_WARM)
    # ENERGY key of the total counter and its factor to kWh.
    energy_total: ClassVar[tuple[str, float]] = ("Total", 1.0)

    def __init__(
        self,
        url: str,
        *,
        user: str | None = "admin",
        password: str | None = None,
        options: HttpOptions | None = None,
        auth: AuthMode = "auto",
    ) -> None:
        self.transport = HttpTransport(url, user=user, password=password, options=options, label=self.product)
        self._auth: AuthMode = auth
        _install_redaction()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.transport.where!r})"

    @property
    def where(self) -> str:
        return self.transport.where

    # -- raw commands ---------------------------------------------------------------------------

    async def command(self, cmnd: str, *, timeout: float | None = None) -> dict[str, Any]:
        """Run one Tasmota command and return its JSON answer (``{}`` when it answers nothing)."""
        cmnd = cmnd.strip()
        if not cmnd:
            raise ValidationError("empty Tasmota command")
        doc = await self._command_once(cmnd, self._auth == "query", timeout)
        if self._needs_auth(doc) and self._auth == "auto" and self.transport.has_password:
            _LOG.debug("%s ignored Basic auth; sending user/password as query parameters", self.where)
            self._auth = "query"
            doc = await self._command_once(cmnd, True, timeout)
        return self._check(cmnd, doc)

    async def backlog(self, commands: Sequence[str], *, timeout: float | None = None) -> dict[str, Any]:
        """Run several commands as one ``Backlog`` (the firmware runs them after answering)."""
        parts = [c.strip() for c in commands if c.strip()]
        if any(";" in c for c in parts):
            raise ValidationError("a Backlog part cannot contain ';'")
        return await self.command("Backlog " + "; ".join(parts), timeout=timeout)

    async def _command_once(self, cmnd: str, in_query: bool, timeout: float | None) -> Any:
        params: dict[str, str] = {}
        creds = self.transport.credentials()
        if in_query and creds is not None:
            params["user"], params["password"] = creds
        params["cmnd"] = cmnd
        response = await self.transport.request("GET", "/cm", params=params, basic_auth=not in_query, timeout=timeout)
        return self._decode(response)

    def _decode(self, response: httpx.Response) -> Any:
        if response.status_code == 404:
            raise ProtocolError(f"{self.where} has no /cm command endpoint: is it running {self.product}?")
        if response.status_code >= 400:
            raise DeviceError(f"{self.where} answered HTTP {response.status_code}", code=response.status_code)
        return parse_json(response.content, self.where)

    @staticmethod
    def _needs_auth(doc: Any) -> bool:
        return isinstance(doc, dict) and "Need user=" in str(doc.get("WARNING", ""))

    def _check(self, cmnd: str, doc: Any) -> dict[str, Any]:
        if not isinstance(doc, dict):
            raise ProtocolError(f"{self.where} answered {cmnd!r} with {excerpt(repr(doc))}, expected a JSON object")
        if self._needs_auth(doc):
            raise FlashedAuthError(f"{self.where} needs a valid user and password (it answered 'Need user=...')")
        if str(doc.get("Command", "")).lower() == "unknown":
            raise DeviceError(f"{self.where} does not know the command {cmnd.split()[0]!r}")
        warning = doc.get("WARNING")
        if warning is not None:
            if "weblog" in str(warning).lower():
                return {}  # Backlog and friends answer only this: the commands still ran
            raise DeviceError(f"{self.where} answered {cmnd!r} with a warning: {excerpt(str(warning))}")
        return doc

    # -- code-keyed view ------------------------------------------------------------------------

    async def status_all(self, *, timeout: float | None = None) -> dict[str, Any]:
        """The raw ``Status 0`` answer."""
        doc = await self.command("Status 0", timeout=timeout)
        if not isinstance(doc.get("StatusSTS"), dict):
            raise ProtocolError(f"{self.where} answered Status 0 without a StatusSTS object: {excerpt(repr(doc))}")
        return doc

    async def status(self, *, timeout: float | None = None) -> dict[str, Any]:
        return self.parse_status(await self.status_all(timeout=timeout))

    def parse_status(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """A ``Status 0`` answer -> values by code."""
        values = parse_state(doc["StatusSTS"], self.where, mired=self.mired)
        status = doc.get("Status")
        if not any(k.startswith("switch_") for k in values) and isinstance(status, dict) and "Power" in status:
            names = status.get("FriendlyName")
            count = len(names) if isinstance(names, list) else 1
            values.update(parse_power_field(status["Power"], count))
        sns = doc.get("StatusSNS")
        if isinstance(sns, dict):
            values.update(self._sensors(sns))
        return values

    def _sensors(self, sns: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        energy = sns.get("ENERGY")
        if isinstance(energy, dict):
            total_key, total_factor = self.energy_total
            for key, code, factor, digits in (
                ("Power", "cur_power", 1.0, 1),
                ("Voltage", "cur_voltage", 1.0, 1),
                ("Current", "cur_current", 1000.0, 0),
                (total_key, "add_ele", total_factor, 3),
            ):
                if key in energy:
                    raw = energy[key]
                    # Multi-channel meters report lists; the device total is their sum (voltage: the first).
                    if isinstance(raw, list) and raw:
                        raw = raw[0] if key == "Voltage" else sum(_number(x, key, self.where) for x in raw)
                    number = round(_number(raw, key, self.where) * factor, digits)
                    out[code] = int(number) if digits == 0 else number
        for reading in sns.values():
            if isinstance(reading, dict):
                if "Temperature" in reading and "temp_current" not in out:
                    out["temp_current"] = round(_number(reading["Temperature"], "Temperature", self.where), 1)
                if "Humidity" in reading and "humidity_value" not in out:
                    out["humidity_value"] = round(_number(reading["Humidity"], "Humidity", self.where))
        return out

    async def describe(self, *, timeout: float | None = None) -> Description:
        doc = await self.status_all(timeout=timeout)
        values = self.parse_status(doc)
        schema = synthetic_schema(spec for code in values if (spec := canonical(code)) is not None)
        fwr = doc.get("StatusFWR") if isinstance(doc.get("StatusFWR"), dict) else {}
        status = doc.get("Status") if isinstance(doc.get("Status"), dict) else {}
        version = fwr.get("Version") if isinstance(fwr, dict) else None
        name = status.get("DeviceName") if isinstance(status, dict) else None
        return Description(
            schema=schema,
            product=self.product,
            firmware=str(version) if version is not None else None,
            name=str(name) if name else None,
            state=values,
        )

    def commands_for(self, values: Mapping[str, Any]) -> list[str]:
        """Validated values by code -> Tasmota commands, in a stable order."""
        cmds: list[str] = []
        for code, value in values.items():
            if code.startswith("switch_") and code[7:].isdigit():
                cmds.append(f"Power{int(code[7:])} {'ON' if value else 'OFF'}")
            elif code == "bright_value":
                cmds.append(f"Dimmer {percent_from_bright(value)}")
            elif code == "temp_value":
                cmds.append(f"CT {mired_from_temp(value, *self.mired)}")
            elif code == "colour_data":
                cmds.append(f"HSBColor {hsb_from_colour(value)}")
            else:
                raise ValidationError(f"{code} cannot be set on {self.product}")
        return cmds

    async def set(self, values: Mapping[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        cmds = self.commands_for(values)
        if not cmds:
            return {}
        if len(cmds) == 1:
            return parse_state(await self.command(cmds[0], timeout=timeout), self.where, mired=self.mired)
        await self.backlog(cmds, timeout=timeout)
        return self.expected(values)  # Backlog answers nothing: report what the firmware will hold

    def expected(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The values the firmware holds after ``values`` are sent (its units round some of them)."""
        out: dict[str, Any] = {}
        for code, value in values.items():
            if code == "bright_value":
                value = bright_from_percent(percent_from_bright(value))
            elif code == "temp_value":
                value = temp_from_mired(mired_from_temp(value, *self.mired), *self.mired)
            elif code == "colour_data":
                value = colour_from_hsb(hsb_from_colour(value))
            out[code] = value
        return out

    def watch(self) -> None:
        return None  # no push channel over HTTP: the device adapter polls

    async def close(self) -> None:
        await self.transport.close()
