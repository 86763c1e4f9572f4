"""A collection run: read native records, map, check, deduplicate, deliver, commit.

The order of one run (``Collector.run``):

1. take the run lock, open the state, let the sink reconcile what a killed run
   left (feed files), prune the ledger;
2. send the **outbox** (events a previous run could not deliver) first;
3. read records: API streams over the planned windows (:mod:`msgevents.windows`),
   or ``--input`` files whole, or quarantine entries (``replay``);
4. per record: quarantine what the reader could not parse, map (pure), count
   "not modelled", quarantine mapping failures; reject events of undeclared
   types or of another provider (plugin contract, exit 5); resolve identities
   (:mod:`msgevents.identity`: unresolved events are quarantined); run processors;
5. drop events whose key is in the ledger (already delivered or rejected), in
   the outbox (pending) or in flight; submit the rest to the sink in chunks;
6. for every sink outcome, in one state transaction: ledger rows for what was
   acknowledged or rejected, the feed file committed, outbox rows cleared, and
   the position of every stream whose pull completed and whose events are all
   acknowledged; failed events go to the outbox and hold their stream's position.

Memory is bounded by the chunk size and what the sink keeps in flight, never
by the number of events in a run.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from msgevents.errors import (
    AuthError,
    ConfigError,
    IncompleteError,
    InputFileError,
    LockedError,
    MappingError,
    MsgEventsError,
    PluginError,
)
from msgevents.events import Event
from msgevents.formats import event_from_jsonl
from msgevents.identity import IdentityStep
from msgevents.lock import RunLock
from msgevents.objectstore import ObjectInput
from msgevents.processing import Processor
from msgevents.provider import NotModelled, Provider, Record
from msgevents.quarantine import QuarantineWriter, quarantine_key
from msgevents.redact import redact
from msgevents.report import Progress, RunReport
from msgevents.sink import Outcome, Sink, ledger_key
from msgevents.state import REJECTED, StateStore
from msgevents.timestamps import UTC, format_timestamp
from msgevents.windows import Bound, Plan, plan_windows, resolve

__all__ = ["CollectOptions", "Collector", "describe_validation_error"]

log = logging.getLogger(__name__)

OUTBOX = "(outbox)"
_KEY, _EVENT_TYPE, _TAG = (itemgetter(i) for i in range(3))  # of a Receipt
INPUT = "(input)"
REPLAY = "(replay)"


@dataclass
class CollectOptions:
    """What ``msgevents collect`` (and ``replay``) asked for."""

    state_path: Path
    since: Bound | None = None
    until: Bound | None = None
    inputs: list[Path | ObjectInput] = field(default_factory=list)  # see msgevents.objectstore
    replay: Path | None = None
    dry_run: bool = False
    full_refresh: bool = False
    limit: int | None = None
    chunk_size: int = 5000
    ledger_retention: timedelta = timedelta(days=90)
    quarantine_dir: Path | None = None
    identity_file: Path | None = None  # MSGEVENTS_IDENTITY_FILE; the provider's own setting wins


def describe_validation_error(exc: ValidationError) -> str:
    """A one-line reason naming each bad field and showing its value."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "event"
        message = error["msg"].removeprefix("Value error, ")
        value = error.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        parts.append(f"{where}: {message}{shown}")
    return "; ".join(parts)


class _Stop(Exception):
    """Internal: stop reading (``--limit`` reached, or the sink is down)."""


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
        self.provider = provider
        self.sink = sink
        self.options = options
        self.processors = list(processors)
        self.progress = progress or Progress(stream=_NullStream())
        self.account = provider.account
        self.supported = provider.supported_events
        if options.ledger_retention <= provider.restatement:
            raise ConfigError(
                "MSGEVENTS_LEDGER_RETENTION must be longer than the provider's restatement window "
                f"({provider.restatement}); otherwise re-read events would be sent twice"
            )
        mode = "replay" if options.replay else ("input" if options.inputs else "live")
        self.report = RunReport(
            provider=provider.name,
            account=self.account,
            sink=sink.name if sink else "none",
            destination=sink.description if sink else "",
            mode=mode,
            dry_run=options.dry_run,
        )
        quarantine_dir = options.quarantine_dir or options.state_path.parent / "quarantine"
        self.quarantine = QuarantineWriter(quarantine_dir, provider.name, enabled=not options.dry_run)
        self.identity = IdentityStep.for_provider(provider.settings, options.identity_file, self.report.warn)
        self.state: StateStore | None = None
        self.sink_id: int | None = None
        # bookkeeping while running
        self._inflight: Counter[str] = Counter()
        self._inflight_keys: set[bytes] = set()
        self._failed_tags: set[str] = set()
        self._completed: dict[str, datetime] = {}  # stream -> position to save
        self._advanced: set[str] = set()
        self._unparked: set[bytes] = set()  # failed without their event (a feed file)
        self._sink_down: str | None = None
        self._provider_failed: str | None = None
        self._plugin_broke = False
        self._buffer: dict[str, list[Event]] = {}
        self._buffered = 0
        self._outbox_used = False  # whether the outbox may hold keys of this sink
        self._quarantined_now: set[bytes] = set()  # quarantine keys this run wrote
        self._objects_read: list[ObjectInput] = []  # read to their end in this run

    # -- the run ------------------------------------------------------------------------

    def run(self) -> RunReport:
        """Run to the end and return the report; fatal errors are raised with ``.report`` set."""
        with _fewer_gc_passes():
            return self._run()

    def _run(self) -> RunReport:
        options = self.options
        lock = None if options.dry_run else RunLock(options.state_path, self.provider.name, self.account)
        try:
            if lock is not None:
                lock.acquire()
            self._open_state()
            self._run_inside()
        except MsgEventsError as exc:
            self._finish(fatal=exc)
            exc.report = self.report  # type: ignore[attr-defined]
            raise
        except BaseException:
            self._finish(fatal=None, crashed=True)
            raise
        else:
            self._finish(fatal=None)
        finally:
            if self.state is not None:
                self.state.close()
            if lock is not None:
                lock.release()
        return self.report

    def _open_state(self) -> None:
        options = self.options
        if options.dry_run:
            self.state = StateStore.open_readonly(options.state_path)
        else:
            self.state = StateStore.open(options.state_path)
        if self.sink is not None:
            self.sink_id = self.state.sink_id(self.sink.key)
        self.quarantine.prepare()
        if not options.dry_run:
            self.report.run_id = self.state.start_run(
                self.provider.name, self.account, self.sink.name if self.sink else "none", self.report.mode
            )

    def _run_inside(self) -> None:
        options = self.options
        state = self.state
        assert state is not None
        self.identity.check()  # a bad lookup file stops the run before anything is sent
        if self.sink is not None and not options.dry_run:
            assert self.sink_id is not None
            self.sink.open(state.journal(self.sink_id))
            state.prune_ledger(options.ledger_retention)
        self._send_outbox()
        stopped_by: MsgEventsError | None = None
        try:
            if options.replay is not None:
                self._read_replay(options.replay)
            elif options.inputs:
                self._read_inputs(options.inputs)
            else:
                self._read_streams()
        except _Stop:
            pass
        except MsgEventsError as exc:  # deliver what was read before the error, then report it
            stopped_by = exc
        with contextlib.suppress(_Stop):  # the sink went down on this last submission: settled below
            self._submit_buffered()
        if self.sink is not None and not options.dry_run:
            self._apply_all(self.sink.finish())
        self._commit_ready_positions()
        self._remember_finished_objects()
        if stopped_by is not None:
            raise stopped_by

    # -- sources -----------------------------------------------------------------------------

    def _send_outbox(self) -> None:
        state = self.state
        assert state is not None
        self._outbox_used = state.outbox_count(self.sink_id) > 0
        pending = state.outbox_count(self.sink_id, self.provider.name, self.account)
        if not pending:
            return
        if self.options.dry_run or self.sink is None:
            self.report.outbox_pending = pending
            return
        for page in state.outbox_batches(self.sink_id, self.provider.name, self.account):
            events = [event_from_jsonl(payload) for _stream, payload in page]
            keys = [ledger_key(e) for e in events]
            settled = state.known(self.sink_id, keys)
            if settled:  # acknowledged since they were parked (a feed file renamed just before a kill)
                state.acknowledge(self.sink_id, outbox_done=list(settled))
                for event, key in zip(events, keys, strict=True):
                    if key in settled:
                        self.report.count(event.event, "already_delivered")
                events = [e for e, key in zip(events, keys, strict=True) if key not in settled]
                keys = [key for key in keys if key not in settled]
                if not events:
                    continue
            self._inflight[OUTBOX] += len(events)
            self._inflight_keys.update(keys)
            self._apply_all(self.sink.send(events, OUTBOX))
            if self._sink_down:
                break

    def _read_streams(self) -> None:
        provider = self.provider
        state = self.state
        assert state is not None
        positions = state.positions(provider.name, self.account, self.sink_id)
        first_start = state.first_start(provider.name, self.account, self.sink_id)
        if self.options.full_refresh and not self.options.dry_run and self.sink_id is not None:
            state.reset_positions(provider.name, self.account, self.sink_id)
        now = next(self._guarded("asking for the time", lambda: [provider.now()]))
        since = resolve(self.options.since, now)  # a relative --since counts back from the provider's clock
        plan: Plan = plan_windows(
            provider.streams,
            positions,
            now,
            settle=provider.settle,
            restatement=provider.restatement,
            lookback=provider.settings.lookback,
            retention=provider.retention,
            ledger_retention=self.options.ledger_retention,
            since=since,
            until=resolve(self.options.until, now),
            full_refresh=self.options.full_refresh,
            first_start=first_start,
        )
        self.report.mode = plan.mode
        if plan.advances and since is not None and not self.options.dry_run and self.sink_id is not None:
            # a first live run (or a full refresh) from --since: a stream it does not finish must
            # start there next time, not at the default lookback
            state.set_first_start(provider.name, self.account, self.sink_id, since)
        for warning in plan.warnings:
            self.report.warn(warning)
        for stream in provider.streams:
            window = plan.windows.get(stream)
            if window is None:
                continue
            info: dict[str, Any] = {
                "since": format_timestamp(window.since),
                "until": format_timestamp(window.until),
                "records": 0,
                "advanced": False,
            }
            self.report.windows[stream] = info
            before = self.report.records
            try:
                for page in self._guarded(f"pulling {stream!r}", provider.pull, stream, window):
                    self._process_page(stream, page)
                    info["records"] = self.report.records - before
            except (AuthError, ConfigError):
                raise
            except IncompleteError as exc:
                self._provider_failed = redact(str(exc))
                self.report.errors.append(f"stream {stream!r}: {self._provider_failed}")
                info["records"] = self.report.records - before
                return  # the provider is failing: the remaining streams keep their positions
            info["records"] = self.report.records - before
            self._flush_buffer(stream)
            if plan.advances:
                self._completed[stream] = window.until
            self._commit_ready_positions()

    def _read_inputs(self, paths: list[Path | ObjectInput]) -> None:
        paths = self._unfinished(paths)
        for path in paths:
            self.report.inputs.append(str(path))
            try:
                for page in self._guarded(f"reading {path}", self.provider.read_input, path):
                    self._process_page(INPUT, page)
            except InputFileError as exc:  # what it yielded is delivered; the next file is read
                self.report.file_error(str(path), redact(str(exc)))
            else:
                if isinstance(path, ObjectInput):
                    self._objects_read.append(path)
        self._flush_buffer(INPUT)

    def _unfinished(self, paths: list[Path | ObjectInput]) -> list[Path | ObjectInput]:
        """``paths`` less the objects (same URL and ETag) whose events earlier runs delivered
        to this sink: a re-run over a prefix costs a listing, not a download of each object."""
        objects = [p for p in paths if isinstance(p, ObjectInput)]
        if not objects or self.state is None:
            return paths
        done = self.state.finished_objects(
            self.provider.name, self.account, self.sink_id, [o.url for o in objects]
        )
        if not done:
            return paths
        skipped = [p for p in objects if (p.url, p.etag) in done]
        self.report.inputs_skipped.extend(o.url for o in skipped)
        return [p for p in paths if not (isinstance(p, ObjectInput) and (p.url, p.etag) in done)]

    def _remember_finished_objects(self) -> None:
        """Record the objects read to their end whose events all reached the sink (or wait in
        the outbox, which the next run sends first), so later runs skip them."""
        if not self._objects_read or self.options.dry_run or self.sink is None or self.sink_id is None:
            return
        if self._unparked or self._plugin_broke or self._buffered:
            return  # events whose fate is not in the state: read these objects again next time
        assert self.state is not None
        self.state.remember_finished_objects(
            self.provider.name, self.account, self.sink_id, [(o.url, o.etag) for o in self._objects_read]
        )

    def _read_replay(self, path: Path) -> None:
        from msgevents.replay import read_quarantine  # local: only replay needs it

        self.report.inputs.append(str(path))
        for records, events in read_quarantine(path, self.provider.name, self.quarantine):
            if records:
                self._process_page(REPLAY, records)
            events = list(self._checked(events, None))
            if events:
                self.report.records += len(events)
                if self.state is not None and self.sink_id is not None and not self.options.dry_run:
                    self.state.forget_rejections(self.sink_id, [ledger_key(e) for e in events])
                self._accept(REPLAY, events)
        self._flush_buffer(REPLAY)

    def _guarded(self, doing: str, call: Callable[..., Iterable[Any]], *args: Any) -> Iterator[Any]:
        """Items of ``call(*args)``, a provider method; an exception that is not a msgevents
        error (a bug in the plugin) becomes a :class:`PluginError` naming the provider (exit 5)."""
        iterator = self._plugin_call(doing, lambda: iter(call(*args)))
        while True:
            try:
                item = self._plugin_call(doing, lambda: next(iterator))
            except StopIteration:
                return
            yield item

    def _plugin_call(self, doing: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (MsgEventsError, StopIteration):
            raise
        except Exception as exc:
            log.debug("provider %r failed while %s", self.provider.name, doing, exc_info=True)
            raise PluginError(
                f"provider {self.provider.name!r} failed while {doing}: {type(exc).__name__}: {exc}"
            ) from exc

    # -- records -> events ------------------------------------------------------------------

    def _process_page(self, tag: str, page: Sequence[Record]) -> None:
        report = self.report
        limit = self.options.limit
        map_record = self.provider.map_record
        supported = self.supported
        name = self.provider.name
        mapped: list[Event] = []
        keep = mapped.append
        for record in page:
            if limit is not None and report.records >= limit:
                self._accept(tag, mapped)
                self._submit_buffered()
                raise _Stop
            report.records += 1
            if record.error is not None:
                self._quarantine_record(record, record.error)
                continue
            try:
                result = map_record(record)
            except MappingError as exc:
                self._quarantine_record(record, str(exc))
                continue
            except ValidationError as exc:
                self._quarantine_record(record, describe_validation_error(exc))
                continue
            except Exception as exc:  # a crash in mapping is a plugin bug, but the run goes on
                self._plugin_broke = True
                reason = f"plugin error in map_record: {type(exc).__name__}: {exc}"
                log.debug("map_record crashed on %s", record.source, exc_info=True)
                self._quarantine_record(record, reason, kind="contract")
                continue
            if isinstance(result, NotModelled):
                report.not_modelled[result.native_type] += 1
                continue
            for event in result:
                # what _checked accepts, tested inline; anything else goes through it
                if type(event) is Event and event.event in supported and event.provider == name:
                    keep(event)
                else:
                    mapped.extend(self._checked((event,), record))
        self._accept(tag, mapped)
        self.progress.update(report)

    def _checked(self, events: Iterable[Any], record: Record | None) -> Iterator[Event]:
        """Enforce the plugin contract: canonical events, declared types, own provider name."""
        for event in events:
            if not isinstance(event, Event):
                self._contract_violation(f"map_record returned {type(event).__name__}, not an Event", record)
                continue
            if event.event not in self.supported:
                self.report.count(event.event, "quarantined")
                self._contract_violation(
                    f"event type {event.event.value!r} is not declared by provider "
                    f"{self.provider.name!r} (declared: {sorted(e.value for e in self.supported)})",
                    record,
                    event,
                )
                continue
            if event.provider != self.provider.name:
                self.report.count(event.event, "quarantined")
                self._contract_violation(
                    f"event.provider is {event.provider!r}, expected {self.provider.name!r}", record, event
                )
                continue
            yield event

    def _contract_violation(self, reason: str, record: Record | None, event: Event | None = None) -> None:
        self._plugin_broke = True
        self.report.contract_violations += 1
        self._quarantine_once("contract", reason, record, event)

    def _quarantine_once(
        self,
        kind: str,
        reason: str,
        record: Record | None,
        event: Event | None = None,
        stream: str | None = None,
    ) -> bool:
        """Quarantine a bad record unless an earlier run did (then False); re-read windows (the
        restatement overlap) would otherwise quarantine the same record on every run.

        The quarantine line is written (and handed to the OS) before the state remembers it,
        so a run killed in between quarantines the record again instead of losing it.
        """
        payload = event.event_id if event is not None else (record.data if record else None)
        if stream is None:
            stream = record.stream if record else ""
        key = quarantine_key(self.provider.name, self.account, kind, stream, payload)
        assert self.state is not None
        again = key in self._quarantined_now  # read twice in this run: a line each time, as counted
        if not again and self.state.quarantined_before(key):
            self.report.quarantined_before += 1
            return False
        self.quarantine.add(
            kind,
            reason,
            account=self.account,
            stream=stream,
            source=record.source if record else "",
            record=record.data if record else None,
            event=event,
        )
        if not again:
            self._quarantined_now.add(key)
            self.state.remember_quarantined(key)
        return True

    def _quarantine_record(self, record: Record, reason: str, kind: str = "mapping") -> None:
        self.report.unmapped += 1
        self._quarantine_once(kind, reason, record)

    def _accept(self, tag: str, events: list[Event]) -> None:
        """Resolve identities, run processors, count, buffer for submission."""
        if not events:
            return
        events, unresolved = self.identity(events)
        for event, reason in unresolved:  # phone-only events CrossEngage cannot key
            if self._quarantine_once("identity", reason, None, event, stream=_stream_of(tag)):
                self.report.count(event.event, "quarantined")
        for name, processor in self.processors:
            before = len(events)
            try:
                events = list(processor(events, self.provider))
            except Exception as exc:
                raise PluginError(f"processor {name!r} failed: {type(exc).__name__}: {exc}") from exc
            if len(events) < before:
                self.report.dropped[name] += before - len(events)
            events = list(self._checked(events, None))  # a processor is held to the contract too
        self.report.count_all(events, "collected")
        self._buffer.setdefault(tag, []).extend(events)
        self._buffered += len(events)
        if self._buffered >= self.options.chunk_size:
            self._submit_buffered()

    # -- delivery -----------------------------------------------------------------------------

    def _flush_buffer(self, tag: str) -> None:
        events = self._buffer.pop(tag, None)
        if events:
            self._buffered -= len(events)
            self._submit(tag, events)

    def _submit_buffered(self) -> None:
        for tag in list(self._buffer):
            self._flush_buffer(tag)

    def _submit(self, tag: str, events: list[Event]) -> None:
        """Drop what is known (ledger, outbox, in flight, earlier in this batch); send the rest."""
        state = self.state
        assert state is not None
        keys = list(map(ledger_key, events))
        known = state.ledger_status(self.sink_id, keys)  # key -> DELIVERED or REJECTED
        waiting = state.known_in_outbox(self.sink_id, keys) if self._outbox_used else set()
        inflight = self._inflight_keys
        fresh_keys = set(keys)
        if not known and not waiting and len(fresh_keys) == len(keys) and inflight.isdisjoint(fresh_keys):
            fresh = events  # all new (the common case): no need to look at them one by one
        else:
            fresh = []
            fresh_keys = set()
            already: Counter[str] = Counter()
            rejected = {key for key, status in known.items() if status == REJECTED}
            self.report.rejected_before += len(rejected)
            for event, key in zip(events, keys, strict=True):
                if key in rejected:
                    continue  # refused by the sink earlier: in quarantine, `msgevents replay` resends
                if key in known:
                    already[event.event] += 1
                elif key in waiting or key in inflight or key in fresh_keys:
                    continue  # pending in the outbox, or a duplicate within this run
                else:
                    fresh.append(event)
                    fresh_keys.add(key)
            for event_type, amount in already.items():
                self.report.count(event_type, "already_delivered", amount)
        if not fresh:
            return
        if self.options.dry_run or self.sink is None:
            for event in fresh:
                self.report.count(event.event, "pending")
            return
        if self._sink_down is not None:
            self._park([(event, tag) for event in fresh])
            for event in fresh:
                self.report.count(event.event, "pending")
            self._failed_tags.add(tag)
            return
        self._inflight[tag] += len(fresh)
        inflight.update(fresh_keys)
        self._apply_all(self.sink.send(fresh, tag))
        if self._sink_down is not None and self.report.mode != "input":
            raise _Stop  # no point pulling more: positions stay, the next run re-reads

    def _apply_all(self, outcomes: Iterable[Outcome]) -> None:
        for outcome in outcomes:
            self._apply(outcome)

    def _apply(self, outcome: Outcome) -> None:
        """Commit one outcome: ledger, file, outbox and ready positions in one transaction."""
        state = self.state
        assert state is not None
        assert self.sink_id is not None
        report = self.report
        rejected: list[bytes] = []
        outbox_done: list[bytes] = []
        receipts = outcome.delivered
        delivered = list(map(_KEY, receipts))
        self._inflight_keys.difference_update(delivered)
        tags: Counter[str] = Counter(map(_TAG, receipts))
        types: Counter[str] = Counter(map(_EVENT_TYPE, receipts))
        if tags[OUTBOX]:
            outbox_done.extend(receipt.key for receipt in receipts if receipt.tag == OUTBOX)
        self._inflight.subtract(tags)
        report.outbox_sent += tags[OUTBOX]
        for event_type, amount in types.items():
            report.count(event_type, "delivered", amount)
        for receipt, event, reason in outcome.rejected:
            rejected.append(receipt.key)
            self._settle(receipt.key, receipt.tag)
            if receipt.tag == OUTBOX:
                outbox_done.append(receipt.key)
            report.count(receipt.event_type, "rejected")
            self.quarantine.add(
                "rejected", reason, account=event.account, stream=_stream_of(receipt.tag), event=event
            )
        if outcome.failed:
            self._sink_down = redact(outcome.error or "the sink did not acknowledge")
            to_park = []
            for receipt, event in outcome.failed:
                self._settle(receipt.key, receipt.tag)
                self._failed_tags.add(receipt.tag)
                report.count(receipt.event_type, "pending")
                if receipt.tag == OUTBOX:
                    continue  # still in the outbox
                if event is None:
                    self._unparked.add(receipt.key)
                else:
                    to_park.append((event, receipt.tag))
            self._park(to_park)
        if outcome.ambiguous:
            report.warn("a request's outcome was unknowable and it was repeated: possible duplicate")
        positions = self._ready_positions()
        if delivered or rejected or outbox_done or positions or outcome.file_id is not None:
            state.acknowledge(
                self.sink_id,
                delivered=delivered,
                rejected=rejected,
                file_id=outcome.file_id,
                positions=positions,
                outbox_done=outbox_done,
            )
            self._advanced.update(stream for _p, _a, stream, _pos in positions)
            for _p, _a, stream, _pos in positions:
                self.report.windows[stream]["advanced"] = True

    def _settle(self, key: bytes, tag: str) -> None:
        self._inflight[tag] -= 1
        self._inflight_keys.discard(key)

    def _park(self, items: list[tuple[Event, str]]) -> None:
        if items and self.state is not None and self.sink_id is not None:
            self._outbox_used = True
            self.state.park(self.sink_id, [(event, _stream_of(tag)) for event, tag in items])

    def _ready_positions(self) -> list[tuple[str, str, str, datetime]]:
        return [
            (self.provider.name, self.account, stream, position)
            for stream, position in self._completed.items()
            if stream not in self._advanced
            and stream not in self._failed_tags
            and self._inflight[stream] == 0
            and stream not in self._buffer
        ]

    def _commit_ready_positions(self) -> None:
        if self.options.dry_run or self.state is None or self.sink_id is None:
            return
        positions = self._ready_positions()
        if positions:
            self.state.acknowledge(self.sink_id, positions=positions)
            self._advanced.update(stream for _p, _a, stream, _pos in positions)
            for _p, _a, stream, _pos in positions:
                self.report.windows[stream]["advanced"] = True

    # -- the end ------------------------------------------------------------------------------

    def _finish(self, fatal: MsgEventsError | None, crashed: bool = False) -> None:
        report = self.report
        sink = self.sink
        state = self.state
        if (
            (
                fatal is not None
                and not isinstance(fatal, LockedError)
                and sink is not None
                and state is not None
            )
            and not self.options.dry_run
            and self.sink_id is not None
        ):
            try:  # keep whatever the sink can still report (e.g. failed events to park)
                self._apply_all(sink.poll())
            except Exception:
                log.debug("collecting outcomes after a fatal error failed", exc_info=True)
        try:
            for warning in self.provider.run_warnings():
                report.warn(warning)
        except Exception as exc:  # a plugin's report must not keep the run from finishing
            report.warn(f"reading the provider's warnings failed: {exc}")
        for closer in (sink.close if sink else None, self.provider.close):
            if closer is None:
                continue
            try:
                closer()
            except Exception as exc:
                report.warn(f"closing {closer.__self__.__class__.__name__} failed: {exc}")
        self.quarantine.close()
        self.progress.done()
        report.ended_at = datetime.now(UTC)
        if sink is not None:
            report.delivery = sink.stats.as_dict()
        stats = getattr(self.provider, "stats", None)
        if stats is not None:
            report.provider_http = {k: v for k, v in stats.as_dict().items() if k != "files"}
        if self.quarantine.path is not None:
            report.quarantine_file = str(self.quarantine.path)
        files = getattr(sink, "files", None)
        if files:
            report.files = [str(p) for p in files]
        if state is not None and not self.options.dry_run and self.sink_id is not None:
            report.outbox_pending = state.outbox_count(self.sink_id, self.provider.name, self.account)
        if self._unparked:
            report.warn(
                f"{len(self._unparked)} events were written to a feed file that could not be finished; "
                + (
                    "re-run the same --input files to deliver them"
                    if report.mode in ("input", "replay")
                    else "the next run reads them again"
                )
            )
        if self._sink_down:
            report.errors.append(f"sink: {self._sink_down}")
        if self._provider_failed and not any(self._provider_failed in e for e in report.errors):
            report.errors.append(self._provider_failed)
        if fatal is not None:
            report.errors.append(redact(str(fatal)))
            report.outcome = type(fatal).__name__
            report.exit_code = None  # the CLI decides, from the error's type
        elif crashed:
            report.exit_code, report.outcome = 1, "crashed"  # as the CLI exits on an internal error
        else:
            incomplete = bool(
                self._sink_down
                or self._provider_failed
                or report.outbox_pending
                or self._unparked
                or report.file_errors
            )
            if self._plugin_broke:
                report.exit_code, report.outcome = 5, "plugin contract violated"
            elif incomplete:
                report.exit_code, report.outcome = 4, "incomplete"
            else:
                report.exit_code, report.outcome = 0, "done"
        if state is not None and not self.options.dry_run and report.run_id is not None:
            try:
                state.finish_run(report.run_id, report.outcome, report.exit_code, report.as_dict())
            except Exception:
                log.debug("recording the run report failed", exc_info=True)


#: Garbage-collector thresholds while a run goes (CPython's defaults: 700, 10, 10).
GC_THRESHOLDS = (50_000, 20, 100)


@contextlib.contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Run the cyclic garbage collector far less often during a run, then restore the thresholds.

    A run allocates and frees millions of short-lived objects while up to a feed file's
    100,000 receipts and in-flight keys stay alive; with the default thresholds the
    collector ran thousands of times per 500,000 records, rescanning those survivors,
    for about 15 % of the run's CPU time. What a run frees, reference counting frees
    (it makes next to no reference cycles), so collecting after 50,000 net new container
    objects instead of 700 does not make memory grow. Thresholds already higher are kept.
    """
    before = gc.get_threshold()
    gc.set_threshold(*(max(old, new) if old else 0 for old, new in zip(before, GC_THRESHOLDS, strict=True)))
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _stream_of(tag: str) -> str:
    return "" if tag in (OUTBOX, INPUT, REPLAY) else tag


class _NullStream:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
