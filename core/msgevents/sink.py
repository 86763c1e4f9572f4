"""What a sink implements: the :class:`Sink` base class and its outcomes.

Sinks are registered through the ``register_sinks`` hook, from modules listed
under the entry-point group ``msgevents.sinks`` (the built-in ``feed``,
``crossengage`` and ``jsonl`` are registered that way too).

The pipeline submits batches of events that are not yet in the ledger, each
batch with an opaque ``tag``, and collects :class:`Outcome` objects: receipts
of what the destination acknowledged, what it rejected for good (quarantined)
and what failed (kept pending in the outbox). A sink keeps only
:class:`Receipt` objects for events it has already written out, so memory does
not grow with a feed file's 100,000 lines. A sink never touches the ledger
itself; it reports, the pipeline commits.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from msgevents.events import _LEDGER_KEY_SLOT, Event
from msgevents.values import Outcome, PendingFile, Receipt

__all__ = [
    "DeliveryStats",
    "Outcome",
    "PendingFile",
    "Receipt",
    "Sink",
    "SinkJournal",
    "ledger_key",
    "time_prefix",
]

_blake2b = hashlib.blake2b


def ledger_key(event: Event) -> bytes:
    """The 20-byte ledger key of an event: :func:`time_prefix` of its timestamp (4 bytes),
    then its provider and event id hashed (16 bytes of BLAKE2b over ``provider \x1f event_id``).

    The time in front keeps the ledger flat in history: keys sort by the events' time,
    so checking and inserting a batch of events (read in time order, as files and API
    pages are) touches only the few B-tree pages of their minutes, however many older
    ids the ledger holds, and pruning by retention deletes a key range. An event's
    identity is its provider, event id and second (a restated event has the same
    timestamp) — except for an event whose ``receipt_time`` is set: its timestamp is
    when the record was received, which differs between two receipts of the same event,
    so its key starts with four zero bytes instead (such keys sort before every other and
    are pruned by their acknowledgement time alone).

    Computed once per event and kept on it (events are frozen): the pipeline and
    the sink's receipts both need it.
    """
    try:
        key = _cached_key(event)
    except AttributeError:  # built without validation: model_construct, a copy, unpickled
        key = None
    if key is None:
        key = (_NO_TIME if event.receipt_time else time_prefix(event.timestamp)) + _blake2b(
            f"{event.provider}\x1f{event.event_id}".encode(), digest_size=16
        ).digest()
        _cache_key(event, key)
    return key


_LAST_SECOND = 0xFFFFFFFF  # 2106-02-07T06:28:15Z
_NO_TIME = bytes(4)  # the prefix of events whose timestamp is only their time of receipt


def time_prefix(moment: datetime) -> bytes:
    """Four bytes, big-endian: whole seconds since 1970-01-01T00:00:00Z of the aware ``moment``,
    clamped to 0 … 2³² − 1 — the first bytes of every :func:`ledger_key`."""
    second = int(moment.timestamp() // 1)
    return (0 if second < 0 else min(second, _LAST_SECOND)).to_bytes(4, "big")


_cached_key = _LEDGER_KEY_SLOT.__get__
_cache_key = _LEDGER_KEY_SLOT.__set__


@dataclass
class DeliveryStats:
    """Counters a sink (or an HTTP client) keeps for the run report. Thread-safe increments."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    ambiguous: int = 0
    files: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "throttled": self.throttled,
            "ambiguous": self.ambiguous,
            "files": self.files,
        }


class SinkJournal(Protocol):
    """The part of the state store a file-writing sink uses for atomic hand-over.

    A feed sink writes a temporary file, fsyncs it, calls
    :meth:`record_pending_file` (which stores the file and its events' ledger
    rows as *pending*), renames it, and reports the ``file_id`` in its
    :class:`Outcome`; the pipeline then marks it committed together with the
    positions. On start, :meth:`pending_files` lists files a killed run left
    behind and :meth:`resolve_pending_file` settles each one.
    """

    #: Short hex naming this state file and sink: put into temporary file names, it
    #: lets a sink tell its own leftovers from those of runs with other state files.
    owner: str

    def record_pending_file(self, tmp_path: str, final_path: str, keys: Sequence[bytes]) -> int:
        """Store the file as pending with its events' ledger keys; return its id."""
        ...

    def pending_files(self) -> list[PendingFile]:
        """Files recorded as pending for this sink."""
        ...

    def resolve_pending_file(self, file_id: int, renamed: bool) -> None:
        """Renamed: commit its ledger rows. Not renamed: forget them (the events are resent)."""
        ...


class Sink:
    """Base class of sinks. Subclass it and register it with ``register_sinks``.

    Class attributes: ``name`` (what users write before the colon in
    ``--to NAME[:TARGET]``) and ``help`` (one line for ``--help`` and docs).
    """

    name: ClassVar[str]
    help: ClassVar[str] = ""

    def __init__(self, target: str | None) -> None:
        self.target = target
        self.stats = DeliveryStats()

    @classmethod
    def from_target(cls, target: str | None) -> Sink:
        """Build the sink from the part of ``--to`` after the colon (``None`` when absent).

        Read the sink's own settings here and raise
        :class:`~msgevents.errors.ConfigError` naming any missing or invalid one.
        """
        return cls(target)

    @property
    def key(self) -> str:
        """Identity of the destination for the ledger and positions (never a secret)."""
        raise NotImplementedError

    @property
    def description(self) -> str:
        """How the destination is shown to users (no secrets)."""
        return self.key

    def secret_values(self) -> list[str]:
        """Secrets this sink holds, for redaction from every output."""
        return []

    def open(self, journal: SinkJournal) -> None:
        """Prepare to deliver; reconcile what a previous run left (feed files)."""

    def submit(self, events: Sequence[Event], tag: Any = None) -> None:
        """Hand events over for delivery; may block while too much is in flight.

        Every event must come back exactly once in some :class:`Outcome`, as a
        :class:`Receipt` carrying ``tag`` (``Receipt.of(event, tag)``), from
        :meth:`poll`, :meth:`flush`, :meth:`send` or :meth:`finish`.
        """
        raise NotImplementedError

    def poll(self) -> list[Outcome]:
        """Outcomes that completed since the last call; never blocks."""
        return []

    def flush(self) -> list[Outcome]:
        """Finish everything submitted and return the remaining outcomes."""
        return self.poll()

    def send(self, events: Sequence[Event], tag: Any = None) -> Iterator[Outcome]:
        """:meth:`submit` the events, yielding outcomes as they complete; consume it to the end.

        The pipeline delivers through this method and commits each outcome as it
        comes. The default submits, then yields :meth:`poll`. A sink whose
        ``submit`` can block for long (waiting on requests) overrides it to yield
        what completed while it waits, so a run killed at any moment repeats at
        most the requests in flight.
        """
        self.submit(events, tag)
        yield from self.poll()

    def finish(self) -> Iterator[Outcome]:
        """:meth:`flush`, yielding outcomes as they complete; consume it to the end."""
        yield from self.flush()

    def close(self) -> None:
        """Release resources. Called once, after the last :meth:`flush`."""

    def describe_target(self) -> dict[str, Any]:
        return {"sink": self.name, "destination": self.description}
