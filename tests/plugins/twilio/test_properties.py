"""Property-based tests of the Twilio mapping: any callback maps to one valid declared event,
NotModelled, or a MappingError/ValidationError; the id depends only on (MessageSid, status);
the error-code policy holds for any code set.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from msgevents import Event, EventType, MappingError, NotModelled, Record
from msgevents.sink import ledger_key
from msgevents_twilio import TwilioProvider, TwilioSettings

from .samples import STATUSES, as_body, callback

PROVIDER = TwilioProvider(TwilioSettings(_env_file=None))
_sid = st.from_regex(r"SM[0-9a-f]{32}", fullmatch=True)
_code = st.from_regex(r"[1-9][0-9]{4}", fullmatch=True)
_instant = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)
_junk = st.none() | st.integers() | st.text(max_size=12) | st.booleans()


def _call(provider: TwilioProvider, data: dict):
    try:
        return provider.map_record(Record("callbacks", data, "prop"))
    except (MappingError, ValidationError) as exc:
        return exc


@st.composite
def callbacks(draw) -> dict:
    status = draw(st.sampled_from(STATUSES) | st.text(max_size=8))
    when = draw(_instant)
    record = callback(status, received_at=when.isoformat(), MessageSid=draw(_sid))
    if draw(st.booleans()):
        record["ErrorCode"] = draw(_code)
    if draw(st.booleans()):
        record["RawDlrDoneDate"] = when.strftime("%y%m%d%H%M")
    if draw(st.integers(0, 3)) == 0:
        record[draw(st.sampled_from(sorted(record)))] = draw(_junk)
    return record


@settings(max_examples=200, deadline=None)
@given(callbacks())
def test_any_callback_maps_cleanly(record):
    result = _call(PROVIDER, record)
    if isinstance(result, Exception | NotModelled):
        return
    (event,) = result
    assert isinstance(event, Event)
    assert event.event in TwilioProvider.supported_events
    assert event.timestamp.tzinfo is UTC
    sid = next(
        text
        for name in ("MessageSid", "SmsSid")
        if isinstance(value := record.get(name), str | int) and not isinstance(value, bool)
        if (text := str(value).strip())
    )  # the first usable of the two, as Twilio's older callbacks name it SmsSid
    assert event.event_id == f"{sid}:{event.native_type}"
    if all(isinstance(v, str) for k, v in record.items() if k != "received_at"):  # as Twilio posts
        assert _call(PROVIDER, as_body(record)) == result


@settings(max_examples=100, deadline=None)
@given(
    codes=st.frozensets(_code, max_size=5),
    code=_code,
    status=st.sampled_from(["undelivered", "failed"]),
    first=_instant,
    second=_instant,
)
def test_policy_and_ids(codes, code, status, first, second):
    provider = TwilioProvider(TwilioSettings(_env_file=None, hard_error_codes=",".join(sorted(codes))))
    (a,) = _call(provider, callback(status, ErrorCode=code, received_at=first.isoformat()))
    (b,) = _call(provider, callback(status, ErrorCode=code, received_at=second.isoformat()))
    expected = EventType.HARD_BOUNCED if code in codes else EventType.SOFT_BOUNCED
    assert a.event is b.event is expected
    assert a.event_id == b.event_id  # a repeated callback: one event whenever it arrived
    assert ledger_key(a) == ledger_key(b)  # and one ledger key, though its receipt times differ
