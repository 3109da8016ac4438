"""Where tuyagate keeps its files: the data directory, the registry database and the master key file.

The data directory is, first match wins:

1. the ``--data-dir`` option (passed here as ``override``);
2. ``$TUYAGATE_DATA_DIR``;
3. ``$XDG_DATA_HOME/tuyagate`` (Linux and other Unix), ``%LOCALAPPDATA%\\tuyagate`` on Windows;
4. ``~/.local/share/tuyagate`` (the XDG default).

It is created with mode 0700 because it holds the vault's key file and device details.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "DB_FILENAME",
    "ENV_DATA_DIR",
    "MASTER_KEY_FILENAME",
    "data_dir",
    "db_path",
    "master_key_path",
    "resolve_data_dir",
]

ENV_DATA_DIR = "TUYAGATE_DATA_DIR"
DB_FILENAME = "tuyagate.db"
MASTER_KEY_FILENAME = "master.key"
APP_DIR_NAME = "tuyagate"


def resolve_data_dir(override: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None) -> Path:
    """The data directory by the rules above, without creating it."""
    environ = os.environ if env is None else env
    if override:
        return Path(override).expanduser()
    if environ.get(ENV_DATA_DIR):
        return Path(environ[ENV_DATA_DIR]).expanduser()
    if environ.get("XDG_DATA_HOME"):
        return Path(environ["XDG_DATA_HOME"]).expanduser() / APP_DIR_NAME
    if sys.platform == "win32" and environ.get("LOCALAPPDATA"):
        return Path(environ["LOCALAPPDATA"]) / APP_DIR_NAME
    home = environ.get("HOME")
    base = Path(home) if home else Path.home()
    return base / ".local" / "share" / APP_DIR_NAME


def data_dir(
    override: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None, create: bool = True
) -> Path:
    """The data directory, created (mode 0700, parents as needed) unless ``create`` is False."""
    path = resolve_data_dir(override, env=env)
    if create and not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def db_path(directory: str | os.PathLike[str]) -> Path:
    """The registry database inside a data directory."""
    return Path(directory) / DB_FILENAME


def master_key_path(directory: str | os.PathLike[str]) -> Path:
    """The vault's master key file inside a data directory."""
    return Path(directory) / MASTER_KEY_FILENAME
