"""The receiver's parts in-process: the URL a provider signed, headers, the masked body of an
unreadable request, and the intake's quarantine keys deferred to the group commit."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from msgevents.errors import WebhookRejected
from msgevents.serve.app import _headers, _url
from msgevents.serve.intake import MASK, Intake, masked_body
from msgevents.state import StateStore
from msgevents.values import WebhookRequest


def scope(path: str = "/webhooks/twilio", query: bytes = b"", headers=()) -> dict:
    return {
        "type": "http",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": [(k.encode(), v.encode()) for k, v in headers],
        "server": ("127.0.0.1", 8080),
    }


def test_the_url_is_the_public_one_when_set_else_as_received():
    seen = scope(query=b"a=1&b=two", headers=[("host", "hooks.internal:8080")])
    assert _url(seen, None, "twilio") == "http://hooks.internal:8080/webhooks/twilio?a=1&b=two"
    assert _url(seen, "https://hooks.example.com/msg", "twilio") == (
        "https://hooks.example.com/msg/webhooks/twilio?a=1&b=two"
    )
    assert _url(scope(), None, "twilio") == "http://127.0.0.1:8080/webhooks/twilio"


def test_headers_are_lower_cased_and_repeated_ones_joined():
    headers = _headers(scope(headers=[("X-Sig", "a"), ("x-sig", "b"), ("Content-Type", "text/plain")]))
    assert headers == {"x-sig": "a, b", "content-type": "text/plain"}


def request(body: bytes, headers: dict[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest("POST", "http://h/webhooks/fake", headers or {}, body, datetime.now(UTC))


def test_a_quarantined_body_keeps_no_signature_or_token():
    body = {"signature": {"timestamp": "1", "token": "tok-123456", "signature": "ab" * 32}, "event-data": "x"}
    masked = masked_body(request(json.dumps(body).encode()))
    assert masked == {"signature": {"timestamp": MASK, "token": MASK, "signature": MASK}, "event-data": "x"}
    text = masked_body(request(b"sig=feedbeef99 and more", {"x-hub-signature": "feedbeef99"}))
    assert text == f"sig={MASK} and more"
    assert masked_body(request(b"\xff\xfe")) == "\\xff\\xfe"


@pytest.fixture
def fake_intake(fake_plugins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from msgevents.assemble import make_provider
    from msgevents.plugins import Registry

    monkeypatch.setenv("MSGEVENTS_FAKE_WEBHOOK_KEY", "key-for-intake-tests")
    provider = make_provider("fake", Registry())
    state = StateStore.open(tmp_path / "state.db")
    intake = Intake(provider, state_path=tmp_path / "state.db", quarantine_dir=tmp_path / "q")
    intake.attach(state)
    yield intake, state
    intake.close()
    state.close()


def test_intake_refuses_a_forged_request_and_quarantines_a_bad_record_once(fake_intake):
    import hashlib
    import hmac

    intake, state = fake_intake
    body = json.dumps(
        [{"id": 1, "kind": "sent", "email": "a@example.com", "ts": 1715000000}, {"id": 2, "kind": "broken"}]
    )
    with pytest.raises(WebhookRejected):
        intake.authenticate(request(body.encode(), {"x-fake-signature": "0" * 64}))
    signature = hmac.new(b"key-for-intake-tests", body.encode(), hashlib.sha256).hexdigest()
    records = intake.authenticate(request(body.encode(), {"x-fake-signature": signature}))
    taken = intake.process(records)
    assert (len(taken.events), taken.quarantined) == (1, 1)
    keys = intake.book.take_unsaved()
    assert len(keys) == 1
    sink_id = state.sink_id("feed:/tmp/x")
    state.accept(sink_id, [(e, "webhook") for e in taken.events], quarantined=keys)
    assert state.outbox_count(sink_id) == 1
    again = intake.process(records)  # the provider's retry: the bad record is in quarantine already
    assert (len(again.events), again.quarantined) == (1, 0)
    assert intake.book.take_unsaved() == []
    lines = [json.loads(line) for path in intake.writer.directory.glob("*.jsonl") for line in path.open()]
    assert [line["reason"] for line in lines] == ["record 2 is broken on purpose"]
