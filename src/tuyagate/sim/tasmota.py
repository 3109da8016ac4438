"""An emulated Tasmota (or OpenBeken) device: its state and its command interpreter.

This is the firmware side only, with no HTTP: :meth:`TasmotaEmulator.execute` takes a command line as
``/cm?cmnd=`` would and returns the JSON object the firmware answers (``None`` when the real firmware
answers nothing, as for ``Backlog``). tasmota_app.py puts it behind the HTTP API with the same auth
rules as the firmware. Answers follow Tasmota 14.x (``mode="tasmota"``), pre-12 Tasmota
(``legacy=True``: ``Status.Power`` an integer, password only in the query) or OpenBeken
(``mode="openbeken"``: Basic auth, integer ``Status.Power``, ``ConsumptionTotal`` in Wh, ``{}`` for
unknown commands).
"""

from __future__ import annotations

import colorsys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from tuyagate.sim.http_server import Faults

__all__ = ["Faults", "TasmotaConfig", "TasmotaEmulator"]

Mode = Literal["tasmota", "openbeken"]
Light = Literal["none", "dimmer", "ct", "rgb", "rgbct"]
_ON_WORDS = {"1": 1, "ON": 1, "TRUE": 1, "0": 0, "OFF": 0, "FALSE": 0, "2": 2, "TOGGLE": 2}


@dataclass(slots=True)
class TasmotaConfig:
    """What the emulated device has."""

    relays: int = 1
    light: Light = "none"  # a light is driven by power output 1
    energy: bool = True
    user: str = "admin"
    password: str | None = None
    mode: Mode = "tasmota"
    legacy: bool = False  # Tasmota before 12: query-only auth answered with HTTP 200, integer Status.Power
    name: str = "tasmota-sim"
    load_watts: float = 60.0  # drawn by each output that is on
    voltage: float = 230.0


@dataclass(slots=True)
class _Light:
    dimmer: int = 100
    ct: int = 153
    hue: int = 0
    sat: int = 0


@dataclass(slots=True)
class TasmotaEmulator:
    """The state and command interpreter of one emulated device."""

    config: TasmotaConfig = field(default_factory=TasmotaConfig)
    faults: Faults = field(default_factory=Faults)
    power: list[bool] = field(default_factory=list)
    light: _Light = field(default_factory=_Light)
    commands: list[str] = field(default_factory=list)  # every command executed, for tests
    started: float = field(default_factory=time.monotonic)
    _total_kwh: float = 0.0
    _energy_at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.config.relays < 1:
            raise ValueError("a Tasmota device has at least one power output")
        if not self.power:
            self.power = [False] * self.config.relays
        if self.config.mode == "openbeken":
            self.light.ct = max(self.light.ct, 154)

    @property
    def obk(self) -> bool:
        return self.config.mode == "openbeken"

    @property
    def ct_range(self) -> tuple[int, int]:
        return (154, 500) if self.obk else (153, 500)

    # -- command interpreter --------------------------------------------------------------------

    def execute(self, line: str) -> dict[str, Any] | int | None:
        """Run one command line; the answer (an object; OpenBeken's SetChannel: a bare number), or None."""
        line = line.strip()
        name, _, payload = line.partition(" ")
        payload = payload.strip()
        upper = name.upper()
        self.commands.append(line)
        base = upper.rstrip("0123456789")
        index_text = upper[len(base) :]
        index = int(index_text) if index_text else None
        if base in ("BACKLOG",):
            for part in payload.split(";"):
                if part.strip():
                    self.execute(part)
            return None
        handlers: dict[str, Callable[[int | None, str], dict[str, Any] | int]] = {
            "POWER": self._power,
            "DIMMER": self._dimmer,
            "CT": self._ct,
            "HSBCOLOR": self._hsbcolor,
            "COLOR": self._color,
            "STATUS": self._status,
            "STATE": self._state,
            "SETCHANNEL": self._setchannel,
            "FRIENDLYNAME": self._friendlyname,
        }
        handler = handlers.get(base)
        light_cmd = base in ("DIMMER", "CT", "HSBCOLOR", "COLOR")
        if handler is None or (light_cmd and not self._has_light(base)) or (base == "SETCHANNEL" and not self.obk):
            return {} if self.obk else {"Command": "Unknown"}
        return handler(index, payload)

    def _has_light(self, base: str) -> bool:
        kind = self.config.light
        if base == "DIMMER":
            return kind != "none"
        if base == "CT":
            return kind in ("ct", "rgbct")
        return kind in ("rgb", "rgbct")

    def _power_key(self, n: int) -> str:
        return "POWER" if self.config.relays == 1 else f"POWER{n}"

    def _power_json(self, only: int | None = None) -> dict[str, Any]:
        outputs = range(1, self.config.relays + 1) if only is None else (only,)
        return {self._power_key(n): "ON" if self.power[n - 1] else "OFF" for n in outputs}

    def _set_power(self, n: int, on: bool) -> None:
        self._account_energy()
        self.power[n - 1] = on

    def _power(self, index: int | None, payload: str) -> dict[str, Any]:
        targets = list(range(1, self.config.relays + 1)) if index == 0 else [index or 1]
        if any(n > self.config.relays for n in targets):
            return {} if self.obk else {"Command": "Unknown"}
        action = _ON_WORDS.get(payload.upper()) if payload else None
        for n in targets:
            if action is not None:
                self._set_power(n, (not self.power[n - 1]) if action == 2 else bool(action))
        if self.obk:
            return self._light_json() if self.config.light != "none" else self._power_json()
        return self._power_json(None if index == 0 else targets[0])

    def _dimmer(self, _index: int | None, payload: str) -> dict[str, Any]:
        value = self._int(payload)
        if payload in ("+", "-"):
            value = self.light.dimmer + (10 if payload == "+" else -10)
            value = max(0, min(100, value))
        if value is not None and 0 <= value <= 100:
            self.light.dimmer = value
            self._set_power(1, value > 0)
        return self._light_json() if payload or not self.obk else {"Dimmer": self.light.dimmer}

    def _ct(self, _index: int | None, payload: str) -> dict[str, Any]:
        value = self._int(payload)
        lo, hi = self.ct_range
        if value is not None and lo <= value <= hi:
            self.light.ct = value
            self._set_power(1, True)
        return self._light_json() if payload or not self.obk else {"CT": self.light.ct}

    def _hsbcolor(self, _index: int | None, payload: str) -> dict[str, Any]:
        parts = [self._int(p) for p in payload.split(",")] if payload else []
        if len(parts) == 3 and all(p is not None for p in parts):
            h, s, b = (int(p or 0) for p in parts)
            if 0 <= h <= 360 and 0 <= s <= 100 and 0 <= b <= 100:
                self.light.hue, self.light.sat, self.light.dimmer = h, s, b
                self._set_power(1, b > 0)
        return self._light_json()

    def _color(self, _index: int | None, payload: str) -> dict[str, Any]:
        rgb: tuple[int, int, int] | None = None
        text = payload.lstrip("#")
        if "," in text:
            nums = [self._int(p) for p in text.split(",")]
            if len(nums) >= 3 and all(n is not None and 0 <= n <= 255 for n in nums[:3]):
                rgb = (int(nums[0] or 0), int(nums[1] or 0), int(nums[2] or 0))
        elif len(text) >= 6:
            try:
                rgb = (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))
            except ValueError:
                rgb = None
        if rgb is not None:
            h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
            self.light.hue, self.light.sat, self.light.dimmer = round(h * 360) % 360, round(s * 100), round(v * 100)
            self._set_power(1, v > 0)
        return self._light_json()

    def _setchannel(self, _index: int | None, payload: str) -> int:
        """OpenBeken answers SetChannel with the channel's value as a bare number, not an object."""
        parts = payload.split()
        ch, value = (self._int(parts[0]), self._int(parts[1])) if len(parts) == 2 else (None, None)
        if ch is not None and value is not None and 1 <= ch <= self.config.relays:
            self._set_power(ch, value != 0)
        return int(self.power[ch - 1]) if ch is not None and 1 <= ch <= self.config.relays else 0

    def _friendlyname(self, index: int | None, payload: str) -> dict[str, Any]:
        if payload:
            self.config.name = payload
        return {f"FriendlyName{index or 1}": self.config.name}

    @staticmethod
    def _int(text: str) -> int | None:
        try:
            return int(text.strip())
        except ValueError:
            return None

    def _rgb(self) -> tuple[int, int, int]:
        r, g, b = colorsys.hsv_to_rgb(self.light.hue / 360, self.light.sat / 100, self.light.dimmer / 100)
        return round(r * 255), round(g * 255), round(b * 255)

    def _light_json(self) -> dict[str, Any]:
        """The light-state object Tasmota answers to Dimmer/CT/HSBColor/Color (and OpenBeken to POWER)."""
        kind, lt = self.config.light, self.light
        out: dict[str, Any] = {} if self.obk else self._power_json(1)
        if kind == "none":
            return out | self._power_json(1)
        out["Dimmer"] = lt.dimmer
        if self.obk:
            out |= {"Fade": "OFF", "Speed": 1, "LedTable": "ON"}
        if kind in ("rgb", "rgbct"):
            r, g, b = self._rgb()
            out["Color"] = f"{r},{g},{b}" if self.obk else f"{r:02X}{g:02X}{b:02X}"
            out["HSBColor"] = f"{lt.hue},{lt.sat},{lt.dimmer}"
            out["Channel"] = [round(c * 100 / 255) for c in (r, g, b)]
        if kind in ("ct", "rgbct"):
            if not self.obk:
                out["White"] = lt.dimmer
            out["CT"] = lt.ct
        if self.obk:
            out["POWER"] = "ON" if self.power[0] else "OFF"
        return out

    # -- status ---------------------------------------------------------------------------------

    def _account_energy(self) -> None:
        now = time.monotonic()
        self._total_kwh += self.watts() * (now - self._energy_at) / 3_600_000
        self._energy_at = now

    def watts(self) -> float:
        return self.config.load_watts * sum(self.power) if self.config.energy else 0.0

    def _energy(self) -> dict[str, Any]:
        self._account_energy()
        watts, volts = self.watts(), self.config.voltage
        amps = round(watts / volts, 3) if volts else 0.0
        if self.obk:
            return {
                "Power": watts,
                "ApparentPower": watts,
                "ReactivePower": 0.0,
                "Factor": 1.0 if watts else 0.0,
                "Voltage": volts,
                "Current": amps,
                "ConsumptionTotal": round(self._total_kwh * 1000, 3),
                "Yesterday": 0.0,
                "ConsumptionLastHour": 0.0,
            }
        return {
            "TotalStartTime": _now(),
            "Total": round(self._total_kwh, 3),
            "Yesterday": 0.0,
            "Today": round(self._total_kwh, 3),
            "Power": round(watts),
            "ApparentPower": round(watts),
            "ReactivePower": 0,
            "Factor": 1.0 if watts else 0.0,
            "Voltage": round(volts),
            "Current": amps,
        }

    def _sns(self) -> dict[str, Any]:
        sns: dict[str, Any] = {"Time": _now()}
        if self.config.energy:
            sns["ENERGY"] = self._energy()
        return sns

    def _sts(self) -> dict[str, Any]:
        up = int(time.monotonic() - self.started)
        sts: dict[str, Any] = {
            "Time": _now(),
            "Uptime": f"{up // 86400}T{time.strftime('%H:%M:%S', time.gmtime(up))}",
            "UptimeSec": up,
            "Heap": 25,
            "SleepMode": "Dynamic",
            "Sleep": 50,
            "LoadAvg": 19,
            "MqttCount": 0,
        }
        sts |= self._power_json()
        if self.config.light != "none":
            sts |= {k: v for k, v in self._light_json().items() if not k.startswith("POWER")}
        sts["Wifi"] = {
            "AP": 1,
            "SSId": "tuyagate-sim",
            "BSSId": "00:00:00:00:00:01",
            "Channel": 1,
            "Mode": "11n",
            "RSSI": 100,
            "Signal": -40,
            "LinkCount": 1,
            "Downtime": "0T00:00:03",
        }
        return sts

    def _status_power(self) -> int | str:
        mask = sum(1 << i for i, on in enumerate(self.power) if on)
        if self.obk or self.config.legacy:
            return mask
        return format(mask, f"0{self.config.relays}b")

    def sections(self) -> dict[str, dict[str, Any]]:
        """Every ``Status n`` section by its JSON key."""
        names = [
            self.config.name if self.config.relays == 1 else f"{self.config.name} {n}"
            for n in range(1, self.config.relays + 1)
        ]
        version = "9.5.0(tasmota)" if self.config.legacy else "14.4.1(release-tasmota)"
        fwr: dict[str, Any] = {
            "Version": version,
            "BuildDateTime": "2026-01-01T00:00:00",
            "Boot": 31,
            "Core": "2_7_8",
            "SDK": "2.2.2-dev(38a443e)",
            "CpuFrequency": 80,
            "Hardware": "ESP8266EX",
            "CR": "378/699",
        }
        if self.obk:
            fwr = {
                "Version": "OpenBK7231T_1.18.0",
                "BuildDateTime": "Jan 1 2026 00:00:00",
                "Boot": 7,
                "Core": "0.0",
                "SDK": "obk",
                "CpuFrequency": 80,
                "Hardware": "BK7231T",
                "CR": "465/699",
            }
        return {
            "Status": {
                "Module": 0,
                "DeviceName": self.config.name,
                "FriendlyName": names,
                "Topic": "tasmota_sim",
                "ButtonTopic": "0",
                "Power": self._status_power(),
                "PowerOnState": 3,
                "LedState": 1,
                "LedMask": "FFFF",
                "SaveData": 1,
                "SaveState": 1,
                "SwitchTopic": "0",
                "SwitchMode": [0] * 8,
                "ButtonRetain": 0,
                "SwitchRetain": 0,
                "SensorRetain": 0,
                "PowerRetain": 0,
                "InfoRetain": 0,
                "StateRetain": 0,
            },
            "StatusPRM": {
                "Baudrate": 115200,
                "SerialConfig": "8N1",
                "GroupTopic": "tasmotas",
                "OtaUrl": "",
                "RestartReason": "Power On",
                "Uptime": self._sts()["Uptime"],
                "Sleep": 50,
                "BootCount": 1,
                "SaveCount": 1,
            },
            "StatusFWR": fwr,
            "StatusLOG": {
                "SerialLog": 2,
                "WebLog": 2,
                "MqttLog": 0,
                "SysLog": 0,
                "LogHost": "",
                "LogPort": 514,
                "SSId": ["tuyagate-sim", ""],
                "TelePeriod": 300,
            },
            "StatusMEM": {
                "ProgramSize": 616,
                "Free": 384,
                "Heap": 25,
                "ProgramFlashSize": 1024,
                "FlashSize": 2048,
                "FlashMode": 3,
            },
            "StatusNET": {
                "Hostname": self.config.name,
                "IPAddress": "127.0.0.1",
                "Gateway": "127.0.0.1",
                "Subnetmask": "255.0.0.0",
                "Mac": "02:00:00:00:00:01",
                "Webserver": 2,
                "HTTP_API": 1,
                "WifiConfig": 4,
            },
            "StatusMQT": {
                "MqttHost": "",
                "MqttPort": 1883,
                "MqttClient": "DVES_SIM",
                "MqttUser": "DVES_USER",
                "MqttCount": 0,
                "MAX_PACKET_SIZE": 1200,
                "KEEPALIVE": 30,
            },
            "StatusTIM": {
                "UTC": _now(),
                "Local": _now(),
                "StartDST": "2026-03-29T02:00:00",
                "EndDST": "2026-10-25T03:00:00",
                "Timezone": "+00:00",
            },
            "StatusSNS": self._sns(),
            "StatusSTS": self._sts(),
        }

    def _status(self, _index: int | None, payload: str) -> dict[str, Any]:
        sections = self.sections()
        if payload == "0" or (self.obk and not payload):
            return sections
        key = {
            "1": "StatusPRM",
            "2": "StatusFWR",
            "3": "StatusLOG",
            "4": "StatusMEM",
            "5": "StatusNET",
            "6": "StatusMQT",
            "7": "StatusTIM",
            "8": "StatusSNS",
            "10": "StatusSNS",
            "11": "StatusSTS",
        }.get(payload, "Status")
        return {key: sections[key]}

    def _state(self, _index: int | None, _payload: str) -> dict[str, Any]:
        return self._sts()

    def channels(self) -> dict[str, int]:
        """OpenBeken's ``/api/channels``: relay n is channel n."""
        return {str(n): int(on) for n, on in enumerate(self.power, start=1)}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
