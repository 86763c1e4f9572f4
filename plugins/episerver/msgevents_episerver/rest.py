"""The Optimizely Campaign REST API: unsubscribes, Smart Campaigns and tracking links.

``{base}/rest/{clientId}/…`` with HTTP Basic auth. 401/403 is an
authentication refusal (never retried); 429 and 5xx are retried by
:class:`msgevents.HttpClient`, honouring ``Retry-After``. Optimizely allows
at most 10 simultaneous requests per client: a semaphore caps this client at
that, whatever the caller does with threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import requests

import msgevents
from msgevents.redact import redact
from msgevents.timestamps import TimestampError, parse_iso8601
from msgevents_episerver.mapping import CAMPAIGN_KEY

__all__ = [
    "CAMPAIGN_KEY",
    "CAMPAIGN_PAGE",
    "MAX_CONCURRENT",
    "CampaignDirectory",
    "LinkResolver",
    "RestClient",
]

log = logging.getLogger("msgevents.episerver")

#: Optimizely answers 429 beyond 10 simultaneous requests per client.
MAX_CONCURRENT = 10
#: Smart Campaigns per page of the mailing → campaign look-up (the DETAILED view is slow to build).
CAMPAIGN_PAGE = 100


class RestClient:
    """GET JSON from ``{base}/rest/{clientId}``; errors become msgevents errors."""

    def __init__(self, http: msgevents.HttpClient, base_url: str, client_id: str) -> None:
        self.http = http
        self.root = f"{base_url.rstrip('/')}/rest/{client_id}"
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT)
        self._links_refused = False  # warned once about a 403 on tracking links

    def get(
        self, path: str, params: dict[str, Any] | None = None, *, forbidden_ok: bool = False
    ) -> requests.Response:
        """GET ``path`` under the client root; 401/403 → AuthError (403 returned if ``forbidden_ok``)."""
        with self._slots:
            response = self.http.request(
                "GET", self.root + path, params=params, headers={"Accept": "application/json"}
            )
        if response.status_code == 401 or (response.status_code == 403 and not forbidden_ok):
            raise msgevents.AuthError(
                f"Optimizely REST refused the credentials (HTTP {response.status_code} on "
                f"{path.split('?')[0]}); check MSGEVENTS_EPISERVER_CLIENT_ID, _USERNAME and _PASSWORD"
            )
        return response

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET and decode JSON; any non-2xx status is a provider error naming it."""
        return self._json(path, self.get(path, params))

    def _json(self, path: str, response: requests.Response) -> Any:
        if not response.ok:
            snippet = redact(response.text.strip())[:200]
            raise msgevents.ProviderUnavailableError(
                f"Optimizely REST GET {path} answered HTTP {response.status_code}: {snippet}"
            )
        try:
            return response.json()
        except ValueError:
            raise msgevents.ProviderUnavailableError(
                f"Optimizely REST GET {path} answered something that is not JSON"
            ) from None

    # -- unsubscribes ---------------------------------------------------------------------

    def unsubscribes(self, window: msgevents.Window, page_size: int) -> Iterator[list[msgevents.Record]]:
        """Unsubscribes created in ``[since, until)``, newest first, one list per page.

        Pages with ``offset`` over ``sort=created&direction=DESC`` and stops at
        the first entry older than ``window.since`` or at a short page. Entries
        newer than ``window.until`` are skipped. An entry whose ``created``
        cannot be read is yielded as is: the mapping quarantines it.
        """
        offset = 0
        while True:
            params = {"offset": offset, "limit": page_size, "sort": "created", "direction": "DESC"}
            body = self.get_json("/unsubscribes", params)
            elements = body.get("elements") if isinstance(body, dict) else None
            if not isinstance(elements, list):
                raise msgevents.ProviderUnavailableError(
                    "Optimizely REST /unsubscribes answered without an 'elements' list"
                )
            page: list[msgevents.Record] = []
            older = False
            for index, element in enumerate(elements):
                source = f"GET /unsubscribes offset={offset + index}"
                if not isinstance(element, dict):
                    page.append(
                        msgevents.Record("unsubscribes", {"element": element}, source, "not an object")
                    )
                    continue
                created = _created(element)
                if created is not None and created >= window.until:
                    continue
                if created is not None and created < window.since:
                    older = True
                    break
                page.append(msgevents.Record("unsubscribes", element, source))
            if page:
                yield page
            if older or len(elements) < page_size:
                return
            offset += len(elements)

    # -- Smart Campaigns and tracking links ------------------------------------------------

    def smart_campaigns(self, offset: int, limit: int) -> list[Any]:
        """One page of Smart Campaigns with their mailings (``resultView=DETAILED``), newest first.

        Sorted by id, so campaigns created or edited meanwhile do not move the pages;
        one deleted while the list is read shifts the next page by one, which can
        leave one campaign unseen for this run (its mailings are then looked up as
        transactional mails). A 404 (a client without Smart Campaigns) or a 403 (an
        API user not allowed to read them: logged as a warning) is an empty list.
        """
        params = {
            "offset": offset,
            "limit": limit,
            "resultView": "DETAILED",
            "sort": "id",
            "direction": "DESC",
        }
        response = self.get("/smartcampaigns", params, forbidden_ok=True)
        if response.status_code == 403:
            log.warning(
                "Optimizely refused GET /smartcampaigns (HTTP 403): the API user may not read Smart "
                "Campaigns, so click URLs of their mailings cannot be looked up"
            )
            return []
        if response.status_code == 404:
            return []
        body = self._json("/smartcampaigns", response)
        elements = body.get("elements") if isinstance(body, dict) else None
        if not isinstance(elements, list):
            raise msgevents.ProviderUnavailableError(
                "Optimizely REST /smartcampaigns answered without an 'elements' list"
            )
        return elements

    def tracking_links(self, mailing_id: str, campaign_id: str | None) -> dict[str, str] | None:
        """Link id → URL of a mailing, or ``None`` when Optimizely does not know it there.

        A mailing of Smart Campaign ``campaign_id`` is asked for on the Smart Campaign
        path; without a campaign id, on the transactional-mail path.
        """
        if campaign_id is not None:
            path = f"/smartcampaigns/{campaign_id}/messages/{mailing_id}/tracking/links"
        else:
            path = f"/transactionalmail/{mailing_id}/message/tracking/links"
        response = self.get(path, forbidden_ok=True)
        if response.status_code == 403:
            if not self._links_refused:
                self._links_refused = True
                log.warning(
                    "Optimizely refused GET %s (HTTP 403): the API user may not read tracking links, "
                    "so clicks without a URL in the closed-loop data are delivered without one",
                    path,
                )
            return None
        if response.status_code in (400, 404, 409):
            return None  # not this kind of mailing (or not this client's)
        if not response.ok:
            raise msgevents.ProviderUnavailableError(
                f"Optimizely REST GET {path} answered HTTP {response.status_code}"
            )
        try:
            links = response.json()
        except ValueError:
            links = None
        if not isinstance(links, list):
            raise msgevents.ProviderUnavailableError(
                f"Optimizely REST GET {path} answered without a list of links"
            )
        return {
            str(link["id"]): link["url"]
            for link in links
            if isinstance(link, dict) and link.get("id") is not None and link.get("url")
        }


def _created(element: dict[str, Any]) -> Any:
    try:
        return parse_iso8601(element.get("created"))  # type: ignore[arg-type]
    except TimestampError:
        return None


class CampaignDirectory:
    """Mailing id → Smart Campaign id, read from ``GET /smartcampaigns`` as far as needed.

    The closed-loop rows and REST unsubscribes carry a mailing id, never the Smart
    Campaign holding it (a campaign holds one or more mailings: splits, A/B tests).
    Pages of :data:`CAMPAIGN_PAGE` campaigns, newest first, are read only while a
    mailing asked for is not yet known: the mailings a run collects are recent, so
    that is usually one request per run. A mailing in no Smart Campaign (a
    transactional mail) is known to be one only after the last page.
    """

    def __init__(self, rest: RestClient, page_size: int = CAMPAIGN_PAGE) -> None:
        self.rest = rest
        self.page_size = page_size
        self._campaigns: dict[str, str] = {}
        self._offset = 0
        self.complete = False

    def campaign_of(self, mailing_id: str, *, read_all: bool = True) -> str | None:
        """The Smart Campaign id of ``mailing_id``; ``None`` if it is in none.

        With ``read_all=False`` no page beyond the first is read: ``None`` then
        means "not among the newest campaigns" unless :attr:`complete`.
        """
        while mailing_id not in self._campaigns and not self.complete and (read_all or self._offset == 0):
            self._read_page()
        return self._campaigns.get(mailing_id)

    def _read_page(self) -> None:
        campaigns = self.rest.smart_campaigns(self._offset, self.page_size)
        for campaign in campaigns:
            if not isinstance(campaign, dict) or campaign.get("id") is None:
                continue
            nodes = list(campaign.get("messages") or [])
            if isinstance(campaign.get("message"), dict):
                nodes.append(campaign["message"])
            for node in nodes:
                if isinstance(node, dict) and node.get("mailingId") is not None:
                    self._campaigns.setdefault(str(node["mailingId"]), str(campaign["id"]))
        self._offset += len(campaigns)
        if len(campaigns) < self.page_size:
            self.complete = True

    def fill(self, records: list[msgevents.Record], mailing_key: str) -> list[msgevents.Record]:
        """The records with a :data:`CAMPAIGN_KEY` entry: their mailing's Smart Campaign id, if any."""
        filled = []
        for record in records:
            mailing = str(record.data.get(mailing_key) or "").strip()
            if record.error is None and mailing.isdigit() and mailing != "0":
                campaign = self.campaign_of(mailing)
                if campaign is not None:
                    record = record._replace(data={**record.data, CAMPAIGN_KEY: campaign})
            filled.append(record)
        return filled


class LinkResolver:
    """Fills ``link_url`` of click records from the tracking links, cached per mailing.

    Where the links are asked for depends on the mailing's kind: the mailing of a
    Smart Campaign on the campaign's path, otherwise on the transactional-mail
    path. To spare reading every Smart Campaign for a transactional mail, a mailing
    not in the first page of campaigns (or the pages read already) is tried as a
    transactional mail first, and only then looked for on the rest of the list.
    """

    def __init__(self, rest: RestClient, campaigns: CampaignDirectory) -> None:
        self.rest = rest
        self.campaigns = campaigns
        self.cache: dict[str, dict[str, str] | None] = {}

    def fill(self, records: list[msgevents.Record]) -> list[msgevents.Record]:
        """The records with empty ``link_url`` filled where the link id is known."""
        filled = []
        for record in records:
            data = record.data
            if record.error is None and not (data.get("link_url") or "").strip():
                url = self.url(data.get("mailing_id") or "", data.get("link_id") or "")
                if url:
                    record = record._replace(data={**data, "link_url": url})
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
        campaign = self.campaigns.campaign_of(mailing_id, read_all=False)
        if campaign is not None:
            return self.rest.tracking_links(mailing_id, campaign)
        links = self.rest.tracking_links(mailing_id, None)  # a transactional mail?
        if links is not None or self.campaigns.complete:
            return links
        campaign = self.campaigns.campaign_of(mailing_id)  # an older Smart Campaign's mailing
        return self.rest.tracking_links(mailing_id, campaign) if campaign is not None else None
