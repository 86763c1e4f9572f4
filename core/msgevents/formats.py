"""Output formats: CrossEngage API bodies, Data Feed lines, JSON Lines.

Pure functions from :class:`~msgevents.events.Event` to JSON-ready objects
and bytes. No I/O here: the sinks write what these build.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import orjson

from msgevents.events import Event
from msgevents.timestamps import format_timestamp

__all__ = [
    "MAX_EVENTS_PER_REQUEST",
    "api_bodies",
    "api_event",
    "dumps",
    "event_from_jsonl",
    "feed_object",
    "jsonl_object",
]

#: CrossEngage accepts at most 50 events in one ``POST /events`` request.
MAX_EVENTS_PER_REQUEST = 50

_PROPERTIES = Event.PROPERTIES


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes (orjson): UTF-8, no spaces, non-ASCII kept as is."""
    return orjson.dumps(obj)


def api_event(event: Event) -> dict[str, Any]:
    """One element of a CrossEngage ``events`` array; null properties omitted."""
    item: dict[str, Any] = {
        "event": event.event.value,
        "timestamp": format_timestamp(event.timestamp),
    }
    fields = event.__dict__
    properties = {name: fields[name] for name in _PROPERTIES if fields[name] is not None}
    if properties:
        item["properties"] = properties
    return item


def api_bodies(
    events: Iterable[Event], max_events: int = MAX_EVENTS_PER_REQUEST
) -> Iterator[tuple[list[Event], dict[str, Any]]]:
    """Group events into ``POST /events`` bodies: one user per body, at most ``max_events``.

    Yields ``(events_in_body, body)``. Users appear in the order of their first
    event; a user's events keep their input order.
    """
    if not 1 <= max_events <= MAX_EVENTS_PER_REQUEST:
        raise ValueError(f"max_events must be 1..{MAX_EVENTS_PER_REQUEST}, got {max_events}")
    groups: dict[tuple[str, str], list[Event]] = {}
    for event in events:
        groups.setdefault(event.identity, []).append(event)
    for (key, value), members in groups.items():
        for start in range(0, len(members), max_events):
            chunk = members[start : start + max_events]
            yield chunk, {key: value, "events": [api_event(e) for e in chunk]}


def feed_object(event: Event) -> dict[str, Any]:
    """One Data Feed object: identity, event, timestamp and properties at top level."""
    fields = event.__dict__
    user_id = fields["user_id"]
    obj: dict[str, Any] = {"id": user_id} if user_id is not None else {"email": fields["email"]}
    obj["event"] = fields["event"]  # a StrEnum member: serialised as its string
    obj["timestamp"] = format_timestamp(fields["timestamp"])
    for name in _PROPERTIES:
        prop = fields[name]
        if prop is not None:
            obj[name] = prop
    return obj


def jsonl_object(event: Event) -> dict[str, Any]:
    """Every field of the event, internal ones included; nulls omitted.

    The timestamp keeps the event's full precision (microseconds when the
    instant has them), so :func:`event_from_jsonl` rebuilds an equal event.
    """
    obj = {k: v for k, v in event.__dict__.items() if v is not None}
    obj["event"] = event.event.value
    obj["timestamp"] = _precise_timestamp(event.timestamp)
    return obj


def _precise_timestamp(moment: datetime) -> str:
    """:func:`format_timestamp`, with six fraction digits when milliseconds would lose some."""
    if not moment.microsecond % 1000:
        return format_timestamp(moment)
    base = format_timestamp(moment.replace(microsecond=0))
    return f"{base[:-1]}.{moment.microsecond:06d}Z"


def event_from_jsonl(obj: dict[str, Any]) -> Event:
    """Rebuild an event from :func:`jsonl_object` output (validated again)."""
    return Event.model_validate(obj)
