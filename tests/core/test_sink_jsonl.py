"""The JSON Lines sink (``msgevents.sinks.jsonl.JsonlSink``): to a file and to stdout.

Covers one canonical event per line (internal fields included, lossless),
appending across runs, receipts acknowledged with their batch tag, the sink
key, and a write failure reported as failed (nothing acknowledged).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from msgevents.errors import ConfigError
from msgevents.formats import event_from_jsonl
from msgevents.sink import ledger_key
from msgevents.sinks.jsonl import JsonlSink


@pytest.fixture
def sinks():
    opened: list[JsonlSink] = []

    def make(target: str) -> JsonlSink:
        sink = JsonlSink(target)
        sink.open(None)  # the jsonl sink keeps no journal
        opened.append(sink)
        return sink

    yield make
    for sink in opened:
        sink.close()


def test_events_go_to_a_file_one_per_line(sinks, tmp_path, sample_events):
    path = tmp_path / "out" / "events.jsonl"
    sink = sinks(str(path))
    sink.submit(sample_events[:2], "opens")
    sink.submit(sample_events[2:], "clicks")
    outcomes = sink.poll() + sink.flush()
    sink.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [event_from_jsonl(json.loads(line)) for line in lines] == sample_events
    assert json.loads(lines[0])["provider"] == "test"  # internal fields included
    assert "event_id" in json.loads(lines[0])
    receipts = [r for o in outcomes for r in o.delivered]
    assert [r.key for r in receipts] == [ledger_key(e) for e in sample_events]
    assert [r.tag for r in receipts] == ["opens"] * 2 + ["clicks"] * 4
    assert [r.event_type for r in receipts] == [e.event for e in sample_events]
    assert all(o.failed == [] for o in outcomes)


def test_a_second_run_appends(sinks, tmp_path, make_event):
    path = tmp_path / "events.jsonl"
    first = sinks(str(path))
    first.submit([make_event(user_id="FIRST")], "a")
    first.close()
    second = sinks(str(path))
    second.submit([make_event(user_id="SECOND")], "b")
    second.close()
    assert [json.loads(line)["user_id"] for line in path.read_text().splitlines()] == ["FIRST", "SECOND"]


def test_events_go_to_stdout(sinks, capsys, sample_events):
    sink = sinks("-")
    sink.submit(sample_events, 7)
    [outcome] = sink.poll()
    sink.close()
    captured = capsys.readouterr()
    assert captured.err == ""
    lines = captured.out.splitlines()
    assert [event_from_jsonl(json.loads(line)) for line in lines] == sample_events
    assert [r.tag for r in outcome.delivered] == [7] * len(sample_events)


def test_keys_name_the_destination(tmp_path):
    assert JsonlSink("-").key == "jsonl:-"
    assert JsonlSink("out.jsonl").key == f"jsonl:{tmp_path / 'out.jsonl'}"  # absolute


def test_a_target_is_required():
    with pytest.raises(ConfigError, match="jsonl:PATH"):
        JsonlSink(None)


def test_a_path_that_cannot_be_opened_is_a_config_error(tmp_path):
    (tmp_path / "dir.jsonl").mkdir()
    sink = JsonlSink(str(tmp_path / "dir.jsonl"))
    with pytest.raises(ConfigError, match=r"dir\.jsonl"):
        sink.open(None)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_write_failure_acknowledges_nothing(sinks, make_event):
    sink = sinks("/dev/full")  # every write fails: "No space left on device"
    events = [make_event(user_id=f"U{i}") for i in range(3)]
    sink.submit(events[:2], "a")
    sink.submit(events[2:], "b")
    outcomes = sink.poll()
    assert [r for o in outcomes for r in o.delivered] == []
    assert [(r.key, r.tag, e) for o in outcomes for r, e in o.failed] == [
        (ledger_key(events[0]), "a", events[0]),
        (ledger_key(events[1]), "a", events[1]),
        (ledger_key(events[2]), "b", events[2]),
    ]
    assert all("No space left on device" in o.error for o in outcomes)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_close_after_a_reported_write_failure_does_not_raise(make_event):
    sink = JsonlSink("/dev/full")
    sink.open(None)
    sink.submit([make_event()], "a")
    [outcome] = sink.poll()
    assert len(outcome.failed) == 1
    sink.close()  # the failure was reported already; closing must not raise it again
