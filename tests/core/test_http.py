"""The HTTP client (``msgevents.http.HttpClient``) against a scripted server on 127.0.0.1.

Covers retries of 5xx and 429 (``Retry-After`` in seconds or as an HTTP
date, malformed values falling back to backoff), 4xx returned at once,
retries running out (:class:`RetriesExhaustedError` with the status and
without credentials or query string), refused connections (retried, not
ambiguous), connections dropped after the request was read (ambiguous) and
the stats counters. Sleeping is injected: no test waits for real.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from msgevents.http import HttpClient, RetriesExhaustedError, RetryPolicy
from msgevents.sink import DeliveryStats


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def stats() -> DeliveryStats:
    return DeliveryStats()


def counts(stats: DeliveryStats) -> dict[str, int]:
    """The counters the HTTP client keeps (a sink's stats may hold more)."""
    return {name: stats.as_dict()[name] for name in ("requests", "retries", "throttled", "ambiguous")}


@pytest.fixture(params=[False, True], ids=["session", "stateless"])
def client(request, sleeps, stats):
    """Every test runs with both ways of sending: ``Session.request``, and a stateless client's
    request prepared once and sent by ``Session.send``."""
    made: list[HttpClient] = []

    def make(**options) -> HttpClient:
        options.setdefault("retry", RetryPolicy(attempts=4, backoff=0.5, backoff_max=30.0))
        options.setdefault("stateless", request.param)
        built = HttpClient("test-api", sleep=sleeps.append, stats=stats, timeout=(5.0, 5.0), **options)
        made.append(built)
        return built

    yield make
    for built in made:
        built.close()


def test_a_200_is_returned_at_once(http_server, client, sleeps, stats):
    response = client(headers={"X-Test": "yes"}).request("POST", http_server.url + "/events", json={"a": 1})
    assert response.status_code == 200
    assert response.ambiguous is False
    assert sleeps == []
    assert stats.as_dict()["requests"] == 1
    [seen] = http_server.requests
    assert (seen.method, seen.path, seen.body) == ("POST", "/events", b'{"a": 1}')
    assert seen.headers["X-Test"] == "yes"


def test_server_errors_are_retried_with_exponential_backoff(reply, http_server, client, sleeps, stats):
    http_server.script(reply(500), reply(503), reply(500), reply(200, body=b"ok"))
    response = client().request("GET", http_server.url + "/x")
    assert response.status_code == 200
    assert response.text == "ok"
    assert len(http_server.requests) == 4
    # retry n waits between half and all of min(backoff_max, 0.5 * 2**(n-1))
    assert len(sleeps) == 3
    assert 0.25 <= sleeps[0] <= 0.5
    assert 0.5 <= sleeps[1] <= 1.0
    assert 1.0 <= sleeps[2] <= 2.0
    assert counts(stats) == {"requests": 4, "retries": 3, "throttled": 0, "ambiguous": 0}


def test_backoff_is_capped(reply, http_server, client, sleeps):
    http_server.script(*[reply(503)] * 5)
    client(retry=RetryPolicy(attempts=6, backoff=1.0, backoff_max=2.0)).request("GET", http_server.url)
    assert len(sleeps) == 5
    assert all(s <= 2.0 for s in sleeps)
    assert all(s >= 1.0 for s in sleeps[1:])


def test_429_with_retry_after_seconds_sleeps_exactly_that(reply, http_server, client, sleeps, stats):
    http_server.script(reply(429, headers={"Retry-After": "2"}))
    response = client().request("GET", http_server.url)
    assert response.status_code == 200
    assert sleeps == [2.0]
    assert stats.throttled == 1
    assert stats.retries == 1


def test_retry_after_is_honoured_on_503_too(reply, http_server, client, sleeps):
    http_server.script(reply(503, headers={"Retry-After": "7"}))
    client().request("GET", http_server.url)
    assert sleeps == [7.0]


def test_retry_after_as_an_http_date(reply, http_server, client, sleeps):
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    http_server.script(reply(429, headers={"Retry-After": soon}))
    client(retry=RetryPolicy(attempts=2, retry_after_max=1000.0)).request("GET", http_server.url)
    [slept] = sleeps
    assert 60.0 < slept <= 120.0  # about two minutes (the header has whole seconds)


def test_retry_after_is_capped(reply, http_server, client, sleeps):
    far = format_datetime(datetime.now(UTC) + timedelta(hours=5), usegmt=True)
    http_server.script(reply(429, headers={"Retry-After": far}), reply(429, headers={"Retry-After": "86400"}))
    client(retry=RetryPolicy(attempts=3, retry_after_max=300.0)).request("GET", http_server.url)
    assert sleeps == [300.0, 300.0]


def test_retry_after_in_the_past_means_now(reply, http_server, client, sleeps):
    past = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    http_server.script(reply(429, headers={"Retry-After": past}))
    client().request("GET", http_server.url)
    assert sleeps == [0.0]


@pytest.mark.parametrize("header", ["soon", "-5", "1.5.3", "Thu, 99 Foo 2024"])
def test_malformed_retry_after_falls_back_to_backoff(reply, http_server, client, sleeps, header):
    http_server.script(reply(429, headers={"Retry-After": header}))
    response = client().request("GET", http_server.url)
    assert response.status_code == 200
    [slept] = sleeps
    assert 0.25 <= slept <= 0.5


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_4xx_is_returned_without_retry(reply, http_server, client, sleeps, stats, status):
    http_server.script(reply(status, body=b'{"field":"event","type":"UNKNOWN_VALUE"}'))
    response = client().request("POST", http_server.url + "/events", json={})
    assert response.status_code == status
    assert response.json() == {"field": "event", "type": "UNKNOWN_VALUE"}
    assert sleeps == []
    assert len(http_server.requests) == 1
    assert stats.retries == 0


def test_retry_statuses_can_be_narrowed_per_request(reply, http_server, client, sleeps):
    http_server.script(reply(503))
    response = client().request("GET", http_server.url, retry_statuses=())
    assert response.status_code == 503
    assert sleeps == []


def test_retries_exhausted_names_status_without_credentials_or_query(
    reply, http_server, client, sleeps, stats
):
    http_server.script(*[reply(503)] * 3)
    url = f"http://apiuser:pa55word@127.0.0.1:{http_server.port}/rest/events?api_key=k3y-value&x=1"
    with pytest.raises(RetriesExhaustedError) as caught:
        client(retry=RetryPolicy(attempts=3)).request("GET", url)
    error = caught.value
    assert error.status == 503
    assert error.ambiguous is False
    message = str(error)
    assert "test-api" in message
    assert "HTTP 503" in message
    assert "3 times" in message
    assert f"127.0.0.1:{http_server.port}/rest/events" in message
    for leaked in ("pa55word", "apiuser", "k3y-value", "api_key", "?"):
        assert leaked not in message
    assert len(sleeps) == 2
    assert stats.requests == 3


def test_a_refused_connection_is_retried_and_not_ambiguous(closed_port, client, sleeps, stats):
    with pytest.raises(RetriesExhaustedError) as caught:
        client(retry=RetryPolicy(attempts=3)).request(
            "POST", f"http://127.0.0.1:{closed_port}/events", json={}
        )
    assert caught.value.ambiguous is False
    assert caught.value.status is None
    assert "connection refused" in str(caught.value)
    assert len(sleeps) == 2
    assert counts(stats) == {"requests": 3, "retries": 2, "throttled": 0, "ambiguous": 0}


def test_a_connection_dropped_after_the_request_was_read_is_ambiguous(
    reply, http_server, client, sleeps, stats
):
    http_server.script(reply(drop=True), reply(202))
    response = client().request("POST", http_server.url + "/events", json={"id": "ABC12345"})
    assert response.status_code == 202
    assert response.ambiguous is True  # the first request may have been processed
    assert len(http_server.requests) == 2  # the server did read it
    assert http_server.requests[0].body == http_server.requests[1].body
    assert stats.ambiguous == 1
    assert stats.retries == 1
    assert len(sleeps) == 1


def test_dropped_every_time_raises_ambiguous(reply, http_server, client, stats):
    http_server.script(*[reply(drop=True)] * 3)
    with pytest.raises(RetriesExhaustedError) as caught:
        client(retry=RetryPolicy(attempts=3)).request("POST", http_server.url, json={})
    assert caught.value.ambiguous is True
    assert "connection lost" in str(caught.value)
    assert stats.ambiguous == 1  # one request that may have been processed, however many attempts


def test_ambiguous_counts_requests_not_attempts(reply, http_server, client, stats):
    http_server.script(reply(drop=True), reply(504), reply(drop=True), reply(202))
    response = client(retry=RetryPolicy(attempts=4)).request("POST", http_server.url, json={})
    assert response.ambiguous is True
    assert counts(stats) == {"requests": 4, "retries": 3, "throttled": 0, "ambiguous": 1}


def test_stats_count_requests_retries_throttled_and_ambiguous(reply, http_server, client, stats):
    http_server.script(
        reply(429, headers={"Retry-After": "0"}),
        reply(drop=True),
        reply(500),
        reply(429, headers={"Retry-After": "1"}),
        reply(202),
    )
    response = client(retry=RetryPolicy(attempts=6)).request("POST", http_server.url, json={})
    assert response.status_code == 202
    assert response.ambiguous is True
    assert counts(stats) == {"requests": 5, "retries": 4, "throttled": 2, "ambiguous": 1}


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_error_may_hide_a_processed_request_so_the_retry_is_ambiguous(
    status, reply, http_server, client, stats
):
    http_server.script(reply(status), reply(202))
    response = client().request("POST", http_server.url, data=b"{}")
    assert response.status_code == 202
    assert response.ambiguous is True
    assert counts(stats) == {"requests": 2, "retries": 1, "throttled": 0, "ambiguous": 1}


def test_a_later_success_after_only_unambiguous_failures_is_not_ambiguous(reply, http_server, client):
    http_server.script(reply(500), reply(429))
    assert client().request("GET", http_server.url).ambiguous is False


def test_retry_calls_repeats_until_the_predicate_is_satisfied_and_counts_retries(client, sleeps, stats):
    """The loop request() uses, open to callers whose decision needs the body (SOAP faults)."""
    answers = iter(["busy", "busy", "done", "never asked"])
    result = client(retry=RetryPolicy(attempts=5, backoff=1.0, backoff_max=8.0)).retry_calls(
        lambda: next(answers), again=lambda answer: answer == "busy"
    )
    assert result == "done"
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0
    assert 1.0 <= sleeps[1] <= 2.0
    assert stats.retries == 2


def test_retry_calls_returns_the_last_result_when_attempts_run_out(client, sleeps, stats):
    calls = []
    result = client(retry=RetryPolicy(attempts=3)).retry_calls(
        lambda: calls.append(1) or len(calls), again=lambda _n: True
    )
    assert (result, len(calls), len(sleeps), stats.retries) == (3, 3, 2, 2)


def test_each_attempt_sends_the_clients_headers_and_auth_the_calls_headers_and_the_same_body(
    reply, http_server, client
):
    http_server.script(reply(503), reply(200))
    api = client(headers={"X-Api-Version": "1", "Accept": "application/json"}, auth=("user", "pw"))
    response = api.request(
        "POST", http_server.url + "/events?x=1", data=b'{"a":1}', headers={"Accept": "text/plain"}
    )
    assert response.status_code == 200
    first, second = http_server.requests
    for seen in (first, second):
        assert (seen.method, seen.path, seen.body) == ("POST", "/events?x=1", b'{"a":1}')
        assert seen.headers["X-Api-Version"] == "1"
        assert seen.headers["Accept"] == "text/plain"  # the call's header wins over the client's
        assert seen.headers["Authorization"] == "Basic dXNlcjpwdw=="  # user:pw
        assert seen.headers["Content-Length"] == "7"
