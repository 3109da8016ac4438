"""The SQLite file shared by the registry and the vault: connection, transactions and migrations.

Durability choices, so that a ``kill -9`` (or a crash) at any moment leaves a consistent file:

- WAL journal with ``synchronous=FULL``: a transaction is on disk when COMMIT returns, and one
  cut off half-way is rolled back when the file is next opened.
- Every write is one explicit ``BEGIN IMMEDIATE`` ... ``COMMIT`` transaction; the connection is in
  autocommit mode otherwise, so nothing is left open between calls.
- ``secure_delete=ON``: freed pages are zeroed, so re-encrypted or deleted secrets leave no trace.
- The schema version lives in ``PRAGMA user_version`` and moves forward through :data:`MIGRATIONS`,
  each applied in its own transaction together with the version bump.

One :class:`Database` holds two connections, usable from several threads: one for writes
(transactions, serialized by a re-entrant lock) and one for reads outside a transaction (its own
lock). The gateway reads on its event loop (a device's local key on every connect) while its
background threads commit, and a WAL reader never waits for a writer: a read on the loop so never
sits out another thread's COMMIT, whose fsync can take hundreds of milliseconds on a busy disk (it
did, and pushed answers past their deadline). A read inside a transaction, in the thread that holds
it, uses the write connection and sees the transaction's own writes. Several processes (the gateway
and a CLI command) may open the same file: SQLite's locking and ``busy_timeout`` serialize their writes.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tuyagate.devices import paths
from tuyagate.errors import ConfigError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Database"]

_LOGGER = logging.getLogger(__name__)
BUSY_TIMEOUT_S = 5.0  # another process holding the write lock longer than this is a real problem


def _migrate_1(conn: sqlite3.Connection) -> None:
    """Devices, secrets (encrypted, see vault.py), vault metadata and settings."""
    conn.execute(
        """CREATE TABLE devices (
            id TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            backend TEXT NOT NULL,
            address TEXT,
            port INTEGER,
            version TEXT,
            category TEXT NOT NULL DEFAULT '',
            product_id TEXT NOT NULL DEFAULT '',
            product_name TEXT NOT NULL DEFAULT '',
            parent_id TEXT,
            cid TEXT,
            schema_json TEXT NOT NULL DEFAULT '[]',
            schema_source TEXT NOT NULL DEFAULT '',
            settings_json TEXT NOT NULL DEFAULT '{}',
            last_state_json TEXT,
            last_seen REAL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX devices_by_name ON devices(name)")
    conn.execute("CREATE INDEX devices_by_parent ON devices(parent_id)")
    conn.execute(
        """CREATE TABLE secrets (
            name TEXT PRIMARY KEY NOT NULL,
            nonce BLOB NOT NULL,
            ciphertext BLOB NOT NULL,
            updated_at REAL NOT NULL
        )"""
    )
    conn.execute("CREATE TABLE vault_meta (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL)")
    conn.execute("CREATE TABLE settings (key TEXT PRIMARY KEY NOT NULL, value_json TEXT NOT NULL)")


# Ordered: MIGRATIONS[i] takes the file from version i to i + 1. Append only; never edit a released one.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_migrate_1,)
SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """One connection to the tuyagate database file, migrated to :data:`SCHEMA_VERSION`."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._depth = 0  # transaction nesting depth: only the outermost one begins and commits
        self._writer: int | None = None  # the thread inside a transaction
        self._read_lock = threading.Lock()
        creating = not self.path.exists()
        try:
            self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the database {self.path}: {exc}") from None
        try:
            if creating:
                os.chmod(self.path, 0o600)
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise ConfigError(f"{self.path}: the database cannot use WAL journaling (got {mode!r})")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA secure_delete = ON")
            self._migrate()
            self._reader = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise ConfigError(f"{self.path} is not a usable tuyagate database: {exc}") from None
        except BaseException:
            self._conn.close()
            raise
        try:
            self._reader.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            self._reader.execute("PRAGMA query_only = ON")
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(cls, directory: str | os.PathLike[str] | None = None) -> Database:
        """The database in a data directory (resolved and created as :func:`paths.data_dir` says)."""
        return cls(paths.db_path(paths.data_dir(directory)))

    @property
    def schema_version(self) -> int:
        with self.read() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        Re-entrant: a transaction opened inside another one joins it, so a caller can make several
        registry and vault writes all-or-nothing. SQLite's environmental failures (the file is
        locked by another process past the busy timeout, the disk is full) become ConfigError.
        """
        with self._lock:
            outermost = self._depth == 0
            if outermost:
                self._run("BEGIN IMMEDIATE")
                self._writer = threading.get_ident()
            self._depth += 1
            try:
                yield self._conn
            except BaseException as exc:
                self._depth -= 1
                if outermost:
                    self._writer = None
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):
                    raise self._environmental(exc) from exc
                raise
            self._depth -= 1
            if outermost:
                self._writer = None
                self._run("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads: the reading one (the last committed state, without waiting for a
        writer), or the writing one inside this thread's own :meth:`transaction`."""
        inside = self._writer == threading.get_ident()
        with self._lock if inside else self._read_lock:
            try:
                yield self._conn if inside else self._reader
            except sqlite3.OperationalError as exc:
                raise self._environmental(exc) from exc

    def _run(self, statement: str) -> None:
        try:
            self._conn.execute(statement)
        except sqlite3.OperationalError as exc:
            if statement == "COMMIT" and self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise self._environmental(exc) from exc

    def _environmental(self, exc: sqlite3.OperationalError) -> ConfigError:
        return ConfigError(f"database {self.path}: {exc} (is another tuyagate process holding it, or the disk full?)")

    def integrity_check(self) -> list[str]:
        """SQLite's own check of the file: an empty list when it is sound."""
        with self.read() as conn:
            rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
        return [] if rows == ["ok"] else rows

    def close(self) -> None:
        with self._lock, self._read_lock:
            self._conn.close()
            self._reader.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        if int(self._conn.execute("PRAGMA user_version").fetchone()[0]) == SCHEMA_VERSION:
            return  # the common case: no write lock taken
        # The version is read again inside each transaction: another process may be migrating too.
        while True:
            with self.transaction() as conn:
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                if version > SCHEMA_VERSION:
                    raise ConfigError(
                        f"{self.path} was written by a newer tuyagate (database schema {version}, this version "
                        f"knows up to {SCHEMA_VERSION}); upgrade tuyagate"
                    )
                if version == SCHEMA_VERSION:
                    return
                MIGRATIONS[version](conn)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            _LOGGER.info("database %s migrated to schema %d", self.path, version + 1)

    def __repr__(self) -> str:
        return f"Database({str(self.path)!r})"
