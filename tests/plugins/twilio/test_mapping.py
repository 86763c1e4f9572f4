"""Mapping of Twilio status callbacks: every status, the error-code policy, the time fallback
chain, identity, event ids; the raw-body form of a dump line.

Pure unit tests: no files, no HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from msgevents import EventType, MappingError, NotModelled, Record
from msgevents_twilio import TwilioProvider, TwilioSettings

from .samples import RECEIVED, SERVICE, SID, STATUSES, TO, as_body, callback

MAPPED = {
    "sent": EventType.SENT,
    "delivered": EventType.DELIVERED,
    "undelivered": EventType.SOFT_BOUNCED,  # without an error code
    "failed": EventType.SOFT_BOUNCED,
}
HARD = ("30005", "30006", "21211", "21610", "21614")
SOFT = ("30003", "30007", "30008", "30001", "21612")


@pytest.fixture
def provider() -> TwilioProvider:
    return TwilioProvider(TwilioSettings(_env_file=None))


def run(provider: TwilioProvider, data: dict):
    return provider.map_record(Record("callbacks", data, "test"))


def test_declares_only_what_status_callbacks_report():
    assert TwilioProvider.supported_events == {
        EventType.SENT,
        EventType.DELIVERED,
        EventType.SOFT_BOUNCED,
        EventType.HARD_BOUNCED,
    }


@pytest.mark.parametrize("status", STATUSES)
def test_every_status(provider, status):
    result = run(provider, callback(status))
    if status not in MAPPED:
        assert result == NotModelled(status)
        return
    (event,) = result
    assert event.event is MAPPED[status]
    assert event.phone == TO
    assert event.user_id is None
    assert event.email is None
    assert event.channel == "SMS"
    assert event.message_id == SID
    assert event.campaign_id == SERVICE
    assert event.provider == "twilio"
    assert event.native_type == status
    assert event.event_id == f"{SID}:{status}"
    assert event.timestamp == datetime(2025, 2, 14, 15, 30, 7, 412000, tzinfo=UTC)


@pytest.mark.parametrize("status", ["undelivered", "failed"])
@pytest.mark.parametrize("code", HARD)
def test_default_hard_codes(provider, status, code):
    assert run(provider, callback(status, ErrorCode=code))[0].event is EventType.HARD_BOUNCED


@pytest.mark.parametrize("status", ["undelivered", "failed"])
@pytest.mark.parametrize("code", [*SOFT, None, ""])
def test_other_codes_are_soft(provider, status, code):
    extra = {} if code is None else {"ErrorCode": code}
    assert run(provider, callback(status, **extra))[0].event is EventType.SOFT_BOUNCED


def test_the_hard_codes_are_a_setting(monkeypatch):
    monkeypatch.setenv("MSGEVENTS_TWILIO_HARD_ERROR_CODES", " 30003, 30007 ")
    provider = TwilioProvider(TwilioSettings(_env_file=None))
    assert run(provider, callback("undelivered", ErrorCode="30003"))[0].event is EventType.HARD_BOUNCED
    assert run(provider, callback("undelivered", ErrorCode=30007))[0].event is EventType.HARD_BOUNCED
    assert run(provider, callback("undelivered", ErrorCode="30005"))[0].event is EventType.SOFT_BOUNCED


def test_a_bad_hard_code_setting_names_the_variable(monkeypatch):
    from msgevents import ConfigError, load_settings

    monkeypatch.setenv("MSGEVENTS_TWILIO_HARD_ERROR_CODES", "30005,abc")
    with pytest.raises(ConfigError, match="MSGEVENTS_TWILIO_HARD_ERROR_CODES"):
        load_settings(TwilioSettings, _env_file=None)


def test_raw_dlr_done_date_is_the_event_time_in_utc(provider):
    (event,) = run(provider, callback("delivered", RawDlrDoneDate="2502141530"))
    assert event.timestamp == datetime(2025, 2, 14, 15, 30, tzinfo=UTC)
    (event,) = run(provider, callback("delivered", RawDlrDoneDate="2502141530", received_at=None))
    assert event.timestamp == datetime(2025, 2, 14, 15, 30, tzinfo=UTC)


def test_receipt_time_forms(provider):
    (event,) = run(provider, callback("sent", received_at="2025-02-14T16:30:07+01:00"))
    assert event.timestamp == datetime(2025, 2, 14, 15, 30, 7, tzinfo=UTC)
    (event,) = run(provider, callback("sent", received_at=1739547007))
    assert event.timestamp == datetime(2025, 2, 14, 15, 30, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"received_at": None}, "no event time"),
        ({"received_at": ""}, "no event time"),
        ({"received_at": "2025-02-14T15:30:07"}, "received_at"),  # no zone: never guessed
        ({"received_at": "yesterday"}, "received_at"),
        ({"RawDlrDoneDate": "25021415"}, "RawDlrDoneDate '25021415' is not YYMMDDhhmm"),
        ({"RawDlrDoneDate": "2513141530"}, "RawDlrDoneDate"),  # month 13
    ],
)
def test_records_without_a_usable_time_are_mapping_errors(provider, extra, reason):
    with pytest.raises(MappingError, match=reason):
        run(provider, callback("delivered", **extra))


@pytest.mark.parametrize(
    ("drop", "reason"),
    [
        (("MessageStatus", "SmsStatus"), "no MessageStatus"),
        (("MessageSid", "SmsSid"), "no MessageSid"),
        (("To",), "no 'To'"),
    ],
)
def test_callbacks_missing_what_they_need_are_mapping_errors(provider, drop, reason):
    record = callback("sent")
    for name in drop:
        del record[name]
    with pytest.raises(MappingError, match=reason):
        run(provider, record)


def test_sms_fallback_names(provider):
    record = callback("sent")
    del record["MessageStatus"], record["MessageSid"]
    (event,) = run(provider, record)
    assert event.event_id == f"{SID}:sent"


def test_status_is_case_insensitive(provider):
    assert run(provider, callback("Delivered"))[0].event_id == f"{SID}:delivered"


def test_a_repeated_callback_is_the_same_event(provider):
    first = run(provider, callback("delivered", received_at="2025-02-14T15:30:07Z"))
    again = run(provider, callback("delivered", received_at="2025-02-14T15:31:00Z"))
    assert first[0].event_id == again[0].event_id
    other = run(provider, callback("sent"))
    assert other[0].event_id != first[0].event_id


@pytest.mark.parametrize("status", ["sent", "delivered", "undelivered", "queued"])
def test_the_raw_body_form_maps_like_the_parameters(provider, status):
    record = callback(status, ErrorCode="30005", RawDlrDoneDate="2502141530")
    assert run(provider, as_body(record)) == run(provider, record)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ({"received_at": RECEIVED, "body": 42}, "expected the form-encoded callback body"),
        ({"received_at": RECEIVED, "body": "MessageSid"}, "not a form-encoded callback body"),
    ],
)
def test_bad_bodies_are_mapping_errors(provider, line, reason):
    with pytest.raises(MappingError, match=reason):
        run(provider, line)
