"""Claiming events for delivery and telling live runs from dead ones, as every delivering run does.

The protocol and why it is enough are in :mod:`msgevents.state.claims` (claims and
leases); this is what runs call: a claim spans the claims, the sink's lease and the
ledger in one transaction, a lease is taken, kept and handed over under the sink's lock,
and a sweep asks each holder's presence lock (:mod:`msgevents.presence`) whether it lives.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from msgevents.presence import Held, presence_for
from msgevents.state.claims import Claims
from msgevents.state.db import Database
from msgevents.state.leases import Leases
from msgevents.state.ledger import Ledger

__all__ = ["Claiming"]


class Claiming:
    """``StateStore.claiming``: claims of ledger keys by runs, and the runs' presence."""

    def __init__(self, db: Database, ledger: Ledger, claims: Claims) -> None:
        self.db = db
        self.ledger = ledger
        self.claims = claims
        self.leases = Leases(db)

    def claim(self, sink_id: int, run_id: int, keys: Sequence[bytes]) -> tuple[list[bytes], dict[bytes, int]]:
        """Claim ``keys`` for ``run_id``: ``(keys to send, keys the ledger holds with their status)``.

        One transaction: claims inserted where absent, then the ledger looked up for the keys
        won (their claims are dropped again when it holds them). Keys in neither list are
        held by another run — all of them while another run holds the sink's lease (it is
        asked to hand it over). With ``run_id``'s own lease, every key is won.
        """
        with self.db.transaction() as tx:
            tx.dialect.lock_sink(tx, sink_id)
            lease = self.leases.get(tx, sink_id)
            if lease is not None and lease.run_id != run_id:
                if not lease.handover:
                    self.leases.ask(tx, sink_id)
                return [], {}
            won = set(keys) if lease is not None else self.claims.take(tx, sink_id, run_id, keys)
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
        """Drop whatever claims (and lease) ``run_id`` still holds (the run is ending); how many claims."""
        with self.db.transaction() as tx:
            released = self.claims.release_run(tx, run_id)
            self.leases.release_run(tx, run_id)
        self._forget_leases(run_id)
        return released

    def sweep_claims(
        self, sink_id: int, keys: Sequence[bytes] | None = None, *, own: int | None = None
    ) -> int:
        """Release the claims (on ``keys``, or all of ``sink_id``) and the lease of ``sink_id``
        of dead runs; how many claims went, with the events a dead lease holder left unsettled."""
        holders = self.claims.runs(sink_id) if keys is None else self.claims.holders(sink_id, keys)
        if (holder := self.leases.holder(sink_id)) is not None:
            holders.add(holder)
        holders.discard(own)  # type: ignore[arg-type]
        released = 0
        for run_id in sorted(holders):
            if not self.run_alive(run_id):  # dead for good: released outside the sink's lock
                with self.db.transaction() as tx:
                    released += self.claims.release_run(tx, run_id) + self.leases.release_run(tx, run_id)
        return released

    # -- the lease: one run alone on a sink sends without claims -----------------------------

    def take_lease(self, sink_id: int, run_id: int) -> bool:
        """Take the lease of ``sink_id`` for ``run_id`` when nobody claims anything on the sink and
        no other run holds it (sweep dead runs first); whether ``run_id`` holds it now."""
        with self.db.transaction() as tx:
            tx.dialect.lock_sink(tx, sink_id)
            lease = self.leases.get(tx, sink_id)
            if lease is None and not self.claims.any(tx, sink_id):
                self.leases.insert(tx, sink_id, run_id)
            elif lease is None or lease.run_id != run_id:
                return False
        self.claims.leased[sink_id] = run_id
        return True

    def holds_lease(self, sink_id: int, run_id: int) -> bool:
        """Whether ``run_id`` (a run on this connection) holds the lease of ``sink_id``."""
        return self.claims.leased.get(sink_id) == run_id

    def keep_lease(self, sink_id: int, run_id: int, inflight: Collection[bytes], sending: int) -> bool:
        """Before a batch of ``sending`` events: whether ``run_id`` still holds the lease. Asked
        to hand it over, it does: its ``inflight`` keys (handed to the sink, unacknowledged)
        become its claims, and it claims per key from then on."""
        if not self.holds_lease(sink_id, run_id):
            return False
        with self.db.transaction() as tx:
            if self.leases.keep(tx, sink_id, run_id, len(inflight) + sending):
                return True
        self.hand_over(sink_id, run_id, inflight)
        return False

    def hand_over_if_asked(self, sink_id: int, run_id: int, inflight: Collection[bytes]) -> None:
        """Between a batch's outcomes: hand the lease over if another run asked (one read)."""
        if self.holds_lease(sink_id, run_id) and self.leases.asked(sink_id, run_id):
            self.hand_over(sink_id, run_id, inflight)

    def hand_over(self, sink_id: int, run_id: int, inflight: Collection[bytes]) -> None:
        """Give the lease up: ``inflight`` claimed by ``run_id`` and the lease deleted, at once."""
        if not self.holds_lease(sink_id, run_id):
            return
        with self.db.transaction() as tx:
            tx.dialect.lock_sink(tx, sink_id)
            self.claims.take(tx, sink_id, run_id, list(inflight))
            self.leases.delete(tx, sink_id, run_id)
        del self.claims.leased[sink_id]

    def _forget_leases(self, run_id: int) -> None:
        for sink_id in [sink for sink, holder in self.claims.leased.items() if holder == run_id]:
            del self.claims.leased[sink_id]

    def hold_presence(self, run_id: int) -> Held:
        """Hold the lock that tells other processes ``run_id`` is alive (until released)."""
        return presence_for(self.db.location, self.db.conn).hold(run_id)

    def run_alive(self, run_id: int) -> bool:
        """Whether run ``run_id`` still holds its presence lock (is running somewhere)."""
        return presence_for(self.db.location, self.db.conn).alive(run_id)
