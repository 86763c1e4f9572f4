"""The value types that travel between providers, the pipeline, sinks and the state.

Plain, immutable (or append-only) data with no behaviour beyond checking
themselves: what a provider reads (:class:`Record` in a :class:`Window`, or
:class:`NotModelled`), what a sink reports (:class:`Receipt`, :class:`Outcome`)
and what the state remembers of a feed file between runs (:class:`PendingFile`).
Plugins import them from :mod:`msgevents` (or ``msgevents.provider`` /
``msgevents.sink``, which re-export them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from msgevents.events import Event, EventType

__all__ = ["NotModelled", "Outcome", "PendingFile", "Receipt", "Record", "WebhookRequest", "Window"]


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time range ``[since, until)`` in the provider's clock, both aware UTC."""

    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"Window.{name} must be timezone-aware")
        if self.until < self.since:
            raise ValueError(f"empty window: until {self.until} is before since {self.since}")


class Record(NamedTuple):
    """A native record as the provider delivered it, with where it came from.

    ``stream`` names the provider's stream (``opens``, ``clicks``, …); ``data``
    is the raw record (a dict of strings for CSV rows, parsed JSON for API
    pages); ``source`` says where it was read (``getOpens startRow=1000``,
    ``opens_20240501.csv:17``) and is shown in quarantine entries. A reader
    that cannot parse a row yields it with ``error`` set (and whatever it could
    read in ``data``): the core quarantines it with that reason without mapping.
    """

    stream: str
    data: dict[str, Any]
    source: str = ""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class NotModelled:
    """Returned by :meth:`Provider.map_record` for a native type outside the model.

    Counted per ``native_type`` in the run report, never quarantined
    (e.g. Mailgun ``stored``, Optimizely ``autoresponder`` responses).
    """

    native_type: str


class Receipt(NamedTuple):
    """A compact stand-in for a submitted event: ledger key, type and the batch's tag."""

    key: bytes
    event_type: EventType
    tag: Any

    @classmethod
    def of(cls, event: Event, tag: Any) -> Receipt:
        from msgevents.sink import ledger_key  # the key is the sink interface's (no import cycle)

        return cls(ledger_key(event), event.event, tag)


@dataclass
class Outcome:
    """What became of some submitted events.

    - ``delivered``: receipts of events the destination acknowledged (HTTP 202,
      file renamed into place)
    - ``rejected``: ``(receipt, event, reason)`` refused for good; quarantined
    - ``failed``: ``(receipt, event)`` not acknowledged (retries exhausted, sink
      down); the pipeline keeps the event pending in the outbox. ``event`` is
      ``None`` only when the sink could no longer give it back; such events are
      re-read by the next live run (the run report says so).
    - ``ambiguous``: a request's outcome was unknowable (timeout or connection
      lost after it left) and it was repeated
    - ``file_id``: the journal id of a feed file whose ledger rows were recorded
      as pending before the rename (see :class:`msgevents.sink.SinkJournal`)
    """

    delivered: list[Receipt] = field(default_factory=list)
    rejected: list[tuple[Receipt, Event, str]] = field(default_factory=list)
    failed: list[tuple[Receipt, Event | None]] = field(default_factory=list)
    ambiguous: bool = False
    error: str | None = None
    file_id: int | None = None


@dataclass(frozen=True)
class PendingFile:
    """A feed file recorded as written but not yet known to be renamed into place."""

    file_id: int
    tmp_path: str
    final_path: str


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """One HTTP request to ``POST /webhooks/<provider>``, as ``msgevents serve`` received it.

    - ``url``: the URL the provider called, as it signed it: the public base URL
      (``MSGEVENTS_SERVE_PUBLIC_URL`` behind a proxy) + the path + the query string
    - ``headers``: the request headers, names lower-cased (repeated headers joined by ``", "``)
    - ``body``: the raw body bytes, exactly as received (signatures are over these)
    - ``received_at``: when the receiver read the request (aware UTC)
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime

    def header(self, name: str, default: str = "") -> str:
        """A header by name, case-insensitively; ``default`` when absent."""
        return self.headers.get(name.lower(), default)

    @property
    def content_type(self) -> str:
        """The media type of the body without parameters, lower-cased (``application/json``)."""
        return self.header("content-type").split(";", 1)[0].strip().lower()

    def form(self) -> list[tuple[str, str]]:
        """The body as ``application/x-www-form-urlencoded`` pairs, in order, blanks kept.

        Raises ``ValueError`` when the body is not UTF-8 or not a form.
        """
        return parse_qsl(self.body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(self.body))
