"""Mapping of SES records to canonical events: every documented native type, both record
shapes (event publishing, feedback notifications), SNS envelopes, fan-out and bad records.

Pure unit tests: no files, no HTTP.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from msgevents import Event, EventType, MappingError, NotModelled, Record
from msgevents_ses import SesProvider, SesSettings

from . import samples
from .samples import ALL, RECIPIENT, sns, tagged


@pytest.fixture
def provider() -> SesProvider:
    return SesProvider(SesSettings(_env_file=None))


def run(provider: SesProvider, data: dict) -> list[Event] | NotModelled:
    return provider.map_record(Record("events", data, "test"))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


#: name of the documented record -> (event type, timestamp, recipients)
MAPPED = {
    "send": (EventType.SENT, "2016-10-14T05:02:16.645Z", [RECIPIENT]),
    "delivery": (EventType.DELIVERED, "2016-10-19T23:21:04.133Z", [RECIPIENT]),
    "open": (EventType.VIEWED, "2017-08-09T22:00:19.652Z", [RECIPIENT]),
    "click": (EventType.CLICKED, "2017-08-09T23:51:25.570Z", [RECIPIENT]),
    "subscription": (EventType.UNSUBSCRIBED, "2022-01-12T01:00:17.910Z", [RECIPIENT]),
    "bounce-transient": (EventType.SOFT_BOUNCED, "2017-08-05T00:41:02.669Z", [RECIPIENT]),
    "bounce-permanent": (EventType.HARD_BOUNCED, "2017-08-05T00:41:02.669Z", [RECIPIENT]),
    "complaint": (EventType.MARKED_AS_SPAM, "2017-08-05T00:41:02.669Z", [RECIPIENT]),
    "legacy-bounce": (EventType.HARD_BOUNCED, "2016-01-27T14:59:38.237Z", ["jane@example.com"]),
    "legacy-bounce-no-dsn": (
        EventType.HARD_BOUNCED,
        "2016-01-27T14:59:38.237Z",
        ["jane@example.com", "richard@example.com"],
    ),
    "legacy-complaint": (EventType.MARKED_AS_SPAM, "2016-01-27T14:59:38.237Z", ["richard@example.com"]),
    "legacy-delivery": (EventType.DELIVERED, "2016-01-27T14:59:38.237Z", ["jane@example.com"]),
}
NOT_MODELLED = {
    "reject": "Reject",
    "rendering-failure": "Rendering Failure",
    "delivery-delay": "DeliveryDelay",
}


def test_every_documented_record_is_covered():
    assert set(MAPPED) | set(NOT_MODELLED) == set(ALL)


@pytest.mark.parametrize("name", sorted(MAPPED))
def test_documented_record_maps_to_one_event_per_affected_recipient(provider, name):
    event_type, timestamp, recipients = MAPPED[name]
    record = ALL[name]
    events = run(provider, record)
    assert [e.email for e in events] == recipients
    for event in events:
        assert event.event is event_type
        assert event.timestamp == at(timestamp)
        assert event.user_id is None
        assert event.channel == "Email"
        assert event.message_id == record["mail"]["messageId"]
        assert event.provider == "ses"
        assert event.native_type == record.get("eventType", record.get("notificationType"))
    assert len({e.event_id for e in events}) == len(events)


@pytest.mark.parametrize("name", sorted(NOT_MODELLED))
def test_reject_rendering_failure_and_delivery_delay_are_not_modelled(provider, name):
    assert run(provider, ALL[name]) == NotModelled(NOT_MODELLED[name])


def test_click_carries_the_link(provider):
    (event,) = run(provider, samples.CLICK)
    assert event.url == samples.CLICK["click"]["link"]


def test_send_uses_the_mail_timestamp_other_types_their_own(provider):
    record = copy.deepcopy(samples.SEND)
    record["mail"]["timestamp"] = "2024-05-01T10:00:00.5Z"
    (event,) = run(provider, record)
    assert event.timestamp == at("2024-05-01T10:00:00.500Z")
    delivery = copy.deepcopy(samples.DELIVERY)
    delivery["mail"]["timestamp"] = "2024-05-01T10:00:00Z"  # not used for a delivery
    (event,) = run(provider, delivery)
    assert event.timestamp == at(samples.DELIVERY["delivery"]["timestamp"])


def test_user_id_and_campaign_from_tags(provider):
    record = tagged(samples.DELIVERY, user_id="u_123", campaign_id="spring")
    (event,) = run(provider, record)
    assert (event.user_id, event.email, event.campaign_id) == ("u_123", None, "spring")


def test_tag_names_are_settings():
    provider = SesProvider(SesSettings(_env_file=None, user_id_tag="customer", campaign_id_tag="cmp"))
    record = tagged(samples.OPEN, customer="c-9", cmp="42", user_id="ignored")
    (event,) = run(provider, record)
    assert (event.user_id, event.campaign_id) == ("c-9", "42")


def test_tag_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MSGEVENTS_SES_USER_ID_TAG", "customer")
    provider = SesProvider(SesSettings(_env_file=None))
    (event,) = run(provider, tagged(samples.SEND, customer="c-1"))
    assert event.user_id == "c-1"


def test_a_user_id_tag_keys_a_multi_recipient_record_once(provider):
    record = tagged(samples.LEGACY_BOUNCE_NO_DSN, user_id="u_7")
    assert [(e.user_id, e.email) for e in run(provider, record)] == [("u_7", None)]


def test_blank_or_empty_tag_values_fall_back_to_the_address(provider):
    for value in ([], [""], ["  "], None, {"x": 1}):
        record = copy.deepcopy(samples.SEND)
        record["mail"]["tags"]["user_id"] = value
        (event,) = run(provider, record)
        assert (event.user_id, event.email) == (None, RECIPIENT)


def test_fan_out_over_destination_and_duplicates_once(provider):
    record = copy.deepcopy(samples.SEND)
    record["mail"]["destination"] = ["a@example.com", "B@example.com", "a@example.com", "b@EXAMPLE.com"]
    events = run(provider, record)
    assert [e.email for e in events] == ["a@example.com", "B@example.com"]
    assert len({e.event_id for e in events}) == 2


def test_addresses_with_display_names(provider):
    record = copy.deepcopy(samples.SEND)
    record["mail"]["destination"] = ['"Jane Doe" <jane@example.com>']
    (event,) = run(provider, record)
    assert event.email == "jane@example.com"


@pytest.mark.parametrize("name", sorted(MAPPED))
def test_an_sns_envelope_gives_the_same_events_and_ids(provider, name):
    raw = run(provider, ALL[name])
    wrapped = run(provider, sns(ALL[name]))
    again = run(provider, sns(ALL[name], message_id="another-delivery-of-the-same-event"))
    assert raw == wrapped == again
    assert [e.event_id for e in raw] == [e.event_id for e in wrapped]


@pytest.mark.parametrize("kind", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
def test_sns_housekeeping_is_not_modelled(provider, kind):
    envelope = {"Type": kind, "MessageId": "m", "Message": "You have chosen to subscribe…"}
    assert run(provider, envelope) == NotModelled(f"SNS {kind}")


@pytest.mark.parametrize(
    ("envelope", "reason"),
    [
        ({"Type": "Notification", "Message": "{not json"}, "'Message' is not JSON"),
        ({"Type": "Notification", "Message": {"eventType": "Send"}}, "expected a JSON string"),
        ({"Type": "Notification"}, "expected a JSON string"),
        ({"Type": "Notification", "Message": "[1, 2]"}, "holds a list"),
        ({"Type": "Weird", "Message": "{}"}, "Type 'Weird'"),
        ({"Type": "Notification", "Message": json.dumps({"x": 1})}, "no eventType or notificationType"),
    ],
)
def test_bad_sns_envelopes_are_mapping_errors(provider, envelope, reason):
    with pytest.raises(MappingError, match=reason):
        run(provider, envelope)


def test_subscription_topic_opt_out_is_an_unsubscribe_opt_in_is_not(provider):
    record = copy.deepcopy(samples.SUBSCRIPTION)
    record["subscription"]["newTopicPreferences"]["unsubscribeAll"] = False
    assert run(provider, record)[0].event is EventType.UNSUBSCRIBED  # the topic says OptOut
    record["subscription"]["newTopicPreferences"]["topicSubscriptionStatus"][0]["subscriptionStatus"] = (
        "OptIn"
    )
    assert run(provider, record) == NotModelled("Subscription opt-in")
    del record["subscription"]["newTopicPreferences"]
    assert run(provider, record) == NotModelled("Subscription opt-in")


@pytest.mark.parametrize("subtype", ["Suppressed", "OnAccountSuppressionList"])
def test_suppressed_permanent_bounces_are_not_modelled(provider, subtype):
    record = copy.deepcopy(samples.BOUNCE_PERMANENT)
    record["bounce"]["bounceSubType"] = subtype
    assert run(provider, record) == NotModelled(f"Bounce Permanent {subtype}")


@pytest.mark.parametrize("subtype", ["General", "NoEmail", "UnsubscribedRecipient"])
def test_other_permanent_bounces_are_hard(provider, subtype):
    record = copy.deepcopy(samples.BOUNCE_PERMANENT)
    record["bounce"]["bounceSubType"] = subtype
    assert run(provider, record)[0].event is EventType.HARD_BOUNCED


@pytest.mark.parametrize("subtype", ["General", "MailboxFull", "MessageTooLarge", "ContentRejected"])
def test_transient_bounces_are_soft(provider, subtype):
    record = copy.deepcopy(samples.BOUNCE_TRANSIENT)
    record["bounce"]["bounceSubType"] = subtype
    assert run(provider, record)[0].event is EventType.SOFT_BOUNCED


def test_undetermined_bounce_is_not_modelled_unknown_type_is_an_error(provider):
    record = copy.deepcopy(samples.BOUNCE_PERMANENT)
    record["bounce"].update(bounceType="Undetermined", bounceSubType="Undetermined")
    assert run(provider, record) == NotModelled("Bounce Undetermined")
    record["bounce"]["bounceType"] = "Sideways"
    with pytest.raises(MappingError, match="bounceType is 'Sideways'"):
        run(provider, record)


def test_not_spam_and_suppressed_complaints_are_not_modelled(provider):
    record = copy.deepcopy(samples.COMPLAINT)
    record["complaint"]["complaintFeedbackType"] = "not-spam"
    assert run(provider, record) == NotModelled("Complaint not-spam")
    record = copy.deepcopy(samples.COMPLAINT)
    record["complaint"]["complaintSubType"] = "OnAccountSuppressionList"
    assert run(provider, record) == NotModelled("Complaint OnAccountSuppressionList")


def test_unknown_event_types_are_counted_as_not_modelled(provider):
    assert run(provider, {"eventType": "Teleported", "mail": {}}) == NotModelled("Teleported")


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r.pop("eventType"), "no eventType or notificationType"),
        (lambda r: r.pop("mail"), "'mail' is missing"),
        (lambda r: r.update(mail="x"), "'mail' is a str"),
        (lambda r: r.pop("delivery"), "'delivery' is missing"),
        (lambda r: r["delivery"].pop("timestamp"), r"no delivery\.timestamp"),
        (lambda r: r["delivery"].update(timestamp="2016-10-19 23:21:04"), "delivery.timestamp"),
        (lambda r: r["delivery"].update(timestamp=17), "delivery.timestamp"),
        (lambda r: r["delivery"].update(recipients=[]), "no recipients in delivery.recipients"),
        (lambda r: r["delivery"].update(recipients=[None]), r"delivery.recipients\[0\]"),
    ],
)
def test_records_missing_what_their_type_needs_are_mapping_errors(provider, mutate, reason):
    record = copy.deepcopy(samples.DELIVERY)
    mutate(record)
    with pytest.raises(MappingError, match=reason):
        run(provider, record)


def test_a_naive_timestamp_is_never_guessed(provider):
    record = copy.deepcopy(samples.OPEN)
    record["open"]["timestamp"] = "2017-08-09T22:00:19.652"
    with pytest.raises(MappingError, match=r"open\.timestamp"):
        run(provider, record)


def test_send_without_mail_timestamp_and_click_without_link(provider):
    record = copy.deepcopy(samples.SEND)
    del record["mail"]["timestamp"]
    with pytest.raises(MappingError, match=r"no mail\.timestamp"):
        run(provider, record)
    record = copy.deepcopy(samples.CLICK)
    record["click"]["link"] = ""
    with pytest.raises(MappingError, match=r"click\.link"):
        run(provider, record)


def test_bounce_recipients_must_be_objects_with_addresses(provider):
    record = copy.deepcopy(samples.BOUNCE_PERMANENT)
    record["bounce"]["bouncedRecipients"] = ["recipient@example.com"]
    with pytest.raises(MappingError, match=r"bouncedRecipients\[0\] is not an object"):
        run(provider, record)
    record["bounce"]["bouncedRecipients"] = [{"status": "5.1.1"}]
    with pytest.raises(MappingError, match=r"bouncedRecipients\[0\].emailAddress"):
        run(provider, record)


def test_an_address_that_is_not_one_fails_validation(provider):
    from pydantic import ValidationError

    record = copy.deepcopy(samples.SEND)
    record["mail"]["destination"] = ["not an address"]
    with pytest.raises(ValidationError, match="not an e-mail address"):
        run(provider, record)


def test_event_ids_are_stable_and_differ_by_type_recipient_and_time(provider):
    fresh = SesProvider(SesSettings(_env_file=None))
    ids = {name: [e.event_id for e in run(provider, ALL[name])] for name in MAPPED}
    assert ids == {name: [e.event_id for e in run(fresh, ALL[name])] for name in MAPPED}
    # the two legacy bounce examples report the same bounce of jane@ (same message, same time)
    assert ids["legacy-bounce"][0] == ids["legacy-bounce-no-dsn"][0]
    del ids["legacy-bounce"]
    flat = [i for values in ids.values() for i in values]
    assert len(flat) == len(set(flat))
