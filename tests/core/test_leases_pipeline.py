"""Runs and the sink's lease, on both backends: alone a run takes no claims; a second run
arriving mid-run gets the first to hand the lease over, and every event reaches the feed
exactly once (msgevents.state.claims)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import write_records

from msgevents.events import Event
from msgevents.pipeline import CollectOptions, Collector
from msgevents.provider import Record, load_settings
from msgevents.run import claims as run_claims
from msgevents.sink import Outcome, ledger_key
from msgevents.sinks.feed import FeedSink
from msgevents.state import StateStore
from msgevents.state.claiming import Claiming
from msgevents.state.claims import Claims

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def fake(fake_plugins, monkeypatch):
    import msgevents_fake

    monkeypatch.setenv("MSGEVENTS_FAKE_NOW", str(NOW.timestamp()))
    return msgevents_fake.FakeProvider(load_settings(msgevents_fake.FakeSettings))


@pytest.fixture
def claimed(monkeypatch) -> list[int]:
    """How many keys each claim insert of any run in this process asked for."""
    sizes: list[int] = []
    take = Claims.take

    def counting(self: Claims, tx: Any, sink_id: int, run_id: int, keys: Sequence[bytes]) -> set[bytes]:
        sizes.append(len(keys))
        return take(self, tx, sink_id, run_id, keys)

    monkeypatch.setattr(Claims, "take", counting)
    return sizes


def records(numbers: range) -> list[dict]:
    return [
        {
            "id": i,
            "kind": "sent",
            "email": f"user{i}@example.com",
            "ts": (NOW - timedelta(hours=1, minutes=i)).timestamp(),
        }
        for i in numbers
    ]


def fed(directory: Path) -> Counter[str]:
    files = directory.glob("event_history_*.json")
    return Counter(row["email"] for path in files for row in json.loads(path.read_text()))


class SlowFeed(FeedSink):
    """A feed sink that takes a while per batch, so another run can start in between."""

    def send(self, events: Sequence[Event], tag: Any = None) -> Iterator[Outcome]:
        time.sleep(0.05)
        return super().send(events, tag)


def run(provider, sink: FeedSink, state, path: Path, **options: Any):
    return Collector(provider, sink, CollectOptions(state_path=state, inputs=[path], **options)).run()


def lease_holder(state, sink: FeedSink) -> int | None:
    store = StateStore.open(state)
    try:
        return store.claiming.leases.holder(store.sink_id(sink.key))  # type: ignore[arg-type]
    finally:
        store.close()


def test_a_run_alone_takes_no_claims(fake, tmp_path, state_location, claimed):
    rows = records(range(12))
    sink = FeedSink(str(tmp_path / "feeds"))
    report = run(fake, sink, state_location, write_records(tmp_path / "in.jsonl", rows), chunk_size=5)
    assert report.exit_code == 0
    assert report.events["Message Sent"]["delivered"] == 12
    assert sum(claimed) == 0  # three batches, not one key claimed
    assert lease_holder(state_location, sink) is None  # the lease ended with the run
    assert fed(tmp_path / "feeds") == Counter(r["email"] for r in rows)


def test_a_second_run_arriving_mid_run_gets_the_lease_handed_over_and_each_event_goes_once(
    fake, tmp_path, state_location, claimed, monkeypatch
):
    handed_over: list[int] = []
    hand_over = Claiming.hand_over

    def recording(self: Claiming, sink_id: int, run_id: int, inflight: Any) -> None:
        if self.holds_lease(sink_id, run_id) and self.leases.holder(sink_id) == run_id:
            handed_over.append(run_id)  # a holder giving its lease up, not a run's end
        hand_over(self, sink_id, run_id, inflight)

    monkeypatch.setattr(Claiming, "hand_over", recording)
    first_rows, second_rows = records(range(100)), records(range(50, 150))
    first_path = write_records(tmp_path / "first.jsonl", first_rows)
    second_path = write_records(tmp_path / "second.jsonl", second_rows)
    reports: dict[str, Any] = {}

    def first() -> None:
        sink = SlowFeed(str(tmp_path / "feeds"))
        reports["first"] = run(fake, sink, state_location, first_path, chunk_size=5, part="first")

    thread = threading.Thread(target=first)
    thread.start()
    sink = SlowFeed(str(tmp_path / "feeds"))
    deadline = time.monotonic() + 30
    while lease_holder(state_location, sink) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lease_holder(state_location, sink) is not None  # the first run is alone, mid-run
    reports["second"] = run(fake, sink, state_location, second_path, chunk_size=5, part="second")
    thread.join(60)
    first_report, second_report = reports["first"], reports["second"]
    assert first_report.exit_code == 0
    assert second_report.exit_code == 0
    assert fed(tmp_path / "feeds") == Counter(f"user{i}@example.com" for i in range(150))  # once each
    assert handed_over == [first_report.run_id]  # the first run handed the lease over, mid-run
    assert sum(claimed) > 0  # from the handover on, both claimed per key
    delivered = sum(r.events["Message Sent"]["delivered"] for r in (first_report, second_report))
    assert delivered == 150
    assert lease_holder(state_location, sink) is None


@pytest.mark.parametrize("prompt", [True, False], ids=["holder-hands-over-at-once", "holder-between-batches"])
def test_events_a_lease_holder_has_in_flight_are_deferred_then_found_delivered(
    fake, tmp_path, state_location, monkeypatch, prompt
):
    """The second run asks for the lease and waits for the handover; the holder's events in
    flight are its claims then (deferred, found delivered at the end). A holder that takes
    longer than the wait (between batches): the whole batch is deferred, and settled the same way."""
    monkeypatch.setattr(run_claims, "HANDOVER_WAIT", 5.0 if prompt else 0.2)
    rows = records(range(6))
    path = write_records(tmp_path / "in.jsonl", rows)
    sink = FeedSink(str(tmp_path / "feeds"))
    held = [ledger_key(e) for r in rows[:3] for e in fake.map_record(Record("file", r, "test"))]
    ready = threading.Event()

    def holder() -> None:  # another process alone on the sink: its own connection, in its own thread
        store = StateStore.open(state_location)
        sink_id = store.sink_id(sink.key)
        assert sink_id is not None
        run_id = store.start_run("fake", "acct-1", "feed", "backfill")
        presence = store.claiming.hold_presence(run_id)
        assert store.claiming.take_lease(sink_id, run_id)
        assert store.claiming.keep_lease(sink_id, run_id, set(), len(held))  # sends rows 0..2
        ready.set()
        time.sleep(0 if prompt else 1.0)
        deadline = time.monotonic() + 30
        while store.claiming.keep_lease(sink_id, run_id, set(held), 0):  # its next batches
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert store.claims.holders(sink_id, held) == {run_id}  # handed over: its keys are claims
        time.sleep(0.2)
        store.acknowledge(sink_id, delivered=held)
        store.claiming.release_run_claims(run_id)
        presence.release()
        store.close()

    thread = threading.Thread(target=holder)
    thread.start()
    assert ready.wait(30)
    report = run(fake, sink, state_location, path)
    thread.join(30)
    assert report.exit_code == 0
    assert report.claimed_elsewhere == (3 if prompt else 6)  # its keys in flight, or the whole batch
    assert report.events["Message Sent"]["delivered"] == 3
    assert report.events["Message Sent"]["already_delivered"] == 3
    assert fed(tmp_path / "feeds") == Counter(f"user{i}@example.com" for i in range(3, 6))
