"""Deliver: buffer checked events per origin, deduplicate a chunk at a time, hand it to the sink.

The sink's outcomes come back as the values of :meth:`msgevents.Sink.send` and
:meth:`msgevents.Sink.finish`; each goes straight to the acknowledgement stage.
"""

from __future__ import annotations

from collections.abc import Iterable

from msgevents.events import Event
from msgevents.run.acknowledge import Acknowledger
from msgevents.run.claims import RunClaims
from msgevents.run.context import RunContext
from msgevents.run.dedupe import Deduplicator
from msgevents.run.inflight import InFlight
from msgevents.run.origins import Origin, Outbox, Stream
from msgevents.run.outbox import RunOutbox
from msgevents.sink import Outcome

__all__ = ["Delivery"]


class Delivery:
    """Chunks of new events to the sink; without a sink (or in a dry run) they are counted pending."""

    def __init__(
        self,
        ctx: RunContext,
        buffer: dict[Origin, list[Event]],
        dedupe: Deduplicator,
        inflight: InFlight,
        outbox: RunOutbox,
        acknowledge: Acknowledger,
        claims: RunClaims,
    ) -> None:
        self.ctx = ctx
        self.claims = claims
        #: events another run held when this one wanted to send them, per origin
        self.deferred: dict[Origin, list[tuple[Event, bytes]]] = {}
        self.buffer = buffer  # shared with the positions: a stream with buffered events waits
        self.dedupe = dedupe
        self.inflight = inflight
        self.outbox = outbox
        self.acknowledge = acknowledge
        self._buffered = 0

    def add(self, origin: Origin, events: list[Event]) -> None:
        """Buffer checked events; a full chunk goes on to deduplication and the sink."""
        if not events:
            return
        self.buffer.setdefault(origin, []).extend(events)
        self._buffered += len(events)
        if self._buffered >= self.ctx.options.chunk_size:
            self.flush_all()

    def flush(self, origin: Origin) -> None:
        events = self.buffer.pop(origin, None)
        if events:
            self._buffered -= len(events)
            fresh, keys = self.dedupe(events)
            self.send(origin, fresh, keys)

    def flush_all(self) -> None:
        for origin in list(self.buffer):
            self.flush(origin)

    def send(self, origin: Origin, events: list[Event], keys: list[bytes]) -> None:
        """Hand new events to the sink and acknowledge its outcomes as they come."""
        if not events:
            return
        ctx = self.ctx
        report = ctx.report
        if not ctx.delivering:
            report.count_all(events, "pending")
            return
        if ctx.verdict.sink_down is not None:  # the sink stopped acknowledging: keep them for later
            if not isinstance(origin, Outbox):
                self.outbox.park([(event, origin) for event in events])
            report.count_all(events, "pending")
            self.acknowledge.positions.failed.add(origin)
            return
        assert ctx.sink is not None
        events, keys, deferred = self.claims(events, keys)  # only what no other run is delivering
        if deferred:  # held by another run: asked again before the end (in flight meanwhile)
            self.deferred.setdefault(origin, []).extend(deferred)
            self.inflight.add(origin, [key for _event, key in deferred])
        if not events:
            return
        self.inflight.add(origin, keys)
        self._acknowledge(ctx.sink.send(events, origin))

    def finish(self) -> None:
        """Everything buffered to the sink, then wait for the sink to finish, acknowledging as it goes."""
        self.flush_all()
        if self.deferred:
            self._finish_sink()  # settle this run's own claims first: two runs never wait on each other
            self._settle_deferred()
        self._finish_sink()

    def _finish_sink(self) -> None:
        if self.ctx.delivering:
            assert self.ctx.sink is not None
            self._acknowledge(self.ctx.sink.finish())

    def _acknowledge(self, outcomes: Iterable[Outcome]) -> None:
        """Each outcome committed as it comes; after each, the lease handed over if asked for."""
        for outcome in outcomes:
            self.acknowledge(outcome)
            self.claims.poll()

    def _settle_deferred(self) -> None:
        """Ask again for the events other runs held until each is settled (see
        :mod:`msgevents.run.claims`); what is still held at the deadline waits in the outbox."""
        report = self.ctx.report
        report.claimed_elsewhere += sum(len(items) for items in self.deferred.values())

        def retry() -> int:
            waiting, self.deferred = self.deferred, {}
            for origin, items in waiting.items():
                self.inflight.drop(origin, [key for _event, key in items])
                self.send(origin, [event for event, _key in items], [key for _event, key in items])
            self._finish_sink()  # what this run took over is settled before it waits again
            return sum(len(items) for items in self.deferred.values())

        self.claims.settle(retry)
        for origin, items in self.deferred.items():  # still held by a live run: not lost, parked
            self.inflight.drop(origin, [key for _event, key in items])
            if not isinstance(origin, Outbox):
                self.outbox.park([(event, origin) for event, _key in items])
            report.count_all([event for event, _key in items], "pending")
            if isinstance(origin, Stream):
                self.acknowledge.positions.failed.add(origin)
        self.deferred = {}
