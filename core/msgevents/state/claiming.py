"""Claiming events for delivery and telling live runs from dead ones, as every delivering run does.

The protocol and why it is enough are in :mod:`msgevents.state.claims` (the table); this
is what runs call: a claim spans the claims table and the ledger in one transaction, and
a sweep asks each holder's presence lock (:mod:`msgevents.presence`) whether it lives.
"""

from __future__ import annotations

from collections.abc import Sequence

from msgevents.presence import Held, presence_for
from msgevents.state.claims import Claims
from msgevents.state.db import Database
from msgevents.state.ledger import Ledger

__all__ = ["Claiming"]


class Claiming:
    """``StateStore.claiming``: claims of ledger keys by runs, and the runs' presence."""

    def __init__(self, db: Database, ledger: Ledger, claims: Claims) -> None:
        self.db = db
        self.ledger = ledger
        self.claims = claims

    def claim(self, sink_id: int, run_id: int, keys: Sequence[bytes]) -> tuple[list[bytes], dict[bytes, int]]:
        """Claim ``keys`` for ``run_id``: ``(keys to send, keys the ledger holds with their status)``.

        One transaction: claims inserted where absent, then the ledger looked up for the keys
        won (their claims are dropped again when it holds them). Keys in neither list are
        held by another run.
        """
        with self.db.transaction() as tx:
            won = self.claims.take(tx, sink_id, run_id, keys)
            known = self.ledger.status(sink_id, list(won)) if won else {}
            if known:
                self.claims.release(tx, sink_id, list(known))
        return [key for key in keys if key in won and key not in known], known

    def release_claims(self, sink_id: int, keys: Sequence[bytes]) -> None:
        """Drop the claims of ``keys`` (parked in the outbox, or never sent)."""
        if keys:
            with self.db.transaction() as tx:
                self.claims.release(tx, sink_id, keys)

    def release_run_claims(self, run_id: int) -> int:
        """Drop whatever claims ``run_id`` still holds (the run is ending); how many."""
        with self.db.transaction() as tx:
            return self.claims.release_run(tx, run_id)

    def sweep_claims(
        self, sink_id: int, keys: Sequence[bytes] | None = None, *, own: int | None = None
    ) -> int:
        """Release the claims of dead runs (on ``keys``, or all of ``sink_id``); how many went."""
        holders = self.claims.runs(sink_id) if keys is None else self.claims.holders(sink_id, keys)
        holders.discard(own)  # type: ignore[arg-type]
        return self.claims.sweep(holders, self.run_alive) if holders else 0

    def hold_presence(self, run_id: int) -> Held:
        """Hold the lock that tells other processes ``run_id`` is alive (until released)."""
        return presence_for(self.db.location, self.db.conn).hold(run_id)

    def run_alive(self, run_id: int) -> bool:
        """Whether run ``run_id`` still holds its presence lock (is running somewhere)."""
        return presence_for(self.db.location, self.db.conn).alive(run_id)
