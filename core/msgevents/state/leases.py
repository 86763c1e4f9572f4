"""Leases: the one run delivering to a sink without per-event claims (the ``leases`` table).

A row ``sink -> (run id, handover asked, unsettled)``; at most one per sink. Why a lease
and claims never meet, and when a lease is taken, handed over and released, is in
:mod:`msgevents.state.claims`; this module is only the table.
"""

from __future__ import annotations

from typing import NamedTuple

from msgevents.state.db import Database, Tx

__all__ = ["Lease", "Leases"]


class Lease(NamedTuple):
    run_id: int
    handover: bool  # another run asked for it
    unsettled: int  # events its holder had handed to the sink and not yet acknowledged (at most)


class Leases:
    """The ``leases`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, tx: Tx, sink_id: int) -> Lease | None:
        row = tx.execute("SELECT run_id, handover, unsettled FROM leases WHERE sink_id = ?", (sink_id,))
        found = row.fetchone()
        return None if found is None else Lease(int(found[0]), bool(found[1]), int(found[2]))

    def holder(self, sink_id: int) -> int | None:
        """The run holding the lease of ``sink_id``, if any (read outside a transaction)."""
        found = self.db.execute("SELECT run_id FROM leases WHERE sink_id = ?", (sink_id,)).fetchone()
        return None if found is None else int(found[0])

    def asked(self, sink_id: int, run_id: int) -> bool:
        """Whether the holder ``run_id`` was asked for the lease (or no longer holds it): one read."""
        found = self.db.execute(
            "SELECT handover FROM leases WHERE sink_id = ? AND run_id = ?", (sink_id, run_id)
        ).fetchone()
        return found is None or bool(found[0])

    def insert(self, tx: Tx, sink_id: int, run_id: int) -> None:
        tx.execute(
            "INSERT INTO leases(sink_id, run_id, handover, unsettled) VALUES (?, ?, 0, 0)", (sink_id, run_id)
        )

    def ask(self, tx: Tx, sink_id: int) -> None:
        """Ask the holder to hand the lease over (it does at its next batch)."""
        tx.execute("UPDATE leases SET handover = 1 WHERE sink_id = ?", (sink_id,))

    def keep(self, tx: Tx, sink_id: int, run_id: int, unsettled: int) -> bool:
        """The holder, before a batch: whether it still holds the lease and nobody asked for it
        (then ``unsettled`` is recorded: events it will have handed to the sink, unacknowledged)."""
        cursor = tx.execute(
            "UPDATE leases SET unsettled = ? WHERE sink_id = ? AND run_id = ? AND handover = 0",
            (unsettled, sink_id, run_id),
        )
        return bool(cursor.rowcount == 1)

    def delete(self, tx: Tx, sink_id: int, run_id: int) -> None:
        tx.execute("DELETE FROM leases WHERE sink_id = ? AND run_id = ?", (sink_id, run_id))

    def release_run(self, tx: Tx, run_id: int) -> int:
        """Drop every lease of ``run_id``; how many events it may have left unsettled."""
        rows = tx.execute("SELECT unsettled FROM leases WHERE run_id = ?", (run_id,)).fetchall()
        if rows:
            tx.execute("DELETE FROM leases WHERE run_id = ?", (run_id,))
        return sum(int(row[0]) for row in rows)
