"""The CrossEngage emulator: strict validation, activated event types, faults, records.

Covers ``msgevents.testing.crossengage_emulator`` (in process and as a
subprocess) and the contract checks of ``msgevents.testing.crossengage_contract``.
"""

from __future__ import annotations

import copy
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from msgevents.testing.crossengage_emulator import (
    CrossEngageEmulator,
    Fault,
    compare,
    read_accepted,
)

API_KEY = "test-key"
HEADERS = {"X-XNG-AuthToken": API_KEY, "X-XNG-ApiVersion": "1", "Content-Type": "application/json"}
GOOD_EVENT = {
    "event": "Message Sent",
    "timestamp": "2022-01-11T00:00:00Z",
    "properties": {"channel": "Email", "type": "Newsletter", "campaign_id": "123456", "message_id": "304405"},
}
GOOD_BODY = {"id": "ABC12345", "events": [GOOD_EVENT]}


@pytest.fixture
def emulator():
    with CrossEngageEmulator(api_key=API_KEY) as ce:
        yield ce


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


def post(
    http: requests.Session, ce: CrossEngageEmulator, body: Any = GOOD_BODY, **overrides: Any
) -> requests.Response:
    headers = {**HEADERS, **overrides.pop("headers", {})}
    data = overrides.pop("data", None)
    if data is None:
        data = json.dumps(body).encode()
    return http.post(ce.base_url + overrides.pop("path", "/events"), data=data, headers=headers, timeout=10)


def test_good_body_is_accepted_and_recorded(emulator, http):
    response = post(http, emulator)

    assert response.status_code == 202
    assert response.content == b""
    assert response.headers["X-Request-ID"]
    assert emulator.accepted == [(("id", "ABC12345"), GOOD_EVENT)]
    assert emulator.batches == [(("id", "ABC12345"), 1)]
    assert emulator.violations == []
    assert emulator.requests == 1


def test_email_identity_milliseconds_and_no_properties_are_accepted(emulator, http):
    event = {"event": "Message Clicked", "timestamp": "2022-01-11T08:15:00.123Z"}
    events = [event] * 50  # the maximum
    response = post(http, emulator, {"email": "jane@example.com", "events": events})

    assert response.status_code == 202
    assert emulator.accepted == [(("email", "jane@example.com"), event)] * 50


def _without(key: str) -> dict[str, Any]:
    body = copy.deepcopy(GOOD_BODY)
    del body["events"][0][key]
    return body


def _event(**changes: Any) -> dict[str, Any]:
    event = {**copy.deepcopy(GOOD_EVENT), **changes}
    return {"id": "ABC12345", "events": [event]}


def _properties(**changes: Any) -> dict[str, Any]:
    return _event(properties={**GOOD_EVENT["properties"], **changes})


BAD_BODIES = {
    "neither id nor email": ({"events": [GOOD_EVENT]}, "id", "MISSING"),
    "both id and email": ({**GOOD_BODY, "email": "jane@example.com"}, "id", "CONFLICT"),
    "empty id": ({**GOOD_BODY, "id": ""}, "id", "EMPTY"),
    "numeric id": ({**GOOD_BODY, "id": 12345}, "id", "INVALID_TYPE"),
    "unknown top-level field": ({**GOOD_BODY, "user": "x"}, "user", "UNKNOWN_FIELD"),
    "no events": ({"id": "ABC12345"}, "events", "MISSING"),
    "events not a list": ({"id": "ABC12345", "events": GOOD_EVENT}, "events", "INVALID_TYPE"),
    "empty events": ({"id": "ABC12345", "events": []}, "events", "EMPTY"),
    "51 events": ({"id": "ABC12345", "events": [GOOD_EVENT] * 51}, "events", "TOO_MANY"),
    "no event name": (_without("event"), "event", "MISSING"),
    "unknown event name": (_event(event="Message Opened"), "event", "UNKNOWN_VALUE"),
    "event name in other case": (_event(event="Message Soft_Bounced"), "event", "UNKNOWN_VALUE"),
    "unknown event field": (_event(user_id="ABC"), "user_id", "UNKNOWN_FIELD"),
    "no timestamp": (_without("timestamp"), "timestamp", "MISSING"),
    "offset instead of Z": (_event(timestamp="2022-01-11T00:00:00+00:00"), "timestamp", "INVALID_FORMAT"),
    "microseconds": (_event(timestamp="2022-01-11T00:00:00.123456Z"), "timestamp", "INVALID_FORMAT"),
    "date only": (_event(timestamp="2022-01-11"), "timestamp", "INVALID_FORMAT"),
    "month 13": (_event(timestamp="2022-13-11T00:00:00Z"), "timestamp", "INVALID_FORMAT"),
    "epoch number": (_event(timestamp=1641859200), "timestamp", "INVALID_FORMAT"),
    "properties not an object": (_event(properties=["Email"]), "properties", "INVALID_TYPE"),
    "unknown property": (_properties(subject="Hi"), "properties.subject", "UNKNOWN_FIELD"),
    "null property": (_properties(url=None), "properties.url", "INVALID_TYPE"),
    "numeric property": (_properties(campaign_id=123456), "properties.campaign_id", "INVALID_TYPE"),
    "empty property": (_properties(channel=""), "properties.channel", "EMPTY"),
}


@pytest.mark.parametrize(("body", "field", "kind"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_body_violations_are_refused_with_field_and_type(emulator, http, body, field, kind):
    response = post(http, emulator, body)

    assert response.status_code == 400
    assert response.json() == {"field": field, "type": kind}
    assert [(v["field"], v["type"], v["status"]) for v in emulator.violations] == [(field, kind, 400)]
    assert emulator.accepted == []


BAD_REQUESTS = {
    "invalid JSON": ({"data": b'{"id": "A", "events": [}'}, 400, "body", "INVALID_JSON"),
    "JSON array body": ({"data": b"[]"}, 400, "body", "INVALID_TYPE"),
    "API version 2": ({"headers": {"X-XNG-ApiVersion": "2"}}, 400, "X-XNG-ApiVersion", "INVALID_VALUE"),
    "text content type": ({"headers": {"Content-Type": "text/plain"}}, 400, "Content-Type", "INVALID_VALUE"),
    "wrong key": ({"headers": {"X-XNG-AuthToken": "other"}}, 401, "X-XNG-AuthToken", "UNAUTHORIZED"),
    "wrong path": ({"path": "/event"}, 404, "path", "NOT_FOUND"),
}


@pytest.mark.parametrize(
    ("request_args", "status", "field", "kind"), BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys()
)
def test_request_violations_are_refused(emulator, http, request_args, status, field, kind):
    response = post(http, emulator, **request_args)

    assert response.status_code == status
    assert response.json() == {"field": field, "type": kind}
    assert [(v["field"], v["type"], v["status"]) for v in emulator.violations] == [(field, kind, status)]
    assert emulator.accepted == []


def test_missing_key_and_wrong_method_are_refused(emulator, http):
    headers = {k: v for k, v in HEADERS.items() if k != "X-XNG-AuthToken"}
    assert http.post(emulator.base_url + "/events", json=GOOD_BODY, headers=headers).status_code == 401
    assert http.get(emulator.base_url + "/events", headers=HEADERS).status_code == 405
    assert [v["type"] for v in emulator.violations] == ["UNAUTHORIZED", "NOT_ALLOWED"]
    assert emulator.accepted == []


def test_event_type_not_activated_is_rejected_like_a_tenant_not_as_a_violation(http):
    with CrossEngageEmulator(api_key=API_KEY, activated=["Message Sent"]) as ce:
        viewed = {"event": "Message Viewed", "timestamp": "2022-01-11T00:00:00Z"}
        response = post(http, ce, {"id": "ABC12345", "events": [GOOD_EVENT, viewed]})
        accepted_alone = post(http, ce)

        assert response.status_code == 400
        assert response.json() == {"field": "event", "type": "UNKNOWN_VALUE"}
        assert ce.rejected == [{"request": 1, "identity": ("id", "ABC12345"), "events": ["Message Viewed"]}]
        assert ce.violations == []
        assert accepted_alone.status_code == 202
        assert ce.accepted == [(("id", "ABC12345"), GOOD_EVENT)]  # nothing of the refused request


def test_scripted_faults_are_applied_in_order(http):
    with CrossEngageEmulator(
        api_key=API_KEY, faults=["503", "429:7", "drop-before", "drop-after", "500"]
    ) as ce:
        assert post(http, ce).status_code == 503
        throttled = post(http, ce)
        assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "7")
        with pytest.raises(requests.ConnectionError):
            post(http, ce)  # dropped before the body was read: nothing accepted
        assert ce.accepted == []
        with pytest.raises(requests.ConnectionError):
            post(http, ce)  # dropped after processing: accepted, but the client never knew
        assert len(ce.accepted) == 1
        assert post(http, ce).status_code == 500
        assert post(http, ce).status_code == 202  # the script is used up

        assert ce.requests == 6
        assert len(ce.accepted) == 2
        assert ce.compare([(("id", "ABC12345"), GOOD_EVENT)]).duplicates
        assert ce.violations == []


def test_faults_added_later_and_delays(http):
    with CrossEngageEmulator(api_key=API_KEY) as ce:
        ce.add_faults("delay:5")
        with pytest.raises(requests.ReadTimeout):
            http.post(ce.base_url + "/events", json=GOOD_BODY, headers=HEADERS, timeout=(5, 0.2))
        assert len(ce.accepted) == 1  # accepted before the late answer: the ambiguous case


def test_fault_rates_are_drawn_from_the_seeded_generator(http):
    statuses = []
    for _ in range(2):
        with CrossEngageEmulator(api_key=API_KEY, fault_rates={"503": 0.5}, seed=7) as ce:
            statuses.append([post(http, ce).status_code for _ in range(30)])
            assert len(ce.accepted) == statuses[-1].count(202)

    assert statuses[0] == statuses[1]
    assert set(statuses[0]) == {202, 503}


def test_every_request_is_counted_with_its_concurrency_and_connections(emulator, http):
    for _ in range(5):
        post(http, emulator)

    assert emulator.requests == 5
    assert emulator.connections == 1  # keep-alive: one connection reused
    assert emulator.max_concurrent == 1


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("503", Fault("503")),
        ("429", Fault("429", 1.0)),
        ("429:2.5", Fault("429", 2.5)),
        ("drop-after", Fault("drop-after")),
        ("delay:0.1", Fault("delay", 0.1)),
    ],
)
def test_fault_specs_parse(spec, fault):
    assert Fault.parse(spec) == fault


@pytest.mark.parametrize("spec", ["404", "429:soon", "delay", "drop", "ok:1", "429:-1"])
def test_bad_fault_specs_are_refused(spec):
    with pytest.raises(ValueError, match="fault"):
        Fault.parse(spec)


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="Message Opened"):
        CrossEngageEmulator(activated=["Message Opened"])
    with pytest.raises(ValueError, match="probabilities"):
        CrossEngageEmulator(fault_rates={"503": 0.7, "500": 0.7})


def test_compare_shows_missing_unexpected_and_duplicates():
    sent = (("id", "A"), GOOD_EVENT)
    viewed = (("id", "A"), {"event": "Message Viewed", "timestamp": "2022-01-11T00:00:00Z"})
    other_user = (("id", "B"), GOOD_EVENT)

    same = compare([sent, sent], [sent, sent])  # two equal events, both expected
    assert same.exact
    assert same.duplicates  # visible even though expected

    result = compare([sent, viewed], [sent, sent, other_user])
    assert not result.exact
    assert sum(result.missing.values()) == 1  # viewed
    assert sum(result.unexpected.values()) == 2  # the second sent, and user B's
    assert list(result.duplicates.values()) == [2]


def test_state_file_keeps_accepted_events_across_restarts(http, tmp_path):
    state = tmp_path / "accepted.jsonl"
    email_body = {"email": "jane@example.com", "events": [GOOD_EVENT]}
    with CrossEngageEmulator(api_key=API_KEY, state_file=state) as ce:
        post(http, ce)
    with CrossEngageEmulator(api_key=API_KEY, state_file=state) as ce:
        post(http, ce, email_body)

    assert read_accepted(state) == [
        (("id", "ABC12345"), GOOD_EVENT),
        (("email", "jane@example.com"), GOOD_EVENT),
    ]


@pytest.mark.slow
def test_runs_as_a_process_printing_its_url_and_persisting_events(tmp_path: Path):
    state = tmp_path / "accepted.jsonl"
    command = [
        sys.executable,
        "-m",
        "msgevents.testing.crossengage_emulator",
        "--port",
        "0",
        "--api-key",
        API_KEY,
        "--state-file",
        str(state),
        "--activated",
        "Message Sent",
        "--fault",
        "503",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        with requests.Session() as http:
            statuses = [
                http.post(base_url + "/events", json=GOOD_BODY, headers=HEADERS).status_code for _ in range(2)
            ]
            bad = {"id": "X", "events": [{"event": "Message Viewed", "timestamp": "2022-01-11T00:00:00Z"}]}
            not_activated = http.post(base_url + "/events", json=bad, headers=HEADERS)
            violation = http.post(base_url + "/events", json={"id": "X", "events": []}, headers=HEADERS)
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)

    assert statuses == [503, 202]
    assert not_activated.status_code == 400
    assert violation.status_code == 400
    assert process.returncode == 0
    assert '"type": "EMPTY"' in stderr  # violations are reported on stderr
    assert read_accepted(state) == [(("id", "ABC12345"), GOOD_EVENT)]
    summary = json.loads(stdout.strip().splitlines()[-1])  # the last line, on SIGTERM
    assert summary == {
        "requests": 4,
        "accepted": 1,
        "violations": 1,
        "rejected": 1,
        "max_concurrent": 1,
        "connections": 1,
    }
