"""``StateStore``: the entry point to a state file, composed of one object per table family.

The pipeline calls the methods below; each delegates to :mod:`~msgevents.state.ledger`,
:mod:`~msgevents.state.outbox`, :mod:`~msgevents.state.positions`,
:mod:`~msgevents.state.runs`, :mod:`~msgevents.state.journal` or
:mod:`~msgevents.state.quarantine_keys`; claims and run presence are
:attr:`StateStore.claiming` (:mod:`~msgevents.state.claiming`). Only :meth:`StateStore.acknowledge` and
:meth:`StateStore.prune_ledger` span several of them, in one transaction.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from msgevents.events import Event
from msgevents.state.claiming import Claiming
from msgevents.state.claims import Claims
from msgevents.state.db import Database, Tx, migrate
from msgevents.state.input_objects import InputObjects
from msgevents.state.journal import FeedFiles, FeedJournal
from msgevents.state.ledger import REJECTED, Ledger
from msgevents.state.location import is_postgres
from msgevents.state.outbox import Outbox
from msgevents.state.positions import Positions
from msgevents.state.quarantine_keys import QuarantineKeys
from msgevents.state.runs import Runs

__all__ = ["StateStore"]


class StateStore:
    """Access to one state file. Use :meth:`open` (read-write) or :meth:`open_readonly`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.ledger = Ledger(db)
        self.outbox = Outbox(db)
        self.positions_table = Positions(db)
        self.runs_table = Runs(db)
        self.claims = Claims(db)
        self.feed_files = FeedFiles(db, self.ledger, self.claims)
        #: claims and run presence, for runs of one account at once
        self.claiming = Claiming(db, self.ledger, self.claims)
        self.quarantine_keys = QuarantineKeys(db)
        self.input_objects = InputObjects(db)

    @property
    def path(self) -> Path:
        """The state file (SQLite)."""
        return self.db.path

    @property
    def location(self) -> Path | str:
        """The state file's path or the PostgreSQL URL."""
        return self.db.location

    @property
    def readonly(self) -> bool:
        return self.db.readonly

    @classmethod
    def open(cls, location: str | os.PathLike[str]) -> StateStore:
        """Open (creating and migrating as needed) the state: a file path or a ``postgresql://`` URL.

        A state file is created owner-only; a PostgreSQL database must exist (its tables
        are created on first use).
        """
        if is_postgres(location):
            from msgevents.state import postgres

            db = postgres.connect(str(location))
        else:
            db = Database.connect(Path(location))
        store = cls(db)
        with store.db.opening():
            migrate(store.db, store.transaction)
        return store

    @classmethod
    def open_readonly(cls, location: str | os.PathLike[str]) -> StateStore:
        """Open for reading only (``--dry-run``); a missing file (or schema) reads as empty state."""
        if is_postgres(location):
            from msgevents.state import postgres

            return cls(postgres.connect_readonly(str(location)))
        return cls(Database.open_readonly(Path(location)))

    def close(self) -> None:
        self.db.close()

    def _require(self) -> Any:
        return self.db.require()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction: all or nothing."""
        with self.db.transaction() as tx:
            yield tx

    def sink_id(self, key: str) -> int | None:
        """The numeric id of a sink key; created on first use (``None`` when read-only and new)."""
        return self.db.sink_id(key)

    # -- positions --------------------------------------------------------------------------

    def position(self, provider: str, account: str, stream: str, sink_id: int | None) -> datetime | None:
        return self.positions_table.get(provider, account, stream, sink_id)

    def positions(self, provider: str, account: str, sink_id: int | None) -> dict[str, datetime]:
        return self.positions_table.all(provider, account, sink_id)

    def reset_positions(self, provider: str, account: str, sink_id: int) -> None:
        self.positions_table.reset(provider, account, sink_id)

    def first_start(self, provider: str, account: str, sink_id: int | None) -> datetime | None:
        return self.positions_table.first_start(provider, account, sink_id)

    def set_first_start(self, provider: str, account: str, sink_id: int, start: datetime) -> None:
        self.positions_table.set_first_start(provider, account, sink_id, start)

    # -- ledger ------------------------------------------------------------------------------

    def known(self, sink_id: int | None, keys: Sequence[bytes]) -> set[bytes]:
        """Those of ``keys`` already in the ledger of ``sink_id`` (delivered or rejected)."""
        return set(self.ledger.status(sink_id, keys))

    def ledger_status(self, sink_id: int | None, keys: Sequence[bytes]) -> dict[bytes, int]:
        """Those of ``keys`` in the ledger of ``sink_id``, each with its status
        (``DELIVERED`` or ``REJECTED``): :meth:`known` and :meth:`rejected_among` in one look-up."""
        return self.ledger.status(sink_id, keys)

    def rejected_among(self, sink_id: int | None, keys: Sequence[bytes]) -> set[bytes]:
        """Those of ``keys`` (already known to the ledger) that the sink rejected for good."""
        return {key for key, status in self.ledger.status(sink_id, keys).items() if status == REJECTED}

    def acknowledge(
        self,
        sink_id: int,
        *,
        delivered: Sequence[bytes] = (),
        rejected: Sequence[bytes] = (),
        file_id: int | None = None,
        positions: Iterable[tuple[str, str, str, datetime]] = (),
        outbox_done: Sequence[bytes] = (),
    ) -> None:
        """One transaction: ledger rows, a feed file committed, positions advanced, outbox cleared.

        ``positions`` are ``(provider, account, stream, new position)``.
        """
        now = int(time.time())
        with self.db.transaction() as tx:
            journaled = self.feed_files.commit(tx, file_id) if file_id is not None else None
            if delivered:  # sorted: B-tree inserts in key order touch far fewer pages
                keys = sorted(delivered)
                if journaled != (sink_id, keys):  # a feed file's keys are in the ledger already
                    self.ledger.insert(tx, sink_id, keys, now=now)
                    self.claims.release(tx, sink_id, keys)  # (and their claims released with them)
            if rejected:
                self.ledger.reject(tx, sink_id, rejected, now=now)
                self.claims.release(tx, sink_id, rejected)
            self.positions_table.advance(tx, sink_id, positions)
            if outbox_done:
                self.outbox.done(tx, sink_id, outbox_done)

    def accept(
        self,
        sink_id: int,
        items: Iterable[tuple[Event, str]],
        *,
        quarantined: Sequence[bytes] = (),
        stamp: str | None = None,
    ) -> int:
        """One transaction for what a group of webhook requests brought: their events into the
        outbox (``(event, stream)``; one already waiting is kept), the keys of their quarantine
        lines (written and synced before), and ``stamp`` under ``meta`` (a write proving the
        state is writable). Returns how many events were given."""
        rows = self.outbox.rows(sink_id, items)
        with self.db.transaction() as tx:
            if rows:
                self.outbox.insert(tx, rows)
            if quarantined:
                self.quarantine_keys.insert(tx, list(quarantined))
            if stamp is not None:
                tx.execute(tx.dialect.upsert("meta", ("key", "value"), ("key",)), ("serve_alive_at", stamp))
        return len(rows)

    def sync_every_commit(self) -> None:
        """Every later commit of this store is durable on disk, not only against a process crash."""
        self.db.sync_every_commit()

    def forget_rejections(self, sink_id: int, keys: Sequence[bytes]) -> None:
        """Drop 'rejected' ledger rows so ``replay`` can send those events again."""
        self.ledger.forget_rejections(sink_id, keys)

    def prune_ledger(self, retention: timedelta, every: timedelta = timedelta(hours=12)) -> int:
        """Delete ledger rows older than ``retention`` (at most once per ``every``)."""
        now = time.time()
        last = self.db.meta("ledger_pruned_at")
        if last is not None and now - float(last) < every.total_seconds():
            return 0
        with self.db.transaction() as tx:
            deleted = self.ledger.prune(tx, retention, now)
            self.quarantine_keys.prune(tx, int(now - retention.total_seconds()))
            self.feed_files.prune(tx)
            tx.execute(tx.dialect.upsert("meta", ["key", "value"], ["key"]), ("ledger_pruned_at", str(now)))
        return deleted

    # -- quarantine ----------------------------------------------------------------------------

    def quarantined_before(self, key: bytes) -> bool:
        """Whether a bad record with this key was quarantined by an earlier run (or this one)."""
        return self.quarantine_keys.seen(key)

    def remember_quarantined(self, key: bytes) -> None:
        """Record that the quarantine file now holds this bad record; read-only stores skip it.

        Call it only once the quarantine line is written: a run killed in between then
        quarantines the record again rather than never.
        """
        self.quarantine_keys.remember(key)

    # -- input objects (s3://…) ------------------------------------------------------------------

    def finished_objects(
        self, provider: str, account: str, sink_id: int | None, urls: Sequence[str]
    ) -> set[tuple[str, str]]:
        """``(url, etag)`` of the input objects whose events all reached this sink already."""
        return self.input_objects.finished(provider, account, sink_id, urls)

    def remember_finished_objects(
        self, provider: str, account: str, sink_id: int, objects: Iterable[tuple[str, str]]
    ) -> None:
        """Record input objects (``(url, etag)``) whose events all reached the sink."""
        self.input_objects.remember(provider, account, sink_id, objects)

    # -- feed files (SinkJournal) ----------------------------------------------------------------

    def journal(self, sink_id: int) -> FeedJournal:
        return FeedJournal(self.feed_files, self.db.identity, sink_id)

    # -- outbox ----------------------------------------------------------------------------------

    def park(self, sink_id: int, items: Iterable[tuple[Event, str]]) -> int:
        """Store unacknowledged events (with their stream) in the outbox; returns how many."""
        return self.outbox.park(sink_id, items)

    def known_in_outbox(self, sink_id: int | None, keys: Sequence[bytes]) -> set[bytes]:
        """Those of ``keys`` waiting in the outbox of ``sink_id``."""
        return self.outbox.among(sink_id, keys)

    def outbox_count(
        self, sink_id: int | None, provider: str | None = None, account: str | None = None
    ) -> int:
        """Events waiting in the outbox of ``sink_id``; of one provider (and account) when given."""
        return self.outbox.count(sink_id, provider, account)

    def outbox_accounts(self, sink_id: int | None, providers: Sequence[str]) -> list[tuple[str, str]]:
        """``(provider, account)`` of ``providers`` with events waiting in the outbox of ``sink_id``."""
        return self.outbox.accounts(sink_id, providers)

    def outbox_oldest(self, sink_id: int | None) -> int | None:
        """When the oldest event waiting for ``sink_id`` was parked (epoch seconds), or ``None``."""
        return self.outbox.oldest(sink_id)

    def outbox_batches(
        self, sink_id: int | None, provider: str, account: str, size: int = 1000
    ) -> Iterator[list[tuple[str, dict[str, Any]]]]:
        """Pages of ``(stream, event JSON)`` waiting in the outbox, in key order."""
        return self.outbox.batches(sink_id, provider, account, size)

    # -- runs --------------------------------------------------------------------------------------

    def start_run(self, provider: str, account: str, sink: str, mode: str, part: str | None = None) -> int:
        return self.runs_table.start(provider, account, sink, mode, part)

    def part_runs(self, prefix: str) -> dict[str, list[dict[str, Any]]]:
        """Runs of backfill parts whose name starts with ``prefix``, per part, oldest first."""
        return self.runs_table.of_parts(prefix)

    def finish_run(self, run_id: int, outcome: str, exit_code: int | None, report: dict[str, Any]) -> None:
        self.runs_table.finish(run_id, outcome, exit_code, report)

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.runs_table.recent(limit)
