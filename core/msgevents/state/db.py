"""The SQLite file under the state: opening (owner-only), schema migrations and transactions.

The schema version lives in ``PRAGMA user_version`` and is migrated forward on
open. Writers use short ``BEGIN IMMEDIATE`` transactions; concurrent processes
on the same file wait for each other (busy timeout), never corrupt it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from msgevents.errors import ConfigError
from msgevents.paths import STATE_SETTING, ensure_directory
from msgevents.state.migrations import MIGRATIONS, SCHEMA_VERSION
from msgevents.timestamps import UTC, format_timestamp

__all__ = ["SCHEMA_VERSION", "Database", "Tx", "migrate", "now_iso"]


def now_iso() -> str:
    return format_timestamp(datetime.now(UTC))


def _create_private(path: Path) -> None:
    """Create the state directory (0700) and file (0600) before SQLite opens it."""
    ensure_directory(path.parent, "state directory", STATE_SETTING)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    os.chmod(path, 0o600)


def _enable_wal(conn: sqlite3.Connection, timeout: float = 30.0) -> None:
    """Switch to WAL mode. SQLite answers "locked" at once (no busy wait) while another
    process is converting a fresh file, so wait here like every other statement does."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class Database:
    """One connection to a state file (or none: a read-only view of a file that does not exist)."""

    def __init__(self, conn: sqlite3.Connection | None, path: Path, readonly: bool) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly

    @classmethod
    def connect(cls, path: Path) -> Database:
        """Connect to (creating owner-only) the state file at ``path``; :meth:`opening` then migrates."""
        if path.is_dir():
            raise ConfigError(f"the state file {str(path)!r} (set by {STATE_SETTING}) is a directory")
        try:
            _create_private(path)
            conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the state file {str(path)!r} (set by {STATE_SETTING}): {exc.strerror}"
            ) from None
        except sqlite3.Error as exc:
            raise ConfigError(
                f"cannot open the state file {str(path)!r} (set by {STATE_SETTING}): {exc}"
            ) from None
        db = cls(conn, path, readonly=False)
        with db.opening():
            _enable_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA cache_size=-8000")  # 8 MiB: ledger inserts touch many pages; RSS < 100 MiB
        return db

    @contextmanager
    def opening(self) -> Iterator[None]:
        """While opening: a file that is not SQLite is a :class:`ConfigError`; any failure closes it."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            self.close()
            code = (getattr(exc, "sqlite_errorcode", None) or sqlite3.SQLITE_NOTADB) & 0xFF
            if code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
                raise ConfigError(f"{str(self.path)!r} is not a msgevents state file: {exc}") from None
            raise ConfigError(
                f"cannot write the state file {str(self.path)!r} (set by {STATE_SETTING}): {exc}"
            ) from None
        except BaseException:
            self.close()
            raise

    @classmethod
    def open_readonly(cls, path: Path) -> Database:
        """Open for reading only (``--dry-run``); a missing file reads as empty state."""
        if not path.exists():
            return cls(None, path, readonly=True)
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot read the state file {str(path)!r}: {exc}") from None
        if version != SCHEMA_VERSION:
            conn.close()
            raise ConfigError(
                f"state file {str(path)!r} has schema {version}, this msgevents uses "
                f"{SCHEMA_VERSION}; run once without --dry-run to migrate it"
            )
        return cls(conn, path, readonly=True)

    def refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"state file {str(self.path)!r} has schema {version}, newer than this "
                f"msgevents ({SCHEMA_VERSION}); upgrade msgevents"
            )

    def sync_every_commit(self) -> None:
        """Make every commit of this connection durable on disk (``synchronous=FULL``: the WAL
        is fsynced at each commit), not only against a crash of the process."""
        self.require().execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def require(self) -> sqlite3.Connection:
        if self.conn is None:
            raise RuntimeError("state store is closed or empty")
        return self.conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction (``BEGIN IMMEDIATE``): all or nothing."""
        if self.readonly:
            raise RuntimeError("read-only state store")
        conn = self.require()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield Tx(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def meta(self, key: str) -> str | None:
        if self.conn is None:
            return None
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def sink_id(self, key: str) -> int | None:
        """The numeric id of a sink key; created on first use (``None`` when read-only and new)."""
        if self.conn is None:
            return None
        row = self.conn.execute("SELECT id FROM sinks WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return int(row[0])
        if self.readonly:
            return None
        with self.transaction() as tx:
            tx.execute("INSERT OR IGNORE INTO sinks(key) VALUES (?)", (key,))
        row = self.conn.execute("SELECT id FROM sinks WHERE key = ?", (key,)).fetchone()
        return int(row[0])


class Tx:
    """The cursor-ish handle a transaction block receives."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        return self._conn.executemany(sql, rows)

    def create_function(self, name: str, arity: int, function: Callable[..., Any]) -> None:
        self._conn.create_function(name, arity, function, deterministic=True)

    def executescript_in_tx(self, script: str) -> None:
        # executescript() would COMMIT first; run statement by statement instead.
        for statement in script.split(";"):
            if statement.strip():
                self._conn.execute(statement)


def migrate(db: Database, transaction: Callable[[], AbstractContextManager[Tx]]) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION`, in one write ``transaction`` (refusing newer files)."""
    version = db.require().execute("PRAGMA user_version").fetchone()[0]
    db.refuse_newer(version)
    if version == SCHEMA_VERSION:
        return
    with transaction() as tx:
        # read again under the write lock: another process may have migrated meanwhile
        version = tx.execute("PRAGMA user_version").fetchone()[0]
        db.refuse_newer(version)
        for target in range(version + 1, SCHEMA_VERSION + 1):
            step = MIGRATIONS[target - 1]
            if isinstance(step, str):
                tx.executescript_in_tx(step)
            else:
                step(tx)
            tx.execute(f"PRAGMA user_version = {target}")
