"""Data directory resolution: --data-dir, then $TUYAGATE_DATA_DIR, then XDG."""

from __future__ import annotations

import stat
from pathlib import Path

from tuyagate.devices.paths import data_dir, db_path, master_key_path, resolve_data_dir


def test_order_of_precedence(tmp_path: Path) -> None:
    env = {"TUYAGATE_DATA_DIR": str(tmp_path / "env"), "XDG_DATA_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)}
    assert resolve_data_dir(tmp_path / "opt", env=env) == tmp_path / "opt"
    assert resolve_data_dir(None, env=env) == tmp_path / "env"
    del env["TUYAGATE_DATA_DIR"]
    assert resolve_data_dir(None, env=env) == tmp_path / "xdg" / "tuyagate"
    del env["XDG_DATA_HOME"]
    assert resolve_data_dir(None, env=env) == tmp_path / ".local" / "share" / "tuyagate"


def test_created_private(tmp_path: Path) -> None:
    made = data_dir(None, env={"TUYAGATE_DATA_DIR": str(tmp_path / "a" / "b")})
    assert made.is_dir()
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    assert not data_dir(tmp_path / "c", create=False).exists()
    assert db_path(made) == made / "tuyagate.db"
    assert master_key_path(made) == made / "master.key"
