"""The ``crossengage`` sink: events to CrossEngage's ``POST /events`` API (``--to crossengage``).

Settings (``MSGEVENTS_CROSSENGAGE_API_KEY``, ``…_BASE_URL``, ``…_CONCURRENCY``,
``…_RATE_LIMIT``, ``…_MAX_EVENTS_PER_REQUEST``, ``…_TIMEOUT``, ``…_RETRIES``) are
described in :mod:`msgevents.sinks.crossengage_settings`; requests are sent and
their answers classified by :mod:`msgevents.sinks.crossengage_api`.

**Concurrency.** CrossEngage publishes no rate limit (no 429s, no rate-limit
headers, only payload caps), so the default is a modest 8 requests in flight:
fast enough that uploads are rarely the bottleneck (at 50 ms per request, about
160 requests/s, up to 8,000 events/s with full bodies), small enough not to
hurt a tenant. Raise ``CONCURRENCY`` when CrossEngage agrees to more; set
``RATE_LIMIT`` when they ask for a ceiling. Requests reuse pooled connections
(one session, pool size = concurrency). :meth:`CrossEngageSink.submit` blocks
while ``2 × CONCURRENCY`` request bodies wait, so memory does not grow with
the number of events.

**Outcomes**, per request (one user, at most 50 events, built by
:func:`msgevents.formats.api_bodies`):

- any 2xx (CrossEngage answers 202): the events are delivered;
- 5xx, 429 (``Retry-After`` honoured), timeouts and dropped connections are
  retried with exponential backoff and jitter by :class:`msgevents.HttpClient`;
  when the attempts run out the events are *failed* (kept pending for the next
  run) and the circuit opens: later requests of this run fail at once, without
  being sent, so a dead CrossEngage costs one retry schedule, not one per request;
- 400 is not retried as is: the events are re-sent one per request, and each
  event refused on its own is *rejected* with the response body as the reason
  (``{"field":"event","type":"UNKNOWN_VALUE"}``: the event type is not
  activated in the tenant); the others are delivered;
- 401/403: nothing more is sent and the next :meth:`~CrossEngageSink.poll` or
  :meth:`~CrossEngageSink.flush` raises :class:`msgevents.AuthError` (exit 3)
  naming the variable, never the key; the outcomes stay available to ``poll()``;
- an attempt whose outcome was unknowable (timeout or connection lost after the
  request left) marks the :class:`~msgevents.Outcome` ``ambiguous`` and is
  counted in ``stats.ambiguous``: if it was processed, the retry is a duplicate.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from msgevents.errors import AuthError, ConfigError
from msgevents.events import Event
from msgevents.formats import api_bodies
from msgevents.hookspecs import hookimpl
from msgevents.redact import add_secret
from msgevents.sink import Outcome, Receipt, Sink, ledger_key
from msgevents.sinks.crossengage_api import REJECT_STATUSES, CrossEngageApi, rejection_reason
from msgevents.sinks.crossengage_settings import API_KEY_ENV, ENV_PREFIX, CrossEngageSettings
from msgevents.sinks.pacing import TokenBucket

__all__ = ["API_KEY_ENV", "CrossEngageSettings", "CrossEngageSink", "TokenBucket", "rejection_reason"]

log = logging.getLogger(__name__)

#: While send() or finish() wait, completed outcomes are yielded this often (seconds).
HAND_OVER_INTERVAL = 0.01
_CLOSED = "the sink was closed"


@dataclass
class _Body:
    events: list[Event]
    body: dict[str, Any]
    tag: Any


class CrossEngageSink(Sink):
    """Delivers events to the CrossEngage events API with a bounded pool of worker threads."""

    name = "crossengage"
    help = "CrossEngage events API (POST /events); settings MSGEVENTS_CROSSENGAGE_*"

    def __init__(
        self,
        target: str | None = None,
        *,
        settings: CrossEngageSettings | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if target:
            raise ConfigError(
                f"--to crossengage takes no target (got 'crossengage:{target}'); "
                f"set {ENV_PREFIX}BASE_URL to choose the endpoint"
            )
        super().__init__(target)
        self.settings = settings if settings is not None else CrossEngageSettings.load()
        api_key = self.settings.require_key()
        add_secret(api_key)
        self._tenant = hashlib.sha256(api_key.encode()).hexdigest()[:12]
        self.api = CrossEngageApi(self.settings, api_key, stats=self.stats, sleep=sleep)
        self.url, self.bucket, self.http = self.api.url, self.api.bucket, self.api.http
        concurrency = self.settings.concurrency
        self._todo: queue.Queue[_Body | None] = queue.Queue(maxsize=2 * concurrency)
        self._done: queue.Queue[Outcome] = queue.Queue()
        self._pending = 0  # bodies queued or being sent
        self._settled = threading.Condition()  # notified when a body's outcome is done
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._halted: str | None = None  # why nothing more is sent this run
        self._auth_error: str | None = None
        self._auth_raised = False
        self._closed = False

    @classmethod
    def from_target(cls, target: str | None) -> CrossEngageSink:
        """The sink for ``--to crossengage``, configured from the environment."""
        return cls(target)

    # -- identity -------------------------------------------------------------------

    @property
    def key(self) -> str:
        return f"crossengage:{self.settings.base_url}#{self._tenant}"

    @property
    def description(self) -> str:
        return f"CrossEngage {self.settings.base_url}"

    def secret_values(self) -> list[str]:
        return [self.settings.require_key()]

    # -- the Sink protocol --------------------------------------------------------------

    def submit(self, events: Sequence[Event], tag: Any = None) -> None:
        """Queue the events as request bodies; blocks while ``2 × concurrency`` bodies wait."""
        for _waited in self._queue(events, tag):
            pass

    def send(self, events: Sequence[Event], tag: Any = None) -> Iterator[Outcome]:
        """:meth:`submit`, yielding completed outcomes while it waits for room in the queue.

        Checked every :data:`HAND_OVER_INTERVAL` seconds, in the calling thread.
        """
        for _waited in self._queue(events, tag):
            yield from self._drain()

    def _queue(self, events: Sequence[Event], tag: Any) -> Iterator[None]:
        """Queue the events' request bodies; yields while waiting and after each body."""
        if self._closed:
            raise RuntimeError("submit() after close()")
        self._start_workers()
        for chunk, body in api_bodies(events, self.settings.max_events_per_request):
            item = _Body(chunk, body, tag)
            if self._halted:  # fail at once, without waiting for a worker
                self._done.put(self._failed(item.events, item.tag, self._not_sent()))
                continue
            with self._settled:
                self._pending += 1
            try:
                while True:
                    try:
                        self._todo.put(item, timeout=HAND_OVER_INTERVAL)
                        break
                    except queue.Full:
                        yield
            except BaseException:  # the consumer stopped: this body was never queued
                with self._settled:
                    self._pending -= 1
                raise
            yield

    def poll(self) -> list[Outcome]:
        """Completed outcomes; never blocks, except once when raising :class:`~msgevents.AuthError`.

        When CrossEngage refused the key, the first call after that raises,
        having let the requests in flight finish; later calls return every
        outcome (the events not delivered are ``failed``), so the pipeline can
        still record them.
        """
        if self._auth_error and not self._auth_raised:
            self._auth_raised = True
            with self._settled:
                self._settled.wait_for(lambda: self._pending == 0)
            raise AuthError(self._auth_error)
        return self._drain()

    def flush(self) -> list[Outcome]:
        """Wait for every submitted event; return the outcomes not returned yet."""
        return list(self.finish())

    def finish(self) -> Iterator[Outcome]:
        """Wait for every submitted event, yielding outcomes as they complete."""
        while True:
            with self._settled:
                finished = self._settled.wait_for(lambda: self._pending == 0, HAND_OVER_INTERVAL)
            if finished:
                yield from self.poll()
                return
            yield from self._drain()

    def _drain(self) -> list[Outcome]:
        outcomes = []
        while True:
            try:
                outcomes.append(self._done.get_nowait())
            except queue.Empty:
                return outcomes

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._halt(_CLOSED)
        for _ in self._workers:
            self._todo.put(None)
        for worker in self._workers:
            worker.join()
        self.api.close()

    def __enter__(self) -> CrossEngageSink:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- workers ----------------------------------------------------------------------

    def _start_workers(self) -> None:
        with self._lock:
            while len(self._workers) < self.settings.concurrency:
                worker = threading.Thread(
                    target=self._work, name=f"crossengage-{len(self._workers)}", daemon=True
                )
                worker.start()
                self._workers.append(worker)

    def _work(self) -> None:
        while True:
            item = self._todo.get()
            if item is None:
                return
            outcome = Outcome()
            try:
                self._deliver(item.events, item.body, item.tag, outcome)
            except Exception as exc:  # a bug here must neither lose events nor hang flush()
                log.exception("crossengage: unexpected error while delivering")
                self._halt(f"crossengage: internal error: {type(exc).__name__}")
                settled = {r.key for r in outcome.delivered}
                settled.update(r.key for r, _event, _why in outcome.rejected)
                settled.update(r.key for r, _event in outcome.failed)
                rest = [e for e in item.events if ledger_key(e) not in settled]
                outcome.failed.extend((Receipt.of(e, item.tag), e) for e in rest)
                outcome.error = self._not_sent()
            self._done.put(outcome)
            with self._settled:
                self._pending -= 1
                self._settled.notify_all()

    def _deliver(self, events: list[Event], body: dict[str, Any], tag: Any, outcome: Outcome) -> None:
        """Send one body and record what became of its events in ``outcome``."""
        status, detail = self._send(body, outcome)
        if status is not None and 200 <= status < 300:
            outcome.delivered.extend(Receipt.of(e, tag) for e in events)
        elif status in REJECT_STATUSES and len(events) > 1:
            log.info(
                "crossengage: HTTP %d for %d events: %s; re-sending them one per request",
                status,
                len(events),
                detail,
            )
            for single, single_body in api_bodies(events, 1):
                self._deliver(single, single_body, tag, outcome)
        elif status in REJECT_STATUSES:
            event = events[0]
            outcome.rejected.append((Receipt.of(event, tag), event, rejection_reason(event, status, detail)))
        else:
            failed = self._failed(events, tag, detail)
            outcome.failed.extend(failed.failed)
            outcome.error = outcome.error or failed.error

    def _send(self, body: dict[str, Any], outcome: Outcome) -> tuple[int | None, str]:
        """POST one body: ``(status, response text)``, or ``(None, why)`` when it got no answer."""
        if self._halted:
            return None, self._not_sent()
        answer = self.api.post(body)
        outcome.ambiguous |= answer.ambiguous
        if answer.auth_error:
            self._auth_error = answer.stop
        if answer.stop:
            self._halt(answer.stop)
        return answer.status, answer.detail

    def _halt(self, reason: str) -> None:
        with self._lock:
            if self._halted:
                return
            self._halted = reason
        if reason != _CLOSED:
            log.warning("%s; sending nothing more to CrossEngage this run", reason)

    def _not_sent(self) -> str:
        return f"not sent: {self._halted}"

    @staticmethod
    def _failed(events: Sequence[Event], tag: Any, reason: str) -> Outcome:
        return Outcome(failed=[(Receipt.of(e, tag), e) for e in events], error=reason)


@hookimpl
def register_sinks(register: Callable[[type[Sink]], None]) -> None:
    register(CrossEngageSink)
