"""Where the feed sink keeps the events of the file it is writing, to hand them back if it fails.

A Data Feed file holds up to 100,000 events: too many to keep in memory, and
its lines cannot be turned back into events. :class:`Spill` writes each event
to an anonymous temporary file as its line is written; when the file cannot be
finished, :func:`failed_from_spill` reads them back as failed outcomes (the
pipeline parks them in the outbox), a bounded batch at a time.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator, Sequence
from operator import itemgetter
from typing import IO

import orjson

from msgevents.events import Event
from msgevents.sink import Outcome, Receipt, ledger_key

__all__ = ["PARK_BATCH", "Spill", "failed_from_spill"]

log = logging.getLogger("msgevents.feed")

PARK_BATCH = 1000  # events of an unfinished file handed back per failed Outcome

# A spilled event is the array of its field values in field order: no field names to write.
_FIELDS = tuple(Event.model_fields)
_values = itemgetter(*_FIELDS)


class Spill:
    """The events of the file being written, in an anonymous temporary file.

    A feed file holds up to 100,000 events, too many to keep in memory, and its
    lines cannot be turned back into events. When the file cannot be finished,
    its events are read back from here and handed back as failed (parked in the
    outbox by the pipeline). Unnamed (``tempfile.TemporaryFile``): a killed run
    leaves nothing behind.
    """

    def __init__(self) -> None:
        self.broken: str | None = None
        try:
            self._file: IO[bytes] | None = tempfile.TemporaryFile(prefix="msgevents-feed-")  # noqa: SIM115
        except OSError as exc:
            self._file, self.broken = None, str(exc)

    def clear(self) -> None:
        if self._file is not None and self.broken is None:
            try:
                self._file.seek(0)
                self._file.truncate()
            except OSError as exc:
                self.broken = str(exc)

    def add(self, events: Sequence[Event]) -> None:
        if self._file is None or self.broken is not None:
            return
        try:
            # one JSON array per write batch: one call into orjson, not one per event
            self._file.write(
                orjson.dumps([_values(e.__dict__) for e in events], option=orjson.OPT_APPEND_NEWLINE)
            )
        except OSError as exc:
            self.broken = str(exc)
            log.warning("feed: cannot keep the events of the file being written (%s)", exc)

    def read(self) -> Iterator[Event]:
        assert self._file is not None
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            for values in orjson.loads(line):
                yield Event.model_validate(dict(zip(_FIELDS, values, strict=True)))

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None


def failed_from_spill(receipts: list[Receipt], spill: Spill | None, reason: str) -> Iterator[Outcome]:
    """Failed outcomes of an unfinished file, at most :data:`PARK_BATCH` events each.

    Events the spill cannot give back are failed without them (``None``): a live run reads
    them again, and the report says so.
    """
    events: Iterator[Event | None] = iter(())
    if spill is not None and spill.broken is None:
        try:
            events = spill.read()
        except OSError as exc:
            log.warning("feed: cannot read back the events of the unfinished file (%s)", exc)
    try:
        for start in range(0, len(receipts), PARK_BATCH):
            batch = receipts[start : start + PARK_BATCH]
            try:
                found = [next(events, None) for _receipt in batch]
            except (OSError, ValueError) as exc:
                log.warning("feed: cannot read back the events of the unfinished file (%s)", exc)
                events, found = iter(()), [None] * len(batch)
            # a spilled event is handed back only under its own receipt's key
            failed = [
                (receipt, event if event is not None and ledger_key(event) == receipt.key else None)
                for receipt, event in zip(batch, found, strict=True)
            ]
            yield Outcome(failed=failed, error=reason)
    finally:
        if spill is not None:
            spill.close()
