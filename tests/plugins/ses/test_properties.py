"""Property-based tests of the SES mapping: any record maps to valid events, NotModelled or a
MappingError/ValidationError (never a crash); an SNS envelope never changes the result; one
event per distinct recipient; ids deterministic.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from msgevents import Event, EventType, MappingError, NotModelled, Record
from msgevents_ses import SesProvider, SesSettings

from .samples import ALL, sns

PROVIDER = SesProvider(SesSettings(_env_file=None))
MAPPED = ("send", "delivery", "open", "click", "subscription", "bounce-transient", "bounce-permanent")

_local = st.text(st.sampled_from("abcdefghij.-_"), min_size=1, max_size=8).filter(
    lambda s: not s.startswith(".")
)
_address = st.builds(
    lambda local, domain: f"{local}@{domain}", _local, st.sampled_from(["example.com", "Example.ORG"])
)
_instant = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda d: d - timedelta(microseconds=d.microsecond % 1000))
_iso = _instant.map(lambda d: d.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
_junk = st.none() | st.integers() | st.text(max_size=5) | st.lists(st.integers(), max_size=2) | st.just({})


def _call(data: dict) -> list[Event] | NotModelled | Exception:
    try:
        return PROVIDER.map_record(Record("events", data, "prop"))
    except (MappingError, ValidationError) as exc:
        return exc


@st.composite
def records(draw) -> dict:
    """A documented record with its recipients, times and tags redrawn, sometimes damaged."""
    record = copy.deepcopy(ALL[draw(st.sampled_from(sorted(ALL)))])
    recipients = draw(st.lists(_address, min_size=1, max_size=4))
    record["mail"]["destination"] = recipients
    record["mail"]["timestamp"] = draw(_iso)
    for name in ("delivery", "open", "click", "bounce", "complaint", "subscription"):
        if name in record:
            record[name]["timestamp"] = draw(_iso)
    if "delivery" in record:
        record["delivery"]["recipients"] = recipients
    for name, key in (("bounce", "bouncedRecipients"), ("complaint", "complainedRecipients")):
        if name in record:
            record[name][key] = [{"emailAddress": a} for a in recipients]
    if draw(st.booleans()):
        record["mail"].setdefault("tags", {})["user_id"] = [draw(st.text(min_size=1, max_size=6))]
    if draw(st.integers(0, 3)) == 0:  # damage one field somewhere
        target = record if draw(st.booleans()) else record["mail"]
        key = draw(st.sampled_from(sorted(target)))
        target[key] = draw(_junk)
    return record


@settings(max_examples=150, deadline=None)
@given(records())
def test_any_record_maps_cleanly_and_the_same_wrapped_in_sns(record):
    raw = _call(record)
    wrapped = _call(sns(record))
    if isinstance(raw, Exception):
        assert type(wrapped) is type(raw)
        assert str(wrapped) == str(raw)
        return
    assert raw == wrapped
    if isinstance(raw, NotModelled):
        return
    assert raw, "a mapped record gives at least one event"
    for event in raw:
        assert isinstance(event, Event)
        assert event.event in SesProvider.supported_events
        assert event.provider == "ses"
        assert event.timestamp.tzinfo is UTC
        assert (event.user_id is None) != (event.email is None)


@settings(max_examples=100, deadline=None)
@given(
    name=st.sampled_from(MAPPED),
    recipients=st.lists(_address, min_size=1, max_size=6),
    when=_iso,
)
def test_one_event_per_distinct_recipient_with_distinct_stable_ids(name, recipients, when):
    record = copy.deepcopy(ALL[name])
    record["mail"]["tags"].pop("user_id", None)
    record["mail"]["destination"] = recipients
    record["mail"]["timestamp"] = when  # the time of a Send
    for key in ("delivery", "open", "click", "bounce", "subscription"):
        if key in record:
            record[key]["timestamp"] = when
    if "delivery" in record:
        record["delivery"]["recipients"] = recipients
    if "bounce" in record:
        record["bounce"]["bouncedRecipients"] = [{"emailAddress": a} for a in recipients]
    events = _call(record)
    distinct = {a.casefold() for a in recipients}
    assert sorted(e.email.casefold() for e in events) == sorted(distinct)
    assert len({e.event_id for e in events}) == len(distinct)
    assert [e.event_id for e in _call(copy.deepcopy(record))] == [e.event_id for e in events]
    expected = datetime.fromisoformat(when.replace("Z", "+00:00"))
    assert all(e.timestamp == expected for e in events)
    assert all(e.event in set(EventType) for e in events)
