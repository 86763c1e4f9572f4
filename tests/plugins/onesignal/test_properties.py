"""Property-based tests: the mapper, the dump reader and the webhook parser never raise anything
but MappingError (records with an error, or InputFileError for a file); the three body shapes
map alike; the event id is OneSignal's ``event.id``; only the token opens the door.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msgevents import (
    Event,
    InputFileError,
    MappingError,
    NotModelled,
    Record,
    WebhookRejected,
    WebhookRequest,
)
from msgevents_onesignal import OneSignalProvider, OneSignalSettings
from msgevents_onesignal.mapping import KINDS

from .samples import KINDS as ALL_KINDS
from .samples import body, grouped, nested

TOKEN = "tok-3b9d0c1e8a"
PROVIDER = OneSignalProvider(OneSignalSettings(_env_file=None, webhook_token=TOKEN))
_instant = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
_junk = st.none() | st.integers() | st.text(max_size=12) | st.booleans() | st.just({}) | st.just([1])
_FIELDS = sorted(body())


def _call(data: dict):
    try:
        return PROVIDER.map_record(Record("events", data, "prop"))
    except MappingError as exc:  # nothing else: a ValidationError would be a bug here
        return exc


def _outcome(result):
    """Comparable: events and NotModelled as they are, an error by its message."""
    return f"error: {result}" if isinstance(result, MappingError) else result


@st.composite
def bodies(draw) -> dict:
    """A rendered body with kind, id, time and identity redrawn, sometimes damaged."""
    when = draw(_instant)
    fields = {
        "event.id": draw(st.uuids()).hex if draw(st.booleans()) else str(draw(st.uuids())),
        "event.datetime": when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if draw(st.booleans())
        else "",
        "event.timestamp": draw(st.sampled_from([int, str]))(int(when.timestamp())),
        "event.external_id": draw(st.sampled_from(["", "C-1", "42"]) | st.text(max_size=6)),
        "event.subscription_device_type": draw(
            st.sampled_from(["iOS", "Android", "Chrome", "Email", "SMS", ""])
        ),
        "event.data.failure_reason": draw(st.sampled_from(["", "Unregistered", "SenderIdMismatch"])),
        "user.subscription.subscription_token": draw(
            st.sampled_from(["", "a@example.com", "+15558675310", "tok"]) | st.text(max_size=6)
        ),
    }
    record = body(draw(st.sampled_from(ALL_KINDS) | st.text(max_size=10)), **fields)
    if draw(st.integers(0, 2)) == 0:
        record[draw(st.sampled_from(_FIELDS))] = draw(_junk)
    return record


@settings(max_examples=300, deadline=None)
@given(bodies())
def test_any_body_maps_cleanly_and_alike_in_every_shape(record):
    result = _call(record)
    outcomes = [_outcome(_call(shape(record))) for shape in (grouped, nested)]
    assert outcomes == [_outcome(result)] * 2
    if isinstance(result, MappingError | NotModelled):
        if isinstance(result, NotModelled):
            assert result.native_type not in KINDS
        return
    (event,) = result
    assert isinstance(event, Event)
    assert event.event in OneSignalProvider.supported_events
    assert event.timestamp.tzinfo is UTC
    assert event.event_id == str(record["event.id"]).strip().lower()
    assert event.native_type in KINDS
    assert event.channel == {"push": "Push", "email": "Email", "sms": "SMS"}[event.native_type.split(".")[1]]
    assert event.user_id or event.email or event.phone


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=12), _json, max_size=6))
def test_any_json_object_maps_or_raises_mapping_error(data):
    result = _call(data)
    assert isinstance(result, list | NotModelled | MappingError)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.binary(max_size=300)
    | st.lists(_json, max_size=4).map(lambda v: "\n".join(map(json.dumps, v)).encode())
)
def test_the_reader_yields_records_or_a_file_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("dump") / "dump.jsonl"
    path.write_bytes(data)
    records, problem = [], None
    try:
        records = [r for batch in PROVIDER.read_input(path) for r in batch]
    except InputFileError as exc:
        problem = str(exc)
    if problem is not None:
        assert str(path) in problem
        return
    for record in records:
        assert isinstance(record, Record)
        if record.error is None:
            assert isinstance(record.data, dict)
            _call(record.data)  # and mapping it raises nothing but MappingError


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | _json.map(lambda v: json.dumps(v).encode()))
def test_the_webhook_parser_yields_records_or_mapping_error(raw):
    request = WebhookRequest("POST", "https://h.example/webhooks/onesignal", {}, raw, datetime.now(UTC))
    try:
        records = PROVIDER.parse_webhook(request)
    except MappingError:
        return
    for record in records:
        assert isinstance(record, Record)
        if record.error is None:
            _call(record.data)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.sampled_from(["authorization", "x-api-key", "x-msgevents-token"]))
def test_only_the_token_is_accepted(value, header):
    request = WebhookRequest("POST", "https://h.example/", {header: value}, b"{}", datetime.now(UTC))
    problem = None
    try:
        PROVIDER.verify_webhook(request)
    except WebhookRejected as exc:
        problem = str(exc)
    if problem is not None:
        assert TOKEN not in problem
        return
    assert header == "authorization"
    scheme, _, token = value.strip().partition(" ")
    assert (scheme.lower(), token.strip()) == ("bearer", TOKEN)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(bodies(), min_size=1, max_size=4), st.sampled_from(["flat", "grouped", "nested"]))
def test_a_webhook_and_a_dump_of_the_same_bodies_give_the_same_records_and_events(
    tmp_path_factory, items, shape
):
    shaped = [{"flat": lambda b: b, "grouped": grouped, "nested": nested}[shape](b) for b in items]
    path = tmp_path_factory.mktemp("dump") / "dump.jsonl"
    path.write_text("".join(json.dumps(b) + "\n" for b in shaped))
    from_file = [r.data for batch in PROVIDER.read_input(path) for r in batch]
    by_webhook = [
        r.data
        for b in shaped
        for r in PROVIDER.parse_webhook(
            WebhookRequest("POST", "https://h.example/", {}, json.dumps(b).encode(), datetime.now(UTC))
        )
    ]
    assert from_file == by_webhook == shaped
    assert [_outcome(_call(d)) for d in from_file] == [_outcome(_call(d)) for d in by_webhook]
