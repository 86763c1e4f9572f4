"""Timestamp parsing and formatting: the one tested place every plugin uses.

Every parser returns a timezone-aware :class:`datetime` in UTC or raises
:class:`TimestampError` (a ``ValueError``) whose message shows the bad value.
Nothing is guessed: naive times (no offset) are errors, and the unit of an
epoch number is chosen by the caller (seconds or milliseconds), never by its
magnitude.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime

__all__ = [
    "UTC",
    "TimestampError",
    "format_timestamp",
    "parse_datetime",
    "parse_epoch_millis",
    "parse_epoch_seconds",
    "parse_iso8601",
    "parse_rfc2822",
    "parse_with_format",
    "to_epoch_millis",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Anything outside these bounds is a unit mistake or garbage, not a message event.
_MIN = datetime(1990, 1, 1, tzinfo=UTC)
_MAX = datetime(2200, 1, 1, tzinfo=UTC)
# the same bounds in epoch milliseconds, for the integer fast path of parse_epoch_millis
_MIN_MILLIS = (_MIN - EPOCH) // timedelta(milliseconds=1)
_MAX_MILLIS = (_MAX - EPOCH) // timedelta(milliseconds=1)
_ISO_FRACTION = re.compile(r"(\.\d+)")
_LONG_FRACTION = re.compile(r"\.\d{7}").search  # searched first: a substitution costs 3 × more
_ISO_START = re.compile(r"\d{4}-?\d{2}")


class TimestampError(ValueError):
    """A value that cannot be turned into an aware UTC datetime."""


def _checked(value: object, result: datetime) -> datetime:
    if not _MIN <= result < _MAX:
        raise TimestampError(f"timestamp {value!r} is {result.isoformat()}, outside 1990..2200: wrong unit?")
    return result


def _out_of_range(value: object) -> TimestampError:
    """Beyond ``datetime``'s range (``OverflowError``): a unit mistake as well."""
    return TimestampError(f"timestamp {value!r} is outside 1990..2200: wrong unit?")


def _number(value: object, unit: str) -> Decimal:
    if isinstance(value, bool):
        raise TimestampError(f"epoch {unit} must be a number, got {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TimestampError(f"epoch {unit} must be finite, got {value!r}")
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise TimestampError(f"epoch {unit} expected, got {value!r}") from None
        if not number.is_finite():
            raise TimestampError(f"epoch {unit} must be finite, got {value!r}")
        return number
    raise TimestampError(f"epoch {unit} expected, got {value!r} ({type(value).__name__})")


_MIN_SECONDS = (_MIN - EPOCH) // timedelta(seconds=1)
_MAX_SECONDS = (_MAX - EPOCH) // timedelta(seconds=1)


def parse_epoch_seconds(value: int | float | str) -> datetime:
    """Epoch seconds (int, float or numeric string, e.g. Mailgun's ``1529692199.626182``).

    A float means its shortest decimal form (``repr``), rounded half to even to microseconds.
    """
    if value.__class__ is float and _MIN_SECONDS <= value < _MAX_SECONDS:  # bulk items: no Decimal
        # The whole microseconds nearest to the float. When they convert back to the very same
        # float, they are its shortest decimal form (a float this size has one multiple of 1 µs
        # at most within half a unit in the last place), so there is nothing to round: exact.
        micros = round(value * 1_000_000)
        if micros / 1_000_000 == value:
            return EPOCH + timedelta(0, 0, micros)
    micros = int((_number(value, "seconds") * 1_000_000).to_integral_value())
    try:
        return _checked(value, EPOCH + timedelta(microseconds=micros))
    except OverflowError:
        raise _out_of_range(value) from None


def parse_epoch_millis(value: int | float | str) -> datetime:
    """Epoch milliseconds (Optimizely closed-loop rows, Brevo ``ts_epoch``)."""
    if type(value) is int and _MIN_MILLIS <= value < _MAX_MILLIS:  # bulk exports: the common case
        return EPOCH + timedelta(0, 0, 0, value)  # (days, seconds, microseconds, milliseconds)
    try:
        if type(value) is int:
            return _checked(value, EPOCH + timedelta(milliseconds=value))
        micros = int((_number(value, "milliseconds") * 1000).to_integral_value())
        return _checked(value, EPOCH + timedelta(microseconds=micros))
    except OverflowError:
        raise _out_of_range(value) from None


def parse_iso8601(value: str) -> datetime:
    """ISO 8601 with an offset or ``Z``; fractions of any length (Postmark's 7 digits).

    ``2014-08-01T13:28:10.2735393-04:00`` → ``2014-08-01T17:28:10.273539Z``.
    A value without an offset is an error: its zone cannot be known.
    """
    if not isinstance(value, str):
        raise TimestampError(f"ISO 8601 string expected, got {value!r} ({type(value).__name__})")
    text = value.strip()
    # fromisoformat accepts at most 6 fraction digits on older Pythons: truncate to microseconds.
    if _LONG_FRACTION(text):
        text = _ISO_FRACTION.sub(lambda m: m.group(1)[:7], text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise TimestampError(f"not an ISO 8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise TimestampError(
            f"timestamp {value!r} has no UTC offset; add 'Z' or '+HH:MM' (times are never guessed)"
        )
    return _checked(value, parsed.astimezone(UTC))


def parse_rfc2822(value: str) -> datetime:
    """RFC 2822 dates (Twilio ``date_sent``: ``Thu, 30 Jul 2015 20:12:33 +0000``).

    ``-0000`` means "local time, zone unknown" in RFC 2822 and is an error.
    """
    if not isinstance(value, str):
        raise TimestampError(f"RFC 2822 string expected, got {value!r} ({type(value).__name__})")
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        raise TimestampError(f"not an RFC 2822 date: {value!r}") from None
    if parsed.tzinfo is None:
        raise TimestampError(f"RFC 2822 date {value!r} has an unknown zone (-0000)")
    return _checked(value, parsed.astimezone(UTC))


def parse_datetime(value: str) -> datetime:
    """A string in ISO 8601 or RFC 2822 form (the two are told apart unambiguously)."""
    if not isinstance(value, str):
        raise TimestampError(f"date string expected, got {value!r} ({type(value).__name__})")
    text = value.strip()
    if _ISO_START.match(text):
        return parse_iso8601(text)
    return parse_rfc2822(text)


def parse_with_format(value: str, pattern: str, zone: tzinfo = UTC) -> datetime:
    """A ``strptime`` pattern; the result is read in ``zone`` (UTC unless told otherwise)."""
    try:
        parsed = datetime.strptime(value.strip(), pattern)
    except (TypeError, ValueError, AttributeError):
        raise TimestampError(f"timestamp {value!r} does not match the format {pattern!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return _checked(value, parsed.astimezone(UTC))


def to_epoch_millis(moment: datetime) -> int:
    """Integer epoch milliseconds of an aware datetime (truncated)."""
    if moment.tzinfo is None:
        raise TimestampError(f"naive datetime {moment!r}: a timezone is required")
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def format_timestamp(moment: datetime) -> str:
    """CrossEngage form: UTC ISO 8601 with ``Z``, milliseconds only when non-zero.

    ``2022-01-11T00:00:00Z`` or ``2022-01-11T00:00:00.123Z``. The value is
    truncated to milliseconds first; a fraction that truncates to ``.000`` is
    left out.
    """
    if moment.tzinfo is not UTC:
        if moment.tzinfo is None:
            raise TimestampError(f"naive datetime {moment!r}: a timezone is required")
        moment = moment.astimezone(UTC)
    millis = moment.microsecond // 1000
    base = _base_of(moment)
    if millis:
        return f"{base}.{millis:03d}Z"
    return base + "Z"


def _base_of(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` of a UTC datetime; bulk data repeats seconds, so the last one is kept.

    The cache is one tuple, replaced whole, so concurrent threads never see a torn entry.
    """
    global _last
    second = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    cached = _last
    if cached[0] == second:
        return cached[1]
    base = moment.replace(microsecond=0, tzinfo=None).isoformat()
    _last = (second, base)
    return base


_last: tuple[tuple[int, ...], str] = ((), "")
