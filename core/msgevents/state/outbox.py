"""The outbox: mapped events a sink did not acknowledge, sent first by the next run."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

from msgevents.events import Event
from msgevents.formats import jsonl_object
from msgevents.sink import ledger_key
from msgevents.state.db import Database, Tx
from msgevents.state.ledger import rows_for_keys

__all__ = ["Outbox"]

_COLUMNS = ("sink_id", "key", "provider", "account", "stream", "payload", "created_at")


class Outbox:
    """The ``outbox`` table: ``(sink, ledger key) -> (provider, account, stream, event JSON)``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def park(self, sink_id: int, items: Iterable[tuple[Event, str]]) -> int:
        """Store unacknowledged events (with their stream); returns how many."""
        rows = self.rows(sink_id, items)
        if rows:
            with self.db.transaction() as tx:
                self.insert(tx, rows)
        return len(rows)

    @staticmethod
    def rows(sink_id: int, items: Iterable[tuple[Event, str]]) -> list[tuple[Any, ...]]:
        """The outbox rows of ``(event, stream)`` items, for :meth:`insert`."""
        now = int(time.time())
        return [
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

    @staticmethod
    def insert(tx: Tx, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert :meth:`rows` inside the caller's transaction (an event already waiting is kept).

        In key order: concurrent writers (receivers on one PostgreSQL state) then take the
        rows' locks in the same order, so they wait for each other instead of deadlocking."""
        tx.executemany(tx.dialect.insert_ignore("outbox", _COLUMNS), sorted(rows, key=lambda row: row[1]))

    def accounts(self, sink_id: int | None, providers: Sequence[str]) -> list[tuple[str, str]]:
        """``(provider, account)`` pairs of ``providers`` with events waiting for ``sink_id``."""
        if self.db.conn is None or sink_id is None or not providers:
            return []
        rows = self.db.select_keys(
            "SELECT DISTINCT provider, account FROM outbox WHERE sink_id=? AND {keys}",
            (sink_id,),
            "provider",
            list(providers),
        )
        return sorted({(str(p), str(a)) for p, a in rows})

    def oldest(self, sink_id: int | None) -> int | None:
        """When the oldest event waiting for ``sink_id`` was parked (epoch seconds); ``None``: none."""
        if self.db.conn is None or sink_id is None:
            return None
        row = self.db.execute("SELECT MIN(created_at) FROM outbox WHERE sink_id=?", (sink_id,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def among(self, sink_id: int | None, keys: Sequence[bytes]) -> set[bytes]:
        """Those of ``keys`` waiting in the outbox of ``sink_id``."""
        query = "SELECT key FROM outbox WHERE sink_id = ? AND {keys}"
        return {row[0] for row in rows_for_keys(self.db, query, sink_id, keys)}

    def done(self, tx: Tx, sink_id: int, keys: Sequence[bytes]) -> None:
        tx.for_keys("DELETE FROM outbox WHERE sink_id=? AND {keys}", (sink_id,), "key", sorted(keys))

    def count(self, sink_id: int | None, provider: str | None = None, account: str | None = None) -> int:
        """Events waiting for ``sink_id``; of one provider (and account) when given."""
        if self.db.conn is None or sink_id is None:
            return 0
        sql, params = "SELECT COUNT(*) FROM outbox WHERE sink_id=?", [sink_id]
        if provider is not None:
            sql, params = sql + " AND provider=?", [*params, provider]
        if account is not None:
            sql, params = sql + " AND account=?", [*params, account]
        return int(self.db.execute(sql, params).fetchone()[0])

    def batches(
        self, sink_id: int | None, provider: str, account: str, size: int = 1000
    ) -> Iterator[list[tuple[str, dict[str, Any]]]]:
        """Pages of ``(stream, event JSON)`` waiting, in key order."""
        if self.db.conn is None or sink_id is None:
            return
        last = b""
        while True:
            rows = self.db.execute(
                "SELECT key, stream, payload FROM outbox WHERE sink_id=? AND provider=? "
                "AND account=? AND key > ? ORDER BY key LIMIT ?",
                (sink_id, provider, account, last, size),
            ).fetchall()
            if not rows:
                return
            last = bytes(rows[-1][0])
            yield [(stream, orjson.loads(payload)) for _key, stream, payload in rows]
