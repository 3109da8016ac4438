"""Crash safety: kill -9 a process in the middle of a burst of registry writes, then check the file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.devices.crash_writer import expected_record
from tuyagate.devices.db import Database
from tuyagate.devices.registry import Registry

WRITER = Path(__file__).with_name("crash_writer.py")
REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 30.0


def spawn(mode: str, db: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    return subprocess.Popen(
        [sys.executable, str(WRITER), mode, str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def kill_after(proc: subprocess.Popen[str], until: str | int) -> list[str]:
    """Read lines until one says `until` (or a count >= it), SIGKILL, and return every line written."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + DEADLINE_S
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline().strip()
            if not line:
                break  # the child died on its own
            lines.append(line)
            if line == until or (isinstance(until, int) and line.isdigit() and int(line) >= until):
                break
        else:
            pytest.fail("the writer did not get far enough in time")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    lines += [x.strip() for x in proc.stdout.read().splitlines() if x.strip()]
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr.read() if proc.stderr else "")
    if proc.stderr is not None:
        proc.stderr.close()
    proc.stdout.close()
    return lines


def check_whole(db_file: Path) -> int:
    with Registry(Database(db_file), owns_db=True) as registry:
        assert registry.db.integrity_check() == []
        records = registry.devices()
        ids = sorted(r.id for r in records)
        assert ids == [f"dev{i:05d}" for i in range(len(ids))], "committed rows must be contiguous"
        for record in records:
            i = int(record.id[3:])
            want = expected_record(i)
            assert (record.name, record.address, record.port, record.version, record.schema, dict(record.settings)) == (
                want.name,
                want.address,
                want.port,
                want.version,
                want.schema,
                dict(want.settings),
            )
            state = dict(record.last_state or {})
            assert state["20"] is True
            assert 10 <= state["22"] < 1000
        return len(records)


def test_kill_9_during_a_burst_of_writes(tmp_path: Path) -> None:
    db_file = tmp_path / "tuyagate.db"
    Database(db_file).close()
    acknowledged = 0
    for target in (150, 320, 500):  # three kills at different points, resuming each time
        lines = kill_after(spawn("burst", db_file), target)
        acknowledged = int(lines[-1])
        assert acknowledged >= target
        count = check_whole(db_file)
        assert acknowledged <= count <= acknowledged + 1


def test_kill_9_inside_an_open_transaction_loses_all_of_it(tmp_path: Path) -> None:
    db_file = tmp_path / "tuyagate.db"
    with Registry(Database(db_file), owns_db=True) as registry:
        for i in range(3):
            registry.add(expected_record(i))
    lines = kill_after(spawn("open-tx", db_file), "in-tx")
    assert lines == ["in-tx"]
    assert check_whole(db_file) == 3
