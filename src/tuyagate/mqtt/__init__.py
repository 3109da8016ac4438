"""The MQTT bridge: every device on a broker, with Home Assistant discovery.

The bridge is one more subscriber of the home's event bus (:meth:`~tuyagate.device_api.DeviceManager.events`):
it publishes each device's state and availability as retained messages, turns messages on the set
topics into validated commands, and describes every device to Home Assistant from its DP schema.

- :mod:`~tuyagate.mqtt.config`: the broker URL and the bridge's naming (:class:`MqttConfig`).
- :mod:`~tuyagate.mqtt.topics`: every topic name.
- :mod:`~tuyagate.mqtt.link`: one connection to the broker (gmqtt, loaded only when a bridge starts).
- :mod:`~tuyagate.mqtt.state`: state payloads and the per-device coalescing of bursts.
- :mod:`~tuyagate.mqtt.commands`: set-topic payloads -> validated commands -> result payloads.
- :mod:`~tuyagate.mqtt.discovery`: Home Assistant discovery, one module per platform.
- :mod:`~tuyagate.mqtt.bridge`: the lifecycle (connect, last will, re-publish, reconnect with backoff).

Usage::

    async with tuyagate.open_home() as home, MqttBridge(home, parse_mqtt_url("mqtt://127.0.0.1")) as bridge:
        ...
"""

from __future__ import annotations

from tuyagate.mqtt.bridge import MqttBridge
from tuyagate.mqtt.config import MqttConfig, load_mqtt_config, parse_mqtt_url

__all__ = ["MqttBridge", "MqttConfig", "load_mqtt_config", "parse_mqtt_url"]
