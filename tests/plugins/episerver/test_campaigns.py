"""Smart Campaign look-up: ``CampaignDirectory`` paging and the link resolver's order.

Pure unit tests over a stand-in for :class:`RestClient` (the HTTP side is replayed
from cassettes in ``test_pull.py``).
"""

from __future__ import annotations

import msgevents
from msgevents_episerver.mapping import CAMPAIGN_KEY
from msgevents_episerver.rest import CampaignDirectory, LinkResolver


class FakeRest:
    """``smart_campaigns`` pages over ``campaigns`` (newest first) and tracking links by path."""

    def __init__(self, campaigns: list[dict], links: dict[tuple[str, str | None], dict[str, str]]) -> None:
        self.campaigns = campaigns
        self.links = links
        self.calls: list[str] = []

    def smart_campaigns(self, offset: int, limit: int) -> list[dict]:
        self.calls.append(f"page {offset}")
        return self.campaigns[offset : offset + limit]

    def tracking_links(self, mailing_id: str, campaign_id: str | None) -> dict[str, str] | None:
        self.calls.append(f"links {campaign_id or 'transactional'}/{mailing_id}")
        return self.links.get((mailing_id, campaign_id))


def campaigns(count: int) -> list[dict]:
    """Campaign 900+n holds mailings 100+2n and 101+2n (a split), newest (highest id) first."""
    found = [
        {"id": 900 + n, "messages": [{"mailingId": 100 + 2 * n}, {"mailingId": 101 + 2 * n}]}
        for n in range(count)
    ]
    return found[::-1]


def test_pages_are_read_only_as_far_as_a_mailing_needs():
    rest = FakeRest(campaigns(10), {})
    directory = CampaignDirectory(rest, page_size=3)  # type: ignore[arg-type]

    assert directory.campaign_of("119") == "909"  # the newest campaign: first page
    assert directory.campaign_of("118") == "909"  # its split mailing: no new page
    assert rest.calls == ["page 0"]
    assert directory.campaign_of("100") == "900"  # the oldest: pages until found
    assert rest.calls == ["page 0", "page 3", "page 6", "page 9"]
    assert directory.complete  # the last page was short


def test_a_mailing_in_no_campaign_reads_the_list_once():
    rest = FakeRest(campaigns(4), {})
    directory = CampaignDirectory(rest, page_size=2)  # type: ignore[arg-type]

    assert directory.campaign_of("555") is None
    assert directory.campaign_of("556") is None
    assert rest.calls == ["page 0", "page 2", "page 4"]


def test_campaign_elements_without_mailings_or_ids_are_skipped():
    elements = [{"id": 7, "message": {"mailingId": 70}}, {"messages": [{"mailingId": 80}]}, "junk", {"id": 8}]
    directory = CampaignDirectory(FakeRest(elements, {}), page_size=10)  # type: ignore[arg-type]

    assert directory.campaign_of("70") == "7"
    assert directory.campaign_of("80") is None


def test_fill_adds_campaign_ids_and_leaves_the_rest_alone():
    directory = CampaignDirectory(FakeRest(campaigns(2), {}), page_size=10)  # type: ignore[arg-type]
    records = [
        msgevents.Record("opens", {"mailing_id": "102"}, "row 1"),
        msgevents.Record("opens", {"mailing_id": "777"}, "row 2"),  # in no campaign
        msgevents.Record("unsubscribes", {"mailing_id": "0"}, "row 3"),  # global
        msgevents.Record("opens", {"cells": ["102"]}, "row 4", "1 cell where 4 are named"),
    ]

    filled = directory.fill(records, "mailing_id")

    assert [r.data.get(CAMPAIGN_KEY) for r in filled] == ["901", None, None, None]
    assert filled[1:] == records[1:]


def test_links_of_a_campaign_mailing_use_its_campaign_id():
    rest = FakeRest(campaigns(3), {("104", "902"): {"5": "https://a.example.com/"}})
    resolver = LinkResolver(rest, CampaignDirectory(rest, page_size=10))  # type: ignore[arg-type]

    assert resolver.url("104", "5") == "https://a.example.com/"
    assert resolver.url("104", "6") is None  # cached: no second look-up
    assert rest.calls == ["page 0", "links 902/104"]


def test_a_mailing_not_on_the_first_page_is_tried_as_a_transactional_mail_first():
    rest = FakeRest(campaigns(6), {("300", None): {"1": "https://t.example.com/"}})
    resolver = LinkResolver(rest, CampaignDirectory(rest, page_size=2))  # type: ignore[arg-type]

    assert resolver.url("300", "1") == "https://t.example.com/"
    assert rest.calls == ["page 0", "links transactional/300"]  # the other pages never read


def test_an_older_campaigns_mailing_is_found_after_the_transactional_miss():
    rest = FakeRest(campaigns(6), {("100", "900"): {"1": "https://old.example.com/"}})
    resolver = LinkResolver(rest, CampaignDirectory(rest, page_size=2))  # type: ignore[arg-type]

    assert resolver.url("100", "1") == "https://old.example.com/"
    assert rest.calls == ["page 0", "links transactional/100", "page 2", "page 4", "links 900/100"]


def test_transactional_mails_cost_one_request_each_not_more_campaign_pages():
    links = {("300", None): {"1": "https://t.example.com/a"}, ("301", None): {"1": "https://t.example.com/b"}}
    rest = FakeRest(campaigns(6), links)
    resolver = LinkResolver(rest, CampaignDirectory(rest, page_size=2))  # type: ignore[arg-type]

    assert resolver.url("300", "1") == "https://t.example.com/a"
    assert resolver.url("301", "1") == "https://t.example.com/b"
    assert rest.calls == ["page 0", "links transactional/300", "links transactional/301"]


def test_a_campaign_mailing_whose_links_are_unknown_gets_no_url_and_no_other_lookup():
    rest = FakeRest(campaigns(3), {})
    resolver = LinkResolver(rest, CampaignDirectory(rest, page_size=10))  # type: ignore[arg-type]

    assert resolver.url("104", "5") is None
    assert rest.calls == ["page 0", "links 902/104"]
