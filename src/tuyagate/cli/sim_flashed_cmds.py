"""`tuyagate sim ...` emulators (placeholder until its issue lands)."""

from __future__ import annotations

import argparse
from typing import Any


def register_sim(sim_commands: argparse._SubParsersAction[Any]) -> None:
    """Add this module's emulators to `tuyagate sim`."""
