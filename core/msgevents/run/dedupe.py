"""Deduplicate: drop events already delivered or refused (ledger), waiting (outbox) or in flight."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from msgevents.events import Event
from msgevents.run.context import RunContext
from msgevents.run.inflight import InFlight
from msgevents.run.outbox import RunOutbox
from msgevents.sink import ledger_key
from msgevents.state import REJECTED

__all__ = ["Deduplicator"]


class Deduplicator:
    """What of a batch is new: not in the ledger, the outbox, in flight, or earlier in the batch."""

    def __init__(self, ctx: RunContext, outbox: RunOutbox, inflight: InFlight) -> None:
        self.ctx = ctx
        self.outbox = outbox
        self.inflight = inflight

    def __call__(self, events: list[Event]) -> tuple[list[Event], list[bytes]]:
        """The new events and their ledger keys; counts "already delivered" and "rejected before"."""
        ctx = self.ctx
        keys = [ledger_key(e) for e in events]
        known = ctx.store.ledger_status(ctx.sink_id, keys)  # key -> DELIVERED or REJECTED
        waiting = self.outbox.waiting(keys)
        inflight = self.inflight.keys
        unique = set(keys)
        if not known and not waiting and len(unique) == len(keys) and inflight.isdisjoint(unique):
            return events, keys  # all new (the common case): no need to look at them one by one
        fresh: list[Event] = []
        fresh_keys: list[bytes] = []
        seen: set[bytes] = set()
        already: Counter[str] = Counter()
        rejected = {key for key, status in known.items() if status == REJECTED}
        ctx.report.rejected_before += len(rejected)
        for event, key in zip(events, keys, strict=True):
            if key in rejected:
                continue  # refused by the sink earlier: in quarantine, `msgevents replay` resends
            if key in known:
                already[event.event] += 1
            elif key in waiting or key in inflight or key in seen:
                ctx.report.duplicates += 1  # pending in the outbox, or read twice in this run
            else:
                fresh.append(event)
                fresh_keys.append(key)
                seen.add(key)
        for event_type, amount in already.items():
            ctx.report.count(event_type, "already_delivered", amount)
        return fresh, fresh_keys

    def forget_rejections(self, events: Sequence[Event]) -> None:
        """Replayed events the sink refused before are sent again: their ledger rows go."""
        ctx = self.ctx
        if ctx.delivering and events:
            assert ctx.sink_id is not None
            ctx.store.forget_rejections(ctx.sink_id, [ledger_key(e) for e in events])
