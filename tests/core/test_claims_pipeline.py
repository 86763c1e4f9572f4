"""A run and the claims of another live run of the same account, on both backends.

The other run is a second connection to the same state holding claims and its presence
lock, as a concurrent backfill part would. The run under test waits for those events
at its end: delivered by the other run meanwhile → already delivered; the other run
found dead → its claims released and the events sent by this run.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import write_records

from msgevents.pipeline import CollectOptions, Collector
from msgevents.provider import Record, load_settings
from msgevents.sink import ledger_key
from msgevents.sinks.feed import FeedSink
from msgevents.state import StateStore

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def fake(fake_plugins, monkeypatch):
    import msgevents_fake

    monkeypatch.setenv("MSGEVENTS_FAKE_NOW", str(NOW.timestamp()))
    return msgevents_fake.FakeProvider(load_settings(msgevents_fake.FakeSettings))


def records(n: int) -> list[dict]:
    return [
        {
            "id": i,
            "kind": "sent",
            "email": f"user{i}@example.com",
            "ts": (NOW - timedelta(hours=1, minutes=i)).timestamp(),
        }
        for i in range(n)
    ]


def feed_rows(directory: Path) -> list[dict]:
    return [row for path in directory.glob("event_history_*.json") for row in json.loads(path.read_text())]


def hold_claims(state, sink: FeedSink, provider, rows: list[dict]):
    """Another live run claiming the events of ``rows``: (its store, sink id, presence, keys)."""
    keys = [ledger_key(e) for r in rows for e in provider.map_record(Record("file", r, "test"))]
    other = StateStore.open(state)
    sink_id = other.sink_id(sink.key)
    run_id = other.start_run("fake", "acct-1", "feed", "backfill")
    presence = other.claiming.hold_presence(run_id)
    won, _ = other.claiming.claim(sink_id, run_id, keys)
    assert len(won) == len(keys)
    return other, sink_id, presence, keys


def run_input(provider, sink: FeedSink, state, path: Path):
    return Collector(provider, sink, CollectOptions(state_path=state, inputs=[path])).run()


def test_events_another_run_holds_are_waited_for_and_not_sent_when_it_delivers_them(
    fake, tmp_path, state_location
):
    rows = records(6)
    path = write_records(tmp_path / "in.jsonl", rows)
    sink = FeedSink(str(tmp_path / "feeds"))
    other, sink_id, presence, keys = hold_claims(state_location, sink, fake, rows[:3])

    def the_other_run_delivers() -> None:
        store = StateStore.open(state_location)  # its own connection, in its own thread
        store.acknowledge(sink_id, delivered=keys)
        store.close()

    timer = threading.Timer(0.5, the_other_run_delivers)
    timer.start()
    try:
        report = run_input(fake, sink, state_location, path)
    finally:
        timer.join()
        presence.release()
        other.close()
    assert report.exit_code == 0
    assert report.claimed_elsewhere == 3
    assert report.events["Message Sent"]["delivered"] == 3
    assert report.events["Message Sent"]["already_delivered"] == 3
    assert sorted(row["email"] for row in feed_rows(tmp_path / "feeds")) == [
        f"user{i}@example.com" for i in range(3, 6)
    ]


def test_events_of_a_run_that_died_holding_them_are_sent_by_the_run_that_waited(
    fake, tmp_path, state_location
):
    rows = records(6)
    path = write_records(tmp_path / "in.jsonl", rows)
    sink = FeedSink(str(tmp_path / "feeds"))
    other, _sink_id, presence, _keys = hold_claims(state_location, sink, fake, rows[:3])
    timer = threading.Timer(0.5, presence.release)  # the holder dies: its presence lock is free
    timer.start()
    try:
        report = run_input(fake, sink, state_location, path)
    finally:
        timer.join()
        other.close()
    assert report.exit_code == 0
    assert report.claims_released == 3
    assert report.events["Message Sent"]["delivered"] == 6
    assert sorted(row["email"] for row in feed_rows(tmp_path / "feeds")) == sorted(r["email"] for r in rows)
