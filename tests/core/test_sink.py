"""The sink contract (``msgevents.sink``): ledger keys, receipts, outcomes, stats and the base class.

Covers the 20-byte ledger key (the event's second, then a hash per provider
and event id; deterministic),
receipts carrying the batch tag, independent outcome lists, thread-safe
delivery counters, and the defaults of :class:`Sink`.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from msgevents.events import Event, EventType
from msgevents.sink import DeliveryStats, Outcome, Receipt, Sink, ledger_key, time_prefix


def test_ledger_key_is_the_time_and_16_bytes_of_hash_and_deterministic(make_event):
    key = ledger_key(make_event())  # 2022-01-11T00:00:00Z: 1,641,859,200 s since 1970
    assert isinstance(key, bytes)
    assert len(key) == 20
    assert key[:4] == (1_641_859_200).to_bytes(4, "big") == time_prefix(datetime(2022, 1, 11, tzinfo=UTC))
    assert ledger_key(make_event()) == key


def test_ledger_keys_sort_by_the_events_time(make_event):
    late = datetime(2022, 1, 11, 23, 30, tzinfo=timezone(timedelta(hours=-2)))  # 01:30 UTC on the 12th
    keys = [
        ledger_key(make_event(event_id="z", timestamp=datetime(2022, 1, 10, 23, 59, 59, tzinfo=UTC))),
        ledger_key(make_event(event_id="a", timestamp=datetime(2022, 1, 11, 0, 0, 0, 999, tzinfo=UTC))),
        ledger_key(make_event(event_id="m", timestamp=late)),
    ]
    assert sorted(keys) == keys
    assert keys[1][:4] == time_prefix(datetime(2022, 1, 11, tzinfo=UTC))  # whole seconds


def test_time_prefix_is_clamped_to_four_bytes():
    assert time_prefix(datetime(1960, 1, 1, tzinfo=UTC)) == b"\x00\x00\x00\x00"
    assert time_prefix(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)) == b"\x00\x00\x00\x01"
    assert time_prefix(datetime(2200, 1, 1, tzinfo=UTC)) == b"\xff\xff\xff\xff"


def test_ledger_key_depends_on_provider_and_event_id_only(make_event):
    base = make_event(event_id="e-1")
    assert ledger_key(make_event(event_id="e-1", user_id="OTHER", channel="SMS")) == ledger_key(base)
    assert ledger_key(make_event(event_id="e-2")) != ledger_key(base)
    assert ledger_key(make_event(event_id="e-1", provider="other")) != ledger_key(base)


def test_ledger_key_of_an_event_timed_by_its_receipt_ignores_the_time(make_event):
    """Two receipts of one event (a repeated callback) differ in their receipt time only: one key."""
    first = make_event(event_id="SM1:sent", receipt_time=True)
    again = make_event(
        event_id="SM1:sent", receipt_time=True, timestamp=datetime(2023, 5, 1, 8, 0, 7, tzinfo=UTC)
    )
    assert ledger_key(first) == ledger_key(again)
    assert ledger_key(first)[:4] == bytes(4)  # sorts first; pruned by acknowledgement time
    assert ledger_key(first)[4:] == ledger_key(make_event(event_id="SM1:sent"))[4:]


def test_ledger_key_of_equal_native_events_is_equal(make_event):
    assert ledger_key(make_event(user_id=None, email="Jane@Example.com")) == ledger_key(
        make_event(user_id=None, email="jane@example.com")
    )


def test_ledger_key_is_the_documented_hash_and_survives_copies(make_event):
    """The key is cached on the (frozen) event; copies, rebuilt and unpickled events agree."""
    event = make_event(event_id="e-1")
    expected = time_prefix(event.timestamp) + hashlib.blake2b(b"test\x1fe-1", digest_size=16).digest()
    assert ledger_key(event) == expected
    assert ledger_key(event) is ledger_key(event)  # computed once
    assert "_ledger_key" not in event.__dict__
    assert "_ledger_key" not in event.model_dump()
    assert ledger_key(pickle.loads(pickle.dumps(event))) == expected
    assert ledger_key(Event.model_construct(**event.__dict__)) == expected
    changed = event.model_copy(update={"event_id": "e-2"})
    assert ledger_key(changed) == expected[:4] + hashlib.blake2b(b"test\x1fe-2", digest_size=16).digest()


def test_receipt_of_an_event_carries_key_type_and_tag(make_event):
    event = make_event(event="Message Clicked")
    receipt = Receipt.of(event, ("opens", 3))
    assert receipt == (ledger_key(event), EventType.CLICKED, ("opens", 3))
    assert receipt.key == ledger_key(event)
    assert receipt.event_type is EventType.CLICKED
    assert receipt.tag == ("opens", 3)


def test_outcomes_do_not_share_their_lists():
    first, second = Outcome(), Outcome()
    first.delivered.append("x")
    first.failed.append("y")
    assert second.delivered == []
    assert second.failed == []
    assert (second.ambiguous, second.error, second.file_id) == (False, None, None)


def test_delivery_stats_add_up_across_threads():
    stats = DeliveryStats()

    def work():
        for _ in range(2000):
            stats.add(requests=1, retries=2)
        stats.add(files=1, throttled=3, ambiguous=1)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = {"requests": 16000, "retries": 32000, "throttled": 24, "ambiguous": 8, "files": 8}
    assert stats.as_dict().items() >= expected.items()


def test_delivery_stats_refuse_unknown_counters():
    with pytest.raises(AttributeError):
        DeliveryStats().add(bogus=1)


class MinimalSink(Sink):
    name = "minimal"
    help = "minimal:TARGET - for tests"

    @property
    def key(self) -> str:
        return f"minimal:{self.target}"


def test_base_sink_defaults():
    sink = MinimalSink.from_target("x")
    assert isinstance(sink, MinimalSink)
    assert sink.target == "x"
    assert sink.description == "minimal:x"
    assert sink.describe_target() == {"sink": "minimal", "destination": "minimal:x"}
    assert sink.secret_values() == []
    assert sink.poll() == []
    assert sink.flush() == []
    assert sink.stats.as_dict()["requests"] == 0
    sink.open(None)
    sink.close()


def test_base_sink_requires_key_and_submit():
    class Bare(Sink):
        name = "bare"

    sink = Bare(None)
    with pytest.raises(NotImplementedError):
        _ = sink.key
    with pytest.raises(NotImplementedError):
        sink.submit([])


def test_send_and_finish_return_what_submit_poll_and_flush_report():
    """The pipeline delivers through send()/finish(): the base class builds them on
    submit(), poll() and flush(), so a sink that only implements those works unchanged."""
    submitted, polled, flushed = Outcome(error="polled"), Outcome(error="flushed"), []

    class Queued(MinimalSink):
        def submit(self, events, tag=None):
            submitted.error = f"{len(events)} {tag}"
            flushed.append(Outcome(error="flushed"))

        def poll(self):
            return [submitted, polled] if flushed else []

        def flush(self):
            out, flushed[:] = list(flushed), []
            return out

    sink = Queued("x")
    sent = sink.send([], "t")
    assert submitted.error == "polled"  # lazy: nothing is submitted before it is consumed
    assert list(sent) == [submitted, polled]
    assert submitted.error == "0 t"
    assert [o.error for o in sink.finish()] == ["flushed"]
    assert list(sink.finish()) == []
