"""tuyagate.devices: the domain layer (see DESIGN.md).

- ``api``: the Device / DeviceManager interface every front end programs against.
- ``schema`` (with ``dp`` and ``colour``): DP schemas, code <-> DP id, value conversion and validation.
- ``builtin_schemas``: schemas of the common categories, for devices without a cloud specification.
- ``registry`` (on ``db``): the SQLite device registry and settings; ``paths``: where its files live.
- ``vault``: secrets encrypted at rest; ``cloud_login``: the stored cloud login on top of both.
- ``tinytuya_import``: tinytuya's devices.json, snapshot.json and tinytuya.json.

Nothing is imported here, so ``import tuyagate.device_api`` stays light.
"""
