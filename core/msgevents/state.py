"""The state store: one SQLite file holding positions, the delivery ledger, the outbox and runs.

- **positions**: per (provider, account, stream, sink) the end of the last live
  window whose events were all acknowledged;
- **ledger**: 16-byte keys of acknowledged (or rejected-for-good) events per
  sink, so nothing is sent twice; rows of a feed file stay tied to that file
  until it is known to be renamed into place;
- **feed_files**: files written and fsynced but not yet known to be renamed;
- **outbox**: mapped events a sink did not acknowledge, sent first next run;
- **runs**: one report per run.

The file and its directory are created owner-only. The schema version lives in
``PRAGMA user_version`` and is migrated forward on open. Writers use short
``BEGIN IMMEDIATE`` transactions; concurrent processes on the same file wait
for each other (busy timeout), never corrupt it.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from msgevents.errors import ConfigError
from msgevents.events import Event
from msgevents.formats import jsonl_object
from msgevents.paths import STATE_SETTING, ensure_directory
from msgevents.sink import PendingFile, ledger_key
from msgevents.timestamps import UTC, format_timestamp, parse_iso8601

__all__ = ["DEFAULT_STATE_PATH", "StateStore", "ledger_key"]

DEFAULT_STATE_PATH = Path(".msgevents") / "state.db"
_IN_CHUNK = 900  # bound on SQL variables per IN (...) query
_ROWS_PER_INSERT = 100  # ledger rows per INSERT statement

_MIGRATIONS: list[str] = [
    # version 1
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE sinks (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE);
    CREATE TABLE positions (
        provider TEXT NOT NULL, account TEXT NOT NULL, stream TEXT NOT NULL,
        sink_id INTEGER NOT NULL REFERENCES sinks(id),
        position TEXT NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY (provider, account, stream, sink_id)
    );
    CREATE TABLE ledger (
        sink_id INTEGER NOT NULL, key BLOB NOT NULL,
        status INTEGER NOT NULL,          -- 0 delivered, 1 rejected by the sink
        file_id INTEGER,                  -- feed file the event went out in
        acked_at INTEGER NOT NULL,        -- epoch seconds
        PRIMARY KEY (sink_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE feed_files (
        id INTEGER PRIMARY KEY, sink_id INTEGER NOT NULL,
        tmp_path TEXT NOT NULL, final_path TEXT NOT NULL,
        status TEXT NOT NULL,             -- pending | committed
        events INTEGER NOT NULL, created_at TEXT NOT NULL
    );
    CREATE TABLE outbox (
        sink_id INTEGER NOT NULL, key BLOB NOT NULL,
        provider TEXT NOT NULL, account TEXT NOT NULL, stream TEXT NOT NULL,
        payload BLOB NOT NULL, created_at INTEGER NOT NULL,
        PRIMARY KEY (sink_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY, provider TEXT NOT NULL, account TEXT NOT NULL,
        sink TEXT NOT NULL, mode TEXT NOT NULL, pid INTEGER NOT NULL,
        started_at TEXT NOT NULL, ended_at TEXT, outcome TEXT, exit_code INTEGER,
        report TEXT
    );
    """,
    # version 2: what was quarantined already, so re-reading a window does not quarantine it again
    """
    CREATE TABLE quarantined (key BLOB PRIMARY KEY, first_seen INTEGER NOT NULL) WITHOUT ROWID;
    """,
]
SCHEMA_VERSION = len(_MIGRATIONS)

DELIVERED = 0
REJECTED = 1


def _now_iso() -> str:
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


class StateStore:
    """Access to one state file. Use :meth:`open` (read-write) or :meth:`open_readonly`."""

    def __init__(self, conn: sqlite3.Connection | None, path: Path, readonly: bool) -> None:
        self._conn = conn
        self.path = path
        self.readonly = readonly
        #: feed file id -> (sink id, the sorted ledger keys recorded with it), until acknowledged
        self._journaled: dict[int, tuple[int, list[bytes]]] = {}

    # -- opening --------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> StateStore:
        """Open (creating owner-only and migrating as needed) the state file at ``path``."""
        path = Path(path)
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
        store = cls(conn, path, readonly=False)
        try:
            _enable_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA cache_size=-8000")  # 8 MiB: ledger inserts touch many pages; RSS < 100 MiB
            store._migrate()
        except sqlite3.DatabaseError as exc:
            conn.close()
            code = (getattr(exc, "sqlite_errorcode", None) or sqlite3.SQLITE_NOTADB) & 0xFF
            if code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
                raise ConfigError(f"{str(path)!r} is not a msgevents state file: {exc}") from None
            raise ConfigError(
                f"cannot write the state file {str(path)!r} (set by {STATE_SETTING}): {exc}"
            ) from None
        except BaseException:
            conn.close()
            raise
        return store

    @classmethod
    def open_readonly(cls, path: str | os.PathLike[str]) -> StateStore:
        """Open for reading only (``--dry-run``); a missing file reads as empty state."""
        path = Path(path)
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

    def _migrate(self) -> None:
        conn = self._require()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        self._refuse_newer(version)
        if version == SCHEMA_VERSION:
            return
        with self.transaction() as tx:
            # read again under the write lock: another process may have migrated meanwhile
            version = tx.execute("PRAGMA user_version").fetchone()[0]
            self._refuse_newer(version)
            for target in range(version + 1, SCHEMA_VERSION + 1):
                tx.executescript_in_tx(_MIGRATIONS[target - 1])
                tx.execute(f"PRAGMA user_version = {target}")

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"state file {str(self.path)!r} has schema {version}, newer than this "
                f"msgevents ({SCHEMA_VERSION}); upgrade msgevents"
            )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("state store is closed or empty")
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[_Tx]:
        """A write transaction (``BEGIN IMMEDIATE``): all or nothing."""
        if self.readonly:
            raise RuntimeError("read-only state store")
        conn = self._require()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield _Tx(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- sinks --------------------------------------------------------------------------

    def sink_id(self, key: str) -> int | None:
        """The numeric id of a sink key; created on first use (``None`` when read-only and new)."""
        if self._conn is None:
            return None
        row = self._conn.execute("SELECT id FROM sinks WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return int(row[0])
        if self.readonly:
            return None
        with self.transaction() as tx:
            tx.execute("INSERT OR IGNORE INTO sinks(key) VALUES (?)", (key,))
        row = self._conn.execute("SELECT id FROM sinks WHERE key = ?", (key,)).fetchone()
        return int(row[0])

    # -- positions ---------------------------------------------------------------------------

    def position(self, provider: str, account: str, stream: str, sink_id: int | None) -> datetime | None:
        if self._conn is None or sink_id is None:
            return None
        row = self._conn.execute(
            "SELECT position FROM positions WHERE provider=? AND account=? AND stream=? AND sink_id=?",
            (provider, account, stream, sink_id),
        ).fetchone()
        return parse_iso8601(row[0]) if row else None

    def positions(self, provider: str, account: str, sink_id: int | None) -> dict[str, datetime]:
        if self._conn is None or sink_id is None:
            return {}
        rows = self._conn.execute(
            "SELECT stream, position FROM positions WHERE provider=? AND account=? AND sink_id=?",
            (provider, account, sink_id),
        )
        return {stream: parse_iso8601(value) for stream, value in rows}

    def reset_positions(self, provider: str, account: str, sink_id: int) -> None:
        with self.transaction() as tx:
            tx.execute(
                "DELETE FROM positions WHERE provider=? AND account=? AND sink_id=?",
                (provider, account, sink_id),
            )
            tx.execute("DELETE FROM meta WHERE key=?", (_start_key(provider, account, sink_id),))

    def first_start(self, provider: str, account: str, sink_id: int | None) -> datetime | None:
        """Where the first live run was asked to start (``--since``), kept for streams it did not finish."""
        if self._conn is None or sink_id is None:
            return None
        row = self._conn.execute(
            "SELECT value FROM meta WHERE key=?", (_start_key(provider, account, sink_id),)
        )
        found = row.fetchone()
        return parse_iso8601(found[0]) if found else None

    def set_first_start(self, provider: str, account: str, sink_id: int, start: datetime) -> None:
        with self.transaction() as tx:
            tx.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                (_start_key(provider, account, sink_id), start.isoformat()),
            )

    # -- ledger --------------------------------------------------------------------------------

    def _rows_for_keys(self, query: str, sink_id: int | None, keys: Sequence[bytes]) -> Iterator[tuple]:
        """Rows of ``query`` (``… WHERE sink_id = ? AND key IN ({marks})``) for ``keys``, in chunks
        of at most :data:`_IN_CHUNK` SQL variables."""
        if self._conn is None or sink_id is None:
            return
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            yield from self._conn.execute(query.format(marks=",".join("?" * len(chunk))), (sink_id, *chunk))

    def known(self, sink_id: int | None, keys: Sequence[bytes]) -> set[bytes]:
        """Those of ``keys`` already in the ledger of ``sink_id`` (delivered or rejected)."""
        query = "SELECT key FROM ledger WHERE sink_id = ? AND key IN ({marks})"
        return {row[0] for row in self._rows_for_keys(query, sink_id, keys)}

    def ledger_status(self, sink_id: int | None, keys: Sequence[bytes]) -> dict[bytes, int]:
        """Those of ``keys`` in the ledger of ``sink_id``, each with its status
        (``DELIVERED`` or ``REJECTED``): :meth:`known` and :meth:`rejected_among` in one look-up."""
        query = "SELECT key, status FROM ledger WHERE sink_id = ? AND key IN ({marks})"
        return dict(self._rows_for_keys(query, sink_id, keys))

    def known_in_outbox(self, sink_id: int | None, keys: Sequence[bytes]) -> set[bytes]:
        """Those of ``keys`` waiting in the outbox of ``sink_id``."""
        query = "SELECT key FROM outbox WHERE sink_id = ? AND key IN ({marks})"
        return {row[0] for row in self._rows_for_keys(query, sink_id, keys)}

    def acknowledge(
        self,
        sink_id: int,
        *,
        delivered: Sequence[bytes] = (),
        rejected: Sequence[bytes] = (),
        file_id: int | None = None,
        positions: Iterable[tuple[str, str, str, datetime]] = (),
        outbox_done: Sequence[bytes] = (),
    ) -> None:
        """One transaction: ledger rows, a feed file committed, positions advanced, outbox cleared.

        ``positions`` are ``(provider, account, stream, new position)``.
        """
        now = int(time.time())
        stamp = _now_iso()
        with self.transaction() as tx:
            journaled = None
            if file_id is not None:
                cursor = tx.execute("UPDATE feed_files SET status='committed' WHERE id=?", (file_id,))
                # the file's row is still there, so are the ledger rows recorded with it
                # (they are only ever deleted together with it, or once it is committed)
                journaled = self._journaled.pop(file_id, None) if cursor.rowcount == 1 else None
            if delivered:  # sorted: B-tree inserts in key order touch far fewer pages
                keys = sorted(delivered)
                if journaled != (sink_id, keys):  # a feed file's keys are in the ledger already
                    tx.insert_ledger_rows(sink_id, keys, status=DELIVERED, file_id=None, acked_at=now)
            if rejected:
                tx.executemany(
                    "INSERT OR REPLACE INTO ledger(sink_id, key, status, file_id, acked_at) "
                    "VALUES (?, ?, 1, NULL, ?)",
                    ((sink_id, key, now) for key in rejected),
                )
            for provider, account, stream, position in positions:
                tx.execute(
                    "INSERT INTO positions(provider, account, stream, sink_id, position, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(provider, account, stream, sink_id) "
                    "DO UPDATE SET position=excluded.position, updated_at=excluded.updated_at",
                    (provider, account, stream, sink_id, format_timestamp(position), stamp),
                )
            if outbox_done:
                tx.executemany(
                    "DELETE FROM outbox WHERE sink_id=? AND key=?",
                    ((sink_id, key) for key in outbox_done),
                )

    def forget_rejections(self, sink_id: int, keys: Sequence[bytes]) -> None:
        """Drop 'rejected' ledger rows so ``replay`` can send those events again."""
        with self.transaction() as tx:
            tx.executemany(
                "DELETE FROM ledger WHERE sink_id=? AND key=? AND status=1",
                ((sink_id, key) for key in keys),
            )

    def prune_ledger(self, retention: timedelta, every: timedelta = timedelta(hours=12)) -> int:
        """Delete ledger rows older than ``retention`` (at most once per ``every``)."""
        conn = self._require()
        now = time.time()
        row = conn.execute("SELECT value FROM meta WHERE key='ledger_pruned_at'").fetchone()
        if row is not None and now - float(row[0]) < every.total_seconds():
            return 0
        cutoff = int(now - retention.total_seconds())
        with self.transaction() as tx:
            cursor = tx.execute(
                "DELETE FROM ledger WHERE acked_at < ? AND (file_id IS NULL OR file_id IN "
                "(SELECT id FROM feed_files WHERE status='committed'))",
                (cutoff,),
            )
            deleted = cursor.rowcount
            tx.execute("DELETE FROM quarantined WHERE first_seen < ?", (cutoff,))
            tx.execute(
                "DELETE FROM feed_files WHERE status='committed' AND id NOT IN "
                "(SELECT DISTINCT file_id FROM ledger WHERE file_id IS NOT NULL)"
            )
            tx.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('ledger_pruned_at', ?)",
                (str(now),),
            )
        return deleted

    # -- quarantine ----------------------------------------------------------------------------------

    def quarantined_before(self, key: bytes) -> bool:
        """Whether a bad record with this key was quarantined by an earlier run (or this one)."""
        if self._conn is None:
            return False
        return self._conn.execute("SELECT 1 FROM quarantined WHERE key=?", (key,)).fetchone() is not None

    def remember_quarantined(self, key: bytes) -> None:
        """Record that the quarantine file now holds this bad record; read-only stores skip it.

        Call it only once the quarantine line is written: a run killed in between then
        quarantines the record again rather than never.
        """
        if self._conn is None or self.readonly:
            return
        with self.transaction() as tx:
            tx.execute(
                "INSERT OR IGNORE INTO quarantined(key, first_seen) VALUES (?, ?)", (key, int(time.time()))
            )

    def rejected_among(self, sink_id: int | None, keys: Sequence[bytes]) -> set[bytes]:
        """Those of ``keys`` (already known to the ledger) that the sink rejected for good."""
        return {key for key, status in self.ledger_status(sink_id, keys).items() if status == REJECTED}

    # -- feed files (SinkJournal) ----------------------------------------------------------------

    def journal(self, sink_id: int) -> FeedJournal:
        return FeedJournal(self, sink_id)

    # -- outbox ----------------------------------------------------------------------------------

    def park(self, sink_id: int, items: Iterable[tuple[Event, str]]) -> int:
        """Store unacknowledged events (with their stream) in the outbox; returns how many."""
        now = int(time.time())
        rows = [
            (
                sink_id,
                ledger_key(event),
                event.provider,
                event.account,
                stream,
                orjson.dumps(jsonl_object(event)),
                now,
            )
            for event, stream in items
        ]
        if rows:
            with self.transaction() as tx:
                tx.executemany(
                    "INSERT OR IGNORE INTO outbox(sink_id, key, provider, account, stream, "
                    "payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        return len(rows)

    def outbox_count(
        self, sink_id: int | None, provider: str | None = None, account: str | None = None
    ) -> int:
        """Events waiting in the outbox of ``sink_id``; of one provider (and account) when given."""
        if self._conn is None or sink_id is None:
            return 0
        sql, params = "SELECT COUNT(*) FROM outbox WHERE sink_id=?", [sink_id]
        if provider is not None:
            sql, params = sql + " AND provider=?", [*params, provider]
        if account is not None:
            sql, params = sql + " AND account=?", [*params, account]
        return int(self._conn.execute(sql, params).fetchone()[0])

    def outbox_batches(
        self, sink_id: int | None, provider: str, account: str, size: int = 1000
    ) -> Iterator[list[tuple[str, dict[str, Any]]]]:
        """Pages of ``(stream, event JSON)`` waiting in the outbox, in key order."""
        if self._conn is None or sink_id is None:
            return
        last = b""
        while True:
            rows = self._conn.execute(
                "SELECT key, stream, payload FROM outbox WHERE sink_id=? AND provider=? "
                "AND account=? AND key > ? ORDER BY key LIMIT ?",
                (sink_id, provider, account, last, size),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [(stream, orjson.loads(payload)) for _key, stream, payload in rows]

    # -- runs --------------------------------------------------------------------------------------

    def start_run(self, provider: str, account: str, sink: str, mode: str) -> int:
        with self.transaction() as tx:
            cursor = tx.execute(
                "INSERT INTO runs(provider, account, sink, mode, pid, started_at) VALUES (?, ?, ?, ?, ?, ?)",
                (provider, account, sink, mode, os.getpid(), _now_iso()),
            )
            return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, outcome: str, exit_code: int | None, report: dict[str, Any]) -> None:
        with self.transaction() as tx:
            tx.execute(
                "UPDATE runs SET ended_at=?, outcome=?, exit_code=?, report=? WHERE id=?",
                (_now_iso(), outcome, exit_code, orjson.dumps(report).decode(), run_id),
            )

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        if self._conn is None:
            return []
        rows = self._conn.execute(
            "SELECT id, provider, account, sink, mode, started_at, ended_at, outcome, exit_code "
            "FROM runs ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        names = [
            "id",
            "provider",
            "account",
            "sink",
            "mode",
            "started_at",
            "ended_at",
            "outcome",
            "exit_code",
        ]
        return [dict(zip(names, row, strict=True)) for row in rows]


class _Tx:
    """The cursor-ish handle a transaction block receives."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        return self._conn.executemany(sql, rows)

    def insert_ledger_rows(
        self, sink_id: int, keys: Sequence[bytes], *, status: int, file_id: int | None, acked_at: int
    ) -> None:
        """``INSERT OR IGNORE`` a ledger row per key (all with the same sink, status, file, time).

        100 rows per statement: executing a statement costs far more than a row in it
        (callgrind: ~13,000 instead of ~20,000 instructions per row). The shared values
        are integers written into the SQL, the keys are bound.
        """
        fixed = ", ".join(str(int(v)) if v is not None else "NULL" for v in (status, file_id, acked_at))
        row = f"({int(sink_id)}, ?, {fixed})"
        sql = "INSERT OR IGNORE INTO ledger(sink_id, key, status, file_id, acked_at) VALUES "
        whole = len(keys) - len(keys) % _ROWS_PER_INSERT
        if whole:
            many = sql + ",".join([row] * _ROWS_PER_INSERT)
            self._conn.executemany(
                many, (keys[i : i + _ROWS_PER_INSERT] for i in range(0, whole, _ROWS_PER_INSERT))
            )
        if whole < len(keys):
            self._conn.executemany(sql + row, zip(keys[whole:]))

    def executescript_in_tx(self, script: str) -> None:
        # executescript() would COMMIT first; run statement by statement instead.
        for statement in script.split(";"):
            if statement.strip():
                self._conn.execute(statement)


def _start_key(provider: str, account: str, sink_id: int) -> str:
    return f"first_start\x1f{provider}\x1f{account}\x1f{sink_id}"


class FeedJournal:
    """:class:`~msgevents.sink.SinkJournal` over the state store, for one sink."""

    def __init__(self, store: StateStore, sink_id: int) -> None:
        self.store = store
        self.sink_id = sink_id
        where = f"{Path(store.path).resolve()}\x1f{sink_id}".encode()
        self.owner = hashlib.blake2b(where, digest_size=4).hexdigest()

    def record_pending_file(self, tmp_path: str, final_path: str, keys: Sequence[bytes]) -> int:
        now = int(time.time())
        with self.store.transaction() as tx:
            cursor = tx.execute(
                "INSERT INTO feed_files(sink_id, tmp_path, final_path, status, events, created_at) "
                "VALUES (?, ?, ?, 'pending', ?, ?)",
                (self.sink_id, tmp_path, final_path, len(keys), _now_iso()),
            )
            file_id = int(cursor.lastrowid or 0)
            ordered = sorted(keys)
            tx.insert_ledger_rows(self.sink_id, ordered, status=DELIVERED, file_id=file_id, acked_at=now)
        # acknowledge() of this file need not insert these keys again
        self.store._journaled[file_id] = (self.sink_id, ordered)
        return file_id

    def pending_files(self) -> list[PendingFile]:
        conn = self.store._require()
        rows = conn.execute(
            "SELECT id, tmp_path, final_path FROM feed_files WHERE sink_id=? AND status='pending' "
            "ORDER BY id",
            (self.sink_id,),
        )
        return [PendingFile(int(i), tmp, final) for i, tmp, final in rows]

    def resolve_pending_file(self, file_id: int, renamed: bool) -> None:
        self.store._journaled.pop(file_id, None)
        with self.store.transaction() as tx:
            if renamed:
                tx.execute("UPDATE feed_files SET status='committed' WHERE id=?", (file_id,))
            else:
                tx.execute("DELETE FROM ledger WHERE sink_id=? AND file_id=?", (self.sink_id, file_id))
                tx.execute("DELETE FROM feed_files WHERE id=?", (file_id,))
