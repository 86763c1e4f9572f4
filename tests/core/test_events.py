"""The canonical event model (``msgevents.events``): validation, normalisation and ``event_id``.

Covers the eight event types with CrossEngage's exact spelling; identity
(``user_id`` or ``email``, never neither, blank strings absent, e-mail shape);
timestamps (aware only, normalised to UTC, ISO strings with offsets accepted,
naive values and epoch numbers rejected with messages naming the field and
showing the value); numbers coerced to strings; extra fields rejected;
immutability; and the deterministic ``event_id``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from msgevents.events import Event, EventType, compute_event_id

T0 = datetime(2022, 1, 11, tzinfo=UTC)
BASE = {"user_id": "ABC12345", "event": "Message Sent", "timestamp": T0, "provider": "test"}

CROSSENGAGE_NAMES = [
    "Message Sent",
    "Message Delivered",
    "Message Viewed",
    "Message Clicked",
    "Message Unsubscribed",
    "Message soft_bounced",
    "Message hard_bounced",
    "Message marked_as_spam",
]


def event(**overrides) -> Event:
    return Event(**{**BASE, **overrides})


# -- event types -----------------------------------------------------------------------------------


def test_there_are_exactly_the_eight_crossengage_event_types():
    assert [member.value for member in EventType] == CROSSENGAGE_NAMES


@pytest.mark.parametrize("name", CROSSENGAGE_NAMES)
def test_every_event_type_is_accepted_with_its_exact_spelling(name):
    built = event(event=name)
    assert built.event == name
    assert built.event.value == name
    assert str(built.event) == name
    assert f"{built.event}" == name


@pytest.mark.parametrize(
    "name", ["message sent", "Message_Sent", "Message Soft_Bounced", "Message Bounced", "SENT", "opened", ""]
)
def test_other_spellings_are_rejected(name):
    with pytest.raises(ValidationError) as caught:
        event(event=name)
    assert "event" in str(caught.value)


# -- identity --------------------------------------------------------------------------------------


def test_user_id_only():
    built = event()
    assert (built.user_id, built.email) == ("ABC12345", None)
    assert built.identity == ("id", "ABC12345")


def test_email_only_is_the_identity_when_there_is_no_user_id():
    built = event(user_id=None, email="jane@example.com")
    assert built.identity == ("email", "jane@example.com")


def test_user_id_wins_when_both_are_given():
    built = event(email="jane@example.com")
    assert built.identity == ("id", "ABC12345")
    assert built.email == "jane@example.com"


@pytest.mark.parametrize(
    ("user_id", "email"), [(None, None), ("", ""), ("   ", None), (None, " \t"), ("", None)]
)
def test_an_event_without_identity_is_rejected(user_id, email):
    with pytest.raises(ValidationError, match="no identity"):
        event(user_id=user_id, email=email)


def test_blank_user_id_with_an_email_counts_as_absent():
    built = event(user_id="   ", email=" jane@example.com ")
    assert built.user_id is None
    assert built.email == "jane@example.com"
    assert built.identity == ("email", "jane@example.com")


def test_identity_strings_are_stripped():
    assert event(user_id="  ABC12345\n").user_id == "ABC12345"


@pytest.mark.parametrize(
    "bad", ["jane", "jane example.com", "jane @example.com", "@", "jane@", "@example.com"]
)
def test_email_must_look_like_an_address(bad):
    with pytest.raises(ValidationError) as caught:
        event(user_id=None, email=bad)
    assert "email" in str(caught.value)
    assert repr(bad.strip()) in str(caught.value)


@pytest.mark.parametrize("good", ["jane@example.com", "Jane.Doe+news@Example.ORG", "x@y"])
def test_plausible_emails_are_accepted(good):
    assert event(user_id=None, email=good).email == good


# -- optional properties ---------------------------------------------------------------------------


def test_numbers_are_coerced_to_strings():
    built = event(user_id=12345, campaign_id=123456, message_id=304405)
    assert built.user_id == "12345"
    assert built.campaign_id == "123456"
    assert built.message_id == "304405"


@pytest.mark.parametrize("name", ["channel", "type", "url", "campaign_id", "message_id", "native_type"])
def test_blank_optional_strings_are_absent_and_others_are_stripped(name):
    assert getattr(event(**{name: "   "}), name) is None
    assert getattr(event(**{name: ""}), name) is None
    assert getattr(event(**{name: " x "}), name) == "x"


def test_extra_fields_are_rejected():
    with pytest.raises(ValidationError) as caught:
        event(User_id="ABC12345")
    assert "User_id" in str(caught.value)
    assert "extra" in str(caught.value).lower()


def test_events_are_frozen():
    built = event()
    with pytest.raises(ValidationError):
        built.user_id = "OTHER"
    assert built.user_id == "ABC12345"


def test_events_are_hashable_and_compare_by_value():
    assert event() == event()
    assert hash(event()) == hash(event())
    assert event() != event(user_id="OTHER")


def test_provider_is_required_and_not_blank():
    with pytest.raises(ValidationError):
        Event(user_id="ABC12345", event="Message Sent", timestamp=T0)
    with pytest.raises(ValidationError, match="provider"):
        event(provider="  ")


# -- timestamps ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment",
    [
        T0,
        datetime(2022, 1, 11, 1, tzinfo=timezone(timedelta(hours=1))),
        datetime(2022, 1, 10, 14, tzinfo=timezone(timedelta(hours=-10))),
        datetime(2022, 1, 10, 19, tzinfo=ZoneInfo("America/New_York")),  # EST, UTC-5
        datetime(2022, 1, 11, 1, tzinfo=ZoneInfo("Europe/Berlin")),  # CET, UTC+1
        datetime(2022, 1, 11, 14, tzinfo=ZoneInfo("Pacific/Kiritimati")),  # UTC+14
        datetime(2022, 1, 11, tzinfo=ZoneInfo("UTC")),
        "2022-01-11T00:00:00Z",
        "2022-01-11T01:00:00+01:00",
        "2022-01-10T19:00:00-05:00",
    ],
)
def test_timestamps_are_normalised_to_utc(moment):
    built = event(timestamp=moment)
    assert built.timestamp == T0
    assert built.timestamp.tzinfo is UTC
    assert built.timestamp.utcoffset() == timedelta(0)
    assert (built.timestamp.hour, built.timestamp.day) == (0, 11)


def test_summer_time_is_applied_by_zoneinfo():
    built = event(timestamp=datetime(2022, 7, 1, 12, tzinfo=ZoneInfo("Europe/Berlin")))  # CEST, UTC+2
    assert built.timestamp == datetime(2022, 7, 1, 10, tzinfo=UTC)
    assert built.timestamp.tzinfo is UTC


def test_a_naive_datetime_is_rejected_naming_the_field_and_the_value():
    with pytest.raises(ValidationError) as caught:
        event(timestamp=datetime(2022, 1, 11, 8, 15))
    message = str(caught.value)
    assert "timestamp" in message
    assert "2022-01-11T08:15:00" in message
    assert "timezone" in message


def test_a_naive_string_is_rejected_naming_the_field_and_the_value():
    with pytest.raises(ValidationError) as caught:
        event(timestamp="2022-01-11T08:15:00")
    message = str(caught.value)
    assert "timestamp" in message
    assert "'2022-01-11T08:15:00'" in message


@pytest.mark.parametrize("number", [1641859200, 1641859200000, 1641859200.5])
def test_epoch_numbers_are_rejected_naming_the_field_and_the_value(number):
    with pytest.raises(ValidationError) as caught:
        event(timestamp=number)
    message = str(caught.value)
    assert "timestamp" in message
    assert repr(number) in message
    assert "epoch" in message  # says where epoch numbers go instead


@pytest.mark.parametrize("garbage", ["yesterday", "", None, "1970-01-01T00:00:00Z"])
def test_unparseable_timestamps_are_rejected(garbage):
    with pytest.raises(ValidationError) as caught:
        event(timestamp=garbage)
    assert "timestamp" in str(caught.value)


# -- event_id --------------------------------------------------------------------------------------


def test_event_id_is_computed_deterministically():
    first, second = event(), event()
    assert first.event_id == second.event_id
    assert len(first.event_id) == 32
    int(first.event_id, 16)  # hex


def test_event_id_is_the_documented_hash():
    built = event(account="acct", message_id="304405", url="https://shop.example/p/1")
    assert built.event_id == compute_event_id(
        "test", "acct", "Message Sent", "ABC12345", "304405", "https://shop.example/p/1", T0
    )


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ({"user_id": None, "email": "Jane@Example.COM"}, {"user_id": None, "email": "jane@example.com"}),
        ({"user_id": None, "email": " jane@example.com "}, {"user_id": None, "email": "jane@example.com"}),
        ({"user_id": " ABC12345 "}, {"user_id": "ABC12345"}),
        ({"timestamp": "2022-01-11T01:00:00+01:00"}, {"timestamp": T0}),
        ({"timestamp": T0 + timedelta(microseconds=999)}, {"timestamp": T0}),  # same millisecond
        ({"url": " https://x.example/ "}, {"url": "https://x.example/"}),
        ({"message_id": 304405}, {"message_id": "304405"}),
        # fields outside the hash
        ({"channel": "Email", "type": "Newsletter", "campaign_id": "1"}, {}),
        ({"native_type": "open", "is_machine": True}, {}),
        ({"user_id": "ABC12345", "email": "jane@example.com"}, {"user_id": "ABC12345"}),
    ],
)
def test_equal_native_events_get_equal_ids(left, right):
    assert event(**left).event_id == event(**right).event_id


@pytest.mark.parametrize(
    "change",
    [
        {"provider": "other"},
        {"account": "acct-2"},
        {"event": "Message Viewed"},
        {"user_id": "ABC12346"},
        {"user_id": None, "email": "jane@example.com"},
        {"message_id": "304406"},
        {"url": "https://shop.example/p/2"},
        {"timestamp": T0 + timedelta(milliseconds=1)},
        {"timestamp": T0 + timedelta(days=1)},
    ],
)
def test_any_hashed_part_changes_the_id(change):
    assert event(**change).event_id != event().event_id


def test_the_user_id_is_case_sensitive_in_the_id():
    assert event(user_id="abc12345").event_id != event(user_id="ABC12345").event_id


def test_a_given_event_id_is_kept():
    built = event(event_id="mailgun-abc-2022-01-11")
    assert built.event_id == "mailgun-abc-2022-01-11"
    assert event(event_id="x", user_id="other").event_id == "x"


def test_compute_event_id_rejects_a_naive_timestamp():
    with pytest.raises(ValueError, match="naive"):
        compute_event_id("test", "", "Message Sent", "ABC12345", None, None, datetime(2022, 1, 11))


@pytest.mark.parametrize("field", ["user_id", "channel", "campaign_id", "event_id", "native_type"])
def test_text_no_json_writer_can_send_is_refused_naming_the_field(field):
    """A lone surrogate passes json.loads but no sink can write it: refused, so it is quarantined."""
    fields = {"user_id": "U1", "event": EventType.SENT, "timestamp": T0, "provider": "p", field: "a\ud800b"}

    with pytest.raises(ValidationError, match=f"{field} 'a\\\\ud800b' holds a character that is not valid"):
        Event(**fields)


def test_non_ascii_text_is_fine():
    event = Event(
        user_id="Jürgen-€-日本", event=EventType.SENT, timestamp=T0, provider="p", channel="E-Mail ✉"
    )
    assert event.user_id == "Jürgen-€-日本"
