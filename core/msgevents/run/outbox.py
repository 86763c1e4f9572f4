"""The outbox as a run sees it: a source of events parked by earlier runs, and where failed ones wait."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from msgevents.events import Event
from msgevents.formats import event_from_jsonl
from msgevents.run.context import RunContext
from msgevents.run.origins import Origin
from msgevents.sink import ledger_key

__all__ = ["RunOutbox"]


class RunOutbox:
    """Parks failed events, says which keys wait, and reads back what earlier runs parked."""

    def __init__(self, ctx: RunContext, account: str | None = None, page: int = 1000) -> None:
        """``account``: whose parked events (default the provider's own); ``page``: events per batch."""
        self.ctx = ctx
        self.account = ctx.provider.account if account is None else account
        self.page = page
        self.used = False  # whether the outbox may hold keys of this sink (else nothing to look up)

    def start(self) -> int:
        """Look at the outbox before the run sends anything; the events waiting for this provider."""
        ctx = self.ctx
        self.used = ctx.store.outbox_count(ctx.sink_id) > 0
        return ctx.store.outbox_count(ctx.sink_id, ctx.provider.name, self.account)

    def batches(self) -> Iterator[tuple[list[Event], list[bytes]]]:
        """Parked events of this provider, a page at a time, without those acknowledged since
        they were parked (a feed file renamed just before a kill): those leave the outbox."""
        ctx = self.ctx
        state = ctx.store
        assert ctx.sink_id is not None
        for page in state.outbox_batches(ctx.sink_id, ctx.provider.name, self.account, self.page):
            events = [event_from_jsonl(payload) for _stream, payload in page]
            keys = [ledger_key(e) for e in events]
            settled = state.known(ctx.sink_id, keys)
            if settled:
                state.acknowledge(ctx.sink_id, outbox_done=list(settled))
                for event, key in zip(events, keys, strict=True):
                    if key in settled:
                        ctx.report.count(event.event, "already_delivered")
                events = [e for e, key in zip(events, keys, strict=True) if key not in settled]
                keys = [key for key in keys if key not in settled]
            if events:
                yield events, keys

    def waiting(self, keys: Sequence[bytes]) -> set[bytes]:
        """The keys among ``keys`` waiting in the outbox."""
        if not self.used:
            return set()
        return self.ctx.store.known_in_outbox(self.ctx.sink_id, keys)

    def park(self, items: Sequence[tuple[Event, Origin]]) -> None:
        """Keep undelivered events (with their stream) for the next run, which sends them first."""
        ctx = self.ctx
        if items and ctx.state is not None and ctx.sink_id is not None:
            self.used = True
            ctx.state.park(ctx.sink_id, [(event, origin.stream) for event, origin in items])
