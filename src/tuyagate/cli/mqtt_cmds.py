"""``tuyagate mqtt password``, and the ``--mqtt`` options ``serve`` and ``demo`` share.

The broker password is kept in the vault (encrypted at rest, like local keys) rather than in the
configuration file or on a command line, where it would show in the process list; ``serve`` reads it
when the MQTT URL names a user without a password.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuyagate.cli.context import open_store
from tuyagate.errors import ConfigError

if TYPE_CHECKING:
    from tuyagate.devices.hub import Home
    from tuyagate.mqtt.bridge import MqttBridge
    from tuyagate.mqtt.config import MqttConfig

__all__ = ["add_mqtt_options", "bridge_config", "register", "start_bridge"]


def add_mqtt_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mqtt",
        metavar="URL",
        default=None,
        help="also bridge every device to this MQTT broker, with Home Assistant discovery "
        "(mqtt://[user@]host[:1883][?node_id=...], mqtts://host:8883?ca=/path/ca.pem; or TUYAGATE_MQTT_URL)",
    )
    parser.add_argument(
        "--mqtt-node-id",
        metavar="ID",
        default=None,
        help="this gateway's name among several on one broker (default: the host name)",
    )


def bridge_config(args: argparse.Namespace, config_file: str | Path | None = None) -> MqttConfig | None:
    """The bridge's config from ``--mqtt``, the environment and the config file's ``[mqtt]`` table; None if none."""
    from tuyagate.mqtt.config import load_mqtt_config

    return load_mqtt_config(config_file, url=args.mqtt, node_id=args.mqtt_node_id)


async def start_bridge(home: Home, config: MqttConfig, data_dir: Path | None = None) -> MqttBridge:
    """A started bridge for ``home``; the password comes from the vault when the URL names only a user."""
    from tuyagate.mqtt.bridge import MqttBridge
    from tuyagate.mqtt.config import with_vault_password

    if config.username and config.password is None and home.registry is not None:
        from tuyagate.devices.vault import Vault

        config = with_vault_password(config, Vault.open(home.registry.db, data_dir))
    bridge = MqttBridge(home, config)
    await bridge.start()
    return bridge


def register(commands: argparse._SubParsersAction[Any]) -> None:
    mqtt = commands.add_parser("mqtt", help="settings of the MQTT bridge (serve --mqtt)")
    actions = mqtt.add_subparsers(dest="mqtt_command", metavar="ACTION")
    actions.required = True
    password = actions.add_parser(
        "password",
        help="store the MQTT broker password in the vault (read from the terminal, or one line of stdin)",
        description="Store (or with --delete remove) the password serve --mqtt uses when the URL names a user "
        "but no password. It is encrypted in the vault and never printed.",
    )
    password.add_argument("--data-dir", default=None, help="registry and vault directory")
    password.add_argument("--delete", action="store_true", help="remove the stored password")
    password.set_defaults(func=_password)


def _password(args: argparse.Namespace) -> int:
    from tuyagate.mqtt.config import VAULT_PASSWORD

    with open_store(args) as (_registry, vault):
        if args.delete:
            removed = vault.delete(VAULT_PASSWORD)
            sys.stdout.write("removed the MQTT password\n" if removed else "no MQTT password was stored\n")
            return 0
        if sys.stdin.isatty():
            secret = getpass.getpass("MQTT password: ")
        else:
            secret = sys.stdin.readline().rstrip("\r\n")
        if not secret:
            raise ConfigError("no password given (nothing stored)")
        vault.put(VAULT_PASSWORD, secret)
    sys.stdout.write("stored the MQTT password in the vault\n")
    return 0
