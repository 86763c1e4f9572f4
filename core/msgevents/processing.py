"""Event processors: steps between mapping and delivery (identity resolution, filters).

A processor is registered through the ``register_processors`` hook and is a
callable ``(events, provider) -> events``. Events are immutable; build changed
ones with :func:`replace`, which validates the result and keeps ``event_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from msgevents.events import Event
from msgevents.provider import Provider

__all__ = ["Processor", "replace"]

#: ``processor(events, provider) -> events to keep``
Processor = Callable[[Sequence[Event], Provider], Sequence[Event]]


def replace(event: Event, /, **changes: Any) -> Event:
    """A validated copy of ``event`` with ``changes`` applied; ``event_id`` is kept.

    >>> replace(event, user_id="ABC12345", email=None)

    ``event`` is positional-only, so the event type can be changed too:
    ``replace(event, event=EventType.SOFT_BOUNCED)``.
    """
    if "event_id" in changes:
        raise ValueError("event_id is the event's identity in the ledger and cannot be replaced")
    return Event.model_validate({**event.__dict__, **changes})
