"""Where the MQTT bridge connects and how it names things: one frozen :class:`MqttConfig`.

A broker is named by one URL, ``mqtt://user:pass@host:1883`` or ``mqtts://host:8883?ca=/path/ca.pem``, so
that the command line (``--mqtt URL``), the environment (``TUYAGATE_MQTT_URL``) and the ``[mqtt]`` table of
the configuration file all say the same thing the same way. The query string carries the bridge's own
options (``node_id``, ``prefix``, ``discovery``, ``discovery_prefix``, ``client_id``, ``keepalive``, ``ca``,
``link_topic``).

The password is a secret: it is kept out of ``repr``, every message about a URL shows it as ``***``
(:func:`redact_url`), and it may instead come from ``TUYAGATE_MQTT_PASSWORD`` or from the vault
(``tuyagate mqtt password`` stores it as :data:`VAULT_PASSWORD`), so it need not sit in a file or a
process list.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from tuyagate.errors import ConfigError

__all__ = [
    "VAULT_PASSWORD",
    "MqttConfig",
    "default_node_id",
    "load_mqtt_config",
    "parse_mqtt_url",
    "redact_url",
    "with_vault_password",
]

VAULT_PASSWORD = "mqtt/password"  # the vault entry ``tuyagate mqtt password`` writes
ENV_URL = "TUYAGATE_MQTT_URL"
ENV_NODE_ID = "TUYAGATE_MQTT_NODE_ID"
ENV_PASSWORD = "TUYAGATE_MQTT_PASSWORD"
SCHEMES = {"mqtt": (False, 1883), "tcp": (False, 1883), "mqtts": (True, 8883), "ssl": (True, 8883)}
_NODE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TOPIC_BAD = ("+", "#", "\x00")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
# Options a URL query string or the [mqtt] table may set, with the field each one fills.
_OPTIONS = {
    "node_id": "node_id",
    "prefix": "prefix",
    "discovery": "discovery",
    "discovery_prefix": "discovery_prefix",
    "client_id": "client_id",
    "keepalive": "keepalive",
    "ca": "ca_file",
    "ca_file": "ca_file",
    "link_topic": "link_topic",
}


def default_node_id() -> str:
    """This machine's host name as a node id (letters, digits, ``_`` and ``-``): distinct per site by default."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname().split(".")[0])[:64]
    return name or "tuyagate"


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """A broker and the bridge's naming; defaults are what Home Assistant expects."""

    host: str
    port: int = 1883
    tls: bool = False
    ca_file: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    prefix: str = "tuyagate"  # device topics: <prefix>/<device_id>/state ...
    node_id: str = field(default_factory=default_node_id)  # this gateway, among several on one broker
    client_id: str | None = None  # default tuyagate-<node_id>: unique per broker as MQTT requires
    discovery: bool = True
    discovery_prefix: str = "homeassistant"
    keepalive: int = 30  # seconds; the broker declares us dead (and sends the last will) after 1.5x this
    coalesce: float = 0.1  # at most one state message per device per this many seconds under a burst
    command_timeout: float = 5.0  # deadline of one command received on a set topic
    reconnect_min: float = 0.5  # first wait before reconnecting; doubles up to reconnect_max
    reconnect_max: float = 30.0
    publishers: int = 16  # publishes in flight at once (each waits for the broker's acknowledgement)
    batch_window: float = 0.005  # seconds a message waits for others when the bridge was idle (CPU per message)
    # A site broker bridged to a central one reports its link there (Mosquitto's bridge notifications: "1"/"0");
    # naming that topic makes every entity unavailable in a central Home Assistant while the link is down.
    link_topic: str | None = None

    def __post_init__(self) -> None:
        if not self.host:
            raise ConfigError("the MQTT broker URL needs a host, as in mqtt://host:1883")
        if not 0 < self.port <= 65535:
            raise ConfigError(f"the MQTT port must be 1..65535 (got {self.port})")
        if not _NODE_ID.match(self.node_id):
            raise ConfigError(
                f"MQTT node_id {self.node_id!r} must be 1-64 letters, digits, '_' or '-' (it names topics)"
            )
        for name, topic in (("prefix", self.prefix), ("discovery_prefix", self.discovery_prefix)):
            if not topic or topic.startswith("/") or topic.endswith("/") or any(c in topic for c in _TOPIC_BAD):
                raise ConfigError(f"MQTT {name} {topic!r} must be a topic without wildcards or outer '/'")
        if self.prefix == self.discovery_prefix:
            raise ConfigError("the MQTT prefix and the Home Assistant discovery prefix must differ")
        if not 5 <= self.keepalive <= 3600:
            raise ConfigError(f"MQTT keepalive must be 5..3600 seconds (got {self.keepalive})")
        if not 0 <= self.batch_window <= 1:
            raise ConfigError("MQTT batch_window must be 0..1 seconds")
        if self.coalesce < 0 or self.command_timeout <= 0 or not 0 < self.reconnect_min <= self.reconnect_max:
            raise ConfigError("MQTT timing settings must be positive (reconnect_min <= reconnect_max)")
        if self.ca_file is not None and not self.tls:
            raise ConfigError("an MQTT CA file needs an mqtts:// URL")
        if self.link_topic is not None and (not self.link_topic or any(c in self.link_topic for c in _TOPIC_BAD)):
            raise ConfigError(f"MQTT link_topic {self.link_topic!r} must be a topic without wildcards")
        if not 1 <= self.publishers <= 256:
            raise ConfigError("MQTT publishers must be 1..256")

    @property
    def identifier(self) -> str:
        return self.client_id or f"tuyagate-{self.node_id}"

    @property
    def display_url(self) -> str:
        """The broker as a URL that is safe to log (no password)."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = (
            f"{self.username}:***@"
            if self.username and self.password
            else (f"{self.username}@" if self.username else "")
        )
        return f"{scheme}://{user}{self.host}:{self.port}"

    def with_options(self, **changes: Any) -> MqttConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, for error messages and logs."""
    return re.sub(r"(://[^:/@?#]*:)[^@/?#]*@", r"\1***@", url)


def parse_mqtt_url(url: str, **defaults: Any) -> MqttConfig:
    """A config from ``mqtt[s]://[user[:password]@]host[:port][?option=value&...]``; ConfigError otherwise."""
    shown = redact_url(url)
    try:
        parts = urlsplit(url.strip())
        port_text = parts.port
    except ValueError as exc:
        raise ConfigError(f"invalid MQTT URL {shown}: {str(exc).replace(url, shown)}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(f"invalid MQTT URL {shown}: the scheme must be mqtt:// or mqtts://")
    if parts.path not in ("", "/") or parts.fragment:
        raise ConfigError(f"invalid MQTT URL {shown}: it must not have a path")
    tls, default_port = SCHEMES[scheme]
    values: dict[str, Any] = dict(defaults)
    values.update(host=parts.hostname or "", port=port_text or default_port, tls=tls)
    if parts.username:
        values["username"] = unquote(parts.username)
    if parts.password is not None:
        values["password"] = unquote(parts.password)
    for key, raw in parse_qsl(parts.query, keep_blank_values=True):
        values.update(_option(key, raw, where=f"MQTT URL {shown}"))
    return MqttConfig(**values)


def _option(key: str, raw: Any, *, where: str) -> dict[str, Any]:
    name = _OPTIONS.get(key)
    if name is None:
        raise ConfigError(f"{where}: unknown option {key!r} (known: {', '.join(sorted(set(_OPTIONS)))})")
    if name == "discovery":
        text = str(raw).strip().lower()
        if isinstance(raw, bool):
            return {name: raw}
        if text not in _TRUE | _FALSE:
            raise ConfigError(f"{where}: discovery must be true or false, not {raw!r}")
        return {name: text in _TRUE}
    if name == "keepalive":
        try:
            return {name: int(raw)}
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: keepalive must be a whole number of seconds, not {raw!r}") from None
    return {name: str(raw)}


def load_mqtt_config(
    path: Path | str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    url: str | None = None,
    node_id: str | None = None,
) -> MqttConfig | None:
    """The bridge's config, or None when no broker is named anywhere.

    Precedence: the ``[mqtt]`` table of the TOML file < ``TUYAGATE_MQTT_URL`` / ``TUYAGATE_MQTT_NODE_ID`` /
    ``TUYAGATE_MQTT_PASSWORD`` < ``url`` and ``node_id`` (the command line). The table takes ``url`` and the
    URL's options as keys (``node_id``, ``prefix``, ``discovery``, ...); a password does not belong in it.
    """
    environ = os.environ if env is None else env
    table: dict[str, Any] = {}
    if path is not None:
        file = Path(path)
        try:
            doc = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration file {file} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration file {file} is not valid TOML: {exc}") from None
        found = doc.get("mqtt", {})
        if not isinstance(found, dict):
            raise ConfigError("[mqtt] in the configuration must be a table")
        table = dict(found)
    chosen = url or environ.get(ENV_URL) or table.pop("url", None)
    table.pop("url", None)
    if not chosen:
        if table:
            raise ConfigError("the [mqtt] table needs a url = 'mqtt://host:1883'")
        return None
    if "password" in table:
        raise ConfigError("keep the MQTT password out of the configuration file: use `tuyagate mqtt password`")
    options: dict[str, Any] = {}
    for key, raw in table.items():
        options.update(_option(key, raw, where="[mqtt]"))
    config = parse_mqtt_url(str(chosen), **options)
    changes: dict[str, Any] = {}
    chosen_node = node_id or environ.get(ENV_NODE_ID)
    if chosen_node:
        changes["node_id"] = chosen_node
    if config.password is None and environ.get(ENV_PASSWORD):
        changes["password"] = environ[ENV_PASSWORD]
    return config.with_options(**changes) if changes else config


class SecretStore(Protocol):
    def get(self, name: str) -> str | None: ...


def with_vault_password(config: MqttConfig, vault: SecretStore) -> MqttConfig:
    """``config`` with the vault's MQTT password when it names a user but no password."""
    if config.username and config.password is None:
        stored = vault.get(VAULT_PASSWORD)
        if stored:
            return config.with_options(password=stored)
    return config
