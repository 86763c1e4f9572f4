"""The ``crossengage`` sink against the local CrossEngage emulator.

Covers delivery (exactly the submitted multiset, one user per request, ≤ 50
events), retries (5xx, 429 with Retry-After, dropped connections, timeouts),
ambiguity, the circuit after exhausted retries, 400 isolation, 401, bounded
concurrency and queueing, connection reuse, the rate limit, settings errors,
the tenant key, registration, and that the API key never leaks. HttpClient's
backoff sleeps are recorded instead of slept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from msgevents import AuthError, ConfigError, Event, EventType, Outcome
from msgevents.plugins import Registry, load_sink
from msgevents.redact import secrets_known
from msgevents.sink import ledger_key
from msgevents.sinks import crossengage
from msgevents.sinks.crossengage import CrossEngageSettings, CrossEngageSink, TokenBucket
from msgevents.testing.crossengage_emulator import CrossEngageEmulator

API_KEY = "sk-live-5f1e0c9a7b3d4e2f"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def events_for(user: str, count: int, event: EventType = EventType.SENT, start: int = 0) -> list[Event]:
    identity = {"email": user} if "@" in user else {"user_id": user}
    return [
        Event(
            **identity,
            event=event,
            timestamp=T0 + timedelta(seconds=start + i, milliseconds=i % 3),
            provider="test",
            channel="Email",
            campaign_id="123456",
            message_id=f"{user}-{start + i}",
        )
        for i in range(count)
    ]


def settle(events: list[Event], outcomes: list[Outcome]) -> dict[str, Counter[bytes]]:
    """Receipt keys per kind; asserts every submitted event came back exactly once."""
    kinds: dict[str, Counter[bytes]] = {
        "delivered": Counter(r.key for o in outcomes for r in o.delivered),
        "rejected": Counter(r.key for o in outcomes for r, _event, _reason in o.rejected),
        "failed": Counter(r.key for o in outcomes for r, _event in o.failed),
    }
    assert sum(kinds.values(), Counter()) == Counter(ledger_key(e) for e in events)
    return kinds


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def emulator():
    with CrossEngageEmulator(api_key=API_KEY) as ce:
        yield ce


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_sink(emulator, sleeps):
    sinks: list[CrossEngageSink] = []

    def make(ce: CrossEngageEmulator | None = None, **settings) -> CrossEngageSink:
        values = {"api_key": API_KEY, "base_url": (ce or emulator).base_url, **settings}
        sink = CrossEngageSink(settings=CrossEngageSettings(**values), sleep=sleeps.append)
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.close()


def deliver(sink: CrossEngageSink, events: list[Event], tag: str = "batch") -> list[Outcome]:
    sink.submit(events, tag)
    return sink.flush()


# -- delivery -----------------------------------------------------------------------------


def test_delivers_exactly_the_submitted_events_one_user_per_request(emulator, make_sink):
    events = events_for("A", 120) + events_for("B", 1) + events_for("C", 50) + events_for("d@example.com", 2)
    sink = make_sink()

    outcomes = deliver(sink, events, tag="opens")

    kinds = settle(events, outcomes)
    assert not kinds["rejected"]
    assert not kinds["failed"]
    assert {r.tag for o in outcomes for r in o.delivered} == {"opens"}
    comparison = emulator.compare(events)
    assert comparison.exact, comparison
    assert not comparison.duplicates
    assert Counter(emulator.batches) == Counter(
        {
            (("id", "A"), 50): 2,
            (("id", "A"), 20): 1,
            (("id", "B"), 1): 1,
            (("id", "C"), 50): 1,
            (("email", "d@example.com"), 2): 1,
        }
    )
    assert emulator.violations == []
    assert sink.stats.requests == emulator.requests == 6
    assert not any(o.ambiguous for o in outcomes)


def test_max_events_per_request_is_a_setting(emulator, make_sink):
    events = events_for("A", 25)

    settle(events, deliver(make_sink(max_events_per_request=10), events))

    assert sorted(n for _identity, n in emulator.batches) == [5, 10, 10]
    assert emulator.compare(events).exact


def test_nothing_submitted_sends_nothing(emulator, make_sink):
    sink = make_sink()
    sink.submit([], "empty")

    assert sink.flush() == []
    assert emulator.requests == 0


# -- retries and ambiguity --------------------------------------------------------------------


def test_server_errors_are_retried_with_backoff_then_delivered(emulator, make_sink, sleeps):
    emulator.add_faults("500", "503")
    events = events_for("A", 3)
    sink = make_sink(concurrency=1)

    kinds = settle(events, deliver(sink, events))

    assert len(kinds["delivered"]) == 3
    assert emulator.requests == 3
    assert emulator.compare(events).exact
    assert sink.stats.retries == 2
    assert len(sleeps) == 2
    assert all(0 < s <= 1.0 for s in sleeps)  # jittered backoff: 0.25..0.5, then 0.5..1


def test_429_is_retried_after_the_retry_after_header(emulator, make_sink, sleeps):
    emulator.add_faults("429:7")
    events = events_for("A", 2)
    sink = make_sink()

    settle(events, deliver(sink, events))

    assert sleeps == [7.0]
    assert sink.stats.throttled == 1
    assert emulator.compare(events).exact


def test_connection_dropped_before_processing_is_retried_without_duplicate(emulator, make_sink):
    emulator.add_faults("drop-before")
    events = events_for("A", 4)
    sink = make_sink()

    outcomes = deliver(sink, events)

    assert len(settle(events, outcomes)["delivered"]) == 4
    assert emulator.requests == 2
    comparison = emulator.compare(events)
    assert comparison.exact
    assert not comparison.duplicates
    # The client cannot tell this drop from the one below, so it is still counted as ambiguous.
    assert [o.ambiguous for o in outcomes] == [True]


def test_connection_dropped_after_processing_is_ambiguous_and_duplicates(emulator, make_sink):
    emulator.add_faults("drop-after")
    events = events_for("A", 4)
    sink = make_sink()

    outcomes = deliver(sink, events)

    assert len(settle(events, outcomes)["delivered"]) == 4
    comparison = emulator.compare(events)
    assert not comparison.missing
    assert sum(comparison.duplicates.values()) == 8  # all four, twice: visible, and counted
    assert [o.ambiguous for o in outcomes] == [True]
    assert sink.stats.ambiguous == 1


def test_timeout_after_sending_is_retried_and_ambiguous(emulator, make_sink):
    emulator.add_faults("delay:5")
    events = events_for("A", 2)
    sink = make_sink(timeout=0.2)

    outcomes = deliver(sink, events)

    assert len(settle(events, outcomes)["delivered"]) == 2
    assert outcomes[0].ambiguous
    assert sink.stats.ambiguous == 1
    assert sum(emulator.compare(events).duplicates.values()) == 4


def test_exhausted_retries_fail_the_events_and_open_the_circuit(emulator, make_sink, sleeps):
    emulator.add_faults("503", "503", "503")  # a fourth request would succeed
    first = events_for("A", 3) + events_for("B", 2) + events_for("C", 1)
    sink = make_sink(concurrency=1, retries=3)

    outcomes = deliver(sink, first)
    later = events_for("D", 2)
    outcomes_later = deliver(sink, later)

    kinds = settle(first, outcomes)
    assert len(kinds["failed"]) == 6
    assert not kinds["delivered"]
    assert len(settle(later, outcomes_later)["failed"]) == 2
    assert emulator.requests == 3  # one request's retries; the rest were never sent
    assert emulator.accepted == []
    assert len(sleeps) == 2
    errors = [o.error for o in outcomes + outcomes_later]
    assert "failed 3 times" in errors[0]
    assert all(e and e.startswith("not sent:") for e in errors[1:])


def test_unexpected_status_fails_and_names_the_base_url_setting(emulator, make_sink):
    events = events_for("A", 2) + events_for("B", 1)
    sink = make_sink(emulator, base_url=emulator.base_url + "/v9", concurrency=1)

    outcomes = deliver(sink, events)

    assert len(settle(events, outcomes)["failed"]) == 3
    assert "HTTP 404" in outcomes[0].error
    assert "MSGEVENTS_CROSSENGAGE_BASE_URL" in outcomes[0].error
    assert emulator.requests == 1


def test_an_internal_error_fails_the_unsettled_events_and_stops_sending(emulator, make_sink, monkeypatch):
    events = events_for("A", 2) + events_for("B", 3)
    sink = make_sink(concurrency=1)
    monkeypatch.setattr(sink, "_send", lambda body, outcome: 1 / 0)

    outcomes = deliver(sink, events)

    assert len(settle(events, outcomes)["failed"]) == 5
    assert all("internal error: ZeroDivisionError" in (o.error or "") for o in outcomes)
    assert emulator.requests == 0


# -- rejections and authentication -----------------------------------------------------------


def test_400_isolates_the_offending_event_and_delivers_the_rest(make_sink):
    activated = [e.value for e in EventType if e is not EventType.DELIVERED]
    with CrossEngageEmulator(api_key=API_KEY, activated=activated) as ce:
        good = events_for("A", 2) + events_for("A", 2, start=3)
        bad = events_for("A", 1, event=EventType.DELIVERED, start=2)[0]
        events = [*good[:2], bad, *good[2:]]

        outcomes = deliver(make_sink(ce), events)

        kinds = settle(events, outcomes)
        assert set(kinds["delivered"]) == {ledger_key(e) for e in good}
        [(receipt, event, reason)] = [r for o in outcomes for r in o.rejected]
        assert (receipt.key, event) == (ledger_key(bad), bad)
        assert "UNKNOWN_VALUE" in reason
        assert "'Message Delivered' is not activated in the tenant" in reason
        assert ce.requests == 1 + 5  # the batch, then each event alone
        assert ce.compare(good).exact
        assert ce.violations == []


def test_400_on_a_single_event_is_rejected_without_resending(make_sink):
    with CrossEngageEmulator(api_key=API_KEY, activated=["Message Sent"]) as ce:
        events = events_for("A", 1, event=EventType.VIEWED)

        kinds = settle(events, deliver(make_sink(ce), events))

        assert len(kinds["rejected"]) == 1
        assert ce.requests == 1


def test_refused_key_raises_auth_error_naming_the_variable_not_the_key(make_sink, emulator):
    with CrossEngageEmulator(api_key="the-right-key") as ce:
        events = events_for("A", 2) + events_for("B", 2) + events_for("C", 2)
        sink = make_sink(ce, concurrency=1)
        sink.submit(events, "batch")

        with pytest.raises(AuthError) as refused:
            sink.flush()

        message = str(refused.value)
        assert "HTTP 401" in message
        assert "MSGEVENTS_CROSSENGAGE_API_KEY" in message
        assert API_KEY not in message
        assert ce.requests == 1  # never retried; nothing more sent
        outcomes = sink.poll()  # still reported, so the pipeline can keep them pending
        assert len(settle(events, outcomes)["failed"]) == 6
        assert all(API_KEY not in (o.error or "") for o in outcomes)


# -- concurrency, memory, connections, rate ------------------------------------------------------


def test_concurrency_and_queued_bodies_are_bounded(emulator, make_sink):
    events = [e for i in range(20) for e in events_for(f"user{i}", 2)]  # 20 bodies
    sink = make_sink(concurrency=4)
    emulator.pause()
    submitting = threading.Thread(target=sink.submit, args=(events, "batch"))
    submitting.start()
    try:
        wait_until(lambda: emulator.in_flight == 4 and sink._todo.qsize() == 8, "4 in flight, 8 queued")
        assert submitting.is_alive()  # 12 of 20 bodies taken: submit() blocks for the rest
    finally:
        emulator.resume()
        submitting.join()

    settle(events, sink.flush())
    assert emulator.max_concurrent == 4
    assert emulator.compare(events).exact


def test_outcomes_are_yielded_while_send_waits(make_sink):
    with CrossEngageEmulator(api_key=API_KEY, latency=0.05) as ce:
        sink = make_sink(ce, concurrency=2)
        handed: list[tuple[threading.Thread, list[Outcome]]] = []
        events = [e for i in range(20) for e in events_for(f"user{i}", 1)]

        # 20 bodies, 6 fit in flight and queued: send() waits for 14 requests, yielding meanwhile
        for outcome in sink.send(events, "batch"):
            handed.append((threading.current_thread(), [outcome]))
        during_submit = [o for _thread, outcomes in handed for o in outcomes]
        rest = sink.flush()

        assert during_submit  # acknowledged before submit() returned (14 requests ≥ 0.35 s)
        assert {thread for thread, _outcomes in handed} == {threading.current_thread()}
        handed_over = [o for _thread, outcomes in handed for o in outcomes]
        assert len(settle(events, handed_over + rest)["delivered"]) == 20


def test_concurrency_one_sends_one_request_at_a_time(make_sink):
    with CrossEngageEmulator(api_key=API_KEY, latency=0.01) as ce:
        events = [e for i in range(6) for e in events_for(f"user{i}", 1)]

        settle(events, deliver(make_sink(ce, concurrency=1), events))

        assert ce.max_concurrent == 1
        assert ce.requests == 6


def test_connections_are_reused(emulator, make_sink):
    events = [e for i in range(30) for e in events_for(f"user{i}", 1)]

    settle(events, deliver(make_sink(concurrency=3), events))

    assert emulator.requests == 30
    assert emulator.connections <= 3


def test_token_bucket_paces_acquisitions():
    now = [100.0]
    waits: list[float] = []
    bucket = TokenBucket(rate=10, clock=lambda: now[0], sleep=waits.append)

    for _ in range(5):
        bucket.acquire()
    assert waits == pytest.approx([0.1, 0.2, 0.3, 0.4])  # each caller waits for its own slot

    now[0] += 10  # long idle: the bucket refills to its capacity (1), not to 100
    waits.clear()
    bucket.acquire()
    bucket.acquire()
    assert waits == pytest.approx([0.1])


def test_rate_limit_paces_every_attempt_retries_included(emulator, make_sink):
    emulator.add_faults("503")
    events = events_for("A", 1) + events_for("B", 1)
    sink = make_sink(rate_limit=1000)

    settle(events, deliver(sink, events))

    assert sink.bucket is not None
    assert sink.bucket.acquired == emulator.requests == 3


# -- settings, identity, registration -----------------------------------------------------------


def test_missing_api_key_names_the_variable():
    with pytest.raises(ConfigError, match="MSGEVENTS_CROSSENGAGE_API_KEY"):
        CrossEngageSink.from_target(None)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CONCURRENCY", "0"),
        ("CONCURRENCY", "65"),
        ("MAX_EVENTS_PER_REQUEST", "51"),
        ("BASE_URL", "ftp://api.crossengage.io"),
        ("BASE_URL", "api.crossengage.io"),
        ("RATE_LIMIT", "0"),
        ("TIMEOUT", "-1"),
        ("RETRIES", "0"),
    ],
)
def test_invalid_settings_name_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv("MSGEVENTS_CROSSENGAGE_API_KEY", API_KEY)
    monkeypatch.setenv(f"MSGEVENTS_CROSSENGAGE_{variable}", value)

    with pytest.raises(ConfigError, match=f"MSGEVENTS_CROSSENGAGE_{variable}") as invalid:
        CrossEngageSink.from_target(None)
    assert API_KEY not in str(invalid.value)


@pytest.mark.parametrize("key", ["ce-key-123 456", "ce-key-123\r\nX-Evil: 1", "ce-key-ä123456"])
def test_an_api_key_no_header_can_carry_is_a_config_error_not_shown(monkeypatch, key):
    monkeypatch.setenv("MSGEVENTS_CROSSENGAGE_API_KEY", key)

    with pytest.raises(ConfigError, match="invalid setting: MSGEVENTS_CROSSENGAGE_API_KEY") as invalid:
        CrossEngageSink.from_target(None)
    assert key.strip() not in str(invalid.value)


def test_a_target_is_refused(monkeypatch):
    monkeypatch.setenv("MSGEVENTS_CROSSENGAGE_API_KEY", API_KEY)

    with pytest.raises(ConfigError, match="takes no target"):
        CrossEngageSink.from_target("https://api.crossengage.io")


def test_settings_come_from_env_and_dotenv_ignoring_others(monkeypatch, tmp_path: Path):
    (tmp_path / ".env").write_text(
        f"MSGEVENTS_CROSSENGAGE_API_KEY={API_KEY}\n"
        "MSGEVENTS_CROSSENGAGE_CONCURRENCY=16\n"
        "MSGEVENTS_EPISERVER_CLIENT_ID=123\n"
        "MSGEVENTS_CROSSENGAGE_SOMETHING_ELSE=1\n"
    )
    monkeypatch.setenv("MSGEVENTS_CROSSENGAGE_BASE_URL", "https://eu.crossengage.example/")

    with CrossEngageSink.from_target(None) as sink:
        assert sink.settings.concurrency == 16
        assert sink.settings.base_url == "https://eu.crossengage.example"
        assert sink.url == "https://eu.crossengage.example/events"
        assert sink.settings.max_events_per_request == 50
        assert sink.settings.rate_limit is None


def test_key_names_the_tenant_never_the_api_key(emulator, make_sink):
    sink = make_sink()
    same_tenant = make_sink()
    other_tenant = make_sink(api_key="sk-live-another-tenant")

    assert sink.key.startswith(f"crossengage:{emulator.base_url}#")
    assert len(sink.key.rsplit("#", 1)[1]) == 12
    assert sink.key == same_tenant.key != other_tenant.key
    assert API_KEY not in sink.key
    assert sink.description == f"CrossEngage {emulator.base_url}"
    assert sink.secret_values() == [API_KEY]
    assert API_KEY in secrets_known()  # registered for redaction
    assert API_KEY not in repr(sink.settings)


def test_registered_through_the_sink_hook_and_entry_point():
    registry = Registry()
    registry.add_module(crossengage, name="sink:crossengage")

    assert registry.sinks == {"crossengage": CrossEngageSink}
    assert load_sink("crossengage") is CrossEngageSink


def test_api_key_never_appears_in_logs_or_errors(emulator, make_sink, caplog):
    caplog.set_level(logging.DEBUG)
    emulator.add_faults("429:1", "drop-after", "503")
    events = events_for("A", 3) + events_for("B", 60)
    outcomes = deliver(make_sink(concurrency=2), events)
    with CrossEngageEmulator(api_key="another-key") as refusing:
        sink = make_sink(refusing)
        sink.submit(events, "batch")
        with pytest.raises(AuthError) as refused:
            sink.flush()
    with CrossEngageEmulator(api_key=API_KEY, fault_rates={"500": 1.0}) as failing:
        failed = deliver(make_sink(failing, retries=2), events)

    assert caplog.records  # the DEBUG lines were captured
    texts = [caplog.text, str(refused.value), *(o.error or "" for o in outcomes + failed)]
    assert all(API_KEY not in text for text in texts)
    assert any("crossengage POST" in r.getMessage() for r in caplog.records)
