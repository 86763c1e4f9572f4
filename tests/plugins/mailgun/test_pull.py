"""Pulling from the Mailgun Events API, replayed from cassettes recorded against ``emulator.py``.

Covers opaque paging to an empty last page, the request parameters, 429 with Retry-After,
5xx until the retries run out, a refused key (exit 3), an unknown domain (exit 2), the clock
from the ``Date`` header, ``check``, and two live runs with events indexed late in between:
the second run picks them up and re-delivers nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

import msgevents
from msgevents.pipeline import CollectOptions, Collector
from msgevents.sinks.feed import FeedSink
from msgevents.timestamps import parse_epoch_seconds

from .emulator import make_event
from .recording import PLACEHOLDER

pytestmark = pytest.mark.vcr

T0 = 1_730_707_200.0  # 2024-11-04T08:00:00Z: the emulator's clock unless a test moves it
AT = datetime.fromtimestamp(T0, UTC)


def fill(emulator, items, indexed_at=None):
    """Store ``items`` in the emulator while recording (on replay the cassette answers)."""
    if emulator is not None:
        for item in items:
            emulator.add(item, indexed_at)


def window(since: float, until: float) -> msgevents.Window:
    return msgevents.Window(parse_epoch_seconds(since), parse_epoch_seconds(until))


def pull_all(provider, since: float, until: float) -> tuple[list[dict], list[int]]:
    pages = list(provider.pull("events", window(since, until)))
    return [r.data for page in pages for r in page], [len(page) for page in pages]


def queries(vcr) -> list[dict[str, str]]:
    return [{k: v[-1] for k, v in parse_qs(urlsplit(r.uri).query).items()} for r in vcr.requests]


def test_pages_follow_the_opaque_next_url_until_an_empty_page(mailgun, emulator, vcr):
    items = [make_event(i, T0 - 3600 + i * 60, user_id=f"U{i}") for i in range(7)]
    fill(emulator, items)
    provider = mailgun(page_limit=3)

    got, sizes = pull_all(provider, T0 - 7200, T0)

    assert [item["id"] for item in got] == [item["id"] for item in items]
    assert sizes == [3, 3, 1]
    assert len(vcr.requests) == 4  # three pages with items, then the empty last page
    first = queries(vcr)[0]
    assert first == {"begin": str(int(T0 - 7200)), "end": str(int(T0)), "ascending": "yes", "limit": "3"}
    paths = [urlsplit(r.uri).path for r in vcr.requests]
    assert paths[0] == f"/v3/{PLACEHOLDER['domain']}/events"
    assert all(p.startswith(f"/v3/{PLACEHOLDER['domain']}/events/") for p in paths[1:])
    assert all(urlsplit(r.uri).query == "" for r in vcr.requests[1:])  # the cursor URL as given
    assert {r.headers["Authorization"] for r in vcr.requests} == {"Basic REDACTED"}


def test_events_at_or_after_the_window_end_are_left_for_the_next_run(mailgun, emulator):
    until = T0 - 0.5  # Mailgun's end is whole seconds: the page may hold events up to T0
    fill(emulator, [make_event(1, T0 - 10, user_id="U1"), make_event(2, T0 - 0.25, user_id="U2")])
    got, _ = pull_all(mailgun(), T0 - 60, until)
    assert [item["id"] for item in got] == [make_event(1, 0)["id"]]


def test_429_is_retried_after_the_retry_after_seconds(mailgun, emulator, sleeps, vcr):
    fill(emulator, [make_event(1, T0 - 100, user_id="U1")])
    if emulator is not None:
        emulator.fail(429, retry_after="7", body='{"message": "rate limit"}')
    provider = mailgun()

    got, _ = pull_all(provider, T0 - 3600, T0)

    assert len(got) == 1
    assert sleeps == [7.0]
    assert len(vcr.requests) == 3  # the 429, the page, the empty last page
    assert provider.stats.as_dict()["throttled"] == 1
    assert provider.stats.as_dict()["retries"] == 1


def test_5xx_until_the_retries_run_out_is_an_incomplete_run(mailgun, emulator, sleeps):
    if emulator is not None:
        emulator.fail(503, times=3, body="upstream unavailable")
    provider = mailgun(http_retries=3)

    with pytest.raises(msgevents.IncompleteError, match="failed 3 times; last: HTTP 503"):
        pull_all(provider, T0 - 3600, T0)
    assert len(sleeps) == 2


def test_a_refused_key_is_an_auth_error_naming_the_setting(mailgun, emulator):
    provider = mailgun(api_key="key-wrong-0000")
    with pytest.raises(msgevents.AuthError, match="MSGEVENTS_MAILGUN_API_KEY") as caught:
        pull_all(provider, T0 - 3600, T0)
    assert "HTTP 401" in str(caught.value)
    assert "key-wrong-0000" not in str(caught.value)


def test_an_unknown_domain_is_a_configuration_error(mailgun, emulator):
    provider = mailgun(domain="mg.unknown.example.net")
    with pytest.raises(msgevents.ConfigError, match="MSGEVENTS_MAILGUN_DOMAIN"):
        provider.check()


def test_now_is_mailguns_clock_from_the_date_header(mailgun, emulator, vcr):
    if emulator is not None:
        emulator.now = T0 + 12.7
    provider = mailgun()
    local = []

    provider._clock = lambda: local.append(1) or datetime(1999, 1, 1, tzinfo=UTC)  # a wrong local clock
    assert provider.now() == AT + timedelta(seconds=12)  # HTTP dates have whole seconds
    assert local == []
    assert queries(vcr) == [{"limit": "1", "ascending": "no"}]


def test_check_makes_one_cheap_authenticated_call(mailgun, emulator, vcr):
    provider = mailgun()
    text = provider.check()
    assert provider.settings.domain in text
    assert "2024-11-04T08:00:00" in text
    assert len(vcr.requests) == 1


def feed_rows(directory: Path) -> list[dict]:
    return [row for p in sorted(directory.glob("event_history_*.json")) for row in json.loads(p.read_text())]


def test_events_indexed_late_are_picked_up_by_the_next_run_and_nothing_twice(mailgun, emulator, tmp_path):
    """Run 1 at T0, run 2 at T0 + 20 min (the emulator's clock: Mailgun's Date header).

    Run 1 reads up to T0 - 30 min (settle). Before run 2, an event of T0 - 45 min is indexed
    late; an event of T0 - 15 min was too young for run 1. Run 2 re-reads from its position
    minus 30 min (restatement): it delivers both and nothing of run 1 again.
    """
    early = [make_event(i, T0 - 7200 + i * 300, user_id=f"U{i}") for i in range(12)]  # T0-2h .. T0-65m
    early += [make_event(50, T0 - 55 * 60, user_id="U50"), make_event(51, T0 - 35 * 60, user_id="U51")]
    young = make_event(100, T0 - 15 * 60, user_id="U100")
    late = make_event(200, T0 - 45 * 60, event="opened", user_id="U200")
    fill(emulator, [*early, young])
    fill(emulator, [late], indexed_at=T0 + 10 * 60)
    sink_dir = tmp_path / "feeds"
    options = CollectOptions(state_path=tmp_path / "state" / "s.db", since=AT - timedelta(hours=3))

    first = Collector(mailgun(page_limit=5), FeedSink(str(sink_dir)), options).run()
    if emulator is not None:
        emulator.now = T0 + 20 * 60
    second_options = CollectOptions(state_path=tmp_path / "state" / "s.db")
    second = Collector(mailgun(page_limit=5), FeedSink(str(sink_dir)), second_options).run()

    assert first.exit_code == 0
    assert first.total("delivered") == 14
    assert first.windows["events"]["until"] == "2024-11-04T07:30:00Z"
    assert second.exit_code == 0
    assert second.windows["events"]["since"] == "2024-11-04T07:00:00Z"
    assert second.windows["events"]["until"] == "2024-11-04T07:50:00Z"
    assert second.total("delivered") == 2  # the late one and the young one
    assert second.total("already_delivered") == 2  # U50 and U51: re-read, settled, not sent again
    rows = feed_rows(sink_dir)
    expected = [*(f"U{i}" for i in range(12)), "U50", "U51", "U100", "U200"]
    assert sorted(row["id"] for row in rows) == sorted(expected)
    assert len(rows) == len({(r["id"], r["event"], r["timestamp"]) for r in rows})


class _NoHttp:
    def request(self, *args, **kwargs):
        raise AssertionError("no request may be sent")


@pytest.mark.parametrize(
    "url",
    [
        "https://api.mailgun.net.evil.example.com/v3/mg.example.com/events/abc",
        "http://api.mailgun.net/v3/mg.example.com/events/abc",
        "https://api.eu.mailgun.net/v3/mg.example.com/events/abc",
    ],
)
def test_a_paging_url_on_another_origin_is_never_sent_the_key(url):
    from msgevents_mailgun.api import MailgunApi

    api = MailgunApi(_NoHttp(), "https://api.mailgun.net", "mg.example.com", "MSGEVENTS_MAILGUN_")
    with pytest.raises(msgevents.ProviderUnavailableError, match="another host"):
        api.get(url)
