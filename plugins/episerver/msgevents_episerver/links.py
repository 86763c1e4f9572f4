"""Which Optimizely mailing is which: Smart Campaigns, transactional and confirmation mails.

The closed-loop rows and REST unsubscribes carry a *mailing* id. Optimizely's REST
API (https://api.campaign.episerver.net/rest/openapi.json) keeps a mailing's tracking
links under its owner, which has an id of its own: a Smart Campaign
(``/smartcampaigns/{campaignId}/messages/{mailingId}/tracking/links``), a
transactional mail (``/transactionalmail/{transactionalMailId}/message/tracking/links``)
or an opt-in confirmation mail (``/confirmations/{confirmationMailId}/message/tracking/links``).
Each kind's list (``resultView=DETAILED``) names the mailings in its message nodes
(``messages[].mailingId`` / ``message.mailingId``); :class:`MailingDirectory` reads a
list as far as a mailing needs, :class:`LinkResolver` fills click URLs from it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol

import msgevents
from msgevents_episerver.mapping import CAMPAIGN_KEY
from msgevents_episerver.paging import offset_pages

__all__ = ["CAMPAIGN_PAGE", "KINDS", "LinkResolver", "MailingDirectory"]

log = logging.getLogger("msgevents.episerver")

#: Elements per page of a mailing list (the DETAILED view is slow to build).
CAMPAIGN_PAGE = 100
#: The owners of mailings, in the order a mailing is looked for.
KINDS = ("smartcampaigns", "transactionalmail", "confirmations")


class Lists(Protocol):
    """What the directory needs of :class:`msgevents_episerver.rest.RestClient`."""

    def mailing_list(self, kind: str, offset: int, limit: int) -> list[Any]: ...

    def message_nodes(self, kind: str, owner: str) -> list[Any]: ...

    def tracking_links(self, kind: str, owner: str, mailing_id: str) -> dict[str, str] | None: ...


def _mailing_ids(nodes: Iterable[Any]) -> list[str]:
    return [str(n["mailingId"]) for n in nodes if isinstance(n, dict) and n.get("mailingId") is not None]


def _nodes_of(element: dict[str, Any]) -> list[Any] | None:
    """The message nodes of a list element; ``None`` when it carries neither ``messages`` nor ``message``."""
    if "messages" not in element and "message" not in element:
        return None
    nodes = list(element.get("messages") or [])
    if isinstance(element.get("message"), dict):
        nodes.append(element["message"])
    return nodes


class MailingDirectory:
    """Mailing id → owner id (Smart Campaign, transactional or confirmation mail) of one kind.

    Pages of :data:`CAMPAIGN_PAGE` elements, newest first (sorted by id, so elements
    created meanwhile do not move the pages), are read only while a mailing asked for
    is not yet known: the mailings a run collects are recent, so that is usually one
    request per run. An element without message nodes (a server that ignores
    ``resultView=DETAILED``) has its mailings read on their own
    (:meth:`RestClient.message_nodes`), one element at a time, in list order, only
    while a mailing is still unknown. A mailing of none of this kind's elements is
    known to be one only after the whole list.
    """

    def __init__(self, rest: Lists, kind: str, page_size: int = CAMPAIGN_PAGE) -> None:
        self.rest = rest
        self.kind = kind
        self.page_size = page_size
        self._owners: dict[str, str] = {}
        self._unread: list[str] = []  # elements of pages read whose mailings are not known yet
        self._pages = offset_pages(lambda offset, limit: rest.mailing_list(kind, offset, limit), page_size)
        self._pages_read = 0
        self._last_page = False

    @property
    def complete(self) -> bool:
        """Every element's mailings are known."""
        return self._last_page and not self._unread

    def owner_of(self, mailing_id: str, *, read_all: bool = True) -> str | None:
        """The owner id of ``mailing_id``; ``None`` if it is in none of this kind.

        With ``read_all=False`` nothing beyond the first page of the list is read:
        ``None`` then means "not among the newest" unless :attr:`complete`.
        """
        while mailing_id not in self._owners and not self.complete:
            if self._unread:
                self._read_nodes(self._unread.pop(0))
            elif read_all or self._pages_read == 0:
                self._read_page()
            else:
                break
        return self._owners.get(mailing_id)

    def _add(self, owner: str, mailings: list[str]) -> None:
        for mailing in mailings:
            self._owners.setdefault(mailing, owner)

    def _read_page(self) -> None:
        _offset, elements = next(self._pages)
        self._pages_read += 1
        for element in elements:
            if not isinstance(element, dict) or element.get("id") is None:
                continue
            nodes = _nodes_of(element)
            if nodes is None:
                self._unread.append(str(element["id"]))
            else:
                self._add(str(element["id"]), _mailing_ids(nodes))
        if len(elements) < self.page_size:
            self._last_page = True

    def _read_nodes(self, owner: str) -> None:
        self._add(owner, _mailing_ids(self.rest.message_nodes(self.kind, owner)))

    def fill(self, records: list[msgevents.Record], mailing_key: str) -> list[msgevents.Record]:
        """The records with a :data:`CAMPAIGN_KEY` entry: their mailing's owner id, if any."""
        filled = []
        for record in records:
            mailing = str(record.data.get(mailing_key) or "").strip()
            if record.error is None and mailing.isdigit() and mailing != "0":
                owner = self.owner_of(mailing)
                if owner is not None:
                    record = record._replace(data={**record.data, CAMPAIGN_KEY: owner})
            filled.append(record)
        return filled


class LinkResolver:
    """Fills ``link_url`` of click records from the tracking links, cached per mailing.

    A mailing is looked for on the first page of each kind's list (Smart Campaigns,
    transactional mails, confirmation mails), then on the rest of each list; its
    links are then asked for on its owner's path. Clicks left without a URL are
    counted (:attr:`unresolved`) for the run's summary.
    """

    def __init__(self, rest: Lists, directories: list[MailingDirectory]) -> None:
        self.rest = rest
        self.directories = directories
        self.cache: dict[str, dict[str, str] | None] = {}
        self.unresolved = 0
        self.unresolved_mailings: set[str] = set()

    def fill(self, records: list[msgevents.Record]) -> list[msgevents.Record]:
        """The records with empty ``link_url`` filled where the link id is known."""
        filled = []
        for record in records:
            data = record.data
            if record.error is None and not (data.get("link_url") or "").strip():
                mailing = (data.get("mailing_id") or "").strip()
                url = self.url(mailing, data.get("link_id") or "")
                if url:
                    record = record._replace(data={**data, "link_url": url})
                else:
                    self.unresolved += 1
                    self.unresolved_mailings.add(mailing or "(none)")
            filled.append(record)
        return filled

    def url(self, mailing_id: str, link_id: str) -> str | None:
        mailing_id, link_id = mailing_id.strip(), link_id.strip()
        if not (mailing_id.isdigit() and link_id):
            return None
        if mailing_id not in self.cache:
            self.cache[mailing_id] = self._links(mailing_id)
        links = self.cache[mailing_id]
        return links.get(link_id) if links else None

    def _links(self, mailing_id: str) -> dict[str, str] | None:
        for read_all in (False, True):
            for directory in self.directories:
                owner = directory.owner_of(mailing_id, read_all=read_all)
                if owner is not None:
                    return self.rest.tracking_links(directory.kind, owner, mailing_id)
        log.debug("mailing %s is in no Smart Campaign, transactional or confirmation mail", mailing_id)
        return None

    def summary(self) -> str | None:
        """One sentence for the run's warnings, or ``None`` when every click got its URL."""
        if not self.unresolved:
            return None
        mailings = sorted(self.unresolved_mailings)
        shown = ", ".join(mailings[:5]) + (f" and {len(mailings) - 5} more" if len(mailings) > 5 else "")
        return (
            f"{self.unresolved} click(s) read have no url: their link could not be resolved through "
            f"Optimizely's tracking links (mailing {shown}); they go out without url, each with its link id "
            "in its event id"
        )
