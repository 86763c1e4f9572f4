"""The ``feed`` sink: CrossEngage Data Feed files in a directory (``--to feed:DIR``).

Each file is ``event_history_YYYYMMDDHHMMSS.json`` (UTC; when that second is
taken the next free second is used): a JSON array with one flat object per
line, at most 100,000 physical lines including ``[`` and ``]``. Lines are
streamed to a hidden temporary file; when a file is full (or the run ends) it
is fsynced, recorded as *pending* in the state together with its events'
ledger keys, renamed into place and the directory fsynced. Choosing the name
and renaming happen under a lock on the directory, so runs of other providers
writing into the same directory never replace each other's files. Only then are its
events acknowledged. A run killed in between leaves a pending record that the
next run settles: renamed → committed; not renamed → the temporary file is
deleted and its events are sent again. The temporary file of a run killed
before its file was pending is deleted too: a writer holds an exclusive
``flock`` on its temporary file until the rename, so an unfinished one nobody
holds is litter, and so is a finished one named after this state file (its
pending files were settled first). Whether a pending file was renamed is told
by its temporary file being gone, not by the final name (another run may have
taken it since, or an uploader moved the file on).

Settings: ``MSGEVENTS_FEED_ZIP=1`` writes ``event_history_….json.zip`` holding
exactly one ``event_history_….json`` (CrossEngage's zip rule);
``MSGEVENTS_FEED_MAX_LINES`` lowers the per-file line limit (≤ 100,000).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from pydantic import Field

from msgevents.errors import ConfigError
from msgevents.events import Event
from msgevents.formats import dumps, feed_object
from msgevents.hookspecs import hookimpl
from msgevents.paths import ensure_directory
from msgevents.settings_base import SettingsBase, settings_config
from msgevents.sink import Outcome, Receipt, Sink, SinkJournal, ledger_key
from msgevents.sinks.feed_directory import END, PREFIX, TMP_PREFIX, FeedDirectory, remove_quietly, zip_single
from msgevents.sinks.spill import Spill, failed_from_spill

__all__ = ["MAX_LINES", "PREFIX", "TMP_PREFIX", "FeedSettings", "FeedSink"]

#: CrossEngage's limit: 100,000 lines per Data Feed file.
MAX_LINES = 100_000
_WRITE_BATCH = 100  # lines joined and written at once (orjson output keeps 4 KiB blocks a line)
_tuple_new = tuple.__new__
log = logging.getLogger("msgevents.feed")


class FeedSettings(SettingsBase):
    """Environment settings of the feed sink (``MSGEVENTS_FEED_…``)."""

    model_config = settings_config("feed")
    zip: bool = Field(False, description="write .json.zip archives holding one file each")
    max_lines: int = Field(MAX_LINES, ge=3, le=MAX_LINES, description="physical lines per file")


class FeedSink(Sink):
    """Data Feed files written atomically into a directory."""

    name = "feed"
    help = "feed:DIR — CrossEngage Data Feed files (event_history_*.json) in DIR"

    def __init__(self, target: str | None, settings: FeedSettings | None = None) -> None:
        super().__init__(target)
        if not target:
            raise ConfigError("--to feed needs a directory: --to feed:DIR")
        if settings is None:
            try:
                settings = FeedSettings()
            except Exception as exc:
                raise ConfigError(f"invalid MSGEVENTS_FEED_* setting: {exc}") from None
        self.settings = settings
        self.directory = Path(target).expanduser().resolve()
        self._dir = FeedDirectory(self.directory, zip=settings.zip)
        self._journal: SinkJournal | None = None
        self._file: IO[bytes] | None = None
        self._tmp_path: Path | None = None
        self._receipts: list[Receipt] = []
        self._lines = 0
        # outcomes not returned yet; failed events of an unfinished file are read back lazily
        self._outcomes: list[Outcome | Iterator[Outcome]] = []
        self._spill: Spill | None = None
        self._broken: str | None = None
        self.files: list[Path] = []

    @property
    def key(self) -> str:
        return f"feed:{self.directory}"

    @property
    def description(self) -> str:
        return str(self.directory)

    # -- lifecycle --------------------------------------------------------------------

    def open(self, journal: SinkJournal) -> None:
        self._journal = journal
        ensure_directory(self.directory, "feed directory", "--to feed:DIR", mode=0o777)
        self.reconcile()

    def reconcile(self) -> None:
        """Settle what killed runs left in the directory (see :meth:`FeedDirectory.reconcile`)."""
        assert self._journal is not None
        self._dir.reconcile(self._journal)

    def submit(self, events: Sequence[Event], tag: Any = None) -> None:
        capacity = self.settings.max_lines - 2  # "[" and "]"
        start, total = 0, len(events)
        while start < total:
            # a slice of at most _WRITE_BATCH events that fits into the current file
            end = min(total, start + _WRITE_BATCH, start + capacity - self._lines)
            if self._broken is None:
                try:
                    if self._file is None:
                        self._start_file()
                    batch = events[start:end]
                    lines = [dumps(feed_object(e)) for e in batch]
                    separator = b"[\n" if self._lines == 0 else b",\n"
                    self._file.write(separator + b",\n".join(lines))  # type: ignore[union-attr]
                    self._spill.add(batch)  # type: ignore[union-attr]
                except OSError as exc:
                    self._fail(f"feed: cannot write to {self.directory}: {exc.strerror}")
            if self._broken is not None:
                failed = [(Receipt.of(e, tag), e) for e in events[start:]]
                self._outcomes.append(Outcome(failed=failed, error=self._broken))
                return
            # Receipt(key, type, tag) without the NamedTuple's Python-level __new__
            self._receipts += [_tuple_new(Receipt, (ledger_key(e), e.event, tag)) for e in events[start:end]]
            self._lines += end - start
            start = end
            if self._lines >= capacity:
                self._finish_file()

    def poll(self) -> list[Outcome]:
        return list(self._take())

    def flush(self) -> list[Outcome]:
        return list(self.finish())

    def send(self, events: Sequence[Event], tag: Any = None) -> Iterator[Outcome]:
        self.submit(events, tag)
        yield from self._take()

    def finish(self) -> Iterator[Outcome]:
        if self._file is not None:
            self._finish_file()
        yield from self._take()

    def _take(self) -> Iterator[Outcome]:
        while self._outcomes:
            item = self._outcomes.pop(0)
            if isinstance(item, Outcome):
                yield item
            else:
                yield from item

    def close(self) -> None:
        if self._file is not None:  # not flushed: the run failed; leave nothing half-written
            self._file.close()
            self._file = None
            if self._tmp_path is not None:
                remove_quietly(self._tmp_path)
        if self._spill is not None:
            self._spill.close()
            self._spill = None

    # -- files ----------------------------------------------------------------------------

    def _start_file(self) -> None:
        assert self._journal is not None
        # unique per process and sink: two sinks of one process must not share a temporary file
        name = f"{self._journal.owner}-{os.getpid()}-{id(self):x}-{len(self.files)}"
        self._tmp_path, fd = self._dir.create_temporary(name)
        self._file = os.fdopen(fd, "wb", buffering=1 << 20)
        self._lines = 0
        self._receipts = []
        if self._spill is None:
            self._spill = Spill()
        self._spill.clear()

    def _finish_file(self) -> None:
        assert self._file is not None
        assert self._tmp_path is not None
        assert self._journal is not None
        tmp = self._tmp_path
        file_id: int | None = None
        renamed = False
        try:
            self._file.write(END)
            self._file.flush()
            os.fsync(self._file.fileno())
            # another run (another provider) may be naming a file in this directory right now:
            # choosing a free name and renaming into it must not interleave, or one file
            # would silently replace the other
            with self._dir.lock():
                final = self._dir.free_name()
                if self.settings.zip:
                    tmp = zip_single(tmp, final)
                keys = [r.key for r in self._receipts]
                file_id = self._journal.record_pending_file(str(tmp), str(final), keys)
                os.rename(tmp, final)
                renamed = True
        except OSError as exc:
            if not renamed:  # nothing reached the directory: forget the pending ledger rows now
                remove_quietly(tmp)
                if file_id is not None:
                    self._journal.resolve_pending_file(file_id, renamed=False)
                self._fail(f"feed: cannot write to {self.directory}: {exc.strerror}")
                return
            log.warning("feed: %s is in place, but releasing the directory lock failed: %s", final.name, exc)
        with contextlib.suppress(OSError):
            self._file.close()  # releases the flock, now that the file is in place
        self._file = None
        try:
            self._dir.fsync()
        except OSError as exc:  # the file is in place: delivered; only its durability is in doubt
            log.warning(
                "feed: fsync of %s failed after the rename of %s: %s", self.directory, final.name, exc
            )
        self.files.append(final)
        self.stats.add(files=1)
        self._outcomes.append(Outcome(delivered=self._receipts, file_id=file_id))
        self._receipts = []
        self._lines = 0
        self._tmp_path = None

    def _fail(self, reason: str) -> None:
        """A write failed: the current file's events are not acknowledged; stop writing.

        They come back as failed (the pipeline parks them) from the spill, in bounded batches.
        """
        self._broken = reason
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        if self._tmp_path is not None:
            remove_quietly(self._tmp_path)
            self._tmp_path = None
        if self._receipts:
            spill, self._spill = self._spill, None
            self._outcomes.append(failed_from_spill(self._receipts, spill, reason))
        self._receipts = []
        self._lines = 0


@hookimpl
def register_sinks(register: Any) -> None:
    register(FeedSink)
