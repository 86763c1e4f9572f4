"""Event processing helpers (``msgevents.processing``): ``replace`` for processors.

Covers that a replaced event keeps its ``event_id`` (its identity in the
ledger) even when hashed fields change, is validated again like any event,
leaves the original untouched, and that ``event_id`` itself cannot be replaced.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from msgevents.processing import replace


def test_identity_resolution_keeps_the_event_id(make_event):
    original = make_event(user_id=None, email="jane@example.com", channel="Email")
    resolved = replace(original, user_id="ABC12345", email=None)
    assert resolved.user_id == "ABC12345"
    assert resolved.email is None
    assert resolved.identity == ("id", "ABC12345")
    assert resolved.event_id == original.event_id
    assert resolved.channel == "Email"
    # a fresh event with the new identity would have another id: replace kept it on purpose
    assert make_event(user_id="ABC12345", channel="Email").event_id != original.event_id


def test_the_original_is_unchanged(make_event):
    original = make_event()
    replace(original, is_machine=True)
    assert original.is_machine is None


def test_replacements_are_validated_and_normalised(make_event):
    changed = replace(make_event(), timestamp="2022-01-11T01:00:00+01:00", campaign_id=123, type="  ")
    assert changed.timestamp == datetime(2022, 1, 11, tzinfo=UTC)
    assert changed.timestamp.tzinfo is UTC
    assert changed.campaign_id == "123"
    assert changed.type is None


@pytest.mark.parametrize(
    "changes",
    [
        {"user_id": None, "email": None},
        {"event": "Message Opened"},
        {"timestamp": datetime(2022, 1, 11)},
        {"email": "not-an-address", "user_id": None},
        {"unknown_field": 1},
    ],
)
def test_invalid_replacements_are_rejected(make_event, changes):
    with pytest.raises(ValidationError):
        replace(make_event(), **changes)


def test_event_id_cannot_be_replaced(make_event):
    with pytest.raises(ValueError, match="event_id"):
        replace(make_event(), event_id="other")


def test_the_event_type_can_be_replaced(make_event):
    """The field ``event`` shares its name with replace()'s first argument: it must still work."""
    original = make_event(event="Message hard_bounced")
    changed = replace(original, event="Message soft_bounced")
    assert changed.event == "Message soft_bounced"
    assert changed.event_id == original.event_id
