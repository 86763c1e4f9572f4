"""Claims: which run is delivering an event right now, across processes and machines.

A run sends an event only while it holds the event's claim: a row ``(sink, ledger
key) -> run id`` inserted if absent. Before handing a batch to the sink, a run
claims its keys in one transaction and, in that same transaction and *after* the
insert, looks them up in the ledger; only keys it won and the ledger does not hold
are sent. A claim ends in the transaction that settles the event: a ledger row
(delivered, rejected, or recorded with a pending feed file), or — after the event was
parked in the outbox or never sent — a plain release. A run that died holding claims
is found by its presence lock (:mod:`msgevents.lock`) no longer being held; whoever
finds it releases its claims.

Why this order is enough (on SQLite, where ``BEGIN IMMEDIATE`` serialises writers,
and on PostgreSQL under READ COMMITTED, where an insert that conflicts with an
uncommitted delete of the same key waits for that transaction): if run B wins a key,
any run A that claimed it before has released it, and A's ledger row for it (written
in the releasing transaction) is committed and seen by B's ledger look-up, a later
statement. So two live runs never both send an event, whatever their windows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from msgevents.state.db import Database, Tx

__all__ = ["Claims"]


class Claims:
    """The ``claims`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def take(self, tx: Tx, sink_id: int, run_id: int, keys: Sequence[bytes]) -> set[bytes]:
        """Insert a claim for every key nobody holds; the keys ``run_id`` holds afterwards."""
        tx.insert_keyed("claims", ["key", "sink_id", "run_id"], [sink_id, run_id], keys)
        won: set[bytes] = set()
        sql = "SELECT key FROM claims WHERE sink_id = ? AND run_id = ? AND {keys}"
        for condition, values in tx.dialect.key_lists("key", keys):
            rows = tx.execute(sql.format(keys=condition), (sink_id, run_id, *values))
            won.update(bytes(row[0]) for row in rows)
        return won

    def release(self, tx: Tx, sink_id: int, keys: Sequence[bytes]) -> None:
        """Drop the claims of ``keys`` (settled: in the ledger, parked, or not sent)."""
        tx.for_keys("DELETE FROM claims WHERE sink_id = ? AND {keys}", (sink_id,), "key", keys)

    def release_run(self, tx: Tx, run_id: int) -> int:
        """Drop every claim of ``run_id``; how many there were."""
        return int(tx.execute("DELETE FROM claims WHERE run_id = ?", (run_id,)).rowcount or 0)

    def holders(self, sink_id: int, keys: Sequence[bytes]) -> set[int]:
        """The runs holding claims of ``keys``."""
        sql = "SELECT DISTINCT run_id FROM claims WHERE sink_id = ? AND {keys}"
        return {int(r[0]) for r in self.db.select_keys(sql, (sink_id,), "key", keys)}

    def runs(self, sink_id: int) -> set[int]:
        """Every run holding claims on ``sink_id``."""
        rows = self.db.execute("SELECT DISTINCT run_id FROM claims WHERE sink_id = ?", (sink_id,))
        return {int(r[0]) for r in rows}

    def sweep(self, candidates: set[int], alive: Callable[[int], bool]) -> int:
        """Release the claims of those ``candidates`` that are dead; how many claims went."""
        released = 0
        for run_id in sorted(candidates):
            if alive(run_id):
                continue
            with self.db.transaction() as tx:
                released += self.release_run(tx, run_id)
        return released
