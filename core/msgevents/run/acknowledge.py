"""Acknowledge: each sink outcome committed in one state transaction, with the positions it frees.

Ledger rows for what was delivered or refused, the feed file committed, outbox
rows cleared, and the position of every stream whose pull completed and whose
events are all acknowledged; failed events go to the outbox and hold their
stream's position.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from msgevents.events import Event
from msgevents.objectstore import ObjectInput
from msgevents.redact import redact
from msgevents.run.context import RunContext
from msgevents.run.inflight import InFlight
from msgevents.run.origins import Origin, Outbox, Stream
from msgevents.run.outbox import RunOutbox
from msgevents.run.quarantine import QuarantineBook
from msgevents.sink import Outcome

__all__ = ["Acknowledger", "Positions"]

PositionRow = tuple[str, str, str, datetime]  # provider, account, stream, new position


class Positions:
    """Streams whose pull completed, and when their position may move."""

    def __init__(self, ctx: RunContext, inflight: InFlight, buffer: dict[Origin, list[Event]]) -> None:
        self.ctx = ctx
        self.inflight = inflight
        self.buffer = buffer
        self.completed: dict[Stream, datetime] = {}  # stream -> position to save
        self.advanced: set[Stream] = set()
        self.failed: set[Origin] = set()  # origins with events the sink did not acknowledge

    def complete(self, stream: Stream, until: datetime) -> None:
        self.completed[stream] = until

    def ready(self) -> list[PositionRow]:
        provider = self.ctx.provider
        return [
            (provider.name, provider.account, stream.name, position)
            for stream, position in self.completed.items()
            if stream not in self.advanced
            and stream not in self.failed
            and not self.inflight.holds(stream)
            and stream not in self.buffer
        ]

    def mark(self, rows: list[PositionRow]) -> None:
        for _provider, _account, name, _position in rows:
            self.advanced.add(Stream(name))
            self.ctx.report.windows[name]["advanced"] = True

    def commit_ready(self) -> None:
        """Move the positions that are ready, outside any outcome (a stream with nothing to send)."""
        ctx = self.ctx
        if not ctx.delivering:
            return
        rows = self.ready()
        if rows:
            assert ctx.sink_id is not None
            ctx.store.acknowledge(ctx.sink_id, positions=rows)
            self.mark(rows)


class Acknowledger:
    """Commits sink outcomes; counts delivered, rejected and pending; quarantines refusals; parks failures."""

    def __init__(
        self,
        ctx: RunContext,
        inflight: InFlight,
        positions: Positions,
        outbox: RunOutbox,
        quarantine: QuarantineBook,
    ) -> None:
        self.ctx = ctx
        self.inflight = inflight
        self.positions = positions
        self.outbox = outbox
        self.quarantine = quarantine

    def all(self, outcomes: Iterable[Outcome]) -> None:
        for outcome in outcomes:
            self(outcome)

    def __call__(self, outcome: Outcome) -> None:
        """Commit one outcome: ledger, file, outbox and ready positions in one transaction."""
        ctx = self.ctx
        report = ctx.report
        delivered = [receipt.key for receipt in outcome.delivered]
        outbox_done = [receipt.key for receipt in outcome.delivered if isinstance(receipt.tag, Outbox)]
        self.inflight.settle(outcome.delivered)
        report.outbox_sent += len(outbox_done)
        for event_type, amount in Counter(receipt.event_type for receipt in outcome.delivered).items():
            report.count(event_type, "delivered", amount)
        rejected = []
        for receipt, event, reason in outcome.rejected:
            rejected.append(receipt.key)
            self.inflight.settle([receipt])
            if isinstance(receipt.tag, Outbox):
                outbox_done.append(receipt.key)
            report.count(receipt.event_type, "rejected")
            self.quarantine.rejected(event, reason, receipt.tag.stream)
        if outcome.failed:
            self._failed(outcome)
        if outcome.ambiguous:
            report.warn("a request's outcome was unknowable and it was repeated: possible duplicate")
        positions = self.positions.ready()
        if delivered or rejected or outbox_done or positions or outcome.file_id is not None:
            assert ctx.sink_id is not None
            ctx.store.acknowledge(
                ctx.sink_id,
                delivered=delivered,
                rejected=rejected,
                file_id=outcome.file_id,
                positions=positions,
                outbox_done=outbox_done,
            )
            self.positions.mark(positions)

    def _failed(self, outcome: Outcome) -> None:
        """Not acknowledged: counted pending, parked in the outbox, their stream's position held."""
        verdict = self.ctx.verdict
        verdict.sink_down = redact(outcome.error or "the sink did not acknowledge")
        to_park: list[tuple[Event, Origin]] = []
        keys: list[bytes] = []
        for receipt, event in outcome.failed:
            keys.append(receipt.key)
            self.inflight.settle([receipt])
            self.positions.failed.add(receipt.tag)
            self.ctx.report.count(receipt.event_type, "pending")
            if isinstance(receipt.tag, Outbox):
                continue  # still in the outbox
            if event is None:
                verdict.unparked.add(receipt.key)
            else:
                to_park.append((event, receipt.tag))
        self.outbox.park(to_park)
        if self.ctx.sink_id is not None:  # parked (or to be read again): no longer being delivered
            self.ctx.store.claiming.release_claims(self.ctx.sink_id, keys)

    def objects(self, read: list[ObjectInput], buffered: bool) -> None:
        """Record the objects read to their end whose events all reached the sink (or wait in
        the outbox, which the next run sends first), so later runs skip them."""
        ctx = self.ctx
        if not read or not ctx.delivering:
            return
        if ctx.verdict.unparked or ctx.verdict.plugin_broke or buffered:
            return  # events whose fate is not in the state: read these objects again next time
        assert ctx.sink_id is not None
        ctx.store.remember_finished_objects(
            ctx.provider.name, ctx.provider.account, ctx.sink_id, [(o.url, o.etag) for o in read]
        )
