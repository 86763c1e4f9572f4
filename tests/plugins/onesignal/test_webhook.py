"""Event Streams requests: the shared-secret header (known answers and forgeries, constant-time
compare, no token in any message), the optional max age, and bodies parsed into exactly the
records a dump of the same bodies gives — so a webhook and a file share the event id.
"""

from __future__ import annotations

import gzip
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

import msgevents
from msgevents import ConfigError, MappingError, Record, WebhookRejected, WebhookRequest
from msgevents_onesignal import OneSignalProvider, OneSignalSettings

from .samples import DATETIME, body, grouped, nested

TOKEN = "os-stream-7Qx2vL9pK4mZ8rT1wY6n"
URL = "https://hooks.example.com/webhooks/onesignal"
RECEIVED = datetime.fromisoformat(DATETIME) + timedelta(seconds=3)


def provider(**settings) -> OneSignalProvider:
    settings.setdefault("webhook_token", TOKEN)
    return OneSignalProvider(OneSignalSettings(_env_file=None, **settings))


def request(payload=None, *, headers: dict[str, str] | None = None, raw: bytes | None = None,
            received_at: datetime = RECEIVED) -> WebhookRequest:  # fmt: skip
    """A POST as OneSignal sends it: the rendered body as JSON, the stream's headers."""
    data = raw if raw is not None else json.dumps(payload if payload is not None else body()).encode()
    names = {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}}
    return WebhookRequest("POST", URL, names, data, received_at)


# -- verification -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Authorization", f"Bearer {TOKEN}"),  # the stream's header as the Event Streams page shows it
        ("authorization", f"bearer   {TOKEN}  "),  # header names and the scheme are case-insensitive
    ],
)
def test_the_authorization_header_with_the_token_is_accepted(header, value):
    assert provider().verify_webhook(request(headers={header: value})) is None


def test_another_header_carries_the_bare_token():
    os = provider(webhook_header="X-Msgevents-Token")
    assert os.verify_webhook(request(headers={"X-Msgevents-Token": TOKEN})) is None
    with pytest.raises(WebhookRejected, match="no X-Msgevents-Token header"):
        os.verify_webhook(request(headers={"Authorization": f"Bearer {TOKEN}"}))


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "no Authorization header"),
        ({"Authorization": ""}, "no Authorization header"),
        ({"Authorization": TOKEN}, "no Authorization header"),  # no scheme
        ({"Authorization": f"Basic {TOKEN}"}, "no Authorization header"),
        ({"Authorization": "Bearer "}, "no Authorization header"),
        ({"Authorization": "Bearer wrong-token"}, "does not hold the webhook token"),
        ({"Authorization": f"Bearer {TOKEN[:-1]}"}, "does not hold the webhook token"),  # a prefix
        ({"Authorization": f"Bearer {TOKEN}x"}, "does not hold the webhook token"),
        ({"Authorization": f"Bearer {TOKEN.upper()}"}, "does not hold the webhook token"),
        ({"Authorization": f"Bearer {TOKEN} {TOKEN}"}, "does not hold the webhook token"),
        ({"X-Api-Key": TOKEN}, "no Authorization header"),
    ],
)
def test_forged_requests_are_rejected_without_the_token_in_the_message(headers, reason):
    with pytest.raises(WebhookRejected, match=reason) as caught:
        provider().verify_webhook(request(headers=headers))
    assert TOKEN not in str(caught.value)
    assert TOKEN[:8] not in str(caught.value)


def test_the_comparison_is_constant_time(monkeypatch):
    """The token goes through hmac.compare_digest (a == would leak its prefix by timing)."""
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    provider().verify_webhook(request(headers={"Authorization": f"Bearer {TOKEN}"}))
    assert calls == [(TOKEN.encode(), TOKEN.encode())]


def test_no_token_configured_is_a_configuration_error_naming_the_variable():
    os = OneSignalProvider(OneSignalSettings(_env_file=None))
    with pytest.raises(ConfigError, match="MSGEVENTS_ONESIGNAL_WEBHOOK_TOKEN"):
        os.verify_webhook(request(headers={"Authorization": "Bearer anything"}))


def test_the_token_is_a_secret_setting(monkeypatch):
    monkeypatch.setenv("MSGEVENTS_ONESIGNAL_WEBHOOK_TOKEN", TOKEN)
    settings = OneSignalSettings(_env_file=None)
    assert settings.secret_values() == [TOKEN]
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(OneSignalProvider.describe())


@pytest.mark.parametrize("name", ["Host", "content-length", "X-OneSignal-Token", "Bad Header", ""])
def test_headers_a_stream_cannot_send_are_refused_as_settings(name):
    with pytest.raises(msgevents.ConfigError, match="MSGEVENTS_ONESIGNAL_WEBHOOK_HEADER"):
        msgevents.load_settings(OneSignalSettings, _env_file=None, webhook_header=name)


def test_max_age_refuses_old_events_only_when_set():
    auth = {"Authorization": f"Bearer {TOKEN}"}
    late = request(headers=auth, received_at=RECEIVED + timedelta(hours=2))
    provider().verify_webhook(late)  # no max age: a replay is harmless (delivered once)
    strict = provider(webhook_max_age=timedelta(minutes=15))
    strict.verify_webhook(request(headers=auth))
    with pytest.raises(WebhookRejected, match="old, over MSGEVENTS_ONESIGNAL_WEBHOOK_MAX_AGE"):
        strict.verify_webhook(late)
    # an unreadable body or record is no reason to refuse: it is quarantined by parsing
    strict.verify_webhook(request(raw=b"{not json", headers=auth, received_at=late.received_at))
    no_time = body(**{"event.datetime": "", "event.timestamp": ""})
    strict.verify_webhook(request(no_time, headers=auth, received_at=late.received_at))
    # but the token is checked before the age
    with pytest.raises(WebhookRejected, match="does not hold"):
        strict.verify_webhook(request(headers={"Authorization": "Bearer x"}))


def test_max_age_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("MSGEVENTS_ONESIGNAL_WEBHOOK_MAX_AGE", "PT15M")
    assert OneSignalSettings(_env_file=None).webhook_max_age == timedelta(minutes=15)
    with pytest.raises(ConfigError, match="MSGEVENTS_ONESIGNAL_WEBHOOK_MAX_AGE"):
        msgevents.load_settings(OneSignalSettings, _env_file=None, webhook_max_age="-PT1M")


# -- parsing --------------------------------------------------------------------------------------


def test_receives_webhooks():
    assert OneSignalProvider.receives_webhooks()


@pytest.mark.parametrize("shape", [lambda b: b, grouped, nested], ids=["flat", "grouped", "nested"])
def test_one_body_is_one_record(shape):
    (record,) = provider().parse_webhook(request(shape(body())))
    assert record == Record("events", shape(body()), "webhook")


def test_an_array_of_bodies_is_several_records_and_a_bad_element_is_kept_with_its_error():
    payload = [body("message.push.sent"), 7, body("message.push.received")]
    records = provider().parse_webhook(request(payload))
    assert [r.error is None for r in records] == [True, False, True]
    assert [r.source for r in records] == ["webhook[0]", "webhook[1]", "webhook[2]"]
    assert "not a OneSignal Event Streams body" in records[1].error


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty body"),
        (b"  \n", "empty body"),
        (b"{not json", "not JSON"),
        (b'"a string"', "JSON str"),
        (b"42", "JSON int"),
        (b"\xff\xfe{", "not"),
        (b'{"event.kind": "message.push.sent", "event.timestamp": NaN}', "NaN is not a JSON value"),
        (b"Infinity", "Infinity is not a JSON value"),
    ],
)
def test_unreadable_bodies_raise_mapping_error(raw, reason):
    with pytest.raises(MappingError, match=reason):
        provider().parse_webhook(request(raw=raw))


def test_parsing_is_pure_of_the_token():
    """Parsing does not verify (the receiver calls verify first) and needs no setting."""
    os = OneSignalProvider(OneSignalSettings(_env_file=None))
    assert len(os.parse_webhook(request())) == 1


@pytest.mark.parametrize("gzipped", [False, True], ids=["jsonl", "jsonl.gz"])
def test_a_webhook_and_the_dump_of_its_body_give_one_event_id(tmp_path, gzipped):
    """The same bodies by webhook and read back from a receiver's dump: same records, same events."""
    bodies = [
        body("message.push.sent", **{"event.id": "0b6f1c8e-4a51-4c59-9d0a-000000000001"}),
        grouped(body("message.push.received", **{"event.id": "0b6f1c8e-4a51-4c59-9d0a-000000000002"})),
        nested(body("message.push.clicked", **{"event.id": "0B6F1C8E-4A51-4C59-9D0A-000000000003"})),
    ]
    os = provider()
    by_webhook = [r for b in bodies for r in os.parse_webhook(request(b))]
    text = "".join(json.dumps(b) + "\n" for b in bodies).encode()
    path = tmp_path / ("dump.jsonl.gz" if gzipped else "dump.jsonl")
    path.write_bytes(gzip.compress(text) if gzipped else text)
    from_file = [r for batch in os.read_input(path) for r in batch]
    assert [r.data for r in from_file] == [r.data for r in by_webhook]
    webhook_events = [e for r in by_webhook for e in os.map_record(r)]
    file_events = [e for r in from_file for e in os.map_record(r)]
    assert webhook_events == file_events
    assert [e.event_id for e in webhook_events] == [
        "0b6f1c8e-4a51-4c59-9d0a-000000000001",
        "0b6f1c8e-4a51-4c59-9d0a-000000000002",
        "0b6f1c8e-4a51-4c59-9d0a-000000000003",
    ]
    assert {msgevents.ledger_key(e) for e in webhook_events} == {msgevents.ledger_key(e) for e in file_events}


def test_a_retried_request_maps_to_the_same_event():
    os = provider()
    first = os.map_record(os.parse_webhook(request(body()))[0])
    again = os.map_record(os.parse_webhook(request(body(), received_at=RECEIVED + timedelta(minutes=5)))[0])
    assert first == again
    assert first[0].timestamp.tzinfo is UTC
