"""REST unsubscribes, replayed from cassettes.

Covers newest-first offset paging with the early stop at the window start, the
short-page stop, entries after the window's end, 401 (never retried), 429 with
Retry-After, 5xx retries, malformed JSON, and the mapping of REST elements
(global unsubscribes without a mailing). Recorded against ``emulator.py``.
"""

from __future__ import annotations

import pytest

import msgevents
from msgevents.timestamps import parse_iso8601

from .emulator import Dataset, Fault
from .support import DAY_MS, HOUR_MS, pull_all, window

pytestmark = pytest.mark.vcr

DATASET = Dataset.generate(seed=11, mailings=2, recipients=300)
WHOLE_DAY = window(DAY_MS, DATASET.now_ms)


def _newest_first(elements: list[dict]) -> list[dict]:
    return sorted(elements, key=lambda u: u["created"], reverse=True)


def _of(media_type: str, elements: list[dict] | None = None) -> list[dict]:
    return [
        u for u in (DATASET.unsubscribes if elements is None else elements) if u["mediaType"] == media_type
    ]


def _offsets(vcr) -> list[int]:
    return [int(dict(r.query)["offset"]) for r in vcr.requests if r.path.endswith("/unsubscribes")]


def test_unsubscribes_page_newest_first_and_stop_before_the_window(episerver, played, vcr):
    """Pages go back in time by offset and stop at the first entry older than since."""
    since, until = DAY_MS + 4 * HOUR_MS, DAY_MS + 8 * HOUR_MS
    inside = _of("EMAIL", DATASET.unsubscribes_between(since, until))
    older = _of("EMAIL", DATASET.unsubscribes_between(0, since))
    assert len(inside) > 5
    assert len(older) > 10  # enough to prove the pages before them are never asked for
    provider = episerver(DATASET, page_size=5, unsubscribe_media_types="EMAIL")

    records, _ = pull_all(provider, "unsubscribes", window(since, until))

    assert [r.data for r in records] == _newest_first(inside)
    offsets = _offsets(vcr)
    assert offsets == list(range(0, 5 * len(offsets), 5))
    newer = len(_of("EMAIL", DATASET.unsubscribes_between(until, DATASET.now_ms + HOUR_MS)))
    assert len(offsets) == (newer + len(inside)) // 5 + 1
    assert 5 * len(offsets) < len(DATASET.unsubscribes)
    query = dict(vcr.requests[0].query)
    assert query == {
        "offset": "0",
        "limit": "5",
        "sort": "created",
        "direction": "DESC",
        "mediaType": "EMAIL",
    }
    assert set(played()) == {"GET /unsubscribes"}


def test_unsubscribes_end_at_a_short_page(episerver, played):
    """A window reaching back before every entry stops at the first short page, list by list."""
    provider = episerver(DATASET, page_size=7)

    records, sizes = pull_all(provider, "unsubscribes", window(DAY_MS - 24 * HOUR_MS, DATASET.now_ms))

    assert [r.data for r in records] == _newest_first(_of("GLOBAL")) + _newest_first(_of("EMAIL"))
    pages = len(_of("GLOBAL")) // 7 + 1 + len(_of("EMAIL")) // 7 + 1
    assert played() == ["GET /unsubscribes"] * pages
    assert sum(sizes) == len(DATASET.unsubscribes)


def test_the_global_list_and_the_email_list_are_read_by_default(episerver, vcr):
    """Without mediaType the API answers only its default (GLOBAL) list: EMAIL is asked for by name."""
    provider = episerver(DATASET)

    records, _ = pull_all(provider, "unsubscribes", WHOLE_DAY)

    assert {r.data["mediaType"] for r in records} == {"GLOBAL", "EMAIL"}
    assert len(records) == len(DATASET.unsubscribes)
    assert [dict(r.query).get("mediaType") for r in vcr.requests] == [None, "EMAIL"]
    assert [r.source for r in records][-1].startswith("GET /unsubscribes mediaType=EMAIL offset=")


def test_media_types_are_a_setting(episerver, vcr):
    """UNSUBSCRIBE_MEDIA_TYPES=SMS,EMAIL: each list asked for by name, in that order, none without."""
    provider = episerver(DATASET, unsubscribe_media_types="sms, email")

    records, _ = pull_all(provider, "unsubscribes", WHOLE_DAY)

    assert [dict(r.query).get("mediaType") for r in vcr.requests] == ["SMS", "EMAIL"]
    assert [r.data for r in records] == _newest_first(_of("EMAIL"))


def test_unsubscribes_after_the_window_are_not_yielded(episerver):
    """Entries at or after until are skipped; the window is half-open."""
    cut = parse_iso8601(_newest_first(DATASET.unsubscribes)[3]["created"])
    provider = episerver(DATASET)

    records, _ = pull_all(provider, "unsubscribes", msgevents.Window(WHOLE_DAY.since, cut))

    created = [parse_iso8601(r.data["created"]) for r in records]
    assert created
    assert all(c < cut for c in created)
    assert len(records) == len([u for u in DATASET.unsubscribes if parse_iso8601(u["created"]) < cut])


def test_unsubscribes_map_to_events_and_global_ones_have_no_message(episerver):
    """REST elements map to Message Unsubscribed at created; no mailingId → no message_id."""
    provider = episerver(DATASET)

    records, _ = pull_all(provider, "unsubscribes", WHOLE_DAY)
    events = [e for r in records for e in provider.map_record(r)]

    assert len(events) == len(DATASET.unsubscribes)
    for record, event in zip(records, events, strict=True):
        assert event.event is msgevents.EventType.UNSUBSCRIBED
        assert event.timestamp == parse_iso8601(record.data["created"])
        mailing = record.data.get("mailingId")
        assert event.message_id == (str(mailing) if mailing else None)
        assert event.campaign_id == event.message_id
        assert event.account == provider.settings.client_id
    assert any(e.message_id is None for e in events)


def test_refused_credentials_are_an_auth_error_without_retry(episerver, played, sleeps):
    """401 → AuthError (exit 3) after exactly one request."""
    provider = episerver(DATASET, password="wrong-password")

    with pytest.raises(msgevents.AuthError, match="refused the credentials"):
        pull_all(provider, "unsubscribes", WHOLE_DAY)
    assert played() == ["GET /unsubscribes"]
    assert sleeps == []


def test_429_is_retried_after_the_time_retry_after_says(episerver, played, sleeps):
    """429 with Retry-After: 2 → one wait of 2 s, then the page."""
    provider = episerver(DATASET, faults=[Fault.http("unsubscribes", 429, retry_after=2)])

    records, _ = pull_all(provider, "unsubscribes", WHOLE_DAY)

    assert sleeps == [2.0]
    assert len(records) == len(DATASET.unsubscribes)
    assert played() == ["GET /unsubscribes"] * 3  # the 429 and its retry (GLOBAL), then EMAIL


def test_server_errors_are_retried(episerver, played, sleeps):
    """503 then 502 on the second page: retried, every entry yielded once."""
    faults = [Fault.http("unsubscribes", 503, after=1), Fault.http("unsubscribes", 502, after=1)]
    provider = episerver(DATASET, faults=faults, page_size=20, unsubscribe_media_types="EMAIL")

    records, _ = pull_all(provider, "unsubscribes", WHOLE_DAY)

    assert [r.data for r in records] == _newest_first(_of("EMAIL"))
    assert len(sleeps) == 2
    assert played().count("GET /unsubscribes") == len(_of("EMAIL")) // 20 + 1 + 2


def test_answer_that_is_not_json_is_a_provider_error(episerver):
    """A 200 that is not JSON (a proxy page) → ProviderUnavailableError, nothing yielded."""
    provider = episerver(DATASET, faults=[Fault.garbage("unsubscribes")])

    with pytest.raises(msgevents.ProviderUnavailableError, match="not JSON"):
        pull_all(provider, "unsubscribes", WHOLE_DAY)
