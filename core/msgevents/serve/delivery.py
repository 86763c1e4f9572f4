"""The delivery loop: drains the outbox to the sink in batches, through the ledger.

A thread wakes when ``MSGEVENTS_SERVE_BATCH_SIZE`` events were committed since the
last pass or the first of them waited ``MSGEVENTS_SERVE_BATCH_AGE`` seconds
(defaults 500 events or 1 s), and runs a pass: for each (provider, account) with
events waiting, the Collector's outbox path with the same stages
(:class:`~msgevents.run.outbox.RunOutbox` → :class:`~msgevents.run.delivery.Delivery`
→ :class:`~msgevents.run.acknowledge.Acknowledger`): events already in the ledger
(a provider's retry, or the same event delivered by ``collect``) leave the outbox
without being sent; the others are sent, and each acknowledgement writes the ledger
and clears the outbox rows in one transaction.

**Other runs of the same account at once** — a ``collect`` (which sends the outbox rows
of its provider and account first), backfill parts, other replicas on a PostgreSQL
state: the loop is a run of its own (a run record and its presence lock, held while it
runs) and sends only the events it claimed (:mod:`msgevents.state.claims`), like every
run — or, alone on the sink, holds the sink's lease for the pass and gives it up at the
pass's end (at once when another run asks for it, before its next batch). It takes no
run lock, so a ``collect`` never exits 6 because a pass is under way;
an event two of them hold is sent by the one that claimed it, and the other finds it in
the ledger.

**Sink down.** A pass whose sink stopped acknowledging leaves the events in the
outbox; the sink is closed and rebuilt after a pause that doubles up to
``MSGEVENTS_SERVE_RETRY_MAX`` seconds. Requests are accepted meanwhile (bounded by disk).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from msgevents.errors import MsgEventsError
from msgevents.events import Event
from msgevents.provider import Provider
from msgevents.quarantine import QuarantineWriter
from msgevents.redact import redact
from msgevents.report import RunReport
from msgevents.run.acknowledge import Acknowledger, Positions
from msgevents.run.claims import RunClaims
from msgevents.run.context import RunContext
from msgevents.run.dedupe import Deduplicator
from msgevents.run.delivery import Delivery
from msgevents.run.inflight import InFlight
from msgevents.run.options import CollectOptions
from msgevents.run.origins import OUTBOX, Origin
from msgevents.run.outbox import RunOutbox
from msgevents.run.quarantine import QuarantineBook
from msgevents.sink import Sink
from msgevents.state import StateStore
from msgevents.timestamps import UTC

__all__ = ["DeliveryLoop", "SinkStatus"]

log = logging.getLogger("msgevents.serve")

#: Even without new requests, look at the outbox this often (rows a pass skipped or left).
SWEEP_EVERY = 5.0


class SinkStatus:
    """What /healthz says about delivery: the sink's state and the last delivery time."""

    def __init__(self) -> None:
        self.state = "starting"
        self.last_delivery: datetime | None = None
        self.delivered = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "sink": self.state,
            "last_delivery": self.last_delivery.isoformat().replace("+00:00", "Z")
            if self.last_delivery
            else None,
        }


class DeliveryLoop:
    """The delivery thread; :meth:`notify` wakes it, :meth:`stop` drains and ends it."""

    def __init__(
        self,
        state_path: Path | str,
        make_sink: Callable[[], Sink],
        providers: Sequence[Provider],
        *,
        quarantine_dir: Path,
        batch_size: int = 500,
        batch_age: float = 1.0,
        retry_max: float = 60.0,
        ledger_retention: timedelta = timedelta(days=90),
        on_outcome: Callable[[str, str, int], None] = lambda provider, outcome, n: None,
    ) -> None:
        self.state_path = state_path
        self.make_sink = make_sink
        self.providers = {p.name: p for p in providers}
        self.quarantine_dir = quarantine_dir
        self.batch_size = batch_size
        self.batch_age = batch_age
        self.retry_max = retry_max
        self.ledger_retention = ledger_retention
        self.on_outcome = on_outcome
        self.status = SinkStatus()
        self._writers: dict[str, QuarantineWriter] = {}
        self._wake = threading.Condition()
        self._waiting = 0  # events committed since the last pass
        self._first_at: float | None = None
        self._stopping = False
        self._deadline = 0.0
        self._sink: Sink | None = None
        self._sink_key = ""
        self._run_id: int | None = None  # the loop's run record: its claims are tied to it
        self._thread = threading.Thread(target=self._run, name="msgevents-delivery", daemon=True)

    def start(self, sink_key: str) -> None:
        self._sink_key = sink_key
        self._first_at = time.monotonic()  # a first pass soon: what an earlier process left
        self._thread.start()

    def notify(self, committed: int) -> None:
        """``committed`` events reached the outbox."""
        with self._wake:
            self._waiting += committed
            if self._first_at is None:
                self._first_at = time.monotonic()
            if self._waiting >= self.batch_size:
                self._wake.notify()

    def stop(self, drain: float) -> bool:
        """Deliver what waits for at most ``drain`` seconds, then end; whether it finished."""
        with self._wake:
            self._stopping = True
            self._deadline = time.monotonic() + drain
            self._wake.notify()
        self._thread.join(drain + 1.0)
        return not self._thread.is_alive()

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        store = StateStore.open(self.state_path)
        presence = None
        try:
            sink_id = store.sink_id(self._sink_key)
            assert sink_id is not None
            self._run_id = store.start_run("serve", "", self._sink_key.partition(":")[0], "serve")
            presence = store.claiming.hold_presence(self._run_id)
            pause = 0.0
            while True:
                if not self._wait(pause):
                    break
                done = self._pass(store, sink_id)
                pause = 0.0 if done else min(self.retry_max, max(0.5, pause * 2))
                if self._stopping and ((done and not self._pending(store, sink_id)) or self._late()):
                    break
        except Exception:
            log.exception("delivery loop: unexpected error; events stay in the outbox")
            self.status.state = "down: internal error (see the log)"
        finally:
            self._close_sink()
            for writer in self._writers.values():
                writer.close()
            if self._run_id is not None:
                try:
                    store.claiming.release_run_claims(self._run_id)
                    store.finish_run(self._run_id, "stopped", 0, {"delivered": self.status.delivered})
                except Exception:
                    log.debug("closing the delivery run's record failed", exc_info=True)
            store.close()
            if presence is not None:
                presence.release()

    def _late(self) -> bool:
        return time.monotonic() >= self._deadline

    def _wait(self, pause: float) -> bool:
        """Until a batch is due (or ``pause`` after a failure); False when stopping is past its deadline."""
        with self._wake:
            started = time.monotonic()
            while True:
                now = time.monotonic()
                if self._stopping:
                    if self._late():
                        return False
                    if now - started >= min(pause, 0.5):
                        break
                elif pause:
                    if now - started >= pause:
                        break
                elif self._due(now) or now - started >= SWEEP_EVERY:
                    break
                timeout = self.batch_age if self._first_at is None else self._first_at + self.batch_age - now
                self._wake.wait(max(0.01, min(timeout, pause or SWEEP_EVERY, 0.5)))
            self._waiting, self._first_at = 0, None
            return True

    def _due(self, now: float) -> bool:
        """A batch is due: enough events, or the first of them waited long enough."""
        if self._waiting >= self.batch_size:
            return True
        return self._first_at is not None and now - self._first_at >= self.batch_age

    def _pending(self, store: StateStore, sink_id: int) -> bool:
        return bool(store.outbox_accounts(sink_id, list(self.providers)))

    def _pass(self, store: StateStore, sink_id: int) -> bool:
        """Deliver what waits for every (provider, account); False when the sink is down."""
        pairs = store.outbox_accounts(sink_id, list(self.providers))
        if not pairs:
            if self.status.state == "starting":
                self.status.state = "ok"
            return True
        try:
            sink = self._open_sink(store, sink_id)
        except MsgEventsError as exc:
            self.status.state = f"down: {redact(str(exc))}"
            log.warning("sink unavailable: %s", self.status.state)
            return False
        store.prune_ledger(self.ledger_retention)
        store.claiming.sweep_claims(sink_id, own=self._run_id)  # of runs that died: their rows are sent here
        for provider_name, account in pairs:
            down = self._deliver(store, sink_id, sink, self.providers[provider_name], account)
            if down is not None:
                self.status.state = f"down: {down}"
                log.warning("sink down: %s; retrying with backoff", down)
                self._close_sink()
                return False
        self.status.state = "ok"
        return True

    def _deliver(
        self, store: StateStore, sink_id: int, sink: Sink, provider: Provider, account: str
    ) -> str | None:
        """The Collector's outbox path for one (provider, account); why the sink is down, or None."""
        report = RunReport(
            provider=provider.name, account=account, sink=sink.name, destination="", mode="webhook"
        )
        ctx = RunContext(provider, sink, CollectOptions(state_path=self.state_path), report)
        ctx.state, ctx.sink_id = store, sink_id
        report.run_id = self._run_id
        writer = self._writers.get(provider.name)
        if writer is None:
            writer = self._writers[provider.name] = QuarantineWriter(self.quarantine_dir, provider.name)
        book = QuarantineBook(ctx, writer)
        outbox = RunOutbox(ctx, account, page=self.batch_size)
        inflight = InFlight()
        buffer: dict[Origin, list[Event]] = {}
        positions = Positions(ctx, inflight, buffer)
        acknowledge = Acknowledger(ctx, inflight, positions, outbox, book)
        claims = RunClaims(ctx, inflight)
        dedupe = Deduplicator(ctx, outbox, inflight)
        deliver = Delivery(ctx, buffer, dedupe, inflight, outbox, acknowledge, claims)
        try:
            claims.lease()  # alone on the sink: no claims this pass (given up at its end)
            outbox.start()
            for events, keys in outbox.batches():
                deliver.send(OUTBOX, events, keys)
                if ctx.verdict.sink_down:
                    break
            deliver.finish()
        except MsgEventsError as exc:  # CrossEngage refused the key (AuthError), …
            ctx.verdict.sink_down = redact(str(exc))
        finally:
            try:
                claims.give_up_lease()  # so a collect need not wait for the next pass to end
            except Exception:
                log.debug("giving up the lease failed (it ends with this run)", exc_info=True)
            writer.sync()
            self._count(provider.name, report)
            files = getattr(sink, "files", None)
            if isinstance(files, list):  # a run's report lists its feed files; a long-lived sink must not
                files.clear()
        return ctx.verdict.sink_down

    def _count(self, provider: str, report: RunReport) -> None:
        totals: dict[str, int] = {}
        for counts in report.events.values():
            for column in ("delivered", "already_delivered", "rejected"):
                totals[column] = totals.get(column, 0) + counts.get(column, 0)
        for outcome, amount in totals.items():
            if amount:
                self.on_outcome(provider, outcome, amount)
        if totals.get("delivered"):
            self.status.last_delivery = datetime.now(UTC)
            self.status.delivered += totals["delivered"]

    def _open_sink(self, store: StateStore, sink_id: int) -> Sink:
        if self._sink is None:
            sink = self.make_sink()
            sink.open(store.journal(sink_id))
            self._sink = sink
        return self._sink

    def _close_sink(self) -> None:
        if self._sink is not None:
            sink, self._sink = self._sink, None
            try:
                sink.close()
            except Exception as exc:
                log.warning("closing the sink failed: %s", redact(str(exc)))
