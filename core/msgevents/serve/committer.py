"""Group commit: the requests that arrive while a transaction is being written go into the next.

One thread owns the state connection (``synchronous=FULL``: every commit is fsynced).
It takes every request waiting (up to ``MSGEVENTS_SERVE_COMMIT_GROUP``), maps and
checks each (:meth:`~msgevents.serve.intake.Intake.process`), fsyncs the quarantine
lines they wrote, then commits all their events to the outbox and the keys of their
quarantine lines in ONE transaction — one fsync for many requests — and only then
answers each request's future. A request is never answered ``2xx`` before its events
are on disk, so a ``kill -9`` after any ``2xx`` loses nothing.

Why a thread and not the event loop: the commit blocks on the disk, and the mapping
is CPU work; the event loop keeps reading the next requests meanwhile, which is
what fills the next group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from msgevents.errors import MsgEventsError
from msgevents.provider import Record
from msgevents.redact import redact
from msgevents.serve.intake import Intake, Taken
from msgevents.state import StateStore
from msgevents.timestamps import UTC, format_timestamp

__all__ = ["Committer", "StateUnavailable"]

log = logging.getLogger("msgevents.serve")


class StateUnavailable(MsgEventsError):
    """The state could not be written (disk full, locked, read-only): answer 503, the provider retries."""


@dataclass
class _Job:
    intake: Intake | None  # None: a probe (healthz) that only proves the state writable
    records: Sequence[Record]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


class Committer:
    """The committer thread and the queue feeding it."""

    def __init__(
        self,
        state_path: Path | str,
        sink_key: str,
        *,
        group: int = 256,
        on_commit: Callable[[int], None] = lambda n: None,
        on_group: Callable[[int], None] = lambda n: None,
    ) -> None:
        self.state_path = state_path
        self.sink_key = sink_key
        self.group = group
        self.on_commit = on_commit  # events committed (wakes the delivery loop)
        self.on_group = on_group  # requests per transaction (metrics)
        self.store: StateStore | None = None
        self.sink_id: int | None = None
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="msgevents-committer", daemon=True)
        self._intakes: list[Intake] = []
        self._ready = threading.Event()
        self._opened: BaseException | None = None

    def start(self, intakes: Sequence[Intake]) -> int:
        """Start the thread, which opens the state (durable commits; SQLite connections belong
        to the thread that made them) and attaches the intakes; the sink's id, or the error."""
        self._intakes = list(intakes)
        self._thread.start()
        self._ready.wait()
        if isinstance(self._opened, BaseException):
            self._thread.join()
            raise self._opened
        assert self.sink_id is not None
        return self.sink_id

    def stop(self) -> None:
        """Commit what is queued, then end the thread (which closes the state)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    async def commit(self, intake: Intake | None, records: Sequence[Record]) -> Taken:
        """Queue a request's records and wait until they are committed (or raise)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Taken] = loop.create_future()
        self._queue.put(_Job(intake, records, future, loop))
        return await future

    def enqueue(
        self,
        intake: Intake,
        records: Sequence[Record],
        future: asyncio.Future[Any],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """From any thread: commit the records, then settle ``future`` on ``loop`` (a worker that
        verified a request hands it on directly, without a detour through the event loop)."""
        self._queue.put(_Job(intake, records, future, loop))

    @staticmethod
    def fail(future: asyncio.Future[Any], loop: asyncio.AbstractEventLoop, error: BaseException) -> None:
        """From any thread: settle ``future`` with ``error``."""
        _answer(_Job(None, (), future, loop), error)

    # -- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            store = StateStore.open(self.state_path)
        except BaseException as exc:
            self._opened = exc
            self._ready.set()
            return
        try:
            store.sync_every_commit()
            self.sink_id = store.sink_id(self.sink_key)
            for intake in self._intakes:
                intake.attach(store)
            self.store = store
        except BaseException as exc:
            store.close()
            self._opened = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop()
        finally:
            for intake in self._intakes:
                intake.close()
            store.close()
            self.store = None

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            jobs = [job]
            stop = False
            while len(jobs) < self.group:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                jobs.append(more)
            try:
                self._commit(jobs)
            except BaseException as exc:  # never leave a request waiting forever
                log.exception("committer: unexpected error")
                for item in jobs:
                    _answer(item, StateUnavailable(f"internal error: {type(exc).__name__}"))
            if stop:
                return

    def _commit(self, jobs: list[_Job]) -> None:
        store = self.store
        assert store is not None
        assert self.sink_id is not None
        answers: list[Taken | BaseException] = []
        items = []
        touched: set[Intake] = set()
        for job in jobs:
            if job.intake is None:
                answers.append(Taken())
                continue
            try:
                taken = job.intake.process(job.records)
            except MsgEventsError as exc:  # a processor broke (PluginError): this request only
                answers.append(exc)
                continue
            except OSError as exc:  # a quarantine line could not be written
                answers.append(StateUnavailable(f"cannot write the quarantine file: {exc.strerror}"))
                continue
            if taken.quarantined:
                touched.add(job.intake)
            answers.append(taken)
            items.extend((event, "webhook") for event in taken.events)
        keys = [key for intake in self._intakes for key in intake.book.take_unsaved()]
        try:
            for intake in touched:
                intake.writer.sync()  # the lines on disk before the state says they are written
            store.accept(self.sink_id, items, quarantined=keys, stamp=format_timestamp(datetime.now(UTC)))
        except Exception as exc:  # disk full, locked past the busy timeout, read-only: retry later
            reason = redact(f"{type(exc).__name__}: {exc}")
            log.error("the state cannot be written: %s", reason)
            for job in jobs:
                _answer(job, StateUnavailable(f"the state cannot be written: {reason}"))
            return
        self.on_group(len(jobs))
        if items:
            self.on_commit(len(items))
        _answer_all(list(zip(jobs, answers, strict=True)))


def _answer_all(pairs: list[tuple[_Job, Taken | BaseException]]) -> None:
    """Settle a group's futures with one wake-up of each event loop (not one per request)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Taken | BaseException]]] = {}
    for job, answer in pairs:
        by_loop.setdefault(job.loop, []).append((job.future, answer))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the event loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_settle_all, settled)


def _settle_all(settled: list[tuple[asyncio.Future[Any], Taken | BaseException]]) -> None:
    for future, answer in settled:
        if future.done():  # the client went away meanwhile
            continue
        if isinstance(answer, BaseException):
            future.set_exception(answer)
        else:
            future.set_result(answer)


def _answer(job: _Job, answer: Taken | BaseException) -> None:
    _answer_all([(job, answer)])
