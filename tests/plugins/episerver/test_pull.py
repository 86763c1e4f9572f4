"""Pulling closed-loop rows over SOAP, replayed from cassettes.

Covers login, getCurrentTime, startRow paging over several pages, windows on
export-file time, session renewal (before 20 minutes and after a session
fault), faults (5xx, 429 + Retry-After, SOAP faults, refused login), URL
resolution of clicks through REST tracking links, malformed rows, the
``<return>`` and Axis multiRef result shapes, check and logout.
Recorded against ``emulator.py`` (see ``conftest.py`` for re-recording).
"""

from __future__ import annotations

import pytest

import msgevents
from msgevents_episerver.soap import SESSION_RENEW_AFTER, SoapFaultError

from .emulator import Dataset, Fault
from .support import DAY_MS, HOUR_MS, at, cells_of, pull_all, soap_params, window

pytestmark = pytest.mark.vcr

DATASET = Dataset.generate(seed=7, mailings=2, recipients=30)
WHOLE_DAY = window(DAY_MS, DATASET.now_ms)
OPENS = ("mailing_id", "recipient_list_id", "recipient_id", "timestamp")


def test_now_logs_in_and_returns_server_time(episerver, played):
    """now() is getCurrentTime after a login, as an aware UTC datetime."""
    provider = episerver(DATASET)

    now = provider.now()

    assert now == at(DATASET.now_ms)
    assert now.utcoffset().total_seconds() == 0
    assert played() == ["login", "getCurrentTime"]


def test_pull_pages_by_start_row_until_a_short_page(episerver, played, vcr):
    """startRow advances by the rows returned; the short last page ends the stream."""
    provider = episerver(DATASET, page_size=7)
    expected = DATASET.expected("recipients", DAY_MS, DATASET.now_ms)

    records, sizes = pull_all(provider, "recipients", WHOLE_DAY)

    assert [cells_of(r, OPENS) for r in records] == expected
    assert len(sizes) > 3
    assert all(size == 7 for size in sizes[:-1])
    assert 0 < sizes[-1] < 7
    requests = [r for r in vcr.requests if "getRecipients" in r.body.decode()]
    start_rows = [int(soap_params(r)[3]) for r in requests]
    assert start_rows == list(range(0, len(expected), 7))
    assert {soap_params(r)[4] for r in requests} == {"7"}
    assert played() == ["login"] + ["getRecipients"] * len(sizes)


def test_exact_multiple_of_page_size_asks_once_more(episerver, played):
    """A full last page is followed by one request that returns no rows (and no empty page)."""
    expected = DATASET.expected("recipients", DAY_MS, DATASET.now_ms)
    assert len(expected) == 60  # 30 recipients x 2 mailings
    provider = episerver(DATASET, page_size=20)

    records, sizes = pull_all(provider, "recipients", WHOLE_DAY)

    assert [cells_of(r, OPENS) for r in records] == expected
    assert sizes == [20, 20, 20]
    assert played() == ["login"] + ["getRecipients"] * 4


def test_window_is_sent_in_server_milliseconds(episerver, vcr):
    """since/until select export-file time: only rows of files in [since, until) come back."""
    provider = episerver(DATASET)
    since, until = DAY_MS + 2 * HOUR_MS, DAY_MS + 5 * HOUR_MS

    records, _ = pull_all(provider, "opens", window(since, until))

    expected = DATASET.expected("opens", since, until)
    assert 0 < len(expected) < len(DATASET.opens)
    assert [cells_of(r, OPENS) for r in records] == expected
    params = soap_params(vcr.requests[-1])
    assert params[1:3] == [str(since), str(until)]


def test_session_is_renewed_before_twenty_minutes(episerver, played, clock, vcr):
    """A session older than the renewal age is logged out and replaced before the next call."""
    provider = episerver(DATASET, page_size=10)
    pages = provider.pull("recipients", WHOLE_DAY)

    first = next(pages)
    clock.advance(SESSION_RENEW_AFTER + 1)
    rest = [record for page in pages for record in page]

    assert len(first) + len(rest) == len(DATASET.recipients)
    calls = played()
    assert calls[:4] == ["login", "getRecipients", "logout", "login"]
    sessions = [soap_params(r)[0] for r in vcr.requests if "getRecipients" in r.body.decode()]
    assert sessions[0] != sessions[1]
    assert len(set(sessions[1:])) == 1
    assert SESSION_RENEW_AFTER < 20 * 60


def test_expired_session_fault_logs_in_again_and_repeats_the_call(episerver, played, vcr):
    """A fault mentioning the session: one new login, the same call repeated, nothing lost."""
    provider = episerver(DATASET, faults=[Fault.session_expired("getOpens", after=1)], page_size=10)

    records, _ = pull_all(provider, "opens", WHOLE_DAY)

    assert [cells_of(r, OPENS) for r in records] == DATASET.expected("opens", DAY_MS, DATASET.now_ms)
    calls = played()
    assert calls[:5] == ["login", "getOpens", "getOpens", "login", "getOpens"]
    repeated = [soap_params(r) for r in vcr.requests if "getOpens" in r.body.decode()][1:3]
    assert repeated[0][1:] == repeated[1][1:]
    assert repeated[0][0] != repeated[1][0]


def test_second_session_fault_in_a_row_is_an_error(episerver, played):
    """Re-login happens once per call: a second session fault is reported, not looped on."""
    provider = episerver(DATASET, faults=[Fault.session_expired("getOpens", times=2)])

    with pytest.raises(SoapFaultError, match=r"(?i)session"):
        pull_all(provider, "opens", WHOLE_DAY)
    assert played() == ["login", "getOpens", "login", "getOpens"]


def test_refused_login_is_an_auth_error(episerver, played):
    """A login fault refusing the credentials → AuthError (exit 3), no retry."""
    provider = episerver(DATASET, password="wrong-password")

    with pytest.raises(msgevents.AuthError, match="refused the SOAP login") as info:
        provider.now()
    assert "wrong-password" not in str(info.value)
    assert played() == ["login"]


def test_server_errors_are_retried(episerver, played, sleeps):
    """HTTP 503 twice, then the page: retried with backoff, every row delivered once."""
    provider = episerver(DATASET, faults=[Fault.http("getClicks", 503, times=2)])

    records, _ = pull_all(provider, "clicks", WHOLE_DAY)

    assert len(records) == len(DATASET.clicks)
    assert len(sleeps) == 2
    assert played()[:4] == ["login", "getClicks", "getClicks", "getClicks"]


def test_http_500_without_a_soap_fault_is_retried(episerver, played, sleeps):
    """A 500 carrying no SOAP fault is a server failure, retried like any 5xx."""
    provider = episerver(DATASET, faults=[Fault.http("getResponses", 500)])

    records, _ = pull_all(provider, "responses", WHOLE_DAY)

    assert len(records) == len(DATASET.responses)
    assert len(sleeps) == 1
    assert played() == ["login", "getResponses", "getResponses"]


def test_soap_fault_is_reported_not_retried(episerver, played, sleeps):
    """A Client fault (HTTP 500 with a Fault body: the request is wrong) is reported at once."""
    fault = Fault.soap_fault("getResponses", "Closed loop export is not available", code="soapenv:Client")
    provider = episerver(DATASET, faults=[fault])

    with pytest.raises(SoapFaultError, match="Closed loop export is not available"):
        pull_all(provider, "responses", WHOLE_DAY)
    assert sleeps == []
    assert played() == ["login", "getResponses"]


TEMPORARY = "A temporary internal error occurred, please retry"


def test_server_fault_is_retried_like_a_5xx(episerver, played, sleeps):
    """SOAP 1.1: a Server fault may succeed later: repeated with backoff, every row delivered once."""
    fault = Fault.soap_fault("getOpens", TEMPORARY, code="soapenv:Server.generalException", times=2)
    provider = episerver(DATASET, faults=[fault])

    records, _ = pull_all(provider, "opens", WHOLE_DAY)

    assert [cells_of(r, OPENS) for r in records] == DATASET.expected("opens", DAY_MS, DATASET.now_ms)
    assert len(sleeps) == 2
    assert played() == ["login", "getOpens", "getOpens", "getOpens"]


def test_server_fault_on_login_is_retried_not_a_credentials_error(episerver, played, sleeps):
    fault = Fault.soap_fault("login", TEMPORARY, code="soapenv:Server.generalException")
    provider = episerver(DATASET, faults=[fault])

    assert provider.now() == at(DATASET.now_ms)
    assert len(sleeps) == 1
    assert played() == ["login", "login", "getCurrentTime"]


def test_server_faults_until_the_budget_is_spent_are_incomplete(episerver, played, sleeps):
    """The same budget as a 5xx: then RetriesExhaustedError (exit 4) quoting the fault."""
    fault = Fault.soap_fault("getClicks", TEMPORARY, code="soapenv:Server.generalException", times=0)
    provider = episerver(DATASET, faults=[fault])

    with pytest.raises(msgevents.RetriesExhaustedError, match="temporary internal error") as info:
        pull_all(provider, "clicks", WHOLE_DAY)
    attempts = msgevents.RetryPolicy().attempts
    assert isinstance(info.value, msgevents.IncompleteError)
    assert played() == ["login"] + ["getClicks"] * attempts
    assert len(sleeps) == attempts - 1


def test_permission_fault_is_an_auth_error(episerver, played):
    """A fault refusing the user the web service → AuthError, not a retryable failure."""
    provider = episerver(DATASET, faults=[Fault.unauthorized("getRecipients")])

    with pytest.raises(msgevents.AuthError, match="INTERFACE_WEBSERVICE"):
        pull_all(provider, "recipients", WHOLE_DAY)
    assert played() == ["login", "getRecipients"]


def test_retries_exhausted_is_incomplete(episerver, played, sleeps):
    """502 on every attempt → RetriesExhaustedError, an IncompleteError (exit 4)."""
    provider = episerver(DATASET, faults=[Fault.http("getCurrentTime", 502, times=0)])

    with pytest.raises(msgevents.RetriesExhaustedError) as info:
        provider.now()
    assert isinstance(info.value, msgevents.IncompleteError)
    attempts = played().count("getCurrentTime")
    assert attempts == msgevents.RetryPolicy().attempts
    assert len(sleeps) == attempts - 1


def test_429_waits_as_long_as_retry_after_says(episerver, played, sleeps):
    """429 with Retry-After: 3 → the retry waits 3 s (injected sleep), then succeeds."""
    provider = episerver(DATASET, faults=[Fault.http("getCurrentTime", 429, retry_after=3)])

    provider.now()

    assert sleeps == [3.0]
    assert played() == ["login", "getCurrentTime", "getCurrentTime"]


def test_clicks_without_url_are_resolved_through_tracking_links(episerver, played):
    """Empty link_url is filled from the mailing's tracking links, one lookup per mailing."""
    provider = episerver(DATASET)
    urls = {str(link["id"]): link["url"] for links in DATASET.links.values() for link in links}
    assert any(row.cells[5] is None for row in DATASET.clicks)

    records, _ = pull_all(provider, "clicks", WHOLE_DAY)

    assert records
    assert all(r.data["link_url"] == urls[r.data["link_id"]] for r in records)
    events = [e for r in records for e in provider.map_record(r)]
    assert all(e.url == urls[r.data["link_id"]] for e, r in zip(events, records, strict=True))
    calls = played()
    lookups = [c for c in calls if c.endswith("/tracking/links")]
    assert len(lookups) == len(set(lookups))  # cached per mailing
    # each mailing on its owner's path with the owner's own id (never the mailing id): a Smart
    # Campaign's found in one page of GET /smartcampaigns, the transactional mail's in one page
    # of GET /transactionalmail
    expected = {
        f"GET /smartcampaigns/{DATASET.campaigns[m]}/messages/{m}/tracking/links"
        if m in DATASET.campaigns
        else f"GET /transactionalmail/{DATASET.transactional[m]}/message/tracking/links"
        for m in {r.data["mailing_id"] for r in records if r.data["link_id"]}
    }
    assert set(lookups) == expected
    assert DATASET.transactional.keys() & {r.data["mailing_id"] for r in records}
    assert all(m != c for m, c in {**DATASET.campaigns, **DATASET.transactional}.items())
    assert calls.count("GET /smartcampaigns") == 1
    assert calls.count("GET /transactionalmail") == 1
    assert provider.run_warnings() == []


def test_unresolvable_click_is_delivered_without_url_and_counted_once(episerver, played):
    """A mailing in no list: its clicks keep no URL, still map, and the run says how many, once."""
    dataset = Dataset.generate(seed=7, mailings=2, recipients=30)
    unknown = sorted(dataset.links)[0]
    del dataset.links[unknown]
    del dataset.campaigns[unknown]
    provider = episerver(dataset)

    records, _ = pull_all(provider, "clicks", WHOLE_DAY)

    orphans = [r for r in records if r.data["mailing_id"] == unknown and r.data["link_id"]]
    without = [r for r in orphans if not r.data["link_url"]]
    assert without, "the dataset must hold a click of the unknown mailing without URL"
    for record in without:
        (event,) = provider.map_record(record)
        assert event.url is None
        assert event.event is msgevents.EventType.CLICKED
    calls = played()
    # in no Smart Campaign, transactional or confirmation mail (each list one short page): no links path
    assert [c for c in calls if unknown in c] == []
    assert [c for c in calls if "tracking" not in c] == [
        "login", "getClicks", "GET /smartcampaigns", "GET /transactionalmail", "GET /confirmations"
    ]  # fmt: skip
    (warning,) = provider.run_warnings()
    assert warning.startswith(f"{len(without)} click(s) read have no url")
    assert unknown in warning


def test_lists_without_message_nodes_fall_back_to_each_campaigns_messages(episerver, played):
    """A server that ignores resultView=DETAILED: GET /smartcampaigns/{id}/messages finds the mailing."""
    provider = episerver(DATASET, emulator_options={"detailed_lists": False})
    urls = {str(link["id"]): link["url"] for links in DATASET.links.values() for link in links}

    records, _ = pull_all(provider, "clicks", WHOLE_DAY)

    assert records
    assert all(r.data["link_url"] == urls[r.data["link_id"]] for r in records)
    calls = played()
    for mailing, campaign in DATASET.campaigns.items():
        assert f"GET /smartcampaigns/{campaign}/messages" in calls
        assert f"GET /smartcampaigns/{campaign}/messages/{mailing}/tracking/links" in calls
    for mail in DATASET.transactional.values():
        assert f"GET /transactionalmail/{mail}" in calls  # its message node, read on its own
        assert f"GET /transactionalmail/{mail}/message/tracking/links" in calls
    assert provider.run_warnings() == []


def test_opt_in_confirmation_mails_links_are_looked_up(episerver, played):
    """A confirmation mail's clicks get their URLs from /confirmations/{id}/message/tracking/links."""
    dataset = Dataset.generate(seed=7, mailings=2, recipients=30, confirmation=True)
    ((mailing, confirmation),) = dataset.confirmations.items()
    provider = episerver(dataset)

    records, _ = pull_all(provider, "clicks", WHOLE_DAY)

    confirmed = [r for r in records if r.data["mailing_id"] == mailing]
    assert confirmed
    assert all(r.data["link_url"].startswith(f"https://shop.example.com/{mailing}/") for r in confirmed)
    assert f"GET /confirmations/{confirmation}/message/tracking/links" in played()
    assert provider.run_warnings() == []


def test_a_mailing_with_more_than_3000_links_is_named_in_a_warning(episerver, played):
    """HTTP 400 on tracking links means "more than 3000 links" (OpenAPI): the warning says so."""
    dataset = Dataset.generate(seed=7, mailings=2, recipients=30)
    big = sorted(dataset.campaigns)[0]
    dataset.links[big] = dataset.links[big] + [
        {"id": 1000 + n, "url": f"https://shop.example.com/{big}/more-{n}"} for n in range(3000)
    ]
    provider = episerver(dataset)

    records, _ = pull_all(provider, "clicks", WHOLE_DAY)

    without = [r for r in records if r.data["mailing_id"] == big and not r.data["link_url"]]
    assert without
    warnings = provider.run_warnings()
    assert len(warnings) == 2
    assert warnings[0].startswith(f"{len(without)} click(s) read have no url")
    assert f"mailing {big} (HTTP 400)" in warnings[1]
    assert "more than 3000 tracking links" in warnings[1]
    assert played().count(f"GET /smartcampaigns/{dataset.campaigns[big]}/messages/{big}/tracking/links") == 1


def test_malformed_rows_are_flagged_and_the_rest_delivered(episerver):
    """A row with a missing cell is a record with an error; bad values fail in mapping."""
    dataset = Dataset.generate(seed=7, mailings=1, recipients=10, malformed=4)
    provider = episerver(dataset)

    records, _ = pull_all(provider, "opens", WHOLE_DAY)

    assert len(records) == len(dataset.opens)
    flagged = [r for r in records if r.error]
    assert len(flagged) == 1
    assert "3 cells" in flagged[0].error
    assert "COLUMNS_OPENS" in flagged[0].error
    problems = []
    for record in records:
        if record.error is None:
            try:
                provider.map_record(record)
            except msgevents.MappingError as exc:
                problems.append(str(exc))
    assert sorted(problems) == sorted(
        [
            "column timestamp: epoch milliseconds expected, got 'not-a-time'",
            "column recipient_id is empty",
            "column mailing_id: 'jane@example.com' is not a mailing id (a number); "
            "check MSGEVENTS_EPISERVER_COLUMNS_OPENS",
        ]
    )


@pytest.mark.parametrize("style", ["return", "multiref"])
def test_other_result_shapes_are_read_by_position(episerver, style):
    """<return> element names and Axis multiRef references give the same rows."""
    provider = episerver(DATASET, emulator_options={"return_style": style})

    records, _ = pull_all(provider, "opens", WHOLE_DAY)

    assert [cells_of(r, OPENS) for r in records] == DATASET.expected("opens", DAY_MS, DATASET.now_ms)


def test_foreign_addresses_are_scrubbed_from_the_cassette(episerver, vcr, recording):
    """Addresses outside example.com reach the cassette only as stable pseudonyms."""
    dataset = Dataset.generate(seed=7, mailings=1, recipients=12, foreign_emails=4)
    foreign = {row.cells[2] for row in dataset.recipients if "corp-mail.de" in (row.cells[2] or "")}
    assert len(foreign) == 4  # the recorded answer held real-looking addresses
    provider = episerver(dataset)

    records, _ = pull_all(provider, "recipients", WHOLE_DAY)

    text = "".join(r["body"]["string"].decode() for r in vcr.responses)
    assert "corp-mail.de" not in text
    if not recording:  # replay serves the scrubbed answers
        emails = [r.data["recipient_id"] for r in records if "@" in r.data["recipient_id"]]
        assert all(e.endswith("@example.com") for e in emails)
        assert len({e for e in emails if e.startswith("user-")}) == len(foreign)


def test_close_logs_out(episerver, played):
    """close() ends the SOAP session; a second close() sends nothing."""
    provider = episerver(DATASET)
    provider.now()

    provider.close()
    provider.close()

    assert played() == ["login", "getCurrentTime", "logout"]


def test_check_proves_soap_and_rest_credentials(episerver, played):
    """check() logs in, reads the server time and makes one REST call; it says so."""
    provider = episerver(DATASET)

    message = provider.check()

    assert "getCurrentTime" in message
    assert "REST" in message
    assert "2024-11-05T00:00:00Z" in message
    assert played() == ["login", "getCurrentTime", "GET /unsubscribes"]


CLICKS = ("mailing_id", "recipient_list_id", "recipient_id", "timestamp", "link_id", "link_url")


def _clicks_file(path, rows):  # type: ignore[no-untyped-def]
    """An export file of ``rows`` (emulator cells) with every ``link_url`` left empty."""
    lines = [";".join(CLICKS)]
    lines += [";".join(cell or "" for cell in (*cells[:5], None)) for cells in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _events(provider, batches):  # type: ignore[no-untyped-def]
    return [e for batch in batches for r in batch for e in provider.map_record(r)]


def test_click_files_get_the_urls_a_pull_gets_so_event_ids_match(episerver, played, tmp_path):
    """--input clicks without link_url are looked up like pulled ones: same URLs, same event ids."""
    provider = episerver(DATASET)
    path = _clicks_file(tmp_path / "clicks_20241104.csv", DATASET.expected("clicks", DAY_MS, DATASET.now_ms))

    from_file = _events(provider, provider.read_input(path))
    pulled = _events(provider, provider.pull("clicks", WHOLE_DAY))

    assert from_file
    assert all(e.url for e in from_file)
    assert [(e.event_id, e.url) for e in from_file] == [(e.event_id, e.url) for e in pulled]
    calls = played()
    rest = [c for c in calls if c.startswith("GET /")]
    assert any(c.endswith("/tracking/links") for c in rest)
    assert len(rest) == len(set(rest))
    assert calls[: len(rest)] == rest  # looked up while reading the file; the pull used the cache


@pytest.mark.parametrize(
    "settings", [{"file_link_lookup": "never"}, {"username": None}], ids=["never", "no-api-user"]
)
def test_click_files_are_read_offline_when_lookup_is_off_or_impossible(episerver, tmp_path, settings, vcr):
    """FILE_LINK_LOOKUP=never, or no API user: no request, the clicks keep no URL."""
    provider = episerver(DATASET, **settings)
    path = _clicks_file(tmp_path / "clicks_20241104.csv", DATASET.expected("clicks", DAY_MS, DATASET.now_ms))

    events = _events(provider, provider.read_input(path))

    assert events
    assert all(e.url is None for e in events)
    assert len(vcr.requests) == 0
    urlless = sum(1 for cells in DATASET.expected("clicks", DAY_MS, DATASET.now_ms) if cells[4])
    (warning,) = provider.run_warnings()  # said once, with the count
    assert warning.startswith(f"{urlless} click(s) read from --input files have an empty link_url")


def test_campaign_id_setting_gives_smart_campaign_ids_and_keeps_event_ids(episerver, played):
    """CAMPAIGN_ID=smart_campaign: campaign_id = the Smart Campaign (one list page per run)."""
    by_mailing = episerver(DATASET)
    by_campaign = episerver(DATASET, campaign_id="smart_campaign")

    plain = _events(by_mailing, by_mailing.pull("opens", WHOLE_DAY))
    events = _events(by_campaign, by_campaign.pull("opens", WHOLE_DAY))
    unsubscribes = _events(by_campaign, by_campaign.pull("unsubscribes", WHOLE_DAY))

    assert [e.event_id for e in events] == [e.event_id for e in plain]
    assert [e.message_id for e in events] == [e.message_id for e in plain]
    for event in events + unsubscribes:
        assert event.campaign_id == DATASET.campaigns.get(event.message_id, event.message_id)
    assert {e.message_id for e in events} & set(DATASET.campaigns)  # some in a Smart Campaign
    assert {e.message_id for e in events} & DATASET.transactional.keys()  # some not: the mailing id
    assert any(e.message_id is None and e.campaign_id is None for e in unsubscribes)  # global
    assert played().count("GET /smartcampaigns") == 1


def test_campaign_id_setting_needs_the_api_user_for_files_too(episerver, tmp_path):
    """Without an API user, CAMPAIGN_ID=smart_campaign stops an --input run naming what is missing."""
    provider = episerver(DATASET, campaign_id="smart_campaign", username=None)
    path = _clicks_file(tmp_path / "clicks_20241104.csv", DATASET.expected("clicks", DAY_MS, DATASET.now_ms))

    with pytest.raises(msgevents.ConfigError) as error:
        provider.read_input(path)

    assert "MSGEVENTS_EPISERVER_USERNAME" in str(error.value)
    assert "MSGEVENTS_EPISERVER_CAMPAIGN_ID=smart_campaign" in str(error.value)


def test_campaign_id_setting_applies_to_files(episerver, tmp_path):
    """An export file's rows get the same Smart Campaign ids as pulled ones."""
    provider = episerver(DATASET, campaign_id="smart_campaign", file_link_lookup="never")
    path = _clicks_file(tmp_path / "clicks_20241104.csv", DATASET.expected("clicks", DAY_MS, DATASET.now_ms))

    events = _events(provider, provider.read_input(path))

    assert events
    assert all(e.campaign_id == DATASET.campaigns.get(e.message_id, e.message_id) for e in events)
    assert any(e.campaign_id != e.message_id for e in events)


def test_an_api_user_refused_the_campaign_list_still_collects_clicks(episerver, played, caplog):
    """403 on GET /smartcampaigns: a warning; transactional mails still resolve, nothing stops."""
    provider = episerver(DATASET, faults=[Fault.http("smartcampaigns", 403, times=0)])

    with caplog.at_level("WARNING", logger="msgevents.episerver"):
        records, _ = pull_all(provider, "clicks", WHOLE_DAY)

    assert records
    urls = {r.data["mailing_id"]: bool(r.data["link_url"]) for r in records if r.data["link_id"]}
    assert all(urls[m] for m in DATASET.transactional if m in urls)
    assert "HTTP 403" in caplog.text
    calls = played()
    assert calls.count("GET /smartcampaigns") == 1
    assert not any("/smartcampaigns/" in c for c in calls)  # no campaign path without the list


def test_an_api_user_refused_tracking_links_gets_clicks_without_url_not_a_stop(episerver, played, caplog):
    """403 on the tracking links: one warning, the clicks still map (without url), the run goes on."""
    provider = episerver(DATASET, faults=[Fault.http("tracking_links", 403, times=0)])

    with caplog.at_level("WARNING", logger="msgevents.episerver"):
        records, _ = pull_all(provider, "clicks", WHOLE_DAY)

    events = _events(provider, [records])
    assert events
    assert any(e.url is None for e in events)
    assert caplog.text.count("HTTP 403") == 1
    assert any(c.endswith("/tracking/links") for c in played())
