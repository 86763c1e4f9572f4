"""The delivery ledger: keys of events a sink acknowledged (or rejected for good).

Keys start with the event's time (see :func:`msgevents.sink.ledger_key`), so a
batch touches only the B-tree pages of its minutes and pruning is a range delete. Rows of a
feed file stay tied to that file (``file_id``) until it is known to be renamed
into place; they are deleted with it when it was not.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

from msgevents.sink import time_prefix
from msgevents.state.db import Database, Tx
from msgevents.state.migrations import LEDGER_LEGACY_UNTIL
from msgevents.timestamps import UTC

__all__ = ["DELIVERED", "REJECTED", "Ledger", "insert_rows"]

DELIVERED = 0
REJECTED = 1

_INSERT_COLUMNS = ("key", "sink_id", "status", "file_id", "acked_at")
_REJECT_COLUMNS = ("sink_id", "key", "status", "file_id", "acked_at")

#: rows of one sink of events before a time, acknowledged before a time, that no pending feed file needs
PRUNE_SQL = (
    "DELETE FROM ledger WHERE sink_id = ? AND key < ? AND acked_at < ? AND "
    "(file_id IS NULL OR file_id IN (SELECT id FROM feed_files WHERE status='committed'))"
)


def insert_rows(
    tx: Tx, sink_id: int, keys: Sequence[bytes], *, status: int, file_id: int | None, acked_at: int
) -> None:
    """A ledger row per key (all with the same sink, status, file, time); existing rows are kept."""
    tx.insert_keyed("ledger", _INSERT_COLUMNS, (sink_id, status, file_id, acked_at), keys)


def rows_for_keys(db: Database, query: str, sink_id: int | None, keys: Sequence[bytes]) -> Iterator[tuple]:
    """Rows of ``query`` (``… WHERE sink_id = ? AND {keys}``) for ``keys`` (as few queries as the
    backend allows: chunks of ``IN (…)`` on SQLite, one array on PostgreSQL)."""
    if db.conn is None or sink_id is None:
        return
    yield from db.select_keys(query, (sink_id,), "key", keys)


class Ledger:
    """Look-ups, inserts and pruning of the ``ledger`` table (and of ``ledger_legacy``, the
    rows a version-2 state file held, while it has any: see :mod:`~msgevents.state.migrations`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _legacy_limit(self) -> bytes | None:
        """Keys below this may have a row in ``ledger_legacy``; ``None`` once it is empty."""
        until = self.db.meta(LEDGER_LEGACY_UNTIL)
        return None if until is None else (int(until) + 1).to_bytes(4, "big")

    def status(self, sink_id: int | None, keys: Sequence[bytes]) -> dict[bytes, int]:
        """Those of ``keys`` in the ledger of ``sink_id``, each with its status."""
        query = "SELECT key, status FROM ledger WHERE sink_id = ? AND {keys}"
        found = dict(rows_for_keys(self.db, query, sink_id, keys))
        limit = self._legacy_limit() if len(found) < len(keys) else None
        if limit is not None:
            older: dict[bytes, list[bytes]] = {}
            for key in keys:
                if key < limit and key not in found:
                    older.setdefault(key[4:], []).append(key)
            query = "SELECT key, status FROM ledger_legacy WHERE sink_id = ? AND {keys}"
            for hashed, status in rows_for_keys(self.db, query, sink_id, list(older)):
                found.update(dict.fromkeys(older[hashed], status))
        return found

    def insert(
        self, tx: Tx, sink_id: int, keys: Sequence[bytes], *, file_id: int | None = None, now: int
    ) -> None:
        """Rows for delivered ``keys`` (sorted: B-tree inserts in key order touch fewer pages)."""
        insert_rows(tx, sink_id, keys, status=DELIVERED, file_id=file_id, acked_at=now)

    def reject(self, tx: Tx, sink_id: int, keys: Sequence[bytes], *, now: int) -> None:
        sql = tx.dialect.upsert("ledger", _REJECT_COLUMNS, ("sink_id", "key"))
        tx.executemany(sql, ((sink_id, key, REJECTED, None, now) for key in sorted(keys)))

    def forget_rejections(self, sink_id: int, keys: Sequence[bytes]) -> None:
        """Drop 'rejected' rows so ``replay`` can send those events again."""
        legacy = self._legacy_limit() is not None
        with self.db.transaction() as tx:
            tx.for_keys("DELETE FROM ledger WHERE sink_id=? AND status=1 AND {keys}", (sink_id,), "key", keys)
            if legacy:
                tx.for_keys(
                    "DELETE FROM ledger_legacy WHERE sink_id=? AND status=1 AND {keys}",
                    (sink_id,),
                    "key",
                    [key[4:] for key in keys],
                )

    def delete_file_rows(self, tx: Tx, sink_id: int, file_id: int) -> None:
        tx.execute("DELETE FROM ledger WHERE sink_id=? AND file_id=?", (sink_id, file_id))
        if self._legacy_limit() is not None:
            tx.execute("DELETE FROM ledger_legacy WHERE sink_id=? AND file_id=?", (sink_id, file_id))

    def prune(self, tx: Tx, retention: timedelta, now: float) -> int:
        """Delete rows of events older than ``retention`` that were also acknowledged longer ago
        than that, unless a pending feed file still needs them.

        A range delete per sink: the keys of events before the cutoff come first in the
        B-tree (see :func:`msgevents.sink.ledger_key`), so nothing newer is read.
        """
        cutoff = int(now - retention.total_seconds())
        below = time_prefix(datetime.fromtimestamp(cutoff, UTC))
        deleted = 0
        for (sink_id,) in tx.execute("SELECT id FROM sinks").fetchall():
            deleted += tx.execute(PRUNE_SQL, (sink_id, below, cutoff)).rowcount
        if self._legacy_limit() is not None:
            deleted += tx.execute(
                "DELETE FROM ledger_legacy WHERE acked_at < ? AND (file_id IS NULL OR "
                "file_id IN (SELECT id FROM feed_files WHERE status='committed'))",
                (cutoff,),
            ).rowcount
            if tx.execute("SELECT 1 FROM ledger_legacy LIMIT 1").fetchone() is None:
                tx.execute("DELETE FROM meta WHERE key = ?", (LEDGER_LEGACY_UNTIL,))
        return deleted
