"""Timestamp helpers (``msgevents.timestamps``): parsing and the CrossEngage output form.

Covers epoch seconds and milliseconds (ints, floats with microseconds, numeric
strings), ISO 8601 (offsets, ``Z``, 7-digit fractions), RFC 2822 (``-0000``
refused), ``parse_datetime`` dispatch, ``parse_with_format``, rejection of
out-of-range values (a wrong unit) with the bad value in every message,
``to_epoch_millis``, ``format_timestamp`` (``Z``, milliseconds only when
non-zero, truncated) and independence from the process time zone.

Expected values are written out by hand (checked with ``date -u -d @…``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from msgevents.timestamps import (
    TimestampError,
    format_timestamp,
    parse_datetime,
    parse_epoch_millis,
    parse_epoch_seconds,
    parse_iso8601,
    parse_rfc2822,
    parse_with_format,
    to_epoch_millis,
)

MAILGUN = datetime(2018, 6, 22, 18, 29, 59, 626182, tzinfo=UTC)  # 1529692199.626182


# -- epoch numbers ---------------------------------------------------------------------------------


@given(st.floats(min_value=631152000.0, max_value=7258118400.0, exclude_max=True))
def test_epoch_seconds_of_a_float_is_its_shortest_decimal_form_rounded_to_microseconds(value):
    """Floats take a fast path; it gives what the exact decimal arithmetic gives."""
    micros = int((Decimal(repr(value)) * 1_000_000).to_integral_value())
    assert parse_epoch_seconds(value) == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    assert parse_epoch_seconds(value).tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1529692199, datetime(2018, 6, 22, 18, 29, 59, tzinfo=UTC)),
        (1529692199.626182, MAILGUN),
        ("1529692199.626182", MAILGUN),
        (" 1529692199 ", datetime(2018, 6, 22, 18, 29, 59, tzinfo=UTC)),
        (1641859200, datetime(2022, 1, 11, tzinfo=UTC)),
    ],
)
def test_epoch_seconds(value, expected):
    parsed = parse_epoch_seconds(value)
    assert parsed == expected
    assert parsed.tzinfo is UTC
    assert parsed.microsecond == expected.microsecond  # the float keeps its microseconds exactly


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1529692199626, datetime(2018, 6, 22, 18, 29, 59, 626000, tzinfo=UTC)),
        ("1529692199626", datetime(2018, 6, 22, 18, 29, 59, 626000, tzinfo=UTC)),
        (1529692199626.5, datetime(2018, 6, 22, 18, 29, 59, 626500, tzinfo=UTC)),
        (1641859200000, datetime(2022, 1, 11, tzinfo=UTC)),
    ],
)
def test_epoch_millis(value, expected):
    parsed = parse_epoch_millis(value)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("parse", "value"),
    [
        (parse_epoch_seconds, 1529692199626),  # milliseconds read as seconds
        (parse_epoch_seconds, 1529692199626.0),
        (parse_epoch_seconds, "1529692199626182"),  # microseconds read as seconds
        (parse_epoch_seconds, "1e30"),
        (parse_epoch_seconds, 0),
        (parse_epoch_seconds, -1),
        (parse_epoch_millis, 1529692199),  # seconds read as milliseconds: January 1970
        (parse_epoch_millis, 1529692199626182),  # microseconds read as milliseconds
        (parse_epoch_millis, 10**20),
        (parse_epoch_millis, "99999999999999999999"),
    ],
)
def test_epoch_in_the_wrong_unit_is_rejected_showing_the_value(parse, value):
    with pytest.raises(TimestampError) as caught:
        parse(value)
    assert repr(value) in str(caught.value)
    assert "wrong unit" in str(caught.value)


@pytest.mark.parametrize("parse", [parse_epoch_seconds, parse_epoch_millis])
@pytest.mark.parametrize("value", [True, None, "", "abc", "12:00", float("nan"), float("inf"), "NaN", [1]])
def test_epoch_garbage_is_rejected_showing_the_value(parse, value):
    with pytest.raises(TimestampError) as caught:
        parse(value)
    assert repr(value) in str(caught.value)


# -- ISO 8601 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-01-11T00:00:00Z", datetime(2022, 1, 11, tzinfo=UTC)),
        ("2022-01-11T00:00:00+00:00", datetime(2022, 1, 11, tzinfo=UTC)),
        ("2022-01-11T01:00:00+01:00", datetime(2022, 1, 11, tzinfo=UTC)),
        ("2022-01-10T19:00:00-05:00", datetime(2022, 1, 11, tzinfo=UTC)),
        ("2022-01-11 00:00:00.5Z", datetime(2022, 1, 11, 0, 0, 0, 500000, tzinfo=UTC)),
        # Postmark: seven fraction digits, truncated to microseconds
        ("2014-08-01T13:28:10.2735393-04:00", datetime(2014, 8, 1, 17, 28, 10, 273539, tzinfo=UTC)),
        ("2018-06-22T18:29:59.626182Z", MAILGUN),
        (" 2022-01-11T00:00:00Z ", datetime(2022, 1, 11, tzinfo=UTC)),
    ],
)
def test_iso8601(text, expected):
    parsed = parse_iso8601(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC
    assert parsed.microsecond == expected.microsecond


@pytest.mark.parametrize(
    "text",
    [
        "2022-01-11T00:00:00",  # naive: the zone cannot be known
        "2022-01-11",
        "2022-13-11T00:00:00Z",
        "yesterday",
        "",
        "1970-01-01T00:00:00Z",  # outside 1990..2200
        "2300-01-01T00:00:00Z",
    ],
)
def test_iso8601_rejects_naive_garbage_and_out_of_range_showing_the_value(text):
    with pytest.raises(TimestampError) as caught:
        parse_iso8601(text)
    assert repr(text) in str(caught.value)


def test_iso8601_without_offset_says_how_to_fix_it():
    with pytest.raises(TimestampError, match="no UTC offset"):
        parse_iso8601("2022-01-11T00:00:00")


@pytest.mark.parametrize("value", [1641859200, None, datetime(2022, 1, 11, tzinfo=UTC)])
def test_iso8601_needs_a_string(value):
    with pytest.raises(TimestampError) as caught:
        parse_iso8601(value)
    assert repr(value) in str(caught.value)


# -- RFC 2822 and dispatch -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thu, 30 Jul 2015 20:12:33 +0000", datetime(2015, 7, 30, 20, 12, 33, tzinfo=UTC)),
        ("Thu, 30 Jul 2015 22:12:33 +0200", datetime(2015, 7, 30, 20, 12, 33, tzinfo=UTC)),
        ("30 Jul 2015 20:12:33 GMT", datetime(2015, 7, 30, 20, 12, 33, tzinfo=UTC)),
    ],
)
def test_rfc2822(text, expected):
    parsed = parse_rfc2822(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "Thu, 30 Jul 2015 20:12:33 -0000",  # RFC 2822: local time, zone unknown
        "Thu, 30 Jul 2015 20:12:33",
        "not a date",
        "",
    ],
)
def test_rfc2822_rejects_unknown_zone_and_garbage_showing_the_value(text):
    with pytest.raises(TimestampError) as caught:
        parse_rfc2822(text)
    assert repr(text) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2014-08-01T13:28:10.2735393-04:00", datetime(2014, 8, 1, 17, 28, 10, 273539, tzinfo=UTC)),
        ("2022-01-11T00:00:00Z", datetime(2022, 1, 11, tzinfo=UTC)),
        ("Thu, 30 Jul 2015 20:12:33 +0000", datetime(2015, 7, 30, 20, 12, 33, tzinfo=UTC)),
        ("30 Jul 2015 20:12:33 +0000", datetime(2015, 7, 30, 20, 12, 33, tzinfo=UTC)),
    ],
)
def test_parse_datetime_dispatches_iso_and_rfc2822(text, expected):
    assert parse_datetime(text) == expected


@pytest.mark.parametrize(
    "value", ["2022-01-11T00:00:00", "Thu, 30 Jul 2015 20:12:33 -0000", "soon", 1641859200]
)
def test_parse_datetime_rejects_showing_the_value(value):
    with pytest.raises(TimestampError) as caught:
        parse_datetime(value)
    assert repr(value) in str(caught.value)


# -- strptime formats ------------------------------------------------------------------------------


def test_parse_with_format_reads_utc_by_default():
    assert parse_with_format("2024-05-01 10:00:00", "%Y-%m-%d %H:%M:%S") == datetime(
        2024, 5, 1, 10, tzinfo=UTC
    )


def test_parse_with_format_reads_in_the_given_zone():
    parsed = parse_with_format("2024-05-01 10:00:00", "%Y-%m-%d %H:%M:%S", ZoneInfo("Europe/Berlin"))
    assert parsed == datetime(2024, 5, 1, 8, tzinfo=UTC)  # CEST = UTC+2
    assert parsed.tzinfo is UTC


def test_parse_with_format_honours_an_offset_in_the_value_over_the_zone():
    parsed = parse_with_format("2024-05-01 10:00:00 -0500", "%Y-%m-%d %H:%M:%S %z", ZoneInfo("Europe/Berlin"))
    assert parsed == datetime(2024, 5, 1, 15, tzinfo=UTC)


@pytest.mark.parametrize("value", ["2024-05-01", "01.05.2024 10:00", None, "1970-01-01 00:00:00"])
def test_parse_with_format_rejects_showing_the_value(value):
    with pytest.raises(TimestampError) as caught:
        parse_with_format(value, "%Y-%m-%d %H:%M:%S")
    assert repr(value) in str(caught.value)


def test_parse_with_format_mismatch_names_the_format():
    with pytest.raises(TimestampError, match=r"'%d\.%m\.%Y'"):
        parse_with_format("2024-05-01", "%d.%m.%Y")


# -- epoch milliseconds of a datetime --------------------------------------------------------------


def test_to_epoch_millis_truncates_and_ignores_the_zone():
    assert to_epoch_millis(datetime(2022, 1, 11, tzinfo=UTC)) == 1641859200000
    assert to_epoch_millis(MAILGUN) == 1529692199626
    assert to_epoch_millis(datetime(2022, 1, 11, 0, 0, 0, 999999, tzinfo=UTC)) == 1641859200999
    berlin = datetime(2022, 1, 11, 1, tzinfo=ZoneInfo("Europe/Berlin"))
    assert to_epoch_millis(berlin) == 1641859200000


def test_to_epoch_millis_rejects_naive():
    with pytest.raises(TimestampError, match="naive"):
        to_epoch_millis(datetime(2022, 1, 11))


# -- the output form -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2022, 1, 11, tzinfo=UTC), "2022-01-11T00:00:00Z"),
        (datetime(2022, 1, 11, 0, 0, 0, 123000, tzinfo=UTC), "2022-01-11T00:00:00.123Z"),
        (datetime(2022, 1, 11, 0, 0, 0, 123456, tzinfo=UTC), "2022-01-11T00:00:00.123Z"),
        (datetime(2022, 1, 11, 0, 0, 0, 999999, tzinfo=UTC), "2022-01-11T00:00:00.999Z"),  # not rounded up
        (datetime(2022, 1, 11, 0, 0, 0, 999, tzinfo=UTC), "2022-01-11T00:00:00Z"),  # .000 is left out
        (datetime(2022, 1, 11, 0, 0, 0, 1000, tzinfo=UTC), "2022-01-11T00:00:00.001Z"),
        (datetime(2022, 1, 11, 0, 0, 0, 10000, tzinfo=UTC), "2022-01-11T00:00:00.010Z"),
        (MAILGUN, "2018-06-22T18:29:59.626Z"),
        (datetime(2022, 1, 11, 1, tzinfo=timezone(timedelta(hours=1))), "2022-01-11T00:00:00Z"),
        (datetime(2022, 1, 10, 19, tzinfo=ZoneInfo("America/New_York")), "2022-01-11T00:00:00Z"),
        (datetime(2022, 7, 1, 12, 0, 0, 5000, tzinfo=ZoneInfo("Europe/Berlin")), "2022-07-01T10:00:00.005Z"),
        (datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC), "1999-12-31T23:59:59Z"),
    ],
)
def test_format_timestamp(moment, expected):
    assert format_timestamp(moment) == expected


def test_format_timestamp_rejects_naive():
    with pytest.raises(TimestampError, match="naive"):
        format_timestamp(datetime(2022, 1, 11))


def test_format_timestamp_alternating_seconds_are_each_right():
    """Bulk data repeats seconds (the base string is cached): alternating ones must not mix up."""
    a = datetime(2022, 1, 11, 0, 0, 1, tzinfo=UTC)
    b = datetime(2023, 2, 12, 13, 14, 15, 16000, tzinfo=UTC)
    results = [format_timestamp(m) for m in (a, b, a, a, b, b.replace(microsecond=0))]
    assert results == [
        "2022-01-11T00:00:01Z",
        "2023-02-12T13:14:15.016Z",
        "2022-01-11T00:00:01Z",
        "2022-01-11T00:00:01Z",
        "2023-02-12T13:14:15.016Z",
        "2023-02-12T13:14:15Z",
    ]


def test_parse_then_format_round_trips_the_crossengage_form():
    for text in ("2022-01-11T00:00:00Z", "2022-01-11T08:15:00.250Z"):
        assert format_timestamp(parse_iso8601(text)) == text


# -- independence from the process time zone -------------------------------------------------------

_IN_ANOTHER_ZONE = textwrap.dedent(
    """
    import json, time
    from datetime import datetime
    from zoneinfo import ZoneInfo
    from msgevents.events import Event
    from msgevents.formats import api_event, feed_object
    from msgevents.timestamps import (
        format_timestamp, parse_datetime, parse_epoch_millis, parse_epoch_seconds, parse_with_format,
    )

    event = Event(
        user_id="ABC12345", event="Message Viewed", provider="test",
        timestamp=datetime(2022, 7, 1, 12, 0, 0, 250000, tzinfo=ZoneInfo("Europe/Berlin")),
    )
    print(json.dumps({
        "zone": time.tzname[0],
        "values": [
            format_timestamp(parse_epoch_seconds(1529692199.626182)),
            format_timestamp(parse_epoch_millis("1641859200000")),
            format_timestamp(parse_datetime("2014-08-01T13:28:10.2735393-04:00")),
            format_timestamp(parse_datetime("Thu, 30 Jul 2015 20:12:33 +0000")),
            format_timestamp(parse_with_format("2024-05-01 10:00:00", "%Y-%m-%d %H:%M:%S")),
            feed_object(event)["timestamp"],
            api_event(event)["timestamp"],
            event.event_id,
        ],
    }))
    """
)


def _run_in_zone(zone: str) -> dict:
    env = {**os.environ, "TZ": zone}
    done = subprocess.run(
        [sys.executable, "-c", _IN_ANOTHER_ZONE], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_output_does_not_depend_on_the_process_time_zone():
    kiritimati = _run_in_zone("Pacific/Kiritimati")  # UTC+14
    los_angeles = _run_in_zone("America/Los_Angeles")  # UTC-7/-8
    assert kiritimati["zone"] != los_angeles["zone"]  # the zone really was different
    assert kiritimati["values"] == los_angeles["values"]
    assert kiritimati["values"][:7] == [
        "2018-06-22T18:29:59.626Z",
        "2022-01-11T00:00:00Z",
        "2014-08-01T17:28:10.273Z",
        "2015-07-30T20:12:33Z",
        "2024-05-01T10:00:00Z",
        "2022-07-01T10:00:00.250Z",
        "2022-07-01T10:00:00.250Z",
    ]
