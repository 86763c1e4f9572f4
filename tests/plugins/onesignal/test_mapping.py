"""Mapping OneSignal Event Streams bodies: every kind, the three body shapes, identity per channel,
times, the failed → soft/hard policy, click URLs, and bad bodies as MappingError naming the field.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from msgevents import EventType, MappingError, NotModelled, Record
from msgevents_onesignal import OneSignalProvider, OneSignalSettings
from msgevents_onesignal.mapping import KINDS, body_fields

from .samples import DATETIME, EVENT_ID, MESSAGE_ID, TEMPLATE_ID, TIMESTAMP, body, grouped, nested
from .samples import KINDS as ALL_KINDS


def provider(**settings) -> OneSignalProvider:
    return OneSignalProvider(OneSignalSettings(_env_file=None, **settings))


def map_one(data: dict, **settings):
    result = provider(**settings).map_record(Record("events", data, "test"))
    if isinstance(result, NotModelled):
        return result
    (event,) = result
    return event


EXPECTED = {
    "message.push.sent": (EventType.SENT, "Push"),
    "message.push.received": (EventType.DELIVERED, "Push"),
    "message.push.clicked": (EventType.CLICKED, "Push"),
    "message.push.unsubscribed": (EventType.UNSUBSCRIBED, "Push"),
    "message.push.failed": (EventType.SOFT_BOUNCED, "Push"),
    "message.email.sent": (EventType.SENT, "Email"),
    "message.email.received": (EventType.DELIVERED, "Email"),
    "message.email.opened": (EventType.VIEWED, "Email"),
    "message.email.clicked": (EventType.CLICKED, "Email"),
    "message.email.unsubscribed": (EventType.UNSUBSCRIBED, "Email"),
    "message.email.reported_as_spam": (EventType.MARKED_AS_SPAM, "Email"),
    "message.email.bounced": (EventType.HARD_BOUNCED, "Email"),
    "message.email.failed": (EventType.SOFT_BOUNCED, "Email"),
    "message.sms.sent": (EventType.SENT, "SMS"),
    "message.sms.delivered": (EventType.DELIVERED, "SMS"),
    "message.sms.unsubscribed": (EventType.UNSUBSCRIBED, "SMS"),
    "message.sms.failed": (EventType.SOFT_BOUNCED, "SMS"),
    "message.sms.undelivered": (EventType.SOFT_BOUNCED, "SMS"),
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_modelled_kind(kind):
    event = map_one(body(kind))
    assert (event.event, event.channel) == EXPECTED[kind]
    assert event.user_id == "user_12345"
    assert event.event_id == EVENT_ID
    assert event.native_type == kind
    assert event.timestamp == datetime(2024, 2, 21, 23, 45, 15, 228000, tzinfo=UTC)
    assert (event.message_id, event.campaign_id) == (MESSAGE_ID, TEMPLATE_ID)
    assert event.provider == "onesignal"


def test_the_table_is_the_documented_one():
    assert set(KINDS) == set(EXPECTED)
    assert {e for e, _ in EXPECTED.values()} == set(EventType) == set(OneSignalProvider.supported_events)


@pytest.mark.parametrize(
    "kind", [k for k in ALL_KINDS if k not in EXPECTED] + ["message.push.dismissed", "Something.Else"]
)
def test_other_kinds_are_not_modelled(kind):
    assert map_one(body(kind)) == NotModelled(kind.lower())


def test_kind_is_case_insensitive():
    assert map_one(body("Message.Push.Sent")).event is EventType.SENT


@pytest.mark.parametrize("shape", [grouped, nested], ids=["grouped", "nested"])
def test_every_shape_maps_alike(shape):
    flat = body("message.push.failed", **{"event.data.failure_reason": "Unregistered"})
    assert map_one(shape(flat)) == map_one(flat)
    assert map_one(flat).event is EventType.HARD_BOUNCED


def test_body_fields_first_non_blank_wins_and_keeps_dotted_names_absolute():
    fields = body_fields(
        {"Event Data": {"event.kind": "", "event.id": "x"}, "event": {"kind": "k", "id": "y"}}
    )
    assert fields["event.kind"] == "k"  # a blank value is overwritten by a later non-blank one
    assert fields["event.id"] == "x"  # the first non-blank wins
    assert body_fields({"message": {"title": {"en": "Hi"}}}) == {"message.title.en": "Hi"}


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("", EventType.SOFT_BOUNCED),
        ("SenderIdMismatch", EventType.SOFT_BOUNCED),
        ("DeviceTokenNotForTopic", EventType.SOFT_BOUNCED),
        ("Expired Certificate", EventType.SOFT_BOUNCED),
        ("UNREGISTERED", EventType.HARD_BOUNCED),
        ("APNs: BadDeviceToken", EventType.HARD_BOUNCED),
        ("NotRegistered", EventType.HARD_BOUNCED),
        ("404 Not Found", EventType.HARD_BOUNCED),
        ("410 Gone", EventType.HARD_BOUNCED),
    ],
)
def test_failed_is_soft_unless_the_reason_says_the_token_is_gone(reason, expected):
    event = map_one(body("message.push.failed", **{"event.data.failure_reason": reason}))
    assert event.event is expected


def test_hard_failure_reasons_is_a_setting():
    data = body("message.email.failed", **{"event.data.failure_reason": "Mailbox does not exist"})
    assert map_one(data).event is EventType.SOFT_BOUNCED
    assert map_one(data, hard_failure_reasons=" mailbox does NOT exist ,x").event is EventType.HARD_BOUNCED
    assert map_one(body("message.push.failed", **{"event.data.failure_reason": "410 Gone"}),
                   hard_failure_reasons="x").event is EventType.SOFT_BOUNCED  # fmt: skip


def test_bounced_email_is_hard_whatever_the_reason():
    assert map_one(body("message.email.bounced")).event is EventType.HARD_BOUNCED


# -- identity ---------------------------------------------------------------------------------


def test_user_external_id_when_event_external_id_is_blank():
    event = map_one(body(**{"event.external_id": "", "user.external_id": 4711}))
    assert event.user_id == "4711"


def test_email_without_external_id_is_keyed_by_its_address():
    data = body("message.email.opened", **{"event.external_id": ""})
    data["user.subscription.subscription_token"] = "Jane.Doe@example.com"
    event = map_one(data)
    assert (event.user_id, event.email) == (None, "Jane.Doe@example.com")


def test_sms_without_external_id_carries_the_normalised_phone():
    data = body("message.sms.sent", **{"event.external_id": ""})
    data["user.subscription.subscription_token"] = "+1 555 867 5310"
    event = map_one(data)
    assert (event.user_id, event.email, event.phone) == (None, None, "+15558675310")


def test_sms_with_an_unusable_number_names_the_field():
    data = body("message.sms.sent", **{"event.external_id": ""})
    data["user.subscription.subscription_token"] = "not a number"
    with pytest.raises(MappingError, match=r"user\.subscription\.subscription_token"):
        map_one(data)


def test_push_without_external_id_is_an_error_even_with_a_push_token():
    data = body("message.push.sent", **{"event.external_id": ""})
    data["user.subscription.subscription_token"] = "fcm-token-abc"
    with pytest.raises(MappingError, match=r"no event\.external_id"):
        map_one(data)


def test_email_with_a_token_that_is_no_address_is_an_error():
    data = body("message.email.sent", **{"event.external_id": ""})
    data["user.subscription.subscription_token"] = "nobody"
    with pytest.raises(MappingError, match="email"):
        map_one(data)


# -- time -------------------------------------------------------------------------------------


def test_epoch_timestamp_when_no_datetime_number_or_text():
    for value in (TIMESTAMP, str(TIMESTAMP)):
        event = map_one(body(**{"event.datetime": "", "event.timestamp": value}))
        assert event.timestamp == datetime(2024, 2, 21, 23, 45, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"event.datetime": "", "event.timestamp": ""}, "no event time"),
        ({"event.datetime": "2024-02-21T23:45:15"}, "event.datetime"),  # no zone: never guessed
        ({"event.datetime": "yesterday"}, "event.datetime"),
        ({"event.datetime": 1708559115}, "event.datetime"),
        ({"event.datetime": None, "event.timestamp": "soon"}, "event.timestamp"),
        ({"event.datetime": None, "event.timestamp": 1708559115000}, "event.timestamp"),  # millis: wrong unit
    ],
)
def test_bad_times_name_the_field(fields, match):
    with pytest.raises(MappingError, match=match):
        map_one(body(**fields))


def test_the_datetime_wins_over_the_timestamp():
    event = map_one(body(**{"event.timestamp": 1}))  # a broken epoch is not read when datetime is there
    assert event.timestamp == datetime.fromisoformat(DATETIME)


# -- other fields -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"event.kind": ""}, "no event.kind"),
        ({"event.id": " "}, "no event.id"),
        ({"event.external_id": ["x"]}, "event.external_id is a JSON list"),
        ({"message.id": {"a": 1}, "event.kind": "message.push.sent"}, None),  # flattened away: absent
    ],
)
def test_missing_or_mistyped_fields(fields, match):
    if match is None:
        assert map_one(body(**fields)).message_id is None
        return
    with pytest.raises(MappingError, match=match):
        map_one(body(**fields))


def test_event_id_is_lower_cased():
    assert map_one(body(**{"event.id": EVENT_ID.upper()})).event_id == EVENT_ID


def test_lone_surrogates_are_a_mapping_error_not_a_crash():
    with pytest.raises(MappingError, match="invalid event"):
        map_one(body(**{"event.external_id": "\ud800"}))


@pytest.mark.parametrize(
    ("device", "urls", "expected"),
    [
        ("iOS", {"message.url": "https://a.example/u"}, "https://a.example/u"),
        ("iOS", {"message.url": "", "message.app_url": "app://x", "message.web_url": "https://w"}, "app://x"),
        (
            "Chrome",
            {"message.url": "", "message.app_url": "app://x", "message.web_url": "https://w"},
            "https://w",
        ),
        ("", {"message.url": "", "message.app_url": "", "message.web_url": "https://w"}, "https://w"),
        ("", {"message.url": "", "message.app_url": "app://x", "message.web_url": "https://w"}, None),
        ("Android", {"message.url": "", "message.app_url": "", "message.web_url": "https://w"}, None),
    ],
)
def test_push_click_url(device, urls, expected):
    event = map_one(body(**{"event.subscription_device_type": device, **urls}))
    assert event.url == expected


def test_only_clicks_carry_a_url():
    assert map_one(body("message.push.sent")).url is None
    assert map_one(body("message.email.clicked")).url is None  # the stream does not name the link
