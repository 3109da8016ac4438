"""Reflashed Tuya hardware: Tasmota, OpenBeken and ESPHome firmware over their HTTP APIs.

- ``device``: :class:`~tuyagate.flashed.device.FlashedDevice`, the common ``Device`` interface over any
  of the clients below, and ``make_device(backend, url, ...)`` / ``tasmota_device`` / ``openbeken_device``
  / ``esphome_device``;
- ``tasmota``, ``openbeken``, ``esphome`` (+ ``esphome_map``): the firmware clients, each a code-keyed
  view (``status()``/``set()`` by Tuya-style codes) plus raw access;
- ``synthetic`` (codes and DP ids as a :class:`~tuyagate.schema.DpSchema`), ``light`` (unit
  conversions), ``sse`` (a sans-IO Server-Sent Events parser), ``http_base`` (deadlines, retries, error
  mapping), ``errors`` (``FlashedAuthError``).

Nothing is imported here, so ``import tuyagate.flashed`` loads no HTTP stack.
"""
