"""Claims and leases: which run is delivering an event right now, across processes and machines.

**Claims.** A run sends an event only while it holds the event's claim — a row ``(sink,
ledger key) -> run id`` inserted if absent — or the sink's lease (below). Before handing
a batch to the sink, a claiming run claims its keys in one transaction and, in that same
transaction and *after* the insert, looks them up in the ledger; only keys it won and the
ledger does not hold are sent. A claim ends in the transaction that settles the event: a
ledger row (delivered, rejected, or recorded with a pending feed file), or — after the
event was parked in the outbox or never sent — a plain release. A run that died holding
claims is found by its presence lock (:mod:`msgevents.lock`) no longer being held;
whoever finds it releases its claims.

Why this order is enough (on SQLite, where ``BEGIN IMMEDIATE`` serialises writers,
and on PostgreSQL under READ COMMITTED, where an insert that conflicts with an
uncommitted delete of the same key waits for that transaction): if run B wins a key,
any run A that claimed it before has released it, and A's ledger row for it (written
in the releasing transaction) is committed and seen by B's ledger look-up, a later
statement. So two live runs never both send an event, whatever their windows.

**Leases.** Nearly every run is alone on its sink, and claims cost it an insert, a
look-up and a delete per event. So a run that finds, at its start, no claims on its sink
and no lease of another run takes the sink's *lease* (``leases``, one row per sink) and
sends without claims: its lease stands for a claim on every key it sends. The rules:

1. A lease is taken only when the sink has no claims at all; a claim is taken only when
   the sink has no lease of another run (a claiming run that meets a live holder's lease
   asks it to hand over — ``handover`` — and waits for it a little; else the batch is
   held elsewhere: deferred, asked again at its end like any key another run holds).
   Both checks and inserts run under the sink's lock
   (:meth:`~msgevents.state.dialect.Dialect.lock_sink`: SQLite's ``BEGIN IMMEDIATE``; on
   PostgreSQL a transaction advisory lock, without which READ COMMITTED would let both be
   taken at once, neither seeing the other's new row). So *while a lease row exists, the
   sink has no claim rows*.
2. The holder checks whether anyone asked before each batch (one ``UPDATE`` of its row,
   which also records how many events it has unacknowledged — what a releasing run counts
   if it dies) and after each outcome of the sink (one read). If so, in one transaction
   under the sink's lock it inserts claims for the keys it has in flight (handed to the
   sink, not yet acknowledged) and deletes the lease; from then on it claims per key.
   ``serve`` gives its lease up the same way after each pass.
3. A lease ends with its run (deleted with the run's claims) or, its holder found dead by
   its presence lock, by whoever finds it. Its holder deletes no claims while it holds
   it (there are none: rule 1) and deletes them again once it handed it over.

Why nothing is sent twice, with leases: a lease and claims never coexist (rule 1), and a
holder's keys become claims at the moment its lease ends by handover (rule 2). A holder
takes the lease before it looks anything up in the ledger, so whatever a claim's run
settled before — its ledger row committed with the claim's end, before the lease could
be taken — the holder finds in the ledger and does not send. A claiming run after a
handover either meets the holder's claims on its in-flight keys (deferred), or the ledger
rows of the keys it acknowledged, committed before the handover. Two leases of one sink
never overlap (one row per sink), and the same argument holds between them. A lease
ended by its run's end or death leaves what a run's claims leave then: unacknowledged
events whose outcome is unknown (counted ``claims_released`` by whoever releases a dead
holder's lease: the holder's last ``unsettled``).
"""

from __future__ import annotations

from collections.abc import Sequence

from msgevents.state.db import Database, Tx

__all__ = ["Claims"]


class Claims:
    """The ``claims`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db
        #: sink id -> run id: the sinks whose lease a run on this connection holds (no claims on them)
        self.leased: dict[int, int] = {}

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
        """Drop the claims of ``keys`` (settled: in the ledger, parked, or not sent); nothing to
        do while this connection's run holds the sink's lease (no claims exist then)."""
        if sink_id in self.leased:
            return
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

    def any(self, tx: Tx, sink_id: int) -> bool:
        """Whether anyone holds a claim on ``sink_id``."""
        return tx.execute("SELECT 1 FROM claims WHERE sink_id = ? LIMIT 1", (sink_id,)).fetchone() is not None
