"""The collection pipeline end to end, in-process: windows, ledger, outbox, quarantine, contract.

Uses the fixture provider ``fake`` (tests/fixtures/plugins/msgevents_fake.py) and
real sinks over a real state: each test that keeps state runs on both backends (``state``:
a SQLite file, a PostgreSQL database).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pg import query
from support import write_records

from msgevents import EventType, Outcome, Receipt, Sink, ledger_key
from msgevents.errors import ConfigError
from msgevents.pipeline import CollectOptions, Collector
from msgevents.processing import replace
from msgevents.provider import load_settings
from msgevents.sinks.feed import FeedSink
from msgevents.state import StateStore
from msgevents.state.location import is_postgres

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def fake(fake_plugins, monkeypatch, tmp_path):
    """A FakeProvider factory reading its API data from data.jsonl, clock pinned at NOW."""
    import msgevents_fake

    data = tmp_path / "data.jsonl"
    data.write_text("")
    monkeypatch.setenv("MSGEVENTS_FAKE_DATA", str(data))
    monkeypatch.setenv("MSGEVENTS_FAKE_NOW", str(NOW.timestamp()))

    def make(**overrides):
        settings = load_settings(msgevents_fake.FakeSettings, **overrides)
        return msgevents_fake.FakeProvider(settings)

    make.data = data
    return make


def ts(moment: datetime) -> float:
    return moment.timestamp()


def record(i: int, kind: str = "sent", stream: str = "alpha", at: datetime | None = None, **extra) -> dict:
    at = at or NOW - timedelta(hours=2, minutes=i % 60)
    return {
        "id": i,
        "stream": stream,
        "kind": kind,
        "email": f"user{i % 7}@example.com",
        "ts": ts(at),
        "mailing": str(100 + i % 3),
        **extra,
    }


def feed_lines(directory: Path) -> list[dict]:
    rows = []
    for path in sorted(directory.glob("event_history_*.json")):
        rows.extend(json.loads(path.read_text()))
    return rows


@pytest.fixture
def state(state_location):
    """The state of the test's runs, once per backend (a SQLite file, a PostgreSQL database)."""
    return state_location


def run(provider, sink, state, **options):
    opts = CollectOptions(state_path=state, **options)
    return Collector(provider, sink, opts).run()


def test_input_run_delivers_quarantines_and_counts(fake, tmp_path, state):
    """An --input run maps every record, quarantines the bad ones with reasons, counts the rest."""
    records = [record(i) for i in range(10)]
    records += [record(20, "viewed"), record(21, "other"), record(22, "broken")]
    path = write_records(tmp_path / "in.jsonl", records)
    with path.open("a") as handle:
        handle.write("{not json\n")
    report = run(fake(), FeedSink(str(tmp_path / "feeds")), state, inputs=[path])

    assert report.exit_code == 0
    assert report.records == 14
    assert report.events["Message Sent"]["delivered"] == 10
    assert report.events["Message Viewed"]["delivered"] == 1
    assert report.not_modelled == {"other": 1}
    assert report.unmapped == 2
    rows = feed_lines(tmp_path / "feeds")
    assert len(rows) == 11
    assert {row["event"] for row in rows} == {"Message Sent", "Message Viewed"}
    entries = [json.loads(line) for line in Path(report.quarantine_file).read_text().splitlines()]
    reasons = sorted(entry["reason"] for entry in entries)
    assert any("broken on purpose" in reason for reason in reasons)
    assert any("bad JSON" in reason for reason in reasons)
    assert all(entry["provider"] == "fake" and entry["kind"] == "mapping" for entry in entries)


def test_second_run_of_the_same_input_delivers_nothing(fake, tmp_path, state):
    path = write_records(tmp_path / "in.jsonl", [record(i) for i in range(25)])
    first = run(fake(), FeedSink(str(tmp_path / "feeds")), state, inputs=[path])
    second = run(fake(), FeedSink(str(tmp_path / "feeds")), state, inputs=[path])
    assert first.total("delivered") == 25
    assert second.total("delivered") == 0
    assert second.total("already_delivered") == 25
    assert len(feed_lines(tmp_path / "feeds")) == 25
    assert len(list((tmp_path / "feeds").glob("event_history_*.json"))) == 1


def test_duplicate_records_within_one_run_are_sent_once(fake, tmp_path, state):
    path = write_records(tmp_path / "in.jsonl", [record(1), record(1), record(2), record(1)])
    report = run(fake(), FeedSink(str(tmp_path / "feeds")), state, inputs=[path])
    assert report.total("collected") == 4
    assert report.total("delivered") == 2
    assert len(feed_lines(tmp_path / "feeds")) == 2


def test_undeclared_event_type_is_rejected_never_delivered(fake, tmp_path, state):
    """The core enforces the declared subset: 'spam' is not declared by the fake provider."""
    path = write_records(tmp_path / "in.jsonl", [record(1), record(2, "spam")])
    report = run(fake(), FeedSink(str(tmp_path / "feeds")), state, inputs=[path])
    assert report.exit_code == 5
    assert report.contract_violations == 1
    rows = feed_lines(tmp_path / "feeds")
    assert [row["event"] for row in rows] == ["Message Sent"]
    entry = json.loads(Path(report.quarantine_file).read_text().splitlines()[0])
    assert entry["kind"] == "contract"
    assert "Message marked_as_spam" in entry["reason"]


def test_live_runs_advance_positions_and_reread_the_restatement_window(fake, tmp_path, monkeypatch, state):
    provider = fake()
    write_records(
        fake.data, [record(i, at=NOW - timedelta(minutes=90) + timedelta(minutes=i)) for i in range(30)]
    )
    first = run(provider, FeedSink(str(tmp_path / "feeds")), state)
    assert first.mode == "live"
    assert first.total("delivered") == 30
    store = StateStore.open(state)
    sink_id = store.sink_id(FeedSink(str(tmp_path / "feeds")).key)
    positions = store.positions("fake", "acct-1", sink_id)
    store.close()
    assert positions == {"alpha": NOW - timedelta(minutes=5), "beta": NOW - timedelta(minutes=5)}

    later = NOW + timedelta(minutes=30)
    monkeypatch.setenv("MSGEVENTS_FAKE_NOW", str(later.timestamp()))
    new = [record(100 + i, at=NOW - timedelta(minutes=20) + timedelta(minutes=i)) for i in range(10)]
    write_records(
        fake.data, [record(i, at=NOW - timedelta(minutes=90) + timedelta(minutes=i)) for i in range(30)] + new
    )
    second = run(fake(), FeedSink(str(tmp_path / "feeds")), state)
    window = second.windows["alpha"]
    assert window["since"] == "2024-05-10T10:55:00Z"  # position - 1 h restatement
    assert window["until"] == "2024-05-10T12:25:00Z"  # now - 5 min settle
    assert second.total("delivered") == 10
    assert second.total("already_delivered") == 5  # 10:55..10:59, re-read in the overlap
    assert len(feed_lines(tmp_path / "feeds")) == 40


def test_backfill_never_moves_the_live_position(fake, tmp_path, state):
    write_records(fake.data, [record(i) for i in range(5)])
    run(fake(), FeedSink(str(tmp_path / "feeds")), state)
    store = StateStore.open(state)
    sink_id = store.sink_id(FeedSink(str(tmp_path / "feeds")).key)
    before = store.positions("fake", "acct-1", sink_id)
    store.close()
    old = [record(50 + i, at=NOW - timedelta(days=3, minutes=i)) for i in range(4)]
    write_records(fake.data, [record(i) for i in range(5)] + old)
    report = run(
        fake(),
        FeedSink(str(tmp_path / "feeds")),
        state,
        since=NOW - timedelta(days=4),
        until=NOW - timedelta(days=2),
    )
    assert report.mode == "backfill"
    assert report.total("delivered") == 4
    store = StateStore.open(state)
    assert store.positions("fake", "acct-1", sink_id) == before
    store.close()


def test_provider_failure_keeps_that_streams_position_and_exits_4(fake, tmp_path, monkeypatch, state):
    write_records(fake.data, [record(i) for i in range(3)] + [record(9, stream="beta")])
    monkeypatch.setenv("MSGEVENTS_FAKE_FAIL_STREAM", "beta")
    report = run(fake(), FeedSink(str(tmp_path / "feeds")), state)
    assert report.exit_code == 4
    assert report.windows["alpha"]["advanced"] is True
    assert report.windows["beta"]["advanced"] is False
    assert any("fake API down" in error for error in report.errors)
    store = StateStore.open(state)
    sink_id = store.sink_id(FeedSink(str(tmp_path / "feeds")).key)
    assert set(store.positions("fake", "acct-1", sink_id)) == {"alpha"}
    store.close()


class FlakySink(Sink):
    """A sink that fails every submission while ``down`` and records what it acknowledged."""

    name = "flaky"

    def __init__(self, target=None, down=False):
        super().__init__(target)
        self.down = down
        self.received: list[str] = []
        self._outcomes: list[Outcome] = []

    @property
    def key(self):
        return "flaky:test"

    def submit(self, events, tag=None):
        if self.down:
            self._outcomes.append(Outcome(failed=[(Receipt.of(e, tag), e) for e in events], error="down"))
        else:
            self.received.extend(e.event_id for e in events)
            self._outcomes.append(Outcome(delivered=[Receipt.of(e, tag) for e in events]))

    def poll(self):
        outcomes, self._outcomes = self._outcomes, []
        return outcomes


def test_undelivered_events_wait_in_the_outbox_and_go_first_next_run(fake, tmp_path, state):
    path = write_records(tmp_path / "in.jsonl", [record(i) for i in range(12)])
    down = FlakySink(down=True)
    first = run(fake(), down, state, inputs=[path])
    assert first.exit_code == 4
    assert first.total("pending") == 12
    assert first.outbox_pending == 12

    up = FlakySink()
    second = run(fake(), up, state, inputs=[write_records(tmp_path / "none.jsonl", [])])
    assert second.exit_code == 0
    assert second.outbox_sent == 12
    assert second.outbox_pending == 0
    assert len(up.received) == len(set(up.received)) == 12

    third = run(fake(), FlakySink(), state, inputs=[path])
    assert third.total("delivered") == 0
    assert third.total("already_delivered") == 12


def test_live_run_with_sink_down_keeps_positions(fake, tmp_path, state):
    write_records(fake.data, [record(i) for i in range(6)])
    report = run(fake(), FlakySink(down=True), state)
    assert report.exit_code == 4
    assert not any(w["advanced"] for w in report.windows.values())
    again = run(fake(), FlakySink(), state)
    assert again.exit_code == 0
    assert again.outbox_sent == 6
    assert again.total("delivered") == 6  # from the outbox; the re-read finds them delivered
    assert all(w["advanced"] for w in again.windows.values())


def snapshot(state) -> object:
    """Everything the state holds: the file's bytes, or every row of every table of the database."""
    if not is_postgres(state):
        return hashlib.sha256(Path(state).read_bytes()).hexdigest()
    tables = query(state, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    return {name: sorted(query(state, f"SELECT * FROM {name}")) for (name,) in tables}


def test_dry_run_leaves_state_and_sink_untouched(fake, tmp_path, state):
    path = write_records(tmp_path / "in.jsonl", [record(i) for i in range(8)])
    run(fake(), FeedSink(str(tmp_path / "feeds")), state, inputs=[path])
    before = snapshot(state)
    more = write_records(tmp_path / "more.jsonl", [record(i) for i in range(12)])
    report = run(fake(), FeedSink(str(tmp_path / "feeds")), state, inputs=[more], dry_run=True)
    assert report.total("already_delivered") == 8
    assert report.total("pending") == 4
    assert report.total("delivered") == 0
    assert snapshot(state) == before
    assert len(feed_lines(tmp_path / "feeds")) == 8


def test_dry_run_without_state_creates_nothing(fake, tmp_path, state):
    path = write_records(tmp_path / "in.jsonl", [record(1)])
    report = run(fake(), FeedSink(str(tmp_path / "feeds")), state, inputs=[path], dry_run=True)
    assert report.total("pending") == 1
    assert not (tmp_path / "state").exists()
    assert not (tmp_path / "feeds").exists()
    if is_postgres(state):
        assert snapshot(state) == {}  # no table created


def test_limit_stops_reading_and_keeps_positions(fake, tmp_path, state):
    write_records(fake.data, [record(i) for i in range(20)])
    report = run(fake(), FeedSink(str(tmp_path / "feeds")), state, limit=7)
    assert report.records == 7
    assert report.total("delivered") == 7
    assert not any(w["advanced"] for w in report.windows.values())


def test_processors_can_resolve_identity_and_drop_events(fake, tmp_path, state):
    def resolve(events, provider):
        return [
            replace(e, user_id="U-" + e.email.split("@")[0], email=None) if e.email else e for e in events
        ]

    def no_views(events, provider):
        return [e for e in events if e.event is not EventType.VIEWED]

    path = write_records(tmp_path / "in.jsonl", [record(1), record(2, "viewed"), record(3)])
    opts = CollectOptions(state_path=state, inputs=[path])
    report = Collector(
        fake(),
        FeedSink(str(tmp_path / "feeds")),
        opts,
        processors=[("resolve", resolve), ("no-views", no_views)],
    ).run()
    assert report.dropped == {"no-views": 1}
    rows = feed_lines(tmp_path / "feeds")
    assert [row["id"] for row in rows] == ["U-user1", "U-user3"]
    assert all("email" not in row for row in rows)


def test_ledger_retention_shorter_than_restatement_is_a_config_error(fake, tmp_path):
    opts = CollectOptions(state_path=tmp_path / "s.db", ledger_retention=timedelta(minutes=30))
    with pytest.raises(ConfigError, match="restatement"):
        Collector(fake(), FeedSink(str(tmp_path / "feeds")), opts)


def test_a_crashing_processor_is_a_plugin_error(fake, tmp_path, state):
    from msgevents.errors import PluginError

    def boom(events, provider):
        raise RuntimeError("lookup service down")

    path = write_records(tmp_path / "in.jsonl", [record(1)])
    opts = CollectOptions(state_path=state, inputs=[path])
    with pytest.raises(PluginError, match="processor 'boom' failed: RuntimeError: lookup service down"):
        Collector(fake(), FeedSink(str(tmp_path / "feeds")), opts, processors=[("boom", boom)]).run()


def test_dropped_counts_only_what_the_processor_removed(fake, tmp_path, state):
    def to_spam(events, provider):  # replaces one event with an undeclared type: a contract violation
        return [replace(events[0], event=EventType.MARKED_AS_SPAM), *events[1:]]

    path = write_records(tmp_path / "in.jsonl", [record(1), record(2)])
    opts = CollectOptions(state_path=state, inputs=[path])
    report = Collector(fake(), FeedSink(str(tmp_path / "feeds")), opts, processors=[("spam", to_spam)]).run()
    assert report.dropped == {}
    assert report.contract_violations == 1
    assert report.exit_code == 5
    assert report.total("delivered") == 1


def test_provider_http_counters_reach_the_report(fake, tmp_path, state):
    provider = fake()
    provider.stats.add(requests=3, retries=2, throttled=1)
    write_records(fake.data, [record(1)])
    report = run(provider, FeedSink(str(tmp_path / "feeds")), state)
    assert report.as_dict()["provider_http"] == {"requests": 3, "retries": 2, "throttled": 1, "ambiguous": 0}
    assert "provider API: 3 requests, 2 retries, 1 throttled" in report.summary()


def test_a_bug_in_the_provider_is_a_plugin_error_and_keeps_positions(fake, tmp_path, monkeypatch, state):
    from msgevents.errors import PluginError

    write_records(fake.data, [record(1), record(2, stream="beta")])
    monkeypatch.setenv("MSGEVENTS_FAKE_CRASH_STREAM", "beta")
    with pytest.raises(
        PluginError, match="provider 'fake' failed while pulling 'beta': RuntimeError: bug"
    ) as info:
        run(fake(), FeedSink(str(tmp_path / "feeds")), state)
    report = info.value.report
    assert report.windows["alpha"]["advanced"] is True
    assert report.windows["beta"]["advanced"] is False


def test_a_run_collects_garbage_less_often_and_restores_the_thresholds(fake, tmp_path, state):
    """Fewer collector passes during a run (a performance setting); the caller's thresholds come back."""
    import gc

    from msgevents.pipeline import GC_THRESHOLDS

    seen = []

    class Watching(FeedSink):
        def submit(self, events, tag=None):
            seen.append(gc.get_threshold())
            super().submit(events, tag)

    path = write_records(tmp_path / "in.jsonl", [record(i) for i in range(3)])
    before = gc.get_threshold()
    gc.set_threshold(800, 11, 12)
    try:
        report = run(fake(), Watching(str(tmp_path / "feeds")), state, inputs=[path])
        assert gc.get_threshold() == (800, 11, 12)
    finally:
        gc.set_threshold(*before)
    assert report.exit_code == 0
    assert seen == [GC_THRESHOLDS]


def test_a_bad_record_read_again_is_not_quarantined_twice(fake, tmp_path, monkeypatch, state):
    """The restatement overlap re-reads bad records; the quarantine holds each one once."""
    recent = NOW - timedelta(minutes=30)  # inside the next run's 1 h restatement overlap
    write_records(fake.data, [record(1, at=recent), record(2, "broken", at=recent)])
    first = run(fake(), FeedSink(str(tmp_path / "feeds")), state)
    monkeypatch.setenv("MSGEVENTS_FAKE_NOW", str((NOW + timedelta(minutes=10)).timestamp()))
    second = run(fake(), FeedSink(str(tmp_path / "feeds")), state)
    assert first.unmapped == second.unmapped == 1
    assert (first.quarantined_before, second.quarantined_before) == (0, 1)
    assert second.quarantine_file is None  # nothing new to quarantine
    lines = Path(first.quarantine_file).read_text().splitlines()
    assert len(lines) == 1


class RejectingSink(FlakySink):
    """Refuses every 'Message Viewed' for good, like a tenant that has not activated it."""

    def submit(self, events, tag=None):
        good = [e for e in events if e.event is not EventType.VIEWED]
        bad = [e for e in events if e.event is EventType.VIEWED]
        self.received.extend(e.event_id for e in good)
        self._outcomes.append(
            Outcome(
                delivered=[Receipt.of(e, tag) for e in good],
                rejected=[(Receipt.of(e, tag), e, '{"field":"event","type":"UNKNOWN_VALUE"}') for e in bad],
            )
        )


def test_events_rejected_earlier_are_reported_as_such_not_as_delivered(fake, tmp_path, state):
    path = write_records(tmp_path / "in.jsonl", [record(1), record(2, "viewed"), record(3, "viewed")])
    first = run(fake(), RejectingSink(), state, inputs=[path])
    second = run(fake(), RejectingSink(), state, inputs=[path])
    assert first.events["Message Viewed"]["rejected"] == 2
    assert second.rejected_before == 2
    assert second.events["Message Viewed"]["already_delivered"] == 0
    assert second.events["Message Sent"]["already_delivered"] == 1
    assert "refused by the sink in earlier runs" in second.summary()


def test_a_run_killed_while_quarantining_quarantines_the_record_again(fake, tmp_path, monkeypatch, state):
    """The state remembers a quarantined record only after its line is written: never lost."""
    from msgevents.quarantine import QuarantineWriter

    path = write_records(tmp_path / "in.jsonl", [record(1), record(2, "broken")])
    original = QuarantineWriter.add

    def killed(self, *args, **kwargs):
        raise KeyboardInterrupt  # stands in for the kill, before anything is written

    monkeypatch.setattr(QuarantineWriter, "add", killed)
    with pytest.raises(KeyboardInterrupt):
        run(fake(), FeedSink(str(tmp_path / "feeds")), state, inputs=[path])
    monkeypatch.setattr(QuarantineWriter, "add", original)

    again = run(fake(), FeedSink(str(tmp_path / "feeds")), state, inputs=[path])

    assert again.quarantined_before == 0
    lines = Path(again.quarantine_file).read_text().splitlines()
    assert [json.loads(line)["record"]["id"] for line in lines] == [2]


def test_quarantine_lines_reach_the_file_before_close(tmp_path):
    """Each line is handed to the OS at once: a kill -9 after the state commit keeps it."""
    from msgevents.quarantine import QuarantineWriter

    quarantine = QuarantineWriter(tmp_path / "q", "fake")
    quarantine.add("mapping", "no identity", stream="alpha", record={"id": 7})

    assert quarantine.path is not None
    assert json.loads(quarantine.path.read_text())["record"] == {"id": 7}
    quarantine.close()


def test_a_provider_error_then_a_sink_down_on_the_last_submission_is_reported_not_a_crash(
    fake, tmp_path, monkeypatch, state
):
    """The reader stops with an error, the last submission finds the sink down: exit by the error."""
    from msgevents.errors import AuthError

    write_records(fake.data, [record(i) for i in range(5)])
    provider = fake()
    pull = provider.pull

    def pull_then_refuse(stream, window):
        yield from pull(stream, window)
        raise AuthError("fake refused the token")

    monkeypatch.setattr(provider, "pull", pull_then_refuse)

    with pytest.raises(AuthError) as error:
        run(provider, FlakySink(down=True), state)

    report = error.value.report
    assert report.outcome == "AuthError"
    assert report.total("pending") == 5
    assert report.outbox_pending == 5


def test_parked_events_acknowledged_meanwhile_are_not_sent_again(fake, tmp_path, state):
    """A feed file renamed just before a kill settles its events into the ledger while copies of
    them wait in the outbox: the next run drops those copies instead of sending them again."""
    path = write_records(tmp_path / "in.jsonl", [record(i) for i in range(6)])
    first = run(fake(), FlakySink(down=True), state, inputs=[path])
    assert first.outbox_pending == 6
    store = StateStore.open(state)
    sink_id = store.sink_id(FlakySink().key)
    parked = [e for page in store.outbox_batches(sink_id, "fake", "acct-1") for _s, e in page]
    from msgevents.formats import event_from_jsonl

    settled = [ledger_key(event_from_jsonl(e)) for e in parked[:4]]
    store.acknowledge(sink_id, delivered=settled)  # what reconciling the renamed file does
    store.close()

    up = FlakySink()
    second = run(fake(), up, state, inputs=[write_records(tmp_path / "none.jsonl", [])])

    assert len(up.received) == 2
    assert second.outbox_sent == 2
    assert second.total("already_delivered") == 4
    assert second.outbox_pending == 0


def test_a_first_live_run_that_does_not_finish_keeps_its_since_for_the_next_run(fake, tmp_path, state):
    """--since of the first live run is where every stream it left without a position starts."""
    since = NOW - timedelta(days=21)
    write_records(fake.data, [record(1, at=NOW - timedelta(days=20)), record(2, at=NOW - timedelta(days=1))])
    first = run(fake(), FlakySink(down=True), state, since=since)
    assert first.exit_code == 4
    assert first.windows["alpha"]["advanced"] is False

    up = FlakySink()
    second = run(fake(), up, state)

    assert second.mode == "live"
    assert second.windows["alpha"]["since"] == since.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(up.received) == 2  # the outbox copies and the re-read: each event once
    refreshed = run(fake(), FlakySink(), state, full_refresh=True)
    assert refreshed.windows["alpha"]["since"] != since.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_events_of_a_feed_file_that_could_not_be_finished_wait_in_the_outbox(
    fake, tmp_path, monkeypatch, state
):
    """--input run, the rename fails: the sink hands the events back and they are parked."""
    from msgevents.sinks import feed

    path = write_records(tmp_path / "in.jsonl", [record(i) for i in range(8)] + [record(99, "broken")])

    def failing_rename(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(feed.os, "rename", failing_rename)
    first = run(fake(), FeedSink(str(tmp_path / "feeds")), state, inputs=[path])
    monkeypatch.undo()

    assert first.exit_code == 4
    assert first.total("pending") == 8
    assert first.outbox_pending == 8
    assert not any("re-run the same --input" in w for w in first.warnings)

    second = run(
        fake(),
        FeedSink(str(tmp_path / "feeds")),
        state,
        inputs=[write_records(tmp_path / "none.jsonl", [])],
    )
    assert second.exit_code == 0
    assert second.outbox_sent == 8
    lines = feed_lines(tmp_path / "feeds")
    assert len(lines) == len({(r["email"], r["timestamp"]) for r in lines}) == 8


def test_a_record_with_text_json_cannot_hold_is_quarantined_not_a_crash(fake, tmp_path, state):
    """A lone surrogate (json.loads accepts "\\ud800") never reaches a sink, and is kept escaped."""
    bad = record(2, email="jo\ud800@example.com")
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(record(1)) + "\n" + json.dumps(bad) + "\n")

    report = run(fake(), FeedSink(str(tmp_path / "feeds")), state, inputs=[path])

    assert report.exit_code == 0
    assert report.total("delivered") == 1
    assert report.unmapped == 1
    (line,) = Path(report.quarantine_file).read_text().splitlines()
    assert "not valid Unicode" in json.loads(line)["reason"]
    assert json.loads(line)["record"]["email"] == r"jo\ud800@example.com"


def test_a_providers_run_warnings_reach_the_report_once_before_close(fake, tmp_path, state):
    """Provider.run_warnings() is read once at the end of a run, before close(), into the warnings."""
    path = write_records(tmp_path / "in.jsonl", [record(i) for i in range(3)])
    provider = fake()
    calls: list[str] = []

    def run_warnings() -> list[str]:
        calls.append("warnings")
        return ["3 records lacked something (see the plugin's README)"]

    provider.run_warnings = run_warnings
    provider.close = lambda: calls.append("close")

    result = run(provider, FeedSink(str(tmp_path / "feeds")), state, inputs=[path])

    assert result.warnings.count("3 records lacked something (see the plugin's README)") == 1
    assert calls == ["warnings", "close"]
    assert "warning: 3 records lacked something" in result.summary()
    assert result.as_dict()["warnings"] == result.warnings
