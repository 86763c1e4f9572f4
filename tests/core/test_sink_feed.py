"""The Data Feed sink (``msgevents.sinks.feed.FeedSink``) with a real state-store journal.

Covers the file format byte for byte (``fixtures/feed_file.json``), file
names (``event_history_YYYYMMDDHHMMSS.json``, the next free second when one is
taken), rotation at 100,000 physical lines including ``[`` and ``]`` and the
``MSGEVENTS_FEED_MAX_LINES`` / ``MSGEVENTS_FEED_ZIP`` settings, the atomic
hand-over (hidden temporary file, recorded as pending, then renamed),
reconciling what a killed run left, write failures (nothing acknowledged,
nothing left behind) and memory: the sink keeps receipts, not events.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import tracemalloc
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from msgevents.errors import ConfigError
from msgevents.sink import Outcome, ledger_key
from msgevents.sinks import feed, feed_directory, spill
from msgevents.sinks.feed import FeedSettings, FeedSink
from msgevents.state import StateStore

FIXTURES = Path(__file__).parent / "fixtures"
FROZEN = datetime(2024, 5, 1, 12, 0, 0, 654321, tzinfo=UTC)
NAME = re.compile(r"event_history_\d{14}\.json")


class FrozenDatetime(datetime):
    """``datetime`` whose ``now()`` is always :data:`FROZEN`: every file is written "in the same second"."""

    @classmethod
    def now(cls, tz=None):
        return FROZEN if tz is None else FROZEN.astimezone(tz)


@pytest.fixture
def frozen_clock(monkeypatch):
    monkeypatch.setattr(feed_directory, "datetime", FrozenDatetime)


@pytest.fixture
def feeds(tmp_path: Path) -> Path:
    return tmp_path / "feeds"


@pytest.fixture
def store(tmp_path: Path):
    opened = StateStore.open(tmp_path / "state" / "state.db")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def journal_store(state_location):
    """A state on each backend, for the feed-file journal: pending files settled on either alike."""
    opened = StateStore.open(state_location)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def open_sink(feeds, store):
    """``open_sink(**settings)``: a feed sink on ``feeds`` opened with the store's journal."""
    sinks: list[FeedSink] = []

    def make(target: Path | None = None, **settings) -> FeedSink:
        sink = FeedSink(str(target or feeds), FeedSettings(**settings) if settings else None)
        sink.open(store.journal(store.sink_id(sink.key)))
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.close()


def journal_of(store: StateStore, sink: FeedSink):
    return store.journal(store.sink_id(sink.key))


def deliver(sink: FeedSink, events, tag="batch") -> list[Outcome]:
    sink.submit(events, tag)
    return sink.poll() + sink.flush()


def final_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.startswith("event_history_"))


def hidden_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.startswith("."))


def line_count(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


# -- format and names ------------------------------------------------------------------------------


def test_a_feed_file_byte_for_byte(open_sink, feeds, sample_events, frozen_clock):
    sink = open_sink()
    outcomes = deliver(sink, sample_events)
    [path] = final_files(feeds)
    assert path.name == "event_history_20240501120000.json"
    assert path.read_bytes() == (FIXTURES / "feed_file.json").read_bytes()
    assert sink.files == [path]
    [outcome] = outcomes
    assert [r.key for r in outcome.delivered] == [ledger_key(e) for e in sample_events]
    assert outcome.failed == []
    assert outcome.file_id is not None


def test_a_feed_file_is_a_json_array_with_one_object_per_line(open_sink, feeds, cheap_events):
    deliver(open_sink(), list(cheap_events(0, 25)))
    [path] = final_files(feeds)
    assert NAME.fullmatch(path.name)
    objects = json.loads(path.read_bytes())  # the whole file is valid JSON
    assert [o["id"] for o in objects] == [f"U{i:08d}" for i in range(25)]
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""  # ends with a newline
    lines = lines[:-1]
    assert lines[0] == b"["
    assert lines[-1] == b"]"
    assert len(lines) == 27
    for line, obj in zip(lines[1:-1], objects, strict=True):
        assert json.loads(line.rstrip(b",")) == obj
    assert all(line.endswith(b"},") for line in lines[1:-2])
    assert lines[-2].endswith(b"}")


def test_the_name_is_the_utc_second_of_writing(open_sink, feeds, make_event):
    before = datetime.now(UTC).replace(microsecond=0)
    deliver(open_sink(), [make_event()])
    after = datetime.now(UTC)
    [path] = final_files(feeds)
    stamp = datetime.strptime(path.name, "event_history_%Y%m%d%H%M%S.json").replace(tzinfo=UTC)
    assert before <= stamp <= after


def test_files_written_in_the_same_second_take_the_next_free_seconds(
    open_sink, feeds, cheap_events, frozen_clock
):
    outcomes = deliver(open_sink(max_lines=3), list(cheap_events(0, 3)))  # one event per file
    assert [p.name for p in final_files(feeds)] == [
        "event_history_20240501120000.json",
        "event_history_20240501120001.json",
        "event_history_20240501120002.json",
    ]
    assert len({o.file_id for o in outcomes}) == 3


def test_names_already_in_the_directory_are_skipped(open_sink, feeds, make_event, frozen_clock):
    feeds.mkdir()
    (feeds / "event_history_20240501120000.json").write_text("[\n]\n")
    (feeds / "event_history_20240501120001.json.zip").write_bytes(b"not ours")
    deliver(open_sink(), [make_event()])
    assert (feeds / "event_history_20240501120000.json").read_text() == "[\n]\n"
    assert (feeds / "event_history_20240501120001.json.zip").read_bytes() == b"not ours"
    assert json.loads((feeds / "event_history_20240501120002.json").read_bytes())[0]["id"] == "ABC12345"


def test_a_second_run_in_the_same_second_does_not_overwrite(open_sink, feeds, make_event, frozen_clock):
    deliver(open_sink(), [make_event(user_id="FIRST")])
    deliver(open_sink(), [make_event(user_id="SECOND")])
    first, second = final_files(feeds)
    assert (first.name, second.name) == (
        "event_history_20240501120000.json",
        "event_history_20240501120001.json",
    )
    assert json.loads(first.read_bytes())[0]["id"] == "FIRST"
    assert json.loads(second.read_bytes())[0]["id"] == "SECOND"


def test_concurrent_runs_into_one_directory_never_replace_each_others_files(
    open_sink, feeds, tmp_path, make_event, monkeypatch, frozen_clock
):
    """Run 1 has chosen its name; run 2 (another provider, own state) finishes before run 1 renames."""

    def second_run():
        store = StateStore.open(tmp_path / "other-state" / "state.db")
        sink = FeedSink(str(feeds))
        sink.open(store.journal(store.sink_id(sink.key)))
        deliver(sink, [make_event(user_id="SECOND")])
        sink.close()
        store.close()

    first = open_sink()
    first.submit([make_event(user_id="FIRST")], "a")
    rename = os.rename
    others: list[threading.Thread] = []

    def rename_while_the_other_run_finishes(source, target):
        if not others:
            others.append(threading.Thread(target=second_run))
            others[0].start()
            others[0].join(timeout=0.5)  # unlocked, it finishes here and takes the same name
        rename(source, target)

    monkeypatch.setattr(os, "rename", rename_while_the_other_run_finishes)
    first.flush()
    others[0].join()
    paths = final_files(feeds)
    assert sorted(json.loads(p.read_bytes())[0]["id"] for p in paths) == ["FIRST", "SECOND"]
    assert [p.name for p in paths] == [
        "event_history_20240501120000.json",
        "event_history_20240501120001.json",
    ]


def test_nothing_submitted_writes_no_file(open_sink, feeds):
    sink = open_sink()
    assert sink.flush() == []
    assert list(feeds.iterdir()) == []


# -- rotation --------------------------------------------------------------------------------------


def test_rotation_at_100000_physical_lines(open_sink, feeds, store, cheap_events):
    sink = open_sink()
    pool = list(cheap_events(0, 10_000))  # 25 rounds of the same 10,000 distinct events: cheap
    outcomes: list[Outcome] = []
    for _ in range(25):
        sink.submit(pool, "opens")
        outcomes += sink.poll()
    outcomes += sink.flush()
    paths = final_files(feeds)
    # 99,998 objects + "[" + "]" = 100,000 lines; the rest in the third file
    assert [line_count(p) for p in paths] == [100_000, 100_000, 50_006]
    ids = [obj["id"] for p in paths for obj in json.loads(p.read_bytes())]
    assert ids == [f"U{i % 10_000:08d}" for i in range(250_000)]
    assert [len(o.delivered) for o in outcomes] == [99_998, 99_998, 50_004]
    assert all(r.tag == "opens" for o in outcomes for r in o.delivered)
    # each file is recorded (pending until the pipeline commits it) with its events
    pending = journal_of(store, sink).pending_files()
    assert [p.file_id for p in pending] == [o.file_id for o in outcomes]
    assert [p.final_path for p in pending] == [str(p) for p in paths]
    assert store.known(store.sink_id(sink.key), [ledger_key(e) for e in pool]) == {
        ledger_key(e) for e in pool
    }


def test_max_lines_setting_lowers_the_limit(open_sink, feeds, cheap_events, monkeypatch):
    monkeypatch.setenv("MSGEVENTS_FEED_MAX_LINES", "10")
    deliver(open_sink(), list(cheap_events(0, 20)))
    paths = final_files(feeds)
    assert [line_count(p) for p in paths] == [10, 10, 6]
    assert all(line_count(p) <= 10 for p in paths)
    assert sum(len(json.loads(p.read_bytes())) for p in paths) == 20


@pytest.mark.parametrize("value", ["100001", "2", "lots"])
def test_an_invalid_max_lines_setting_is_a_config_error(feeds, monkeypatch, value):
    monkeypatch.setenv("MSGEVENTS_FEED_MAX_LINES", value)
    with pytest.raises(ConfigError, match="MSGEVENTS_FEED_"):
        FeedSink(str(feeds))


def test_settings_are_read_from_dotenv(open_sink, feeds, cheap_events, tmp_path):
    (tmp_path / ".env").write_text("MSGEVENTS_FEED_MAX_LINES=4\nMSGEVENTS_OTHER_THING=1\n")
    deliver(open_sink(), list(cheap_events(0, 4)))
    assert [line_count(p) for p in final_files(feeds)] == [4, 4]


# -- atomic hand-over ------------------------------------------------------------------------------


def test_nothing_is_visible_before_the_rename(open_sink, feeds, cheap_events):
    sink = open_sink()
    sink.submit(list(cheap_events(0, 3)), "t")
    assert final_files(feeds) == []
    assert sink.poll() == []  # nothing acknowledged yet
    [partial] = hidden_files(feeds)
    assert partial.name.startswith(".partial-")
    assert not partial.read_bytes().endswith(b"]\n")  # incomplete (perhaps still buffered)
    [outcome] = sink.flush()
    assert len(outcome.delivered) == 3
    assert hidden_files(feeds) == []
    [path] = final_files(feeds)
    assert len(json.loads(path.read_bytes())) == 3


def test_the_file_is_complete_and_recorded_as_pending_before_it_is_renamed(
    open_sink, feeds, store, cheap_events, monkeypatch
):
    sink = open_sink()
    events = list(cheap_events(0, 4))
    seen = []
    rename = os.rename

    def watching_rename(source, target):
        pending = journal_of(store, sink).pending_files()
        known = store.known(store.sink_id(sink.key), [ledger_key(e) for e in events])
        seen.append((Path(source).read_bytes(), pending, len(known), Path(target).exists()))
        rename(source, target)

    monkeypatch.setattr(os, "rename", watching_rename)
    [outcome] = deliver(sink, events)
    [(content, pending, known, target_existed)] = seen
    assert content.endswith(b"\n]\n")
    assert len(json.loads(content)) == 4
    assert [(p.file_id, p.final_path) for p in pending] == [(outcome.file_id, str(final_files(feeds)[0]))]
    assert known == 4
    assert target_existed is False


def test_zip_setting_writes_one_archive_holding_the_file_with_the_same_base_name(
    open_sink, feeds, sample_events, monkeypatch, frozen_clock
):
    monkeypatch.setenv("MSGEVENTS_FEED_ZIP", "1")
    [outcome] = deliver(open_sink(), sample_events)
    assert [p.name for p in feeds.iterdir()] == ["event_history_20240501120000.json.zip"]
    with zipfile.ZipFile(feeds / "event_history_20240501120000.json.zip") as archive:
        assert archive.namelist() == ["event_history_20240501120000.json"]
        assert archive.read("event_history_20240501120000.json") == (FIXTURES / "feed_file.json").read_bytes()
    assert len(outcome.delivered) == len(sample_events)


def test_zip_files_rotate_too(open_sink, feeds, cheap_events, monkeypatch, frozen_clock):
    monkeypatch.setenv("MSGEVENTS_FEED_ZIP", "1")
    deliver(open_sink(max_lines=4, zip=True), list(cheap_events(0, 5)))
    names = sorted(p.name for p in feeds.iterdir())
    assert names == [
        "event_history_20240501120000.json.zip",
        "event_history_20240501120001.json.zip",
        "event_history_20240501120002.json.zip",
    ]
    for name in names:
        with zipfile.ZipFile(feeds / name) as archive:
            assert archive.namelist() == [name.removesuffix(".zip")]


# -- reconciling a killed run ----------------------------------------------------------------------


def test_a_pending_file_that_was_renamed_is_committed(feeds, journal_store, make_event):
    sink = FeedSink(str(feeds))
    sink_id = journal_store.sink_id(sink.key)
    journal = journal_store.journal(sink_id)
    keys = [ledger_key(make_event(user_id=f"U{i}")) for i in range(3)]
    feeds.mkdir()
    final = feeds / "event_history_20240501120000.json"
    final.write_text("[\n]\n")  # the rename happened, then the run was killed
    journal.record_pending_file(str(feeds / ".partial-1-0.json"), str(final), keys)
    sink.open(journal)
    assert journal.pending_files() == []
    assert journal_store.known(sink_id, keys) == set(keys)  # kept: not sent again
    assert final.exists()
    sink.close()


def test_a_pending_file_never_renamed_is_deleted_and_its_events_forgotten(feeds, journal_store, make_event):
    sink = FeedSink(str(feeds))
    sink_id = journal_store.sink_id(sink.key)
    journal = journal_store.journal(sink_id)
    keys = [ledger_key(make_event(user_id=f"U{i}")) for i in range(3)]
    feeds.mkdir()
    tmp = feeds / ".partial-1-0.json"
    tmp.write_text("[\n{}\n]\n")  # written and recorded, killed before the rename
    journal.record_pending_file(str(tmp), str(feeds / "event_history_20240501120000.json"), keys)
    sink.open(journal)
    assert journal.pending_files() == []
    assert journal_store.known(sink_id, keys) == set()  # forgotten: sent again
    assert list(feeds.iterdir()) == []
    sink.close()


def test_a_pending_file_whose_name_another_run_took_is_not_taken_for_delivered(
    feeds, journal_store, make_event
):
    """Killed before the rename; another run then renamed its own file to that name: resend."""
    sink = FeedSink(str(feeds))
    journal = journal_store.journal(journal_store.sink_id(sink.key))
    keys = [ledger_key(make_event(user_id=f"U{i}")) for i in range(3)]
    feeds.mkdir()
    tmp = feeds / ".partial-1-0.json"
    tmp.write_text("[\n{}\n]\n")
    final = feeds / "event_history_20240501120000.json"
    journal.record_pending_file(str(tmp), str(final), keys)
    final.write_text('[\n{"other": 1}\n]\n')  # the other run's file
    sink.open(journal)
    assert journal.pending_files() == []
    assert journal_store.known(journal.sink_id, keys) == set()  # forgotten: sent again
    assert not tmp.exists()
    assert final.read_text() == '[\n{"other": 1}\n]\n'  # untouched
    sink.close()


def test_pending_files_are_settled_under_the_directory_lock(feeds, store, make_event, tmp_path):
    """Another run between recording a file as pending and renaming it holds the directory lock."""
    sink = FeedSink(str(feeds))
    journal = store.journal(store.sink_id(sink.key))
    keys = [ledger_key(make_event(user_id="U1"))]
    feeds.mkdir()
    tmp = feeds / ".partial-1-0.json"
    tmp.write_text("[\n{}\n]\n")
    journal.record_pending_file(str(tmp), str(feeds / "event_history_20240501120000.json"), keys)
    released = tmp_path / "released"
    holder = subprocess.Popen(
        [sys.executable, "-c", DIRECTORY_HOLDER, str(feeds), str(tmp), str(released)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        sink.open(journal)  # returns only once the holder let go
        assert released.read_text() == "untouched while locked"
    finally:
        holder.kill()
        holder.wait()
    assert journal.pending_files() == []
    sink.close()


DIRECTORY_HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(0.5)
with open(sys.argv[3], "w") as out:
    out.write("untouched while locked" if os.path.exists(sys.argv[2]) else "settled while locked")
"""


def test_a_renamed_file_an_uploader_moved_away_is_still_delivered(feeds, journal_store, make_event):
    """Renamed, then picked up by an uploader before the commit: the events are not sent again."""
    sink = FeedSink(str(feeds))
    journal = journal_store.journal(journal_store.sink_id(sink.key))
    keys = [ledger_key(make_event(user_id=f"U{i}")) for i in range(3)]
    feeds.mkdir()
    journal.record_pending_file(str(feeds / ".partial-1-0.json"), str(feeds / "event_history_1.json"), keys)
    sink.open(journal)  # neither the temporary nor the final file is there
    assert journal.pending_files() == []
    assert journal_store.known(journal.sink_id, keys) == set(keys)
    sink.close()


def test_a_finished_temporary_file_nobody_holds_is_left_to_its_own_run(feeds, journal_store):
    """Complete but not renamed: its run may hold it as pending; only a run of that state decides."""
    feeds.mkdir()
    host = feed_directory.HOST
    finished = feeds / f".partial-{host}-4545-7f00-1.json"
    finished.write_text("[\n{}\n]\n")
    archive = feeds / f".partial-{host}-4545-7f00-2.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("event_history_20240501120000.json", "[\n]\n")
    half_written = feeds / f".partial-{host}-4545-7f00-3.json"
    half_written.write_text("[\n{},\n{")
    sink = FeedSink(str(feeds))
    journal = journal_store.journal(journal_store.sink_id(sink.key))
    assert journal.owner != "4545"
    own = feeds / f".partial-{host}-{journal.owner}-99-7f00-4.json"  # finished, never pending
    own.write_text("[\n{}\n]\n")
    sink.open(journal)
    sink.close()
    assert sorted(p.name for p in feeds.iterdir()) == sorted([finished.name, archive.name])


def test_temporary_files_of_killed_runs_are_deleted_those_being_written_kept(feeds, store):
    """A run killed before its file was pending left a .partial- file nobody locks: it goes."""
    feeds.mkdir()
    host = feed_directory.HOST
    stale = [feeds / f".partial-{host}-4242-7f00-3.json", feeds / f".partial-{host}-4242-7f00-4.zip"]
    live = feeds / f".partial-{host}-4343-7f00-0.json"
    elsewhere = feeds / ".partial-0badc0de-4444-7f00-5.json"  # another host's writer
    other = feeds / "notes.txt"
    for path in (*stale, live, elsewhere, other):
        path.write_text("[\n")
    writer = subprocess.Popen(  # another run, still writing: it holds the file's flock
        [sys.executable, "-c", WRITER, str(live)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "locked"
        sink = FeedSink(str(feeds))
        sink.open(store.journal(store.sink_id(sink.key)))
        sink.close()
    finally:
        writer.kill()
        writer.wait()
    assert sorted(p.name for p in feeds.iterdir()) == sorted(p.name for p in (live, elsewhere, other))


WRITER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)
"""


def test_a_file_being_written_is_locked_until_it_is_renamed(open_sink, feeds, cheap_events, monkeypatch):
    """The writer's flock covers the whole life of the temporary file, rename included."""
    sink = open_sink()
    seen = []
    rename = os.rename

    def checking_rename(source, target):
        seen.append(feed_directory.unlocked(Path(source)))
        rename(source, target)

    monkeypatch.setattr(feed.os, "rename", checking_rename)
    sink.submit(list(cheap_events(0, 5)), "t")
    assert not feed_directory.unlocked(next(feeds.glob(".partial-*")))
    sink.flush()
    sink.close()
    assert seen == [False]
    assert not list(feeds.glob(".partial-*"))


def test_open_creates_the_directory(tmp_path, store):
    target = tmp_path / "a" / "b" / "feeds"
    sink = FeedSink(str(target))
    sink.open(store.journal(store.sink_id(sink.key)))
    assert target.is_dir()
    assert sink.key == f"feed:{target}"
    sink.close()


def test_the_key_is_the_absolute_directory(tmp_path):
    assert FeedSink("feeds").key == f"feed:{tmp_path / 'feeds'}"  # the tests run in tmp_path
    assert FeedSink("feeds").description == str(tmp_path / "feeds")


def test_a_directory_is_required():
    with pytest.raises(ConfigError, match="feed:DIR"):
        FeedSink(None)


# -- failures --------------------------------------------------------------------------------------


def refuse_rename(monkeypatch, after: int = 0):
    """Make ``os.rename`` fail with EACCES after ``after`` successful calls."""
    rename = os.rename
    calls = []

    def failing(source, target):
        calls.append(target)
        if len(calls) > after:
            raise PermissionError(13, "Permission denied")
        rename(source, target)

    monkeypatch.setattr(os, "rename", failing)


def test_a_failed_rename_acknowledges_nothing_and_leaves_nothing(
    open_sink, feeds, store, cheap_events, monkeypatch
):
    sink = open_sink()
    events = list(cheap_events(0, 5))
    refuse_rename(monkeypatch)
    [outcome] = deliver(sink, events)
    assert outcome.delivered == []
    assert [r.key for r, _event in outcome.failed] == [ledger_key(e) for e in events]
    assert [event for _r, event in outcome.failed] == events  # handed back to be parked
    assert str(feeds) in outcome.error
    assert "Permission denied" in outcome.error
    assert list(feeds.iterdir()) == []
    assert journal_of(store, sink).pending_files() == []
    assert store.known(store.sink_id(sink.key), [ledger_key(e) for e in events]) == set()


def test_a_failed_rename_of_a_zip_leaves_nothing(open_sink, feeds, store, cheap_events, monkeypatch):
    sink = open_sink(zip=True)
    refuse_rename(monkeypatch)
    [outcome] = deliver(sink, list(cheap_events(0, 2)))
    assert outcome.delivered == []
    assert list(feeds.iterdir()) == []
    assert journal_of(store, sink).pending_files() == []


def test_a_failed_fsync_acknowledges_nothing(open_sink, feeds, store, cheap_events, monkeypatch):
    sink = open_sink()
    sink.submit(list(cheap_events(0, 2)), "t")

    def failing_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    [outcome] = sink.flush()
    assert outcome.delivered == []
    assert len(outcome.failed) == 2
    assert "Input/output error" in outcome.error
    assert list(feeds.iterdir()) == []
    assert journal_of(store, sink).pending_files() == []


def test_a_failed_directory_fsync_after_the_rename_still_delivers(
    open_sink, feeds, store, cheap_events, monkeypatch
):
    """The file is in place: reporting it failed would park and resend events already delivered."""
    sink = open_sink()
    sink.submit(list(cheap_events(0, 2)), "t")

    def failing(directory):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(feed_directory, "fsync_directory", failing)
    [outcome] = sink.flush()
    assert len(outcome.delivered) == 2
    assert outcome.failed == []
    assert len(final_files(feeds)) == 1


def test_a_directory_that_vanished_fails_every_event_once(open_sink, feeds, cheap_events):
    sink = open_sink()
    feeds.rmdir()
    feeds.write_text("a file where the directory was")
    events = list(cheap_events(0, 3))
    outcomes = deliver(sink, events)  # must not raise
    assert [r for o in outcomes for r in o.delivered] == []
    assert [(r.key, e) for o in outcomes for r, e in o.failed] == [(ledger_key(e), e) for e in events]
    assert all("cannot write" in o.error for o in outcomes)


def test_a_failure_mid_batch_reports_every_event_exactly_once(
    open_sink, feeds, store, cheap_events, monkeypatch
):
    sink = open_sink(max_lines=5)  # three events per file
    events = list(cheap_events(0, 10))
    refuse_rename(monkeypatch, after=1)  # the first file goes through, the second does not
    outcomes = deliver(sink, events)
    delivered = [r.key for o in outcomes for r in o.delivered]
    failed = [r.key for o in outcomes for r, _e in o.failed]
    keys = [ledger_key(e) for e in events]
    assert delivered == keys[:3]
    assert sorted(failed) == sorted(keys[3:])
    assert [e for o in outcomes for _r, e in o.failed] == events[3:]  # handed back, none re-read
    assert len(final_files(feeds)) == 1
    assert hidden_files(feeds) == []
    assert store.known(store.sink_id(sink.key), keys) == set(keys[:3])
    # the sink stays down: later events fail at once, with the events
    more = list(cheap_events(10, 12))
    [later] = deliver(sink, more)
    assert [e for _r, e in later.failed] == more


def test_close_without_flush_removes_the_temporary_file(open_sink, feeds, cheap_events):
    sink = open_sink()
    sink.submit(list(cheap_events(0, 2)), "t")
    assert hidden_files(feeds)
    sink.close()
    assert list(feeds.iterdir()) == []


# -- memory ----------------------------------------------------------------------------------------


def test_the_sink_keeps_receipts_not_events(open_sink, cheap_events):
    """Writing 200,000 events peaks far below what holding them would take."""
    total, chunk = 200_000, 5_000
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        held = list(cheap_events(0, 20_000))
        per_event = (tracemalloc.get_traced_memory()[0] - base) / len(held)
        del held
    finally:
        tracemalloc.stop()
    sink = open_sink()
    delivered = 0
    tracemalloc.start()
    try:
        for start in range(0, total, chunk):
            sink.submit(list(cheap_events(start, start + chunk)), "t")
            delivered += sum(len(o.delivered) for o in sink.poll())
        delivered += sum(len(o.delivered) for o in sink.flush())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert delivered == total
    holding_them_all = per_event * total
    assert peak < holding_them_all / 4, (peak, holding_them_all)


def test_the_events_of_a_file_that_failed_come_back_in_bounded_batches(
    open_sink, feeds, cheap_events, monkeypatch
):
    """A file of 2,500 events that cannot be renamed: its events are handed back (to be parked),
    read back from an anonymous spill file a batch at a time, never all at once."""
    sink = open_sink()
    events = list(cheap_events(0, 2_500))
    refuse_rename(monkeypatch)
    sink.submit(events, "t")
    batches = sink.finish()
    first = next(batches)
    assert [e for _r, e in first.failed] == events[: spill.PARK_BATCH]
    rest = list(batches)
    assert [e for o in [first, *rest] for _r, e in o.failed] == events
    assert all(len(o.failed) <= spill.PARK_BATCH for o in rest)
    assert list(feeds.iterdir()) == []  # the spill is not in the feed directory


def test_events_the_spill_cannot_give_back_fail_without_them(open_sink, feeds, cheap_events, monkeypatch):
    """If the spill could not be written, the failed events are reported without their event."""
    sink = open_sink()
    events = list(cheap_events(0, 4))

    def broken_add(self, batch):
        self.broken = "No space left on device"

    monkeypatch.setattr(spill.Spill, "add", broken_add)
    refuse_rename(monkeypatch)
    outcomes = deliver(sink, events)
    assert [r.key for o in outcomes for r, _e in o.failed] == [ledger_key(e) for e in events]
    assert [e for o in outcomes for _r, e in o.failed] == [None] * 4
