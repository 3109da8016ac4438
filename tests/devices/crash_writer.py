"""Child process of the registry crash tests: writes to a registry until it is killed.

``burst DB``: add devices one transaction each (plus state updates), printing the number of
committed devices after each add. ``open-tx DB``: insert rows inside one transaction, print
``in-tx`` before committing, then wait to be killed.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from tuyagate.devices.db import Database
from tuyagate.devices.registry import DeviceRecord, Registry
from tuyagate.schema.builtin import builtin_schema

PAD = "x" * 1500  # spreads each record over more bytes, so a kill is likelier to land mid-write


def expected_record(i: int) -> DeviceRecord:
    settings: dict[str, Any] = {"i": i, "pad": PAD}
    return DeviceRecord(
        id=f"dev{i:05d}",
        name=f"Device {i}",
        address=f"10.0.{i // 250}.{i % 250}",
        port=6668,
        version="3.4",
        category="dj",
        schema=builtin_schema("dj"),
        schema_source="builtin",
        settings=settings,
        last_state={"20": True, "22": 10 + i % 990},
    )


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    registry = Registry(Database(path))
    if mode == "burst":
        n = registry.count()
        while True:
            registry.add(expected_record(n))
            n += 1
            print(n, flush=True)
            registry.record_state(f"dev{n // 2:05d}", {"22": 10 + n % 990})
    elif mode == "open-tx":
        start = registry.count()
        with registry.db.transaction():
            for i in range(start, start + 200):
                registry.add(expected_record(i))
            print("in-tx", flush=True)
            time.sleep(60)


if __name__ == "__main__":
    main()
