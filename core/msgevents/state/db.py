"""The database under the state: a SQLite file or a PostgreSQL database, behind one interface.

Every table module writes its SQL once, in SQLite's spelling with ``?`` placeholders;
the small :class:`~msgevents.state.dialect.Dialect` layer (:mod:`.dialect`) is all that
differs between the backends.

SQLite: the file is created owner-only; writers use short ``BEGIN IMMEDIATE``
transactions, concurrent processes wait for each other (busy timeout), never corrupt it.
PostgreSQL (:mod:`.postgres`): ``BEGIN`` … ``COMMIT`` at read committed; every write
of the state is row-wise idempotent (keys, upserts), so concurrent writers need no more.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from msgevents.errors import ConfigError, StateUnavailableError
from msgevents.paths import STATE_SETTING, ensure_directory
from msgevents.state.dialect import POSTGRES, SQLITE, Dialect
from msgevents.state.migrations import MIGRATIONS, SCHEMA_VERSION
from msgevents.timestamps import UTC, format_timestamp

__all__ = ["POSTGRES", "SCHEMA_VERSION", "SQLITE", "Database", "Dialect", "Tx", "migrate", "now_iso"]


def now_iso() -> str:
    return format_timestamp(datetime.now(UTC))


def psycopg_error() -> type[Exception] | tuple[()]:
    """psycopg's base error class when psycopg is imported (a PostgreSQL state is in use)."""
    psycopg = sys.modules.get("psycopg")
    return psycopg.Error if psycopg is not None else ()


def psycopg_operational_error() -> type[Exception] | tuple[()]:
    """psycopg's error for a lost connection (server gone, network down), when imported."""
    psycopg = sys.modules.get("psycopg")
    return psycopg.OperationalError if psycopg is not None else ()


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
    """One connection to the state (or none: a read-only view of a state that does not exist).

    ``location`` is the state file's path or the PostgreSQL URL; ``identity`` names the
    state in what other processes see (feed files' temporary names): the resolved path,
    or the URL without its password.
    """

    def __init__(
        self,
        conn: Any,
        location: Path | str,
        readonly: bool,
        dialect: Dialect = SQLITE,
        identity: str | None = None,
    ) -> None:
        self.conn = conn
        self.location = location
        self.readonly = readonly
        self.dialect = dialect
        self.identity = identity if identity is not None else str(Path(location).resolve())

    @property
    def path(self) -> Path:
        """The state file (SQLite only)."""
        return Path(self.location)

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
        except psycopg_error() as exc:
            self.close()
            raise ConfigError(
                f"cannot use the PostgreSQL state {self.identity!r} (set by {STATE_SETTING}): "
                f"{str(exc).strip() or type(exc).__name__}"
            ) from None
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
                f"state {self.identity!r} has schema {version}, newer than this "
                f"msgevents ({SCHEMA_VERSION}); upgrade msgevents"
            )

    def sync_every_commit(self) -> None:
        """Make every commit of this connection durable on disk (SQLite ``synchronous=FULL``: the
        WAL is fsynced at each commit; PostgreSQL ``synchronous_commit=on``, its default), not only
        against a crash of the process."""
        if self.dialect is SQLITE:
            self.require().execute("PRAGMA synchronous=FULL")
        else:
            self.require().execute("SET synchronous_commit TO on")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def require(self) -> Any:
        if self.conn is None:
            raise RuntimeError("state store is closed or empty")
        return self.conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement outside a write transaction (reads); returns its cursor."""
        with self.reachable():
            return self.require().execute(self.dialect.sql(sql), params)

    @contextmanager
    def reachable(self) -> Iterator[None]:
        """A lost connection to a PostgreSQL state is a :class:`StateUnavailableError` (exit 4)."""
        try:
            yield
        except psycopg_operational_error() as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StateUnavailableError(
                f"the PostgreSQL state {self.identity!r} became unavailable: {reason}; nothing is "
                "lost: what was not acknowledged in the state is sent again by the next run"
            ) from None

    def select_keys(
        self, sql: str, params: Sequence[Any], column: str, keys: Sequence[Any]
    ) -> Iterator[tuple[Any, ...]]:
        """Rows of ``sql`` (``… WHERE … AND {keys}``) where ``column`` is one of ``keys``."""
        if self.conn is None:
            return
        for condition, values in self.dialect.key_lists(column, keys):
            yield from self.execute(sql.format(keys=condition), (*params, *values))

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``BEGIN``): all or nothing."""
        if self.readonly:
            raise RuntimeError("read-only state store")
        conn = self.require()
        with self.reachable():
            conn.execute("BEGIN IMMEDIATE" if self.dialect is SQLITE else "BEGIN")
            try:
                yield Tx(conn, self.dialect)
            except psycopg_operational_error():
                raise  # the connection is gone: nothing to roll back on this side
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def meta(self, key: str) -> str | None:
        if self.conn is None:
            return None
        row = self.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def sink_id(self, key: str) -> int | None:
        """The numeric id of a sink key; created on first use (``None`` when read-only and new)."""
        if self.conn is None:
            return None
        row = self.execute("SELECT id FROM sinks WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return int(row[0])
        if self.readonly:
            return None
        with self.transaction() as tx:
            tx.execute(self.dialect.insert_ignore("sinks", ["key"]), (key,))
        row = self.execute("SELECT id FROM sinks WHERE key = ?", (key,)).fetchone()
        return int(row[0])


class Tx:
    """The cursor-ish handle a transaction block receives; statements in SQLite's spelling."""

    def __init__(self, conn: Any, dialect: Dialect = SQLITE) -> None:
        self._conn = conn
        self.dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(self.dialect.sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        if self.dialect is SQLITE:
            self._conn.executemany(sql, rows)
        else:  # psycopg pipelines the statements: one round trip, not one per row
            with self._conn.cursor() as cursor:
                cursor.executemany(self.dialect.sql(sql), rows)

    def for_keys(self, sql: str, params: Sequence[Any], column: str, keys: Sequence[Any]) -> int:
        """Run ``sql`` (``… WHERE … AND {keys}``) for ``column`` in ``keys``; rows affected."""
        affected = 0
        for condition, values in self.dialect.key_lists(column, keys):
            affected += self.execute(sql.format(keys=condition), (*params, *values)).rowcount
        return affected

    def insert_keyed(
        self, table: str, columns: Sequence[str], fixed: Sequence[int | None], keys: Sequence[bytes]
    ) -> None:
        """A row per key (``columns[0]``), the other columns set to ``fixed``; existing keys kept."""
        self.dialect.insert_keyed(self, table, columns, fixed, keys)

    def insert_id(self, sql: str, params: Sequence[Any]) -> int:
        """Insert one row (``INSERT … VALUES …``) and return its ``id``."""
        return self.dialect.insert_id(self, sql, params)

    def create_function(self, name: str, arity: int, function: Callable[..., Any]) -> None:
        self._conn.create_function(name, arity, function, deterministic=True)

    def executescript_in_tx(self, script: str) -> None:
        # executescript() would COMMIT first; run statement by statement instead.
        for statement in script.split(";"):
            if statement.strip():
                self._conn.execute(self.dialect.ddl(statement))


def migrate(db: Database, transaction: Callable[[], AbstractContextManager[Tx]]) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION`, in one write ``transaction`` (refusing newer ones)."""
    dialect = db.dialect
    version = dialect.schema_version(db.require())
    db.refuse_newer(version)
    if version == SCHEMA_VERSION:
        return
    with transaction() as tx:
        dialect.lock_schema(tx)
        # read again under the write lock: another process may have migrated meanwhile
        version = dialect.schema_version(tx)
        db.refuse_newer(version)
        for target in range(version + 1, SCHEMA_VERSION + 1):
            step = MIGRATIONS[target - 1]
            if isinstance(step, str):
                tx.executescript_in_tx(step)
            else:
                step(tx)
            dialect.set_schema_version(tx, target)
