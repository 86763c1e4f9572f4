"""Mailing look-up: ``MailingDirectory`` paging and fallback, the link resolver's order and counts.

Pure unit tests over a stand-in for :class:`RestClient` (the HTTP side is replayed
from cassettes in ``test_pull.py``).
"""

from __future__ import annotations

import msgevents
from msgevents_episerver.links import KINDS, LinkResolver, MailingDirectory
from msgevents_episerver.mapping import CAMPAIGN_KEY


class FakeRest:
    """Pages of each kind's list (newest first), message nodes and tracking links by owner."""

    def __init__(
        self,
        lists: dict[str, list[dict]],
        links: dict[tuple[str, str, str], dict[str, str]],
        nodes: dict[str, list[dict]] | None = None,
    ) -> None:
        self.lists = lists
        self.links = links
        self.nodes = nodes or {}
        self.calls: list[str] = []

    def mailing_list(self, kind: str, offset: int, limit: int) -> list[dict]:
        self.calls.append(f"{kind} page {offset}")
        return self.lists.get(kind, [])[offset : offset + limit]

    def message_nodes(self, kind: str, owner: str) -> list[dict]:
        self.calls.append(f"{kind} {owner} nodes")
        return self.nodes.get(owner, [])

    def tracking_links(self, kind: str, owner: str, mailing_id: str) -> dict[str, str] | None:
        self.calls.append(f"links {kind}/{owner}/{mailing_id}")
        return self.links.get((kind, owner, mailing_id))


def campaigns(count: int, *, detailed: bool = True) -> list[dict]:
    """Campaign 900+n holds mailings 100+2n and 101+2n (a split), newest (highest id) first."""
    found = [
        {"id": 900 + n, "messages": [{"mailingId": 100 + 2 * n}, {"mailingId": 101 + 2 * n}]}
        for n in range(count)
    ]
    if not detailed:
        found = [{"id": c["id"]} for c in found]
    return found[::-1]


def transactional(count: int) -> list[dict]:
    """Transactional mail 700+n (its own id) sends mailing 300+n, newest first."""
    return [{"id": 700 + n, "message": {"mailingId": 300 + n}} for n in range(count)][::-1]


def directories(rest: FakeRest, page_size: int) -> list[MailingDirectory]:
    return [MailingDirectory(rest, kind, page_size=page_size) for kind in KINDS]  # type: ignore[arg-type]


def test_pages_are_read_only_as_far_as_a_mailing_needs():
    rest = FakeRest({"smartcampaigns": campaigns(10)}, {})
    directory = MailingDirectory(rest, "smartcampaigns", page_size=3)  # type: ignore[arg-type]

    assert directory.owner_of("119") == "909"  # the newest campaign: first page
    assert directory.owner_of("118") == "909"  # its split mailing: no new page
    assert rest.calls == ["smartcampaigns page 0"]
    assert directory.owner_of("100") == "900"  # the oldest: pages until found
    assert rest.calls == [f"smartcampaigns page {n}" for n in (0, 3, 6, 9)]
    assert directory.complete  # the last page was short


def test_a_mailing_in_no_campaign_reads_the_list_once():
    rest = FakeRest({"smartcampaigns": campaigns(4)}, {})
    directory = MailingDirectory(rest, "smartcampaigns", page_size=2)  # type: ignore[arg-type]

    assert directory.owner_of("555") is None
    assert directory.owner_of("556") is None
    assert rest.calls == ["smartcampaigns page 0", "smartcampaigns page 2", "smartcampaigns page 4"]


def test_elements_without_mailings_or_ids_are_skipped():
    elements = [{"id": 7, "message": {"mailingId": 70}}, {"messages": [{"mailingId": 80}]}, "junk",
                {"id": 8, "messages": []}]  # fmt: skip
    rest = FakeRest({"smartcampaigns": elements}, {})
    directory = MailingDirectory(rest, "smartcampaigns", page_size=10)  # type: ignore[arg-type]

    assert directory.owner_of("70") == "7"
    assert directory.owner_of("80") is None
    assert rest.calls == ["smartcampaigns page 0"]  # an empty "messages" is an answer: no fallback


def test_elements_without_message_nodes_have_their_mailings_read_one_by_one_as_needed():
    """A server that ignores resultView=DETAILED: /smartcampaigns/{id}/messages, newest first, until found."""
    nodes = {str(c["id"]): c["messages"] for c in campaigns(5)}
    rest = FakeRest({"smartcampaigns": campaigns(5, detailed=False)}, {}, nodes)
    directory = MailingDirectory(rest, "smartcampaigns", page_size=10)  # type: ignore[arg-type]

    assert directory.owner_of("107") == "903"
    assert rest.calls == ["smartcampaigns page 0", "smartcampaigns 904 nodes", "smartcampaigns 903 nodes"]
    assert not directory.complete
    assert directory.owner_of("555") is None
    assert rest.calls[3:] == [f"smartcampaigns {n} nodes" for n in (902, 901, 900)]
    assert directory.complete


def test_fill_adds_campaign_ids_and_leaves_the_rest_alone():
    rest = FakeRest({"smartcampaigns": campaigns(2)}, {})
    directory = MailingDirectory(rest, "smartcampaigns", page_size=10)  # type: ignore[arg-type]
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
    rest = FakeRest(
        {"smartcampaigns": campaigns(3)}, {("smartcampaigns", "902", "104"): {"5": "https://a.example.com/"}}
    )
    resolver = LinkResolver(rest, directories(rest, 10))  # type: ignore[arg-type]

    assert resolver.url("104", "5") == "https://a.example.com/"
    assert resolver.url("104", "6") is None  # cached: no second look-up
    assert rest.calls == ["smartcampaigns page 0", "links smartcampaigns/902/104"]


def test_a_transactional_mailing_is_asked_for_under_its_transactional_mail_id():
    """The OpenAPI's transactional mail has its own id; the mailing id is in its message node."""
    links = {("transactionalmail", "701", "301"): {"1": "https://t.example.com/"}}
    rest = FakeRest({"smartcampaigns": campaigns(6), "transactionalmail": transactional(3)}, links)
    resolver = LinkResolver(rest, directories(rest, 2))  # type: ignore[arg-type]

    assert resolver.url("301", "1") == "https://t.example.com/"
    # the first page of each list before any further page: the other campaign pages are never read
    assert rest.calls == [
        "smartcampaigns page 0",
        "transactionalmail page 0",
        "links transactionalmail/701/301",
    ]


def test_a_confirmation_mailing_is_asked_for_under_its_confirmation_id():
    lists = {"confirmations": [{"id": 801, "message": {"mailingId": 401}}]}
    rest = FakeRest(lists, {("confirmations", "801", "401"): {"9": "https://c.example.com/confirm"}})
    resolver = LinkResolver(rest, directories(rest, 10))  # type: ignore[arg-type]

    assert resolver.url("401", "9") == "https://c.example.com/confirm"
    assert rest.calls[-1] == "links confirmations/801/401"


def test_an_older_campaigns_mailing_is_found_after_the_first_pages_of_every_list():
    rest = FakeRest(
        {"smartcampaigns": campaigns(6)}, {("smartcampaigns", "900", "100"): {"1": "https://o.example.com/"}}
    )
    resolver = LinkResolver(rest, directories(rest, 2))  # type: ignore[arg-type]

    assert resolver.url("100", "1") == "https://o.example.com/"
    assert rest.calls == [
        "smartcampaigns page 0", "transactionalmail page 0", "confirmations page 0",
        "smartcampaigns page 2", "smartcampaigns page 4", "links smartcampaigns/900/100",
    ]  # fmt: skip


def test_a_mailing_nowhere_gets_no_url_and_is_counted():
    rest = FakeRest(
        {"smartcampaigns": campaigns(1)}, {("smartcampaigns", "900", "100"): {"1": "https://a.example.com/"}}
    )
    resolver = LinkResolver(rest, directories(rest, 10))  # type: ignore[arg-type]
    records = [
        msgevents.Record("clicks", {"mailing_id": "100", "link_id": "1", "link_url": ""}, "row 1"),
        msgevents.Record("clicks", {"mailing_id": "555", "link_id": "1", "link_url": ""}, "row 2"),
        msgevents.Record("clicks", {"mailing_id": "555", "link_id": "2", "link_url": ""}, "row 3"),
        msgevents.Record(
            "clicks", {"mailing_id": "555", "link_id": "", "link_url": "https://x.example/"}, "row 4"
        ),
    ]

    filled = resolver.fill(records)

    assert [r.data["link_url"] for r in filled] == ["https://a.example.com/", "", "", "https://x.example/"]
    assert resolver.unresolved == 2
    summary = resolver.summary()
    assert summary is not None
    assert summary.startswith("2 click(s) read have no url")
    assert "555" in summary
    assert [c for c in rest.calls if "555" in c] == []  # in no list: no links path to ask
