"""Run windows (``msgevents.windows``): ``plan_windows`` modes and ``parse_when`` values.

Covers the first live run (default lookback or ``--since``), later live runs
(position minus restatement up to now minus settle), backfills (``--until``;
``--since`` once a position exists) that never advance, ``--full-refresh``,
skipped empty windows, warnings (retention gap, ledger retention) and
``--since``/``--until`` parsing (relative, bare dates as UTC, errors naming
the option).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from msgevents.errors import ConfigError
from msgevents.provider import Window
from msgevents.windows import parse_when, plan_windows

NOW = datetime(2024, 5, 10, 12, 30, tzinfo=UTC)
STREAMS = ("opens", "clicks")
TIMING = {
    "settle": timedelta(minutes=30),
    "restatement": timedelta(hours=2),
    "lookback": timedelta(days=7),
    "retention": timedelta(days=30),
    "ledger_retention": timedelta(days=90),
}
END = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)  # NOW - settle
LOOKBACK_START = datetime(2024, 5, 3, 12, 30, tzinfo=UTC)  # NOW - 7 days


def plan(positions=None, **options):
    return plan_windows(STREAMS, positions or {}, NOW, **{**TIMING, **options})


# -- live ------------------------------------------------------------------------------------------


def test_first_live_run_reads_the_default_lookback_up_to_now_minus_settle():
    result = plan()
    assert result.mode == "live"
    assert result.advances is True
    assert result.windows == {"opens": Window(LOOKBACK_START, END), "clicks": Window(LOOKBACK_START, END)}
    assert result.warnings == ()


def test_first_live_run_starts_at_since():
    since = datetime(2024, 5, 9, tzinfo=UTC)
    result = plan(since=since)
    assert result.mode == "live"
    assert result.windows["opens"] == Window(since, END)


def test_later_live_run_starts_at_the_position_minus_restatement():
    position = datetime(2024, 5, 10, 10, 0, tzinfo=UTC)
    result = plan({"opens": position})
    assert result.mode == "live"
    assert result.advances is True
    assert result.windows["opens"] == Window(datetime(2024, 5, 10, 8, 0, tzinfo=UTC), END)
    # a stream without a position yet starts at the lookback
    assert result.windows["clicks"] == Window(LOOKBACK_START, END)


def test_live_windows_are_utc_even_for_positions_in_another_zone():
    position = datetime(2024, 5, 10, 12, 0, tzinfo=timezone(timedelta(hours=2)))  # 10:00 UTC
    window = plan({"opens": position}).windows["opens"]
    assert window.since == datetime(2024, 5, 10, 8, 0, tzinfo=UTC)
    assert window.since.tzinfo is UTC
    assert window.until.tzinfo is UTC


def test_a_window_that_would_be_empty_is_skipped():
    # read up to now - settle already: nothing new to read
    result = plan({"opens": NOW, "clicks": END}, restatement=timedelta(0))
    assert result.windows == {}
    assert result.mode == "live"


def test_settle_longer_than_the_lookback_leaves_nothing_to_read():
    assert plan(settle=timedelta(days=8)).windows == {}


def test_full_refresh_restarts_at_the_lookback_even_with_positions():
    positions = {"opens": END, "clicks": END}
    result = plan(positions, full_refresh=True)
    assert result.mode == "live"
    assert result.windows == {"opens": Window(LOOKBACK_START, END), "clicks": Window(LOOKBACK_START, END)}


def test_full_refresh_with_since_restarts_there_as_a_live_run():
    since = datetime(2024, 5, 1, tzinfo=UTC)
    result = plan({"opens": END}, full_refresh=True, since=since)
    assert result.mode == "live"
    assert result.advances is True
    assert result.windows["opens"] == Window(since, END)


def test_a_position_older_than_the_provider_retention_warns_of_a_gap():
    old = NOW - timedelta(days=31)
    result = plan({"opens": old, "clicks": END})
    assert len(result.warnings) == 1
    assert "'opens'" in result.warnings[0]
    assert "30-day retention" in result.warnings[0]
    assert "gap" in result.warnings[0]
    assert result.windows["opens"].since == old - timedelta(hours=2)


def test_no_gap_warning_when_retention_is_unknown():
    assert plan({"opens": NOW - timedelta(days=365)}, retention=None).warnings == ()


# -- backfill --------------------------------------------------------------------------------------


def test_until_makes_a_backfill_of_exactly_since_to_until():
    since, until = datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC)
    result = plan(since=since, until=until)
    assert result.mode == "backfill"
    assert result.advances is False
    assert result.windows == {"opens": Window(since, until), "clicks": Window(since, until)}


def test_since_once_a_position_exists_is_a_backfill_up_to_now_minus_settle():
    since = datetime(2024, 5, 1, tzinfo=UTC)
    result = plan({"opens": END}, since=since)
    assert result.mode == "backfill"
    assert result.advances is False
    assert result.windows == {"opens": Window(since, END), "clicks": Window(since, END)}


def test_until_without_since_backfills_from_the_lookback():
    """Not from the live position: that would leave an empty window (positions are near now)."""
    until = datetime(2024, 5, 8, tzinfo=UTC)
    result = plan({"opens": END, "clicks": END}, until=until)
    assert result.mode == "backfill"
    assert result.windows == {"opens": Window(LOOKBACK_START, until), "clicks": Window(LOOKBACK_START, until)}


def test_backfill_until_is_capped_at_now_minus_settle():
    since = datetime(2024, 5, 9, tzinfo=UTC)
    result = plan(since=since, until=NOW + timedelta(days=1))
    assert result.windows["opens"] == Window(since, END)


def test_an_empty_backfill_has_no_windows():
    result = plan({"opens": END}, since=END + timedelta(minutes=5))
    assert result.mode == "backfill"
    assert result.windows == {}


def test_until_not_after_since_is_a_config_error_naming_both():
    since = datetime(2024, 5, 2, tzinfo=UTC)
    for until in (since, since - timedelta(seconds=1)):
        with pytest.raises(ConfigError) as caught:
            plan(since=since, until=until)
        assert "--until" in str(caught.value)
        assert "--since" in str(caught.value)


def test_a_backfill_past_the_ledger_retention_warns_it_may_repeat_events():
    since = NOW - timedelta(days=100)
    result = plan({"opens": END}, since=since, retention=None)
    assert len(result.warnings) == 1
    assert "ledger retention" in result.warnings[0]
    assert "90 days" in result.warnings[0]
    assert "again" in result.warnings[0]


def test_a_backfill_past_the_provider_retention_warns_nothing_can_be_read_before():
    since = NOW - timedelta(days=40)
    result = plan({"opens": END}, since=since)
    assert len(result.warnings) == 1
    assert "30 days" in result.warnings[0]
    assert "2024-04-10" in result.warnings[0]  # NOW - 30 days


def test_a_backfill_inside_both_retentions_warns_nothing():
    assert plan({"opens": END}, since=NOW - timedelta(days=3)).warnings == ()


# -- parse_when ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", datetime(2024, 5, 10, 10, 30, tzinfo=UTC)),
        ("7d", datetime(2024, 5, 3, 12, 30, tzinfo=UTC)),
        ("30m", datetime(2024, 5, 10, 12, 0, tzinfo=UTC)),
        ("45s", datetime(2024, 5, 10, 12, 29, 15, tzinfo=UTC)),
        ("1w", datetime(2024, 5, 3, 12, 30, tzinfo=UTC)),
        (" 2 h ", datetime(2024, 5, 10, 10, 30, tzinfo=UTC)),
        ("0h", NOW),
    ],
)
def test_relative_times_count_back_from_now(text, expected):
    assert parse_when(text, NOW, "--since") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),  # a bare date is read as UTC
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T10:00:00+02:00", datetime(2024, 5, 1, 8, tzinfo=UTC)),
        ("2024-05-01T10:00:00.500-04:00", datetime(2024, 5, 1, 14, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_absolute_times(text, expected):
    parsed = parse_when(text, NOW, "--until")
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text", ["yesterday", "2024-05-01T10:00:00", "2h30m", "-2h", "2y", "", "05/01/2024", "2024-5-1"]
)
@pytest.mark.parametrize("option", ["--since", "--until"])
def test_bad_values_are_config_errors_naming_the_option_and_value(text, option):
    with pytest.raises(ConfigError) as caught:
        parse_when(text, NOW, option)
    message = str(caught.value)
    assert message.startswith(option)
    assert repr(text) in message
    assert "2h or 7d" in message  # says what is accepted
