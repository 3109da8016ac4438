"""tuyagate.devices: the domain layer (see DESIGN.md).

- ``api``: the Device / DeviceManager interface every front end programs against.
- DP schemas (and the built-in ones of the common categories) live below this layer, in :mod:`tuyagate.schema`.
- ``registry`` (on ``db``): the SQLite device registry and settings; ``paths``: where its files live.
- ``vault``: secrets encrypted at rest; ``cloud_login``: the stored cloud login on top of both.
- ``tinytuya_import``: tinytuya's devices.json, snapshot.json and tinytuya.json.

Nothing is imported here, so ``import tuyagate.device_api`` stays light.
"""
