"""Mailgun webhooks: the signature scheme (a known answer from Mailgun's SDK), forged requests,
freshness, parsing into the records the file reader makes (one event_id either way)."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import msgevents
from msgevents import ConfigError, MappingError, WebhookRejected, WebhookRequest
from msgevents_mailgun import MailgunProvider, MailgunSettings
from msgevents_mailgun.webhooks import expected_signature

from .test_mapping import ACCEPTED, CLICKED, COMPLAINED, DELIVERED, OPENED, TEMPORARY

# The known answer of Mailgun's own PHP SDK test (mailgun/mailgun-php, tests/Api/WebhookTest.php,
# testVerifyWebhookGood / testVerifyWebhookBad): key, timestamp, token and the signature Mailgun made.
SDK_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
SDK_TIMESTAMP = "1403645220"
SDK_TOKEN = "5egbgr1vjgqxtrnp65xfznchgdccwh5d6i09vijqi3whgowmn6"
SDK_SIGNATURE = "9cfc5c41582e51246e73c88d34db3af0a3a2692a76fbab81492842f000256d33"
SDK_BAD_TOKEN = "owyldpe6nxhmrn78epljl6bj0orrki1u3d2v5e6cnlmmuox8jr"

URL = "https://hooks.example.com/webhooks/mailgun"
RECEIVED = datetime(2014, 6, 24, 21, 27, 30, tzinfo=UTC)  # 30 s after SDK_TIMESTAMP


def request(body: Any, received_at: datetime = RECEIVED) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return WebhookRequest("POST", URL, {"content-type": "application/json"}, raw, received_at)


def signed_body(
    event: Any, key: str = SDK_KEY, timestamp: str = SDK_TIMESTAMP, token: str = SDK_TOKEN
) -> dict:
    signature = expected_signature(key, timestamp, token)
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event,
    }


def changed(**fields: str) -> Any:
    """A forgery: the good body with these signature fields replaced."""
    return lambda body: {**body, "signature": {**body["signature"], **fields}}


def provider(**overrides: Any) -> MailgunProvider:
    values: dict[str, Any] = {"_env_file": None, "webhook_signing_key": SDK_KEY, **overrides}
    return MailgunProvider(msgevents.load_settings(MailgunSettings, **values))


def test_the_signature_is_mailguns_known_answer():
    assert expected_signature(SDK_KEY, SDK_TIMESTAMP, SDK_TOKEN) == SDK_SIGNATURE
    body = {"signature": {"timestamp": SDK_TIMESTAMP, "token": SDK_TOKEN, "signature": SDK_SIGNATURE}}
    provider().verify_webhook(request({**body, "event-data": DELIVERED}))


def test_mailguns_known_bad_signature_is_rejected():
    body = {"signature": {"timestamp": SDK_TIMESTAMP, "token": SDK_BAD_TOKEN, "signature": SDK_SIGNATURE}}
    with pytest.raises(WebhookRejected, match="signature does not match"):
        provider().verify_webhook(request({**body, "event-data": DELIVERED}))


def test_the_provider_receives_webhooks():
    assert MailgunProvider.receives_webhooks()


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda b: signed_body(DELIVERED, key="key-not-the-right-one"), id="wrong key"),
        pytest.param(changed(token=SDK_BAD_TOKEN), id="token changed"),
        pytest.param(changed(timestamp="1403645221"), id="time changed"),
        pytest.param(changed(signature="0" * 64), id="other signature"),
        pytest.param(changed(signature=""), id="empty signature"),
        pytest.param(changed(signature="é" * 64), id="non-ascii signature"),
        pytest.param(changed(token="tökén"), id="non-ascii token"),
        pytest.param(lambda b: {"event-data": DELIVERED}, id="no signature"),
        pytest.param(lambda b: {**b, "signature": "x"}, id="signature not an object"),
        pytest.param(lambda b: [b], id="array body"),
        pytest.param(lambda b: b"token=1&timestamp=2&signature=3", id="form body"),
        pytest.param(lambda b: b"", id="empty body"),
    ],
)
def test_forged_requests_are_rejected_without_showing_a_secret(forge):
    good = signed_body(DELIVERED)
    with pytest.raises(WebhookRejected) as caught:
        provider().verify_webhook(request(forge(good)))
    message = str(caught.value)
    for secret in (SDK_KEY, SDK_TOKEN, SDK_SIGNATURE, SDK_BAD_TOKEN, "0" * 64):
        assert secret not in message


def test_the_signature_does_not_cover_the_event_data_but_the_event_is_parsed_as_sent():
    # Mailgun signs timestamp + token only: what proves authenticity is knowing the key
    body = signed_body(DELIVERED)
    provider().verify_webhook(request(body))
    assert provider().parse_webhook(request(body))[0].data == DELIVERED


def test_an_unset_key_is_a_config_error_naming_the_variable():
    with pytest.raises(ConfigError, match="MSGEVENTS_MAILGUN_WEBHOOK_SIGNING_KEY"):
        provider(webhook_signing_key=None).verify_webhook(request(signed_body(DELIVERED)))


def test_the_key_is_a_masked_secret():
    settings_ = msgevents.load_settings(MailgunSettings, _env_file=None, webhook_signing_key=SDK_KEY)
    assert SDK_KEY in settings_.secret_values()
    assert SDK_KEY not in repr(settings_)
    described = {s["env"]: s for s in MailgunProvider.describe()["settings"]}
    assert described["MSGEVENTS_MAILGUN_WEBHOOK_SIGNING_KEY"]["secret"] is True


def test_max_age_refuses_old_and_far_future_signatures_only_when_set():
    body = signed_body(DELIVERED)
    late = RECEIVED + timedelta(hours=2)
    provider().verify_webhook(request(body, late))  # no window by default
    strict = provider(webhook_max_age=timedelta(minutes=15))
    strict.verify_webhook(request(body))  # 30 s old
    with pytest.raises(WebhookRejected, match=r"7230 s from now.*WEBHOOK_MAX_AGE \(900 s\)"):
        strict.verify_webhook(request(body, late))
    with pytest.raises(WebhookRejected, match="MAX_AGE"):
        strict.verify_webhook(request(body, RECEIVED - timedelta(hours=1)))


def test_a_non_positive_max_age_is_refused_naming_the_variable():
    with pytest.raises(ConfigError, match="MSGEVENTS_MAILGUN_WEBHOOK_MAX_AGE"):
        msgevents.load_settings(MailgunSettings, _env_file=None, webhook_max_age=timedelta(0))


@pytest.mark.parametrize("event", [ACCEPTED, DELIVERED, OPENED, CLICKED, TEMPORARY, COMPLAINED])
def test_a_webhook_event_has_the_event_id_of_the_same_event_from_a_file_and_the_api(event, tmp_path):
    hook = provider()
    records = hook.parse_webhook(request(signed_body(event)))
    assert [r.error for r in records] == [None]
    assert "signature" not in json.dumps(records[0].data)
    from_hook = hook.map_record(records[0])
    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps(event) + "\n")
    (from_file,) = [r for batch in hook.read_input(path) for r in batch]
    api_record = msgevents.Record("events", event, "GET /v3/x/events page 1")
    ids = {e.event_id for e in hook.map_record(from_file)} | {e.event_id for e in hook.map_record(api_record)}
    assert [e.event_id for e in from_hook] == sorted(ids)
    assert from_hook == hook.map_record(from_file)


def test_a_body_without_event_data_or_json_is_unreadable_as_a_whole():
    for raw in (b"not json", json.dumps({"signature": {}}).encode(), b"[1, 2]"):
        with pytest.raises(MappingError, match="event-data"):
            provider().parse_webhook(request(raw))


def test_event_data_that_is_not_an_object_is_a_record_with_an_error():
    (record,) = provider().parse_webhook(request(signed_body(["delivered"])))
    assert record.error is not None
    assert "not an object" in record.error
    assert record.data == {"event-data": ["delivered"]}


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda x: st.lists(x, max_size=3) | st.dictionaries(st.text(max_size=8), x, max_size=3),
    max_leaves=12,
)
EVENT_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "event": st.sampled_from(["delivered", "failed", "opened", "clicked", "stored"]) | JSON,
        "id": st.text(max_size=10) | JSON,
        "timestamp": st.floats(min_value=0, max_value=4e9) | JSON,
        "recipient": st.emails() | JSON,
        "severity": st.sampled_from(["temporary", "permanent"]) | JSON,
        "user-variables": st.dictionaries(st.sampled_from(["user_id", "x"]), JSON, max_size=2) | JSON,
        "message": JSON,
    },
)


@settings(max_examples=80, deadline=None)
@given(st.one_of(EVENT_FIELDS, JSON), st.binary(max_size=30))
@example(-(2**63) - 1, b"")  # found by hypothesis: orjson alone made it a float, the file reader did not
def test_parse_then_map_raises_only_mapping_errors_and_matches_the_file_reader(event, junk):
    hook = provider()
    body = signed_body(event)
    records = hook.parse_webhook(request(body))
    from msgevents_mailgun.files import records_of

    assert [(r.data, r.error) for r in records] == [(r.data, r.error) for r in records_of(body, "file")]
    for record in records:
        if record.error is None:
            try:
                result = hook.map_record(record)
            except (MappingError, ValueError):  # ValueError: pydantic's ValidationError
                continue
            assert isinstance(result, msgevents.NotModelled) or all(e.provider == "mailgun" for e in result)
    with contextlib.suppress(MappingError):  # anything else fails the test
        assert all(isinstance(r, msgevents.Record) for r in hook.parse_webhook(request(junk)))
