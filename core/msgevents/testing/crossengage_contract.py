"""The CrossEngage events contract as checks, and multiset comparison of deliveries.

:func:`validate_body` checks one ``POST /events`` body the way
:mod:`msgevents.testing.crossengage_emulator` does (the contract: ``docs/crossengage.md``);
:func:`compare` tells expected from received events with duplicates visible.
The event names and properties are written out here rather than imported
from :mod:`msgevents.events`, so the checks test the model instead of agreeing with it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "EVENT_TYPES",
    "MAX_EVENTS",
    "PROPERTIES",
    "Comparison",
    "ContractViolation",
    "Identity",
    "compare",
    "event_key",
    "validate_body",
]

EVENT_TYPES = frozenset(
    {
        "Message Sent",
        "Message Delivered",
        "Message Viewed",
        "Message Clicked",
        "Message Unsubscribed",
        "Message soft_bounced",
        "Message hard_bounced",
        "Message marked_as_spam",
    }
)
PROPERTIES = frozenset({"channel", "type", "url", "campaign_id", "message_id"})
MAX_EVENTS = 50
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")

Identity = tuple[str, str]  # ("id", "ABC123") or ("email", "jane@example.com")


class ContractViolation(Exception):
    """A request that breaks the contract: ``field`` and ``kind`` are what a 400 body names."""

    def __init__(self, field: str, kind: str, detail: str = "", status: int = 400):
        super().__init__(f"{field} {kind}: {detail}" if detail else f"{field} {kind}")
        self.field, self.kind, self.detail, self.status = field, kind, detail, status


def validate_body(raw: bytes) -> tuple[Identity, list[dict[str, Any]]]:
    """Check a ``POST /events`` body; return its identity and events or raise :class:`ContractViolation`."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractViolation("body", "INVALID_JSON", str(exc)) from None
    if not isinstance(body, dict):
        raise ContractViolation("body", "INVALID_TYPE", "the body must be a JSON object")
    for name in body:
        if name not in ("id", "email", "events"):
            raise ContractViolation(name, "UNKNOWN_FIELD", "unknown top-level field")
    keys = [k for k in ("id", "email") if k in body]
    if not keys:
        raise ContractViolation("id", "MISSING", "one of id or email is required")
    if len(keys) == 2:
        raise ContractViolation("id", "CONFLICT", "give id or email, not both")
    _check_string(body[keys[0]], keys[0])
    events = body.get("events")
    if events is None:
        raise ContractViolation("events", "MISSING", "events is required")
    if not isinstance(events, list):
        raise ContractViolation("events", "INVALID_TYPE", "events must be an array")
    if not events:
        raise ContractViolation("events", "EMPTY", "events must hold at least one event")
    if len(events) > MAX_EVENTS:
        raise ContractViolation("events", "TOO_MANY", f"at most {MAX_EVENTS}, got {len(events)}")
    for index, event in enumerate(events):
        _validate_event(event, f"events[{index}]")
    return (keys[0], body[keys[0]]), events


def _validate_event(event: Any, where: str) -> None:
    if not isinstance(event, dict):
        raise ContractViolation("events", "INVALID_TYPE", f"{where} must be an object")
    for name in event:
        if name not in ("event", "timestamp", "properties"):
            raise ContractViolation(name, "UNKNOWN_FIELD", f"{where} has unknown field {name!r}")
    for name in ("event", "timestamp"):
        if name not in event:
            raise ContractViolation(name, "MISSING", f"{where}.{name} is required")
    if event["event"] not in EVENT_TYPES:
        raise ContractViolation("event", "UNKNOWN_VALUE", f"{where}.event {event['event']!r}")
    stamp = event["timestamp"]
    if not isinstance(stamp, str) or not TIMESTAMP.match(stamp) or not _real_date(stamp):
        raise ContractViolation("timestamp", "INVALID_FORMAT", f"{where}.timestamp {stamp!r}")
    properties = event.get("properties", {})
    if not isinstance(properties, dict):
        raise ContractViolation("properties", "INVALID_TYPE", f"{where}.properties must be an object")
    for name, value in properties.items():
        if name not in PROPERTIES:
            raise ContractViolation(f"properties.{name}", "UNKNOWN_FIELD", f"{where}: unknown property")
        _check_string(value, f"properties.{name}")


def _check_string(value: Any, field: str) -> None:
    if not isinstance(value, str):
        raise ContractViolation(field, "INVALID_TYPE", f"must be a string, got {value!r}")
    if not value.strip():
        raise ContractViolation(field, "EMPTY", "must not be empty")


def _real_date(stamp: str) -> bool:
    try:
        datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


# -- comparing deliveries -------------------------------------------------------------


def event_key(identity: Identity, event: Mapping[str, Any]) -> tuple[Any, ...]:
    """A hashable form of one delivered event, for multiset comparisons."""
    properties = event.get("properties") or {}
    return (*identity, event.get("event"), event.get("timestamp"), *sorted(properties.items()))


@dataclass(frozen=True)
class Comparison:
    """Expected versus received events, as multisets of :func:`event_key`.

    ``missing``: expected more often than received; ``unexpected``: received
    more often than expected (a duplicate of an expected event lands here);
    ``duplicates``: received more than once, with the count.
    """

    missing: Counter[tuple[Any, ...]]
    unexpected: Counter[tuple[Any, ...]]
    duplicates: Counter[tuple[Any, ...]]

    @property
    def exact(self) -> bool:
        """Every expected event received exactly as often as expected, and nothing else."""
        return not self.missing and not self.unexpected


def compare(expected: Iterable[Any], received: Iterable[tuple[Identity, Mapping[str, Any]]]) -> Comparison:
    """Compare ``received`` (identity, event dict) pairs with ``expected``.

    ``expected`` holds :class:`msgevents.Event` objects (turned into what
    CrossEngage receives) or (identity, event dict) pairs.
    """
    from msgevents.events import Event
    from msgevents.formats import api_event

    want: Counter[tuple[Any, ...]] = Counter()
    for item in expected:
        if isinstance(item, Event):
            want[event_key(item.identity, api_event(item))] += 1
        else:
            want[event_key(*item)] += 1
    got = Counter(event_key(identity, event) for identity, event in received)
    return Comparison(
        missing=want - got,
        unexpected=got - want,
        duplicates=Counter({key: n for key, n in got.items() if n > 1}),
    )
