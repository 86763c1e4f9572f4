"""SES events through SNS (msgevents serve): the SNS signature (versions 1 and 2) against a
certificate served over real HTTP on 127.0.0.1, the host allowlist, topics, freshness,
subscription confirmation, forged messages, and parsing into the file reader's records."""

from __future__ import annotations

import contextlib
import copy
import functools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import msgevents
from msgevents import ConfigError, MappingError, NotModelled, ProviderUnavailableError, WebhookRejected
from msgevents_ses import SesProvider, SesSettings
from msgevents_ses.sns import HostAllowlist, string_to_sign
from msgevents_ses.testing import CERT_PATH, TOPIC, SnsEmulator

from .samples import ALL, BOUNCE_PERMANENT, DELIVERY, SEND


@pytest.fixture(scope="module")
def sns():
    with SnsEmulator() as emulator:
        yield emulator


@pytest.fixture
def fresh_sns():
    with SnsEmulator() as emulator:
        yield emulator


def provider(sns: SnsEmulator, **overrides: Any) -> SesProvider:
    return SesProvider(msgevents.load_settings(SesSettings, **{**sns.settings, **overrides}))


def test_the_string_to_sign_is_the_documented_one():
    # AWS's example notification (https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html)
    example = {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
        "Subject": "My First Message",
        "Message": "Hello world!",
        "Timestamp": "2012-05-02T00:54:06.655Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEw6JRN...",
        "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
        "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
    }
    assert string_to_sign(example) == (
        b"Message\nHello world!\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\nSubject\nMy First Message\n"
        b"Timestamp\n2012-05-02T00:54:06.655Z\nTopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n"
        b"Type\nNotification\n"
    )
    without_subject = {k: v for k, v in example.items() if k != "Subject"}
    assert b"Subject" not in string_to_sign(without_subject)
    confirmation = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37f",
        "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
        "Message": "You have chosen to subscribe to the topic arn:aws:sns:us-west-2:123456789012:MyTopic.",
        "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37f",
        "Timestamp": "2012-04-26T20:45:04.751Z",
    }
    assert string_to_sign(confirmation).decode().split("\n")[::2] == [
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type", "",
    ]  # fmt: skip
    with pytest.raises(WebhookRejected, match="Token is missing"):
        string_to_sign({k: v for k, v in confirmation.items() if k != "Token"})


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_notification_is_authentic_and_the_certificate_fetched_once(version, fresh_sns):
    hook = provider(fresh_sns)
    for record in (SEND, DELIVERY, BOUNCE_PERMANENT):
        hook.verify_webhook(fresh_sns.request(fresh_sns.notification(record, version=version)))
    assert fresh_sns.certificate_fetches == 1
    hook.close()


def test_the_default_allowlist_is_https_sns_hosts_only():
    aws = HostAllowlist(SesSettings(_env_file=None).sns_certificate_hosts)
    assert aws.allows("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem")
    assert aws.allows("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem")
    for url in (
        "http://sns.eu-west-1.amazonaws.com/x.pem",  # plain http
        "https://sns.eu-west-1.amazonaws.com.evil.example/x.pem",
        "https://evil.example/sns.eu-west-1.amazonaws.com/x.pem",
        "https://sns.amazonaws.com/x.pem",  # no region label
        "https://x.sns.eu-west-1.amazonaws.com/x.pem",
        "https://sns.eu-west-1.amazonaws.com:8443/x.pem",
        "https://user@sns.eu-west-1.amazonaws.com/x.pem",
        "https://127.0.0.1/x.pem",
        "file:///etc/passwd",
        "not a url",
    ):
        assert not aws.allows(url), url


def test_plain_http_is_accepted_for_loopback_hosts_only():
    local = HostAllowlist("http://127.0.0.1:8123,http://[::1]:9,http://localhost")
    assert local.allows("http://127.0.0.1:8123/c.pem")
    assert not local.allows("http://127.0.0.1:8124/c.pem")
    assert not local.allows("https://127.0.0.1:8123/c.pem")
    assert local.allows("http://[::1]:9/c.pem")
    for bad in (
        "http://sns.eu-west-1.amazonaws.com",
        "http://10.0.0.1:80",
        "http://*.example.com",
        "ftp://x",
    ):
        with pytest.raises(ValueError, match=r"loopback|expected a host"):
            HostAllowlist(bad)
    with pytest.raises(ConfigError, match="MSGEVENTS_SES_SNS_CERTIFICATE_HOSTS"):
        msgevents.load_settings(SesSettings, _env_file=None, sns_certificate_hosts="http://sns.example.com")
    with pytest.raises(ConfigError, match="MSGEVENTS_SES_SNS_CERTIFICATE_HOSTS"):
        msgevents.load_settings(SesSettings, _env_file=None, sns_certificate_hosts=" , ")


@functools.cache
def _other_key() -> SnsEmulator:
    """Another key, its certificate nowhere (never started)."""
    return SnsEmulator()


def forgeries(sns: SnsEmulator) -> dict[str, Any]:
    good = sns.notification(DELIVERY)
    altered_record = copy.deepcopy(DELIVERY)
    altered_record["delivery"]["recipients"] = ["attacker@example.com"]
    other = _other_key()
    return {
        "altered Message": {**good, "Message": json.dumps(altered_record)},
        "altered Timestamp": {**good, "Timestamp": "2030-01-01T00:00:00.000Z"},
        "altered TopicArn": {**good, "TopicArn": TOPIC + "-other"},
        "Type changed": {**good, "Type": "UnsubscribeConfirmation"},
        "signed by another key": other.sign({k: v for k, v in good.items() if k != "Signature"}),
        "version 2 claimed for a version 1 signature": {**good, "SignatureVersion": "2"},
        "unknown version": {**good, "SignatureVersion": "3"},
        "no signature": {k: v for k, v in good.items() if k != "Signature"},
        "signature not base64": {**good, "Signature": "%%%"},
        "cert from a disallowed host": {**good, "SigningCertURL": "https://evil.example.com" + CERT_PATH},
        "cert over http from aws": {
            **good,
            "SigningCertURL": "http://sns.eu-west-1.amazonaws.com" + CERT_PATH,
        },
        "cert from localhost not 127.0.0.1": {
            **good,
            "SigningCertURL": good["SigningCertURL"].replace("127.0.0.1", "localhost"),
        },
        "no cert url": {k: v for k, v in good.items() if k != "SigningCertURL"},
        "cert url answers 404": {**good, "SigningCertURL": sns.base_url + "/missing.pem"},
        "cert url is not a certificate": {
            **good,
            "SigningCertURL": sns.base_url + "/?Action=ConfirmSubscription",
        },
        "not JSON": b"Type=Notification",
        "JSON array": json.dumps([good]).encode(),
        "empty": b"",
    }


FORGERIES = [
    "altered Message",
    "altered Timestamp",
    "altered TopicArn",
    "Type changed",
    "signed by another key",
    "version 2 claimed for a version 1 signature",
    "unknown version",
    "no signature",
    "signature not base64",
    "cert from a disallowed host",
    "cert over http from aws",
    "cert from localhost not 127.0.0.1",
    "no cert url",
    "cert url answers 404",
    "cert url is not a certificate",
    "not JSON",
    "JSON array",
    "empty",
]


@pytest.mark.parametrize("kind", FORGERIES)
def test_forged_messages_are_rejected_without_fetching_from_disallowed_hosts(kind, sns):
    forged = forgeries(sns)[kind]
    with pytest.raises(WebhookRejected) as caught:
        provider(sns).verify_webhook(sns.request(forged))
    message = str(caught.value)
    if isinstance(forged, dict):
        for field in ("Signature", "Message", "Token"):
            value = forged.get(field)
            if isinstance(value, str) and len(value) > 8:
                assert value not in message


def test_a_disallowed_certificate_host_is_never_contacted(sns, monkeypatch):
    hook = provider(sns)
    calls: list[str] = []
    receiver = hook._receiver()
    monkeypatch.setattr(receiver.http, "request", lambda method, url, **kw: calls.append(url))
    forged = {**sns.notification(SEND), "SigningCertURL": "https://evil.example.com/c.pem"}
    with pytest.raises(
        WebhookRejected, match="not on a host of MSGEVENTS_SES_SNS_CERTIFICATE_HOSTS: https://evil"
    ):
        hook.verify_webhook(sns.request(forged))
    assert calls == []


def test_an_expired_certificate_is_refused():
    month_ago = datetime.now(UTC) - timedelta(days=30)
    with SnsEmulator(cert_valid_from=month_ago, cert_valid_for=timedelta(days=1)) as old:
        request = old.request(old.notification(SEND))
        with pytest.raises(WebhookRejected, match="not valid now"):
            provider(old).verify_webhook(request)


def test_topics_are_restricted_when_set(sns):
    hook = provider(sns, sns_topic_arns=f" {TOPIC} , arn:aws:sns:us-east-1:1:other")
    hook.verify_webhook(sns.request(sns.notification(SEND)))
    with pytest.raises(WebhookRejected, match="TopicArn is not one of MSGEVENTS_SES_SNS_TOPIC_ARNS"):
        hook.verify_webhook(sns.request(sns.notification(SEND, topic="arn:aws:sns:eu-west-1:9:foreign")))


def test_max_age_refuses_stale_messages_only_when_set(sns):
    stale = sns.notification(SEND, Timestamp="2024-11-04T08:00:00.000Z")  # signed as such
    provider(sns).verify_webhook(sns.request(stale))
    with pytest.raises(WebhookRejected, match="MSGEVENTS_SES_WEBHOOK_MAX_AGE \\(3600 s\\)"):
        provider(sns, webhook_max_age=timedelta(hours=1)).verify_webhook(sns.request(stale))
    provider(sns, webhook_max_age=timedelta(hours=1)).verify_webhook(sns.request(sns.notification(SEND)))


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_subscription_confirmation_is_confirmed_after_its_signature_is_checked(version, fresh_sns):
    hook = provider(fresh_sns)
    message = fresh_sns.confirmation(version=version)
    request = fresh_sns.request(message)
    hook.verify_webhook(request)
    assert [c["Token"] for c in fresh_sns.confirmed] == [message["Token"]]
    assert hook.parse_webhook(request) == []
    forged = {**fresh_sns.confirmation(), "Token": "f" * 64}  # the URL still names the real token
    with pytest.raises(WebhookRejected, match="signature does not match"):
        hook.verify_webhook(fresh_sns.request(forged))
    assert len(fresh_sns.confirmed) == 1


def test_an_unsubscribe_confirmation_is_authentic_parsed_to_nothing_and_not_visited(fresh_sns):
    hook = provider(fresh_sns)
    message = fresh_sns.confirmation("UnsubscribeConfirmation")
    hook.verify_webhook(fresh_sns.request(message))
    assert fresh_sns.confirmed == []
    assert hook.parse_webhook(fresh_sns.request(message)) == []


def test_a_subscribe_url_on_a_disallowed_host_is_not_visited(sns):
    message = sns.confirmation()
    message["SubscribeURL"] = "https://evil.example.com/?Action=ConfirmSubscription&Token=x"
    with pytest.raises(WebhookRejected, match="SubscribeURL is not on a host"):
        provider(sns).verify_webhook(
            sns.request(sns.sign({k: v for k, v in message.items() if k != "Signature"}))
        )


def test_a_failed_confirmation_is_unavailable_so_sns_retries(fresh_sns):
    fresh_sns.confirm_status = 503
    with pytest.raises(ProviderUnavailableError, match="HTTP 503"):
        provider(fresh_sns).verify_webhook(fresh_sns.request(fresh_sns.confirmation()))
    assert fresh_sns.confirmed == []


def test_an_unreachable_certificate_host_is_unavailable():
    with SnsEmulator() as gone:
        hook = provider(gone)
        message = gone.notification(SEND)
    with pytest.raises(ProviderUnavailableError, match="could not fetch the signing certificate"):
        hook.verify_webhook(gone.request(message))


@pytest.mark.parametrize("name", sorted(ALL))
def test_a_notification_is_the_record_of_the_same_envelope_in_a_file(name, sns, tmp_path):
    hook = provider(sns)
    message = sns.notification(ALL[name])
    (record,) = hook.parse_webhook(sns.request(message))
    path = tmp_path / "sns.jsonl"
    path.write_text(json.dumps(message) + "\n")
    (from_file,) = [r for batch in hook.read_input(path) for r in batch]
    assert (record.stream, record.data, record.error) == (from_file.stream, from_file.data, from_file.error)
    from_hook, from_dump = hook.map_record(record), hook.map_record(from_file)
    assert from_hook == from_dump
    # and the same SES record as Firehose writes it (no envelope) has the same event ids
    plain = hook.map_record(msgevents.Record("events", ALL[name], "firehose"))
    if not isinstance(plain, NotModelled):
        assert [e.event_id for e in from_hook] == [e.event_id for e in plain]


def test_a_body_that_is_not_an_sns_message_is_unreadable_as_a_whole(sns):
    for raw in (b"not json", b"[1]", b'"text"'):
        with pytest.raises(MappingError, match="not an SNS message"):
            provider(sns).parse_webhook(sns.request(raw))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda x: st.lists(x, max_size=3) | st.dictionaries(st.text(max_size=8), x, max_size=3),
    max_leaves=10,
)


@st.composite
def envelopes(draw) -> dict:
    record: Any = copy.deepcopy(ALL[draw(st.sampled_from(sorted(ALL)))])
    if draw(st.integers(0, 3)) == 0:
        record = draw(JSON)
    message = {
        "Type": draw(
            st.sampled_from(["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]) | JSON
        ),
        "MessageId": "m-1",
        "TopicArn": TOPIC,
        "Message": json.dumps(record) if draw(st.booleans()) or not isinstance(record, dict) else draw(JSON),
        "Timestamp": "2024-11-04T08:00:00.000Z",
    }
    if draw(st.booleans()):
        message[draw(st.sampled_from(sorted(message)))] = draw(JSON)
    return message


BEYOND_64 = -(2**63) - 1  # one below the smallest 64-bit integer


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(envelopes(), st.binary(max_size=30))
@example(  # found by hypothesis: orjson alone made the integer a float, the file reader did not
    {"Type": "Notification", "MessageId": "m-1", "TopicArn": TOPIC, "Message": "{}", "Timestamp": BEYOND_64},
    b"",
)
def test_parse_then_map_raises_only_mapping_errors_and_matches_the_file_reader(sns, message, junk):
    hook = provider(sns)
    request = sns.request(message)
    records = hook.parse_webhook(request)
    if message.get("Type") in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
        assert records == []
    else:
        (record,) = records
        assert record.data == message
        try:
            result = hook.map_record(record)
        except (MappingError, ValidationError):
            result = None
        if result is not None and not isinstance(result, NotModelled):
            assert all(e.provider == "ses" for e in result)
    with contextlib.suppress(MappingError):  # anything else fails the test
        assert all(isinstance(r, msgevents.Record) for r in hook.parse_webhook(sns.request(junk)))
