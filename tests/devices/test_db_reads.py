"""Reads never wait for another thread's commit, and see their own transaction's writes.

The gateway reads the vault on its event loop (a device's local key on every connect) while a
background thread commits the last states with a fsync. Before reads had their own connection, the
loop sat out that commit; with a slow disk, answers went past their deadlines.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tuyagate.devices.db import Database


def _value(db: Database) -> str | None:
    with db.read() as conn:
        row = conn.execute("SELECT value_json FROM settings WHERE key = 'k'").fetchone()
    return None if row is None else str(row[0])


def test_a_read_does_not_wait_for_a_transaction_in_another_thread(tmp_path: Path) -> None:
    db = Database(tmp_path / "t.db")
    inside, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        with db.transaction() as conn:
            conn.execute("INSERT INTO settings (key, value_json) VALUES ('k', '\"new\"')")
            inside.set()
            release.wait(5.0)  # a commit held up (a slow fsync)

    writer = threading.Thread(target=slow_writer)
    writer.start()
    try:
        assert inside.wait(5.0)
        started = time.perf_counter()
        assert _value(db) is None  # the last committed state, at once
        assert time.perf_counter() - started < 0.5
    finally:
        release.set()
        writer.join(5.0)
    assert _value(db) == '"new"'  # committed: every reader sees it
    db.close()


def test_a_read_inside_a_transaction_sees_its_own_writes(tmp_path: Path) -> None:
    db = Database(tmp_path / "t.db")
    with db.transaction() as conn:
        conn.execute("INSERT INTO settings (key, value_json) VALUES ('k', '1')")
        assert _value(db) == "1"
        seen: list[str | None] = []
        other = threading.Thread(target=lambda: seen.append(_value(db)))
        other.start()
        other.join(5.0)
        assert seen == [None]  # another thread does not see what is not committed
    assert _value(db) == "1"
    db.close()


def test_a_rolled_back_transaction_leaves_reads_on_the_reading_connection(tmp_path: Path) -> None:
    db = Database(tmp_path / "t.db")
    try:
        with db.transaction() as conn:
            conn.execute("INSERT INTO settings (key, value_json) VALUES ('k', '1')")
            raise RuntimeError("abandoned")
    except RuntimeError:
        pass
    assert _value(db) is None
    with db.read() as conn:  # the reading connection: writes are refused there
        assert conn.execute("PRAGMA query_only").fetchone()[0] == 1
    db.close()
