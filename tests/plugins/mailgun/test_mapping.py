"""Mapping of Mailgun events to canonical events: every native type, every property, every error.

Pure unit tests: no HTTP, no files. The native examples are Mailgun's documented
examples (events reference, webhook payloads, bot detection), trimmed.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import msgevents
from msgevents import EventType, MappingError, NotModelled, Record
from msgevents_mailgun import MailgunProvider, MailgunSettings

# Mailgun's documented examples (https://documentation.mailgun.com/docs/mailgun/user-manual/events/)
ACCEPTED = {
    "event": "accepted",
    "id": "jxVuhYlhReaK3QsggHfFRA",
    "timestamp": 1529692198.641821,
    "recipient": "team@example.org",
    "tags": [],
    "user-variables": {"user_id": "u_123"},
    "message": {
        "headers": {"message-id": "20180622182958.1.48906CB188F1A454@example.org", "subject": "Test Subject"}
    },
}
DELIVERED = {
    "event": "delivered",
    "id": "hK7mQVt1QtqRiOfQXta4sw",
    "timestamp": 1529692199.626182,
    "recipient": "john@example.com",
    "delivery-status": {"code": 250, "message": "OK", "attempt-no": 1},
    "message": {"headers": {"message-id": "20180622182958.1.48906CB188F1A454@example.org"}},
    "user-variables": {},
}
OPENED = {
    "event": "opened",
    "id": "-laxIqj9QWubsjY_3pTq_g",
    "timestamp": 1377047343.042277,
    "recipient": "recipient@example.com",
    "ip": "111.111.111.111",
    "client-info": {"client-type": "mobile browser", "user-agent": "Mozilla/5.0 (iPhone; ...)", "bot": ""},
    "message": {"headers": {"message-id": "20130821005614.19826.35976@samples.mailgun.org"}},
}
CLICKED = {
    "event": "clicked",
    "id": "G5zMz2ysS6OxZ2C8xb2Tqg",
    "timestamp": 1377075564.094891,
    "recipient": "recipient@example.com",
    "url": "http://example.com/signup",
    "client-info": {"client-type": "browser", "bot": ""},
    "message": {"headers": {"message-id": "20130821085807.30688.67706@samples.mailgun.org"}},
}
UNSUBSCRIBED = {
    "event": "unsubscribed",
    "id": "W3X4JOhFT-OZidZGKKr9iA",
    "timestamp": 1377213791.421473,
    "recipient": "recipient@example.com",
    "message": {"headers": {"message-id": "20130822232216.13966.79700@samples.mailgun.org"}},
}
TEMPORARY = {
    "event": "failed",
    "severity": "temporary",
    "reason": "generic",
    "id": "xYrATi63Rke8EC_s7EoJeA",
    "timestamp": 1665066523.871657,
    "recipient": "test@example.com",
    "delivery-status": {
        "code": 451,
        "enhanced-code": "4.7.652",
        "retry-seconds": 600,
        "message": "4.7.652 ... exceeded the maximum number of connections.",
    },
    "message": {"headers": {"message-id": "20221006142837.1618e01bf42da9fa@example.com"}},
}
PERMANENT = {
    "event": "failed",
    "severity": "permanent",
    "reason": "generic",
    "id": "ZDMqRgjLTDi6rQcy7K60aA",
    "timestamp": 1666214138.4046676,
    "recipient": "christest123@example.com",
    "flags": {"is-delayed-bounce": True},
    "delivery-status": {
        "code": 550,
        "bounce-code": "5.1.1",
        "message": "smtp; 550-5.1.1 The email account that you tried to reach does not exist.",
    },
    "message": {"headers": {"message-id": "20221019211537.93011d31ea99c5a8@example.com"}},
}
COMPLAINED = {
    "event": "complained",
    "id": "ncV2XwymRUKbPek_MIM-Gw",
    "timestamp": 1377214260.049634,
    "recipient": "foo@example.com",
    "message": {"headers": {"message-id": "20130718032413.263EE2E0926@example.com"}},
}
BOT_OPEN = {
    "event": "opened",
    "id": "botOpen1",
    "timestamp": 1652883435.279025,
    "recipient": "bot@example.com",
    "client-info": {"user-agent": "Mozilla/5.0", "client-type": "unknown", "bot": "apple"},
}

DOCUMENTED = [
    (ACCEPTED, EventType.SENT, "accepted"),
    (DELIVERED, EventType.DELIVERED, "delivered"),
    (OPENED, EventType.VIEWED, "opened"),
    (CLICKED, EventType.CLICKED, "clicked"),
    (UNSUBSCRIBED, EventType.UNSUBSCRIBED, "unsubscribed"),
    (TEMPORARY, EventType.SOFT_BOUNCED, "failed:temporary"),
    (PERMANENT, EventType.HARD_BOUNCED, "failed:permanent"),
    (COMPLAINED, EventType.MARKED_AS_SPAM, "complained"),
]


@pytest.fixture
def provider() -> MailgunProvider:
    return MailgunProvider(MailgunSettings(domain="mg.example.com", _env_file=None))


def one(provider: MailgunProvider, data: dict) -> msgevents.Event:
    result = provider.map_record(Record("events", data, "test"))
    assert isinstance(result, list)
    assert len(result) == 1
    return result[0]


@pytest.mark.parametrize(("native", "expected", "native_type"), DOCUMENTED, ids=[d[2] for d in DOCUMENTED])
def test_every_documented_type_maps_to_its_event(provider, native, expected, native_type):
    event = one(provider, native)
    assert event.event is expected
    assert event.native_type == native_type
    assert event.provider == "mailgun"
    assert event.account == "mg.example.com"
    assert event.channel == "Email"
    assert event.message_id == native["message"]["headers"]["message-id"]
    assert abs(event.timestamp.timestamp() - native["timestamp"]) < 1e-6
    day = event.timestamp.date().isoformat()
    assert event.event_id == f"{native['id']}/{day}"


def test_the_provider_declares_all_eight_events():
    assert MailgunProvider.supported_events == frozenset(EventType)


def test_user_id_comes_from_user_variables_else_the_recipient(provider):
    sent = one(provider, ACCEPTED)
    assert (sent.user_id, sent.email) == ("u_123", None)
    delivered = one(provider, DELIVERED)  # user-variables without user_id
    assert (delivered.user_id, delivered.email) == (None, "john@example.com")


def test_the_user_id_variable_is_a_setting():
    provider = MailgunProvider(MailgunSettings(user_id_variable="customer", _env_file=None))
    data = {**ACCEPTED, "user-variables": {"customer": 4711, "user_id": "ignored"}}
    assert one(provider, data).user_id == "4711"


def test_click_url_tag_campaign_and_bot_flags(provider):
    click = one(
        provider, {**CLICKED, "tags": ["Newsletter", "nov"], "campaigns": [{"id": "c-9", "name": "N"}]}
    )
    assert click.url == "http://example.com/signup"
    assert click.type == "Newsletter"
    assert click.campaign_id == "c-9"
    assert click.is_machine is False
    assert one(provider, BOT_OPEN).is_machine is True
    assert one(provider, UNSUBSCRIBED).is_machine is None  # no client-info: unknown
    fallback = one(provider, {**ACCEPTED, "user-variables": {"user_id": "u", "campaign_id": 77}})
    assert fallback.campaign_id == "77"
    assert one(provider, {**OPENED, "url": "http://example.com/x"}).url is None  # only clicks carry url


@pytest.mark.parametrize("reason", ["suppress-bounce", "suppress-unsubscribe", "suppress-complaint"])
def test_suppressed_sends_are_not_modelled(provider, reason):
    data = {**PERMANENT, "reason": reason, "delivery-status": {"code": 605}}
    assert provider.map_record(Record("events", data)) == NotModelled(f"failed:{reason}")


@pytest.mark.parametrize(
    "native", ["rejected", "stored", "list_member_uploaded", "list_uploaded", "new_type"]
)
def test_other_types_are_not_modelled_by_name(provider, native):
    assert provider.map_record(Record("events", {**ACCEPTED, "event": native})) == NotModelled(native)


def test_a_webhook_body_maps_to_the_same_event_as_the_api_item(provider):
    body = {
        "signature": {"timestamp": "1529692199", "token": "a" * 50, "signature": "b" * 64},
        "event-data": copy.deepcopy(DELIVERED),
    }
    assert one(provider, body) == one(provider, DELIVERED)


def test_event_ids_differ_across_days_for_the_same_native_id(provider):
    first = one(provider, ACCEPTED)
    next_day = one(provider, {**ACCEPTED, "timestamp": ACCEPTED["timestamp"] + 86400})
    assert first.event_id != next_day.event_id
    assert first.event_id.split("/")[0] == next_day.event_id.split("/")[0]


def test_without_a_native_id_the_core_hash_is_used(provider):
    data = {k: v for k, v in ACCEPTED.items() if k != "id"}
    event = one(provider, data)
    assert event.event_id == msgevents.compute_event_id(
        "mailgun", "mg.example.com", EventType.SENT, "u_123", event.message_id, None, event.timestamp
    )


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({**ACCEPTED, "event": None}, "field event"),
        ({**ACCEPTED, "event": ""}, "field event"),
        ({**ACCEPTED, "timestamp": "yesterday"}, "field timestamp"),
        ({**ACCEPTED, "timestamp": None}, "field timestamp"),
        ({**ACCEPTED, "timestamp": True}, "field timestamp"),
        ({**TEMPORARY, "severity": "sometimes"}, "severity 'sometimes'"),
        ({**TEMPORARY, "severity": None}, "severity None"),
        ({**DELIVERED, "recipient": ""}, "no identity"),
        ({"signature": {}, "event-data": ["not", "an", "object"]}, "event-data is list"),
    ],
)
def test_unmappable_events_raise_mapping_errors_naming_the_field(provider, data, why):
    with pytest.raises(MappingError, match=why):
        provider.map_record(Record("events", data))


def test_a_recipient_that_is_no_address_is_a_validation_error(provider):
    with pytest.raises(ValidationError, match="email"):
        provider.map_record(Record("events", {**DELIVERED, "recipient": "not an address"}))


def test_mapping_is_pure_the_input_is_not_changed(provider):
    data = copy.deepcopy(CLICKED)
    provider.map_record(Record("events", data))
    assert data == CLICKED


# -- never a crash ---------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
FIELDS = {
    "event": st.sampled_from(
        [
            "accepted",
            "delivered",
            "opened",
            "clicked",
            "unsubscribed",
            "complained",
            "failed",
            "rejected",
            "stored",
            "FAILED",
            "",
        ]
    )
    | JSON,
    "severity": st.sampled_from(["temporary", "permanent", "other"]) | JSON,
    "reason": st.sampled_from(["generic", "suppress-bounce", "bounce"]) | JSON,
    "timestamp": st.floats(min_value=-1e11, max_value=1e11) | st.integers() | JSON,
    "id": st.text(max_size=24) | JSON,
    "recipient": st.sampled_from(["a@example.com", "", "x"]) | st.emails() | JSON,
    "user-variables": st.dictionaries(st.sampled_from(["user_id", "campaign_id", "x"]), JSON, max_size=2)
    | JSON,
    "tags": st.lists(JSON, max_size=2) | JSON,
    "campaigns": st.lists(st.dictionaries(st.just("id"), JSON, max_size=1), max_size=2) | JSON,
    "client-info": st.dictionaries(st.sampled_from(["bot", "client-type"]), JSON, max_size=2) | JSON,
    "message": st.fixed_dictionaries({"headers": st.dictionaries(st.just("message-id"), JSON)}) | JSON,
    "url": JSON,
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({}, optional=FIELDS), st.booleans())
def test_mapping_never_crashes(data, as_webhook):
    """Any event-shaped JSON: a valid event, NotModelled, or MappingError / ValidationError."""
    provider = MailgunProvider(MailgunSettings(domain="mg.example.com", _env_file=None))
    payload = {"signature": {"token": "t"}, "event-data": data} if as_webhook else data
    try:
        result = provider.map_record(Record("events", payload))
    except (MappingError, ValidationError) as exc:
        reason = str(exc)
        assert reason, "a quarantine reason must say something"
        return
    if isinstance(result, NotModelled):
        assert result.native_type
        return
    (event,) = result
    assert event.event in MailgunProvider.supported_events
    assert event.timestamp.tzinfo is UTC
    assert event.user_id or event.email
    json.dumps(event.model_dump(mode="json"))
