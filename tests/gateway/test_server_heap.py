"""freeze_startup_heap: start-up objects leave the collector's sight, later garbage is still collected.

Run in a child interpreter: freezing is process-wide, and the test process starts many servers.
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = """
import gc, json, weakref
from tuyagate.gateway.app import create_app  # what a gateway holds for its lifetime, imported
from tuyagate.gateway.server import freeze_startup_heap

class Node:
    pass

frozen = freeze_startup_heap()
a, b = Node(), Node()
a.other, b.other = b, a  # a cycle made after start-up: only the collector can free it
gone = weakref.ref(a)
del a, b
collected = gc.collect()
print(json.dumps({"frozen": frozen, "count": gc.get_freeze_count(), "cycle_freed": gone() is None,
                  "young": len(gc.get_objects())}))
"""


def test_start_up_objects_are_frozen_and_new_cycles_still_collected() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(out.stdout)
    assert result["frozen"] == result["count"] > 10_000  # the imported gateway's objects
    assert result["cycle_freed"]
    assert result["young"] < result["frozen"] / 10  # what a full collection still walks
