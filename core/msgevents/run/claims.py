"""Claim: before a batch goes to the sink, take the claims of its events (see
:mod:`msgevents.state.claims`); send only what this run won and the ledger does not hold.

A run alone on its sink takes the sink's lease at its start instead and sends without
claims; before each batch and after each outcome of the sink it checks whether another
run asked for the lease, and if so
hands it over (its events in flight become its claims) and claims per key from then on.
A run that meets another's lease asks for it and waits (once per holder, at most
:data:`HANDOVER_WAIT` seconds) for the handover; if it does not come, the batch is deferred.

Keys another live run holds are *deferred* (counted ``claimed_elsewhere``): that run
delivers them, parks them in the outbox, or dies. Before the run ends, the delivery stage
asks again until each is settled (:meth:`RunClaims.settle`): in the ledger now (already
delivered), free (this run sends it), or held by a run found dead (its claims are
released, this run sends it). A holder still alive after :data:`DEFER_WAIT` seconds
leaves them parked in the outbox, sent by a later run: never dropped.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from msgevents.events import Event
from msgevents.run.context import RunContext
from msgevents.run.inflight import InFlight
from msgevents.state import REJECTED

__all__ = ["DEFER_WAIT", "HANDOVER_WAIT", "RunClaims"]

#: Seconds a run waits at its end for other runs to settle the events it left to them.
DEFER_WAIT = 60.0
#: Seconds a run waits, once, for another run to hand the sink's lease over before deferring.
HANDOVER_WAIT = 5.0


class RunClaims:
    """Filters a batch down to the events this run may send now."""

    def __init__(self, ctx: RunContext, inflight: InFlight) -> None:
        self.ctx = ctx
        self.inflight = inflight
        self._waited_for: set[int] = set()  # lease holders this run waited for once already

    def start(self) -> None:
        """Release the claims and lease of runs that died (their pending feed files were settled
        just before), then take the sink's lease if nobody else delivers to it."""
        ctx = self.ctx
        assert ctx.sink_id is not None
        released = ctx.store.claiming.sweep_claims(ctx.sink_id, own=ctx.report.run_id)
        self._note(released)
        self.lease()

    def lease(self) -> bool:
        """Take the sink's lease when no claims and no other run's lease are on it; whether taken."""
        ctx = self.ctx
        assert ctx.sink_id is not None
        assert ctx.report.run_id is not None
        return ctx.store.claiming.take_lease(ctx.sink_id, ctx.report.run_id)

    def poll(self) -> None:
        """After an outcome of the sink: hand the lease over at once if another run asked."""
        ctx = self.ctx
        if ctx.sink_id is not None and ctx.report.run_id is not None:
            ctx.store.claiming.hand_over_if_asked(ctx.sink_id, ctx.report.run_id, self.inflight.keys)

    def give_up_lease(self) -> None:
        """Hand the lease over (if held) with what is still in flight: a pass of ``serve`` ended."""
        ctx = self.ctx
        if ctx.sink_id is not None and ctx.report.run_id is not None:
            ctx.store.claiming.hand_over(ctx.sink_id, ctx.report.run_id, self.inflight.keys)

    def __call__(
        self, events: list[Event], keys: list[bytes]
    ) -> tuple[list[Event], list[bytes], list[tuple[Event, bytes]]]:
        """``(events to send, their keys, (event, key) held by another live run)``."""
        ctx = self.ctx
        assert ctx.sink_id is not None
        assert ctx.report.run_id is not None
        claiming = ctx.store.claiming
        if claiming.keep_lease(ctx.sink_id, ctx.report.run_id, self.inflight.keys, len(keys)):
            return events, keys, []  # alone on the sink: no claims (deduplication read the ledger)
        won, known = claiming.claim(ctx.sink_id, ctx.report.run_id, keys)
        if len(won) + len(known) < len(keys):  # some held by another run: is it alive?
            taken = [key for key in keys if key not in known and key not in set(won)]
            released = claiming.sweep_claims(ctx.sink_id, taken, own=ctx.report.run_id)
            self._note(released)
            if released or self._handed_over():
                again, known_again = claiming.claim(ctx.sink_id, ctx.report.run_id, taken)
                won, known = won + again, {**known, **known_again}
        if len(won) == len(keys):
            return events, keys, []
        chosen = set(won)
        already: Counter[str] = Counter()
        sent: list[Event] = []
        deferred: list[tuple[Event, bytes]] = []
        for event, key in zip(events, keys, strict=True):
            if key in chosen:
                sent.append(event)
            elif key in known:
                if known[key] == REJECTED:
                    ctx.report.rejected_before += 1
                else:
                    already[event.event] += 1
            else:
                deferred.append((event, key))
        for event_type, amount in already.items():
            ctx.report.count(event_type, "already_delivered", amount)
        return sent, [key for key in keys if key in chosen], deferred

    def _handed_over(self, wait: float | None = None) -> bool:
        """Another live run holds the sink's lease (it was asked to hand it over): wait for it,
        at its next batch, for at most ``wait`` seconds — once per holder; whether it did."""
        ctx = self.ctx
        assert ctx.sink_id is not None
        leases = ctx.store.claiming.leases
        holder = leases.holder(ctx.sink_id)
        if holder is None or holder == ctx.report.run_id or holder in self._waited_for:
            return False
        self._waited_for.add(holder)
        deadline = time.monotonic() + (HANDOVER_WAIT if wait is None else wait)
        pause = 0.01
        while time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
            if leases.holder(ctx.sink_id) != holder:
                return True
        return False

    def settle(self, retry: Callable[[], int], wait: float = DEFER_WAIT) -> None:
        """Call ``retry`` (which claims the deferred events again and says how many are still
        held elsewhere) until none are, pausing longer each time, for at most ``wait`` seconds."""
        deadline = time.monotonic() + wait
        pause = 0.05
        while retry() and time.monotonic() < deadline:
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 1.0)

    def _note(self, released: int) -> None:
        if released:
            self.ctx.report.claims_released += released

    def finish(self) -> None:
        """The run ends: whatever it still claims is released (never handed over, or outcome unknown)."""
        ctx = self.ctx
        if ctx.state is not None and ctx.report.run_id is not None and not ctx.options.dry_run:
            ctx.store.claiming.release_run_claims(ctx.report.run_id)
