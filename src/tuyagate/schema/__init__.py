"""The one DP schema of tuyagate: what each data point of a device is, and how its values convert.

Every layer that deals in DP values uses this package and no other description of them: the router
validates commands with it, the reflashed backends describe their firmware's values with it, the
emulators keep their devices' specifications in it, and the gateway, MQTT discovery and the dashboard
read its typed descriptions (type, range, step, scale, unit, options, read-only, label). It sits low in
the package and imports only the standard library and :mod:`tuyagate.errors`.

- :mod:`tuyagate.schema.dp`: one DP (:class:`DpDef`) and the conversion of its values.
- :mod:`tuyagate.schema.device_schema`: all DPs of a device (:class:`DpSchema`).
- :mod:`tuyagate.schema.describe`: the typed description front ends read (:class:`DpDescription`).
- :mod:`tuyagate.schema.labels`: human names for codes; :mod:`tuyagate.schema.quote`: values in messages.
- :mod:`tuyagate.schema.builtin`: the built-in schemas of the common categories;
  :mod:`tuyagate.schema.build`: short constructors for schemas written in code.
- :mod:`tuyagate.schema.colour`: Tuya's colour encodings.
"""

from __future__ import annotations

from tuyagate.schema.describe import DpDescription
from tuyagate.schema.device_schema import DpSchema
from tuyagate.schema.dp import DpDef, DpMode, DpType

__all__ = ["DpDef", "DpDescription", "DpMode", "DpSchema", "DpType"]
