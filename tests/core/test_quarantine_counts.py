"""The summary's quarantine counts are true: each record counted as quarantined has its own line.

A bad record repeated inside one file (or read twice in one run) is quarantined
each time it is read, with its own line and source; only a record an *earlier*
run quarantined is counted apart, as such, and not written again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from msgevents.pipeline import CollectOptions, Collector
from msgevents.provider import load_settings
from msgevents.sinks.feed import FeedSink


@pytest.fixture
def provider(fake_plugins):
    import msgevents_fake

    return lambda: msgevents_fake.FakeProvider(load_settings(msgevents_fake.FakeSettings))


def run(provider, tmp_path: Path, path: Path):
    options = CollectOptions(state_path=tmp_path / "state" / "state.db", inputs=[path])
    return Collector(provider(), FeedSink(str(tmp_path / "feeds")), options).run()


def quarantine_lines(report) -> list[dict]:
    if report.quarantine_file is None:
        return []
    return [json.loads(line) for line in Path(report.quarantine_file).read_text().splitlines()]


def test_a_bad_line_repeated_in_one_file_counts_as_many_lines_as_are_written(provider, tmp_path):
    broken = {name: json.dumps({"id": name, "kind": "broken", "email": "a@example.com", "ts": 1715000000})
              for name in "ABC"}  # fmt: skip
    good = json.dumps({"id": 1, "kind": "sent", "email": "b@example.com", "ts": 1715000000})
    order = ["A", "B", "A", "A", "C", "A"]
    path = tmp_path / "dump.jsonl"
    path.write_text("\n".join([good, *(broken[n] for n in order), "{not json", "{not json"]) + "\n")

    first = run(provider, tmp_path, path)

    written = quarantine_lines(first)
    assert first.unmapped == len(written) == len(order) + 2
    assert first.quarantined_before == 0  # a fresh state: nothing from earlier runs
    assert [entry["source"] for entry in written] == [f"{path}:{n}" for n in range(2, 10)]
    assert "from earlier runs" not in first.summary()
    assert f"unmappable records quarantined: {len(order) + 2}" in first.summary()

    second = run(provider, tmp_path, path)

    assert second.unmapped == len(order) + 2
    assert second.quarantined_before == len(order) + 2  # all of them quarantined by the first run
    assert quarantine_lines(second) == []
    assert f"already in quarantine from earlier runs: {len(order) + 2}" in second.summary()


def test_an_event_read_twice_in_one_run_is_counted_as_such(provider, tmp_path):
    """collected = delivered + duplicates: nothing read goes uncounted."""
    line = json.dumps({"id": 7, "kind": "sent", "email": "c@example.com", "ts": 1715000000})
    other = json.dumps({"id": 8, "kind": "viewed", "email": "c@example.com", "ts": 1715000001})
    path = tmp_path / "dump.jsonl"
    path.write_text("\n".join([line, other, line, line]) + "\n")

    report = run(provider, tmp_path, path)

    assert report.total("collected") == 4
    assert report.total("delivered") == 2
    assert report.duplicates == 2
    assert report.as_dict()["duplicates_in_run"] == 2
    assert "duplicates (read earlier in this run, or pending in the outbox; sent once): 2" in report.summary()
