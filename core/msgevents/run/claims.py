"""Claim: before a batch goes to the sink, take the claims of its events (see
:mod:`msgevents.state.claims`); send only what this run won and the ledger does not hold.

Keys another live run holds are left to it (counted ``claimed_elsewhere``): it delivers
them, parks them in the outbox, or dies — and a run found dead has its claims released
here at once, so the batch can take them after all.
"""

from __future__ import annotations

from collections import Counter

from msgevents.events import Event
from msgevents.run.context import RunContext
from msgevents.state import REJECTED

__all__ = ["RunClaims"]


class RunClaims:
    """Filters a batch down to the events this run may send now."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def start(self) -> None:
        """Release the claims of runs that died (their pending feed files were settled just before)."""
        ctx = self.ctx
        assert ctx.sink_id is not None
        released = ctx.store.sweep_claims(ctx.sink_id, own=ctx.report.run_id)
        self._note(released)

    def __call__(self, events: list[Event], keys: list[bytes]) -> tuple[list[Event], list[bytes]]:
        ctx = self.ctx
        assert ctx.sink_id is not None
        assert ctx.report.run_id is not None
        won, known = ctx.store.claim(ctx.sink_id, ctx.report.run_id, keys)
        if len(won) + len(known) < len(keys):  # some held by another run: is it alive?
            taken = [key for key in keys if key not in known and key not in set(won)]
            if released := ctx.store.sweep_claims(ctx.sink_id, taken, own=ctx.report.run_id):
                self._note(released)
                again, known_again = ctx.store.claim(ctx.sink_id, ctx.report.run_id, taken)
                won, known = won + again, {**known, **known_again}
        if len(won) == len(keys):
            return events, keys
        chosen = set(won)
        already: Counter[str] = Counter()
        sent: list[Event] = []
        for event, key in zip(events, keys, strict=True):
            if key in chosen:
                sent.append(event)
            elif key in known:
                if known[key] == REJECTED:
                    ctx.report.rejected_before += 1
                else:
                    already[event.event] += 1
            else:
                ctx.report.claimed_elsewhere += 1
        for event_type, amount in already.items():
            ctx.report.count(event_type, "already_delivered", amount)
        return sent, [key for key in keys if key in chosen]

    def _note(self, released: int) -> None:
        if released:
            self.ctx.report.claims_released += released

    def finish(self) -> None:
        """The run ends: whatever it still claims is released (never handed over, or outcome unknown)."""
        ctx = self.ctx
        if ctx.state is not None and ctx.report.run_id is not None and not ctx.options.dry_run:
            ctx.store.release_run_claims(ctx.report.run_id)
