"""A collection run: sources → map → check → deduplicate → deliver → acknowledge.

The order of one run (:meth:`Collector.run`):

1. take the run lock, open the state, let the sink reconcile what a killed run
   left (feed files), prune the ledger;
2. send the **outbox** (events a previous run could not deliver) first;
3. read a source (:mod:`msgevents.run.sources`): API streams over the planned
   windows, or ``--input`` files whole, or quarantine entries (``replay``);
4. map each page (:mod:`~msgevents.run.mapping`), then check it
   (:mod:`~msgevents.run.checks`: plugin contract, identities, processors);
5. deliver (:mod:`~msgevents.run.delivery`) in chunks, without what is in the
   ledger, the outbox or in flight (:mod:`~msgevents.run.dedupe`);
6. acknowledge each outcome the sink gives back (:mod:`~msgevents.run.acknowledge`):
   ledger rows, feed file, outbox rows and ready positions in one transaction.

Memory is bounded by the chunk size and what the sink keeps in flight, never
by the number of events in a run.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Generator, Iterator, Sequence

from msgevents.errors import ConfigError, MsgEventsError
from msgevents.events import Event
from msgevents.identity import IdentityStep
from msgevents.lock import run_lock
from msgevents.objectstore import ObjectInput
from msgevents.processing import Processor
from msgevents.provider import Provider
from msgevents.quarantine import QuarantineWriter
from msgevents.report import Progress, RunReport
from msgevents.run import sources
from msgevents.run.acknowledge import Acknowledger, Positions
from msgevents.run.checks import Checks, Contract
from msgevents.run.claims import RunClaims
from msgevents.run.context import RunContext
from msgevents.run.dedupe import Deduplicator
from msgevents.run.delivery import Delivery
from msgevents.run.finish import finish
from msgevents.run.inflight import InFlight
from msgevents.run.mapping import Mapper
from msgevents.run.options import CollectOptions
from msgevents.run.origins import OUTBOX, Origin
from msgevents.run.outbox import RunOutbox
from msgevents.run.quarantine import QuarantineBook
from msgevents.sink import Sink
from msgevents.state import StateStore
from msgevents.state.location import local_directory

__all__ = ["Collector"]


class Collector:
    """One run of one provider into one sink. Build it, call :meth:`run`, read the report."""

    def __init__(
        self,
        provider: Provider,
        sink: Sink | None,
        options: CollectOptions,
        *,
        processors: Sequence[tuple[str, Processor]] = (),
        progress: Progress | None = None,
    ) -> None:
        if options.ledger_retention <= provider.restatement:
            raise ConfigError(
                "MSGEVENTS_LEDGER_RETENTION must be longer than the provider's restatement window "
                f"({provider.restatement}); otherwise re-read events would be sent twice"
            )
        report = RunReport(
            provider=provider.name,
            account=provider.account,
            sink=sink.name if sink else "none",
            destination=sink.description if sink else "",
            mode=options.mode,
            dry_run=options.dry_run,
        )
        self.ctx = ctx = RunContext(provider, sink, options, report)
        self.progress = progress
        quarantine_dir = options.quarantine_dir or local_directory(options.state_path) / "quarantine"
        self.quarantine = QuarantineWriter(quarantine_dir, provider.name, enabled=not options.dry_run)
        self.identity = IdentityStep.for_provider(provider.settings, options.identity_file, report.warn)
        # the stages, in the order a batch meets them
        book = QuarantineBook(ctx, self.quarantine)
        contract = Contract(ctx, book)
        self.map = Mapper(ctx, book, contract)
        self.check = Checks(ctx, book, contract, self.identity, processors)
        self.outbox = RunOutbox(ctx)
        inflight = InFlight()
        buffer: dict[Origin, list[Event]] = {}
        self.positions = Positions(ctx, inflight, buffer)
        self.acknowledge = Acknowledger(ctx, inflight, self.positions, self.outbox, book)
        dedupe = Deduplicator(ctx, self.outbox, inflight)
        self.claims = RunClaims(ctx, inflight)
        self.deliver = Delivery(ctx, buffer, dedupe, inflight, self.outbox, self.acknowledge, self.claims)
        self._objects_read: list[ObjectInput] = []  # objects read to their end in this run

    @property
    def report(self) -> RunReport:
        return self.ctx.report

    # -- the run ------------------------------------------------------------------------

    def run(self) -> RunReport:
        """Run to the end and return the report; fatal errors are raised with ``.report`` set."""
        with _fewer_gc_passes():
            return self._run()

    def _run(self) -> RunReport:
        ctx = self.ctx
        options = ctx.options
        lock = (
            None
            if options.dry_run
            else run_lock(options.state_path, ctx.provider.name, ctx.provider.account, options.part)
        )
        presence = None
        try:
            if lock is not None:
                lock.acquire()
            self._open_state()
            if ctx.report.run_id is not None:  # tells other processes this run is alive
                presence = ctx.store.claiming.hold_presence(ctx.report.run_id)
            self._run_inside()
        except MsgEventsError as exc:
            finish(ctx, self.quarantine, self.progress, self.acknowledge, self.claims, fatal=exc)
            exc.report = ctx.report  # type: ignore[attr-defined]
            raise
        except BaseException:
            finish(ctx, self.quarantine, self.progress, self.acknowledge, self.claims, crashed=True)
            raise
        else:
            finish(ctx, self.quarantine, self.progress, self.acknowledge, self.claims)
        finally:
            if ctx.state is not None:
                ctx.state.close()
            if presence is not None:
                presence.release()
            if lock is not None:
                lock.release()
        return ctx.report

    def _open_state(self) -> None:
        ctx = self.ctx
        options = ctx.options
        ctx.state = (
            StateStore.open_readonly(options.state_path)
            if options.dry_run
            else StateStore.open(options.state_path)
        )
        if ctx.sink is not None:
            ctx.sink_id = ctx.state.sink_id(ctx.sink.key)
        self.quarantine.prepare()
        if not options.dry_run:
            ctx.report.part = options.part
            ctx.report.run_id = ctx.state.start_run(
                ctx.provider.name, ctx.provider.account, ctx.report.sink, ctx.report.mode, options.part
            )

    def _run_inside(self) -> None:
        ctx = self.ctx
        self.identity.check()  # a bad lookup file stops the run before anything is sent
        if ctx.delivering:
            assert ctx.sink is not None
            assert ctx.sink_id is not None
            ctx.sink.open(ctx.store.journal(ctx.sink_id))  # settles pending feed files first
            self.claims.start()
            ctx.store.prune_ledger(ctx.options.ledger_retention)
        self._send_outbox()
        stopped_by: MsgEventsError | None = None
        try:
            with contextlib.closing(self._source()) as items:
                self._read(items)
        except MsgEventsError as exc:  # deliver what was read before the error, then report it
            stopped_by = exc
        self.deliver.finish()
        self.positions.commit_ready()
        self.acknowledge.objects(self._objects_read, buffered=bool(self.deliver.buffer))
        if stopped_by is not None:
            raise stopped_by

    def _send_outbox(self) -> None:
        ctx = self.ctx
        pending = self.outbox.start()
        if not pending:
            return
        if not ctx.delivering:
            ctx.report.outbox_pending = pending
            return
        for events, keys in self.outbox.batches():
            self.deliver.send(OUTBOX, events, keys)
            if ctx.verdict.sink_down:
                break

    def _source(self) -> Generator[sources.Item, None, None]:
        options = self.ctx.options
        if options.replay is not None:
            return sources.replay(self.ctx, options.replay, self.quarantine)
        if options.inputs:
            return sources.inputs(self.ctx, options.inputs, self._objects_read)
        return sources.streams(self.ctx)

    def _read(self, items: Iterator[sources.Item]) -> None:
        """The data flow of the run, one item of the source at a time."""
        ctx = self.ctx
        report, limit = ctx.report, ctx.options.limit
        for item in items:
            if isinstance(item, sources.Done):
                self.deliver.flush(item.origin)
                if item.until is not None:
                    self.positions.complete(item.origin, item.until)
                self.positions.commit_ready()
            elif isinstance(item, sources.Events):  # a replayed refusal: checked, sent again
                events = list(self.check.contract.checked(item.events, None))
                report.records += len(events)
                self.deliver.dedupe.forget_rejections(events)
                self.deliver.add(item.origin, self.check(item.origin, events))
            else:
                records = item.records
                if limit is not None and records:
                    if report.records >= limit:
                        return
                    records = records[: limit - report.records]
                self.deliver.add(item.origin, self.check(item.origin, self.map(records)))
                if self.progress is not None:
                    self.progress.update(report)
                if len(records) < len(item.records):
                    return  # --limit reached
            if ctx.verdict.sink_down is not None and report.mode != "input":
                return  # no point pulling more: positions stay, the next run re-reads


#: Garbage-collector thresholds while a run goes (CPython's defaults: 700, 10, 10).
GC_THRESHOLDS = (50_000, 20, 100)


@contextlib.contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Run the cyclic garbage collector far less often during a run, then restore the thresholds.

    A run allocates and frees millions of short-lived objects while up to a feed file's
    100,000 receipts and in-flight keys stay alive; with the default thresholds the
    collector rescans those survivors thousands of times per 500,000 records. What a run
    frees, reference counting frees, so collecting after 50,000 net new container objects
    instead of 700 does not make memory grow. Thresholds already higher are kept.
    """
    before = gc.get_threshold()
    gc.set_threshold(*(max(old, new) if old else 0 for old, new in zip(before, GC_THRESHOLDS, strict=True)))
    try:
        yield
    finally:
        gc.set_threshold(*before)
