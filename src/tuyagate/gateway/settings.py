"""Gateway settings: one frozen dataclass, read from the ``[gateway]`` table of ``tuyagate.toml`` and
overridden by ``TUYAGATE_*`` environment variables.

Settings are a value, not a global: ``create_app`` receives them, so two gateways with different
settings can run in one process (the tests do). The cloud-compatible client secret is a secret: it
is kept out of ``repr`` so that logging the settings never leaks it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from tuyagate.devices.paths import resolve_data_dir
from tuyagate.errors import ConfigError

__all__ = ["AuthMode", "GatewaySettings", "default_data_dir", "is_loopback", "load_settings"]

AuthMode = Literal["auto", "on", "off"]
ENV_PREFIX = "TUYAGATE_"


def default_data_dir() -> Path:
    """Where tokens live when the configuration names no place: the registry's data directory."""
    return resolve_data_dir()


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """Everything the web app and ``serve_app`` need to know; defaults are the safe choice."""

    host: str = "127.0.0.1"
    port: int = 8780
    data_dir: Path = field(default_factory=default_data_dir)
    # "auto": API tokens are required when any token exists or the gateway listens beyond loopback.
    auth: AuthMode = "auto"
    request_timeout: float = 5.0  # seconds a device call may take before the answer is a 504
    max_body_bytes: int = 64 * 1024
    sse_heartbeat: float = 15.0  # seconds between SSE keep-alive comments
    sse_queue_size: int = 256  # events buffered per SSE client before the oldest are dropped
    sse_max_clients: int = 256
    auth_max_failures: int = 10  # failed authentications per client IP and window before 429
    auth_failure_window: float = 60.0
    # Requests per second per client IP (token bucket; 0 turns it off), and the burst allowed. Clients
    # on loopback are exempt unless rate_limit_loopback is set.
    rate_limit: float = 50.0
    rate_limit_burst: int = 200
    rate_limit_loopback: bool = False
    # The request head (request line and headers): its deadline (slow clients are cut off with 408),
    # and sizes beyond which it is refused (414 for the URL with its query, 431 for the headers).
    header_timeout: float = 10.0
    max_url_bytes: int = 8 * 1024
    max_header_bytes: int = 16 * 1024
    max_headers: int = 100
    # Tuya-cloud-compatible API: the credentials local clients use instead of the real cloud's.
    cloud_client_id: str = ""
    cloud_client_secret: str = field(default="", repr=False)
    cloud_token_ttl: int = 7200
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    # Live events from the cloud's message service for the home's cloud login (`serve --cloud-events`).
    cloud_events: bool = False
    # The history of numeric DPs (the dashboard's charts), kept in the registry's database.
    history_days: float = 7.0  # 0 turns the history off
    history_resolution: float = 10.0  # seconds: at most one point per DP in each
    history_max_points: int = 1_000_000  # all DPs together (~50 MB)
    # The dashboard's "Scan" action (tuyagate scan): where it listens and where it sends the 3.5 probe.
    scan_listen: str = "0.0.0.0"
    scan_ports: str = "6666,6667,7000"
    scan_probe: str = "255.255.255.255:7000"  # HOST:PORT, comma-separated; empty: listen only

    def __post_init__(self) -> None:
        if self.auth not in get_args(AuthMode):
            raise ConfigError(f"gateway auth must be one of auto, on, off (got {self.auth!r})")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"gateway port must be 0..65535 (got {self.port})")
        if self.request_timeout <= 0 or self.sse_heartbeat <= 0:
            raise ConfigError("gateway request_timeout and sse_heartbeat must be positive")
        if self.history_days < 0 or self.history_resolution <= 0 or self.history_max_points < 1:
            raise ConfigError("gateway history_days must be >= 0, history_resolution and history_max_points positive")
        if self.max_body_bytes < 1024:
            raise ConfigError("gateway max_body_bytes must be at least 1024")
        if self.rate_limit < 0 or self.rate_limit_burst < 1:
            raise ConfigError("gateway rate_limit must be >= 0 (0: off) and rate_limit_burst at least 1")
        if self.header_timeout <= 0:
            raise ConfigError("gateway header_timeout must be positive")
        if self.max_url_bytes < 256 or self.max_header_bytes < 1024 or self.max_headers < 8:
            raise ConfigError(
                "gateway max_url_bytes must be at least 256, max_header_bytes at least 1024, max_headers at least 8"
            )
        if self.auth == "off" and not is_loopback(self.host):
            raise ConfigError(
                f"auth = 'off' is only allowed on a loopback address, not {self.host}; "
                "use auth = 'auto' and an API token"
            )

    @property
    def tokens_file(self) -> Path:
        """The JSON file that holds the hashed API tokens."""
        return self.data_dir / "api-tokens.json"

    @property
    def scan_port_list(self) -> tuple[int, ...]:
        """``scan_ports`` as numbers."""
        try:
            ports = tuple(int(p) for p in self.scan_ports.split(",") if p.strip())
        except ValueError:
            raise ConfigError(
                f"gateway scan_ports must be comma-separated port numbers (got {self.scan_ports!r})"
            ) from None
        if not ports or not all(0 <= p <= 65535 for p in ports):
            raise ConfigError(f"gateway scan_ports must name ports 0..65535 (got {self.scan_ports!r})")
        return ports

    @property
    def scan_probe_targets(self) -> tuple[tuple[str, int], ...]:
        """``scan_probe`` as (host, port) pairs."""
        targets = []
        for item in (t.strip() for t in self.scan_probe.split(",")):
            if not item:
                continue
            host, _, port = item.rpartition(":")
            if not host or not port.isdigit():
                raise ConfigError(f"gateway scan_probe must be HOST:PORT[,HOST:PORT...] (got {self.scan_probe!r})")
            targets.append((host, int(port)))
        return tuple(targets)

    @property
    def cloud_compat_enabled(self) -> bool:
        return bool(self.cloud_client_id and self.cloud_client_secret)


_BOOLS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _convert(name: str, raw: Any, kind: Any) -> Any:
    """Turn a TOML or environment value into the type of the dataclass field ``name``."""
    text = str(kind)
    try:
        if text == "bool":
            if isinstance(raw, bool):
                return raw
            word = str(raw).strip().lower()
            if word not in _BOOLS:
                raise ValueError("expected true or false")
            return _BOOLS[word]
        if "Path" in text:
            return Path(str(raw)).expanduser()
        if text in ("int",):
            return int(raw)
        if text in ("float",):
            return float(raw)
        if "None" in text and (raw is None or raw == ""):
            return None
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"gateway setting {name}: cannot use {raw!r} ({exc})") from None


def load_settings(
    path: Path | str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> GatewaySettings:
    """Read settings: defaults < ``[gateway]`` table of the TOML file < ``TUYAGATE_<FIELD>`` env < overrides.

    A top-level ``data_dir`` key is honoured too, so the gateway keeps its tokens next to the registry.
    ``[gateway.cloud_compat]`` with ``client_id``/``client_secret`` is accepted as a friendlier spelling.
    """
    env = os.environ if env is None else env
    fields = {f.name: f.type for f in dataclasses.fields(GatewaySettings)}
    values: dict[str, Any] = {}
    if path is not None:
        file = Path(path)
        try:
            doc = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration file {file} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration file {file} is not valid TOML: {exc}") from None
        if "data_dir" in doc:
            values["data_dir"] = doc["data_dir"]
        table = doc.get("gateway", {})
        if not isinstance(table, dict):
            raise ConfigError("[gateway] in the configuration must be a table")
        compat = table.pop("cloud_compat", {})
        if isinstance(compat, dict):
            for key in ("client_id", "client_secret", "token_ttl"):
                if key in compat:
                    values[f"cloud_{key}"] = compat[key]
        for key, raw in table.items():
            if key not in fields:
                raise ConfigError(f"unknown gateway setting {key!r} (known: {', '.join(sorted(fields))})")
            values[key] = raw
    for name in fields:
        env_name = ENV_PREFIX + name.upper()
        if env_name in env:
            values[name] = env[env_name]
    values.update({k: v for k, v in overrides.items() if v is not None})
    unknown = set(values) - set(fields)
    if unknown:
        raise ConfigError(f"unknown gateway setting(s): {', '.join(sorted(unknown))}")
    converted = {name: _convert(name, raw, fields[name]) for name, raw in values.items()}
    return GatewaySettings(**converted)
