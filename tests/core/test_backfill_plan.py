"""Planning a backfill: windows of --partition over a range, one part per input file."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from msgevents.backfill import parse_partition, plan_input_parts, plan_window_parts
from msgevents.backfill.plan import MAX_PARTS
from msgevents.errors import ConfigError

T0 = datetime(2024, 11, 1, tzinfo=UTC)


def test_a_range_is_cut_into_named_windows_the_last_one_shorter():
    parts = plan_window_parts(T0, T0 + timedelta(days=2, hours=12), timedelta(days=1))
    assert [(p.since, p.until) for p in parts] == [
        (T0, T0 + timedelta(days=1)),
        (T0 + timedelta(days=1), T0 + timedelta(days=2)),
        (T0 + timedelta(days=2), T0 + timedelta(days=2, hours=12)),
    ]
    assert parts[0].name == "2024-11-01T00:00:00Z..2024-11-02T00:00:00Z"
    assert [p.index for p in parts] == [0, 1, 2]


@given(
    start=st.integers(0, 10**9),
    length=st.integers(1, 10**7),
    partition=st.integers(60, 10**6),
)
def test_windows_cover_the_range_exactly_without_overlap(start, length, partition):
    since = datetime.fromtimestamp(start, UTC)
    until = since + timedelta(seconds=length)
    step = timedelta(seconds=partition)
    if -(-length // partition) > MAX_PARTS:
        with pytest.raises(ConfigError, match="--partition"):
            plan_window_parts(since, until, step)
        return
    parts = plan_window_parts(since, until, step)
    assert parts[0].since == since
    assert parts[-1].until == until
    for before, after in itertools.pairwise(parts):
        assert before.until == after.since
    assert all(timedelta(0) < p.until - p.since <= step for p in parts)
    assert len({p.name for p in parts}) == len(parts)


@pytest.mark.parametrize(("text", "expected"), [("1d", timedelta(days=1)), ("6h", timedelta(hours=6))])
def test_partition_durations(text, expected):
    assert parse_partition(text) == expected


@pytest.mark.parametrize("text", ["0d", "yesterday", "2024-01-01", "-1d", ""])
def test_a_partition_that_is_not_a_positive_duration_names_the_option(text):
    with pytest.raises(ConfigError, match="--partition"):
        parse_partition(text)


def test_an_inverted_range_is_refused():
    with pytest.raises(ConfigError, match="--until"):
        plan_window_parts(T0, T0, timedelta(days=1))


def test_each_input_file_is_a_part_with_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    parts = plan_input_parts([Path("a.jsonl"), Path("b.jsonl")])
    assert [p.inputs for p in parts] == [(tmp_path / "a.jsonl",), (tmp_path / "b.jsonl",)]
    assert [p.name for p in parts] == [str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")]
