"""Twilio status callbacks received live: X-Twilio-Signature (Twilio's documented known answer),
forged requests (wrong token, altered form, missing header, wrong URL), parsing into the record a
dump line gives (one event_id either way, received_at = when the receiver read the request)."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import msgevents
from msgevents import ConfigError, MappingError, NotModelled, WebhookRejected, WebhookRequest
from msgevents_twilio import TwilioProvider, TwilioSettings
from msgevents_twilio.webhooks import signature, url_variants

from .samples import STATUSES, callback

# Twilio's worked example (https://www.twilio.com/docs/usage/webhooks/webhooks-security):
# auth token 12345, this URL and these parameters give this signature.
DOC_TOKEN = "12345"
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="

TOKEN = "f00dbabe" * 4
URL = "https://hooks.example.com/msgevents/webhooks/twilio"
RECEIVED = datetime(2025, 2, 14, 15, 30, 7, 412000, tzinfo=UTC)
FORM = "application/x-www-form-urlencoded"


def provider(token: str | None = TOKEN) -> TwilioProvider:
    return TwilioProvider(msgevents.load_settings(TwilioSettings, _env_file=None, auth_token=token))


def params_of(status: str = "delivered", **extra: Any) -> dict[str, str]:
    return {k: v for k, v in callback(status, **extra).items() if k != "received_at"}


def request(
    params: Any, *, url: str = URL, token: str = TOKEN, sign_url: str | None = None, sig: str | None = None
) -> WebhookRequest:
    pairs = list(params.items()) if isinstance(params, dict) else list(params)
    headers = {"content-type": FORM + "; charset=utf-8"}
    headers["x-twilio-signature"] = sig if sig is not None else signature(token, sign_url or url, pairs)
    return WebhookRequest("POST", url, headers, urlencode(pairs).encode(), RECEIVED)


def test_the_signature_is_twilios_documented_known_answer():
    assert signature(DOC_TOKEN, DOC_URL, DOC_PARAMS.items()) == DOC_SIGNATURE
    # as the receiver sees it: the form in Twilio's order, not sorted, the header as sent
    shuffled = sorted(DOC_PARAMS.items(), reverse=True)
    body = urlencode(shuffled).encode()
    headers = {"content-type": FORM, "x-twilio-signature": DOC_SIGNATURE}
    documented = WebhookRequest("POST", DOC_URL, headers, body, RECEIVED)
    provider(DOC_TOKEN).verify_webhook(documented)
    with pytest.raises(WebhookRejected):
        provider("54321").verify_webhook(documented)


def test_the_provider_receives_webhooks():
    assert TwilioProvider.receives_webhooks()


def test_a_signed_status_callback_is_authentic():
    provider().verify_webhook(request(params_of()))


@pytest.mark.parametrize(
    ("url", "signed_url"),
    [
        ("https://hooks.example.com/webhooks/twilio", "https://hooks.example.com:443/webhooks/twilio"),
        ("https://hooks.example.com:443/webhooks/twilio", "https://hooks.example.com/webhooks/twilio"),
        ("http://127.0.0.1/webhooks/twilio?x=1", "http://127.0.0.1:80/webhooks/twilio?x=1"),
    ],
)
def test_twilio_may_sign_the_url_with_or_without_the_default_port(url, signed_url):
    provider().verify_webhook(request(params_of(), url=url, sign_url=signed_url))


def test_url_variants_leave_other_ports_and_schemes_alone():
    assert url_variants("https://h.example:8443/w") == ["https://h.example:8443/w"]
    assert url_variants("wss://h.example/w") == ["wss://h.example/w"]
    assert url_variants("https://[::1]/w") == ["https://[::1]/w", "https://[::1]:443/w"]


def forged(kind: str) -> WebhookRequest:
    good = params_of()
    if kind == "wrong token":
        return request(good, token="0" * 32)
    if kind == "altered parameter":
        sig = signature(TOKEN, URL, good.items())
        return request({**good, "MessageStatus": "undelivered"}, sig=sig)
    if kind == "added parameter":
        sig = signature(TOKEN, URL, good.items())
        return request({**good, "ErrorCode": "30005"}, sig=sig)
    if kind == "removed parameter":
        sig = signature(TOKEN, URL, good.items())
        return request({k: v for k, v in good.items() if k != "ErrorCode" and k != "To"}, sig=sig)
    if kind == "missing header":
        req = request(good)
        return WebhookRequest(req.method, req.url, {"content-type": FORM}, req.body, req.received_at)
    if kind == "empty header":
        return request(good, sig="")
    if kind == "other path":
        return request(good, sign_url=URL.replace("/twilio", "/mailgun"))
    if kind == "other host":
        return request(good, sign_url=URL.replace("hooks.example.com", "evil.example.net"))
    if kind == "http instead of https":
        return request(good, sign_url=URL.replace("https:", "http:"))
    if kind == "other query":
        return request(good, url=URL + "?a=1", sign_url=URL + "?a=2")
    if kind == "not a form":
        req = request(good)
        return WebhookRequest(req.method, req.url, dict(req.headers), b"\xff\xfe{}", req.received_at)
    raise AssertionError(kind)


KINDS = [
    "wrong token",
    "altered parameter",
    "added parameter",
    "removed parameter",
    "missing header",
    "empty header",
    "other path",
    "other host",
    "http instead of https",
    "other query",
    "not a form",
]


@pytest.mark.parametrize("kind", KINDS)
def test_forged_callbacks_are_rejected_without_showing_a_secret(kind):
    forgery = forged(kind)
    with pytest.raises(WebhookRejected) as caught:
        provider().verify_webhook(forgery)
    message = str(caught.value)
    assert TOKEN not in message
    sent = forgery.header("x-twilio-signature")
    assert not sent or sent not in message
    assert signature(TOKEN, URL, params_of().items()) not in message


def test_an_unset_auth_token_is_a_config_error_naming_the_variable():
    with pytest.raises(ConfigError, match="MSGEVENTS_TWILIO_AUTH_TOKEN"):
        provider(None).verify_webhook(request(params_of()))


def test_the_auth_token_is_a_masked_secret():
    settings_ = msgevents.load_settings(TwilioSettings, _env_file=None, auth_token=TOKEN)
    assert TOKEN in settings_.secret_values()
    assert TOKEN not in repr(settings_)
    described = {s["env"]: s for s in TwilioProvider.describe()["settings"]}
    assert described["MSGEVENTS_TWILIO_AUTH_TOKEN"]["secret"] is True


def dump_records(tmp_path, lines: list[dict]) -> list[msgevents.Record]:
    path = tmp_path / "dump.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return [r for batch in provider().read_input(path) for r in batch]


@pytest.mark.parametrize(
    "params",
    [
        params_of("sent"),
        params_of("delivered", RawDlrDoneDate="2502141530"),
        params_of("undelivered", ErrorCode="30003"),
        params_of("failed", ErrorCode="21610"),
    ],
    ids=["sent", "delivered", "soft", "hard"],
)
def test_a_live_callback_is_the_record_and_event_of_its_dump_line(params, tmp_path):
    hook = provider()
    (record,) = hook.parse_webhook(request(params))
    assert record.error is None
    assert record.data == {"received_at": RECEIVED.isoformat(), "body": urlencode(params)}
    assert dump_records(tmp_path, [record.data])[0].data == record.data  # the dump line, read back
    (live,) = hook.map_record(record)
    # the same callback as a dump holds it as parameters, received a minute later
    (dumped,) = hook.map_record(
        dump_records(tmp_path, [{**params, "received_at": "2025-02-14T15:31:00Z"}])[0]
    )
    assert live.event_id == dumped.event_id == f"{params['MessageSid']}:{params['MessageStatus']}"
    if "RawDlrDoneDate" not in params:
        assert live.timestamp == RECEIVED
        assert live.receipt_time is True


def test_a_callback_that_is_not_utf8_is_unreadable_as_a_whole():
    bad = WebhookRequest("POST", URL, {"content-type": FORM}, b"MessageStatus=sent&To=\xff", RECEIVED)
    with pytest.raises(MappingError, match="not UTF-8"):
        provider().parse_webhook(bad)


def test_a_callback_that_is_not_a_form_is_quarantined_by_the_mapping():
    bad = WebhookRequest("POST", URL, {"content-type": FORM}, b"{not a form}", RECEIVED)
    (record,) = provider().parse_webhook(bad)
    with pytest.raises(MappingError, match="not a form-encoded callback body"):
        provider().map_record(record)


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_params = st.lists(
    st.tuples(
        st.sampled_from(["MessageSid", "MessageStatus", "To", "ErrorCode", "RawDlrDoneDate"]) | _text, _text
    ),
    max_size=8,
)


@st.composite
def forms(draw) -> list[tuple[str, str]]:
    base = list(params_of(draw(st.sampled_from(STATUSES))).items())
    if draw(st.booleans()):
        return base + draw(_params)
    return draw(_params)


@settings(max_examples=150, deadline=None)
@given(forms(), st.binary(max_size=40))
def test_any_signed_callback_verifies_parses_and_maps_or_is_a_mapping_error(pairs, junk):
    hook = provider()
    signed = request(pairs)
    hook.verify_webhook(signed)
    (record,) = hook.parse_webhook(signed)
    assert record.data["body"] == signed.body.decode()
    try:
        result = hook.map_record(record)
    except (MappingError, ValidationError):
        result = None
    if result is not None and not isinstance(result, NotModelled):
        (event,) = result
        assert event.event in TwilioProvider.supported_events
    if pairs:  # any change of one value breaks the signature
        name, value = pairs[0]
        altered = [(name, value + "x"), *pairs[1:]]
        with pytest.raises(WebhookRejected):
            hook.verify_webhook(request(altered, sig=signed.header("x-twilio-signature")))
    noise = WebhookRequest("POST", URL, {"content-type": FORM}, junk, RECEIVED)
    with contextlib.suppress(MappingError):  # anything else fails the test
        assert all(isinstance(r, msgevents.Record) for r in hook.parse_webhook(noise))
    with pytest.raises(WebhookRejected):
        hook.verify_webhook(noise)
