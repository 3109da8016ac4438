"""Home Assistant MQTT discovery generated from the one DP schema and the device category.

- :mod:`~tuyagate.mqtt.discovery.view`: the adapter from the schema to discovery's view of a device.
- :mod:`~tuyagate.mqtt.discovery.entity`: what every entity shares (device block, origin, availability).
- one module per platform: :mod:`~.light`, :mod:`~.cover`, :mod:`~.climate`, :mod:`~.fan`,
  :mod:`~.sensors` (sensor, binary_sensor), :mod:`~.controls` (switch, number, select, button).
- :mod:`~tuyagate.mqtt.discovery.plan`: which entities a device becomes.
"""

from __future__ import annotations

from tuyagate.mqtt.discovery.entity import Entity
from tuyagate.mqtt.discovery.plan import entities_for
from tuyagate.mqtt.discovery.view import DeviceView, DpView

__all__ = ["DeviceView", "DpView", "Entity", "entities_for"]
