"""A broken --input file is a file error, not a pile of bad records.

Uses the fixture provider ``fake`` (its reader: msgevents.inputs, batches of 5).
What was read before the fault is delivered, the file and the reason are in the
report and the summary, the other files are still read, the run ends with exit
code 4, nothing of the unread rest is quarantined, and re-running after a fix
delivers nothing twice.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from msgevents.pipeline import CollectOptions, Collector
from msgevents.provider import load_settings
from msgevents.sinks.feed import FeedSink

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def provider(fake_plugins):
    import msgevents_fake

    return lambda: msgevents_fake.FakeProvider(load_settings(msgevents_fake.FakeSettings))


def lines(first: int, count: int) -> str:
    at = NOW - timedelta(hours=1)
    return "".join(
        json.dumps({"id": i, "kind": "sent", "email": f"user{i}@example.com", "ts": at.timestamp() + i})
        + "\n"
        for i in range(first, first + count)
    )


def run(provider, tmp_path: Path, *inputs: Path):
    options = CollectOptions(state_path=tmp_path / "state" / "state.db", inputs=list(inputs))
    return Collector(provider(), FeedSink(str(tmp_path / "feeds")), options).run()


def delivered_ids(tmp_path: Path) -> list[str]:
    rows = []
    for path in sorted((tmp_path / "feeds").glob("event_history_*.json")):
        rows.extend(json.loads(path.read_text()))
    return [row["email"] for row in rows]


def test_a_truncated_gzip_delivers_what_was_read_reports_the_file_and_exits_4(provider, tmp_path):
    text = lines(0, 2000)
    whole = gzip.compress(text.encode())
    cut = tmp_path / "dump-cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    other = tmp_path / "other.jsonl"
    other.write_text(lines(5000, 3))

    report = run(provider, tmp_path, cut, other)

    assert report.exit_code == 4
    assert report.outcome == "incomplete"
    assert [item["file"] for item in report.file_errors] == [str(cut)]
    assert "truncated" in report.file_errors[0]["reason"]
    assert report.as_dict()["file_errors"] == report.file_errors
    summary = report.summary()
    assert "file error" in summary
    assert str(cut) in summary
    assert "truncated" in summary
    sent = delivered_ids(tmp_path)
    read_from_cut = [e for e in sent if int(e[4:].split("@")[0]) < 5000]
    assert 0 < len(read_from_cut) < 2000  # what was read before the fault, in order
    assert read_from_cut == [f"user{i}@example.com" for i in range(len(read_from_cut))]
    assert [e for e in sent if e not in read_from_cut] == [f"user{i}@example.com" for i in range(5000, 5003)]
    assert report.unmapped == 0
    assert report.quarantine_file is None

    # the fixed file: only what was not delivered yet goes out
    fixed = tmp_path / "dump-fixed.jsonl.gz"
    fixed.write_bytes(whole)
    again = run(provider, tmp_path, fixed, other)

    assert again.exit_code == 0
    assert again.file_errors == []
    assert again.total("already_delivered") == len(read_from_cut) + 3
    final = delivered_ids(tmp_path)
    assert len(final) == len(set(final)) == 2003


def test_a_file_that_is_not_json_at_all_is_a_file_error_with_nothing_quarantined(provider, tmp_path):
    csv = tmp_path / "export.jsonl"
    csv.write_text("id;kind;email\n" + "".join(f"{i};sent;u{i}@example.com\n" for i in range(50)))
    good = tmp_path / "good.jsonl"
    good.write_text(lines(0, 4))

    report = run(provider, tmp_path, csv, good)

    assert report.exit_code == 4
    assert "is not JSON" in report.file_errors[0]["reason"]
    assert report.total("delivered") == 4
    assert report.unmapped == 0
    assert report.quarantine_file is None


def test_a_bad_line_inside_json_lines_is_still_quarantined_and_the_run_is_done(provider, tmp_path):
    path = tmp_path / "dump.jsonl"
    path.write_text(lines(0, 3) + "{broken\n" + lines(3, 3))

    report = run(provider, tmp_path, path)

    assert report.exit_code == 0
    assert report.file_errors == []
    assert report.total("delivered") == 6
    assert report.unmapped == 1
    (entry,) = [json.loads(line) for line in Path(report.quarantine_file).read_text().splitlines()]
    assert entry["source"] == f"{path}:4"
