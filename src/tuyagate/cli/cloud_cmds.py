"""`tuyagate cloud ...` commands (placeholder until its issue lands)."""

from __future__ import annotations

import argparse
from typing import Any


def register_cloud(cloud_commands: argparse._SubParsersAction[Any]) -> None:
    """Add this module's actions to `tuyagate cloud`."""
