"""Output formats (``msgevents.formats``) byte for byte against hand-written files in ``fixtures/``.

Covers CrossEngage API bodies (one user per body, at most 50 events, users in
order of first appearance, ``email`` instead of ``id`` for email-only events,
nulls omitted, property order), Data Feed objects and JSON Lines (internal
fields included, lossless round trip).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from msgevents.events import Event
from msgevents.formats import (
    MAX_EVENTS_PER_REQUEST,
    api_bodies,
    api_event,
    dumps,
    event_from_jsonl,
    feed_object,
    jsonl_object,
)

FIXTURES = Path(__file__).parent / "fixtures"
T0 = datetime(2022, 1, 11, tzinfo=UTC)


def fixture_lines(name: str) -> list[bytes]:
    return (FIXTURES / name).read_bytes().splitlines()


def test_the_crossengage_example_body_byte_for_byte(sample_events):
    sent, _viewed, clicked = sample_events[:3]
    [(members, body)] = list(api_bodies([sent, clicked]))
    assert members == [sent, clicked]
    assert dumps(body) == (FIXTURES / "api_body_example.json").read_bytes().rstrip(b"\n")


def test_api_bodies_byte_for_byte(sample_events):
    """One body per user, users in order of first event, ``email`` for email-only, nulls left out."""
    bodies = list(api_bodies(sample_events))
    assert [dumps(body) for _members, body in bodies] == fixture_lines("api_bodies.jsonl")
    sent, viewed, clicked, unsubscribed, delivered, bounced = sample_events
    assert [members for members, _body in bodies] == [
        [sent, clicked, delivered],
        [viewed],
        [unsubscribed],
        [bounced],
    ]


def test_api_event_omits_properties_when_there_are_none(make_event):
    assert api_event(make_event()) == {"event": "Message Sent", "timestamp": "2022-01-11T00:00:00Z"}


def test_email_only_events_use_email_instead_of_id(make_event):
    [(_members, body)] = list(api_bodies([make_event(user_id=None, email="jane@example.com")]))
    assert list(body) == ["email", "events"]
    assert body["email"] == "jane@example.com"


def test_120_events_of_one_user_make_bodies_of_50_50_and_20(make_event):
    events = [make_event(timestamp=T0 + timedelta(seconds=i)) for i in range(120)]
    bodies = list(api_bodies(events))
    assert [len(body["events"]) for _members, body in bodies] == [50, 50, 20]
    assert [len(members) for members, _body in bodies] == [50, 50, 20]
    assert all(body["id"] == "ABC12345" for _members, body in bodies)
    stamps = [item["timestamp"] for _members, body in bodies for item in body["events"]]
    assert stamps == [f"2022-01-11T00:{i // 60:02d}:{i % 60:02d}Z" for i in range(120)]
    assert [e for members, _body in bodies for e in members] == events


def test_several_users_interleaved_are_grouped_and_capped(make_event):
    users = ["A", "B", "C"]
    events = [make_event(user_id=users[i % 3], message_id=str(i)) for i in range(160)]
    bodies = [(members, body) for members, body in api_bodies(events)]
    assert [(body["id"], len(body["events"])) for _members, body in bodies] == [
        ("A", 50),
        ("A", 4),
        ("B", 50),
        ("B", 3),
        ("C", 50),
        ("C", 3),
    ]
    for members, body in bodies:
        assert all(member.user_id == body["id"] for member in members)
        assert [item["properties"]["message_id"] for item in body["events"]] == [
            m.message_id for m in members
        ]
    # each user's events keep their input order
    a_ids = [
        int(item["properties"]["message_id"])
        for _m, body in bodies
        if body["id"] == "A"
        for item in body["events"]
    ]
    assert a_ids == list(range(0, 160, 3))


def test_api_bodies_with_a_smaller_cap(make_event):
    events = [make_event() for _ in range(5)]
    assert [len(body["events"]) for _m, body in api_bodies(events, max_events=2)] == [2, 2, 1]


@pytest.mark.parametrize("cap", [0, -1, MAX_EVENTS_PER_REQUEST + 1])
def test_api_bodies_refuse_a_cap_outside_1_to_50(make_event, cap):
    with pytest.raises(ValueError, match="max_events"):
        list(api_bodies([make_event()], max_events=cap))


def test_no_events_no_bodies():
    assert list(api_bodies([])) == []


def test_feed_objects_byte_for_byte(sample_events):
    """The file content of ``fixtures/feed_file.json`` minus the array brackets and commas."""
    lines = fixture_lines("feed_file.json")
    assert lines[0] == b"["
    assert lines[-1] == b"]"
    expected = [line.rstrip(b",") for line in lines[1:-1]]
    assert [dumps(feed_object(e)) for e in sample_events] == expected


def test_feed_object_is_flat_and_has_no_internal_fields(make_event):
    obj = feed_object(make_event(channel="Email", account="acct", native_type="open", is_machine=True))
    assert obj == {
        "id": "ABC12345",
        "event": "Message Sent",
        "timestamp": "2022-01-11T00:00:00Z",
        "channel": "Email",
    }
    assert json.loads(dumps(obj))["event"] == "Message Sent"


def test_feed_object_of_an_email_only_event(make_event):
    obj = feed_object(make_event(user_id=None, email="jane@example.com"))
    assert list(obj) == ["email", "event", "timestamp"]


def test_jsonl_objects_byte_for_byte():
    events = [
        Event(
            user_id="ABC12345",
            email="jane@example.com",
            event="Message Clicked",
            timestamp=datetime(2018, 6, 22, 18, 29, 59, 626182, tzinfo=UTC),
            channel="Email",
            type="Newsletter",
            url="https://shop.example/p/1",
            campaign_id="123456",
            message_id="304405",
            provider="mailgun",
            account="mg.example.com",
            event_id="mg-evt-1",
            native_type="clicked",
            is_machine=False,
        ),
        Event(email="jane@example.com", event="Message Sent", timestamp=T0, provider="test", event_id="e-2"),
        Event(
            user_id="ABC12345",
            event="Message Viewed",
            timestamp=T0 + timedelta(microseconds=120000),
            provider="test",
            event_id="e-3",
            is_machine=True,
        ),
    ]
    assert [dumps(jsonl_object(e)) for e in events] == fixture_lines("events.jsonl")


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"user_id": None, "email": "jane@example.com"},
        {"timestamp": datetime(2018, 6, 22, 18, 29, 59, 626182, tzinfo=UTC)},  # Mailgun's microseconds
        {"timestamp": T0 + timedelta(microseconds=500)},  # below one millisecond
        {"timestamp": T0 + timedelta(milliseconds=123)},
        {"channel": "Email", "type": "Newsletter", "url": "https://x.example/?a=1&b=ü", "campaign_id": "1"},
        {"account": "acct", "native_type": "opened", "is_machine": False, "event_id": "given"},
        {"event": "Message marked_as_spam", "message_id": "304405"},
    ],
)
def test_jsonl_round_trip(make_event, overrides):
    event = make_event(**overrides)
    line = dumps(jsonl_object(event))
    back = event_from_jsonl(json.loads(line))
    assert back == event
    assert back.timestamp == event.timestamp
    assert back.event_id == event.event_id


def test_jsonl_lines_of_sample_events_round_trip(sample_events):
    for event in sample_events:
        assert event_from_jsonl(json.loads(dumps(jsonl_object(event)))) == event


def test_dumps_is_compact_utf8():
    assert dumps({"a": "Ü", "b": [1, None]}) == '{"a":"Ü","b":[1,null]}'.encode()
