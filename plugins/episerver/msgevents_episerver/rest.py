"""The Optimizely Campaign REST API: unsubscribes, mailing lists and tracking links.

``{base}/rest/{clientId}/…`` with HTTP Basic auth, as Optimizely's OpenAPI
(https://api.campaign.episerver.net/rest/openapi.json) describes it. 401/403 is
an authentication refusal (never retried); 429 and 5xx are retried by
:class:`msgevents.HttpClient`, honouring ``Retry-After``. Optimizely allows at
most 10 simultaneous requests per client: a semaphore caps this client at that,
whatever the caller does with threads. Which mailing belongs to which list is
:mod:`msgevents_episerver.links`' job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import requests

import msgevents
from msgevents.redact import excerpt
from msgevents.timestamps import TimestampError, parse_iso8601
from msgevents_episerver.paging import offset_pages

__all__ = ["GLOBAL", "MAX_CONCURRENT", "MAX_LINKS", "RestClient"]

log = logging.getLogger("msgevents.episerver")

#: Optimizely answers 429 beyond 10 simultaneous requests per client.
MAX_CONCURRENT = 10
#: The most tracking links Optimizely lists for one mailing; beyond it, HTTP 400.
MAX_LINKS = 3000
#: The unsubscribe list read without ``mediaType`` (the API's default, not a value it accepts).
GLOBAL = "GLOBAL"
_LINK_PATHS = {
    "smartcampaigns": "/smartcampaigns/{owner}/messages/{mailing}/tracking/links",
    "transactionalmail": "/transactionalmail/{owner}/message/tracking/links",
    "confirmations": "/confirmations/{owner}/message/tracking/links",
}
_TOO_MANY = (
    f"per Optimizely's REST API a mailing with more than {MAX_LINKS} tracking links, which it does not "
    "list, so its clicks without a URL are delivered without one"
)
_NAMES = {
    "smartcampaigns": "Smart Campaigns",
    "transactionalmail": "transactional mails",
    "confirmations": "confirmation mails",
}


class RestClient:
    """GET JSON from ``{base}/rest/{clientId}``; errors become msgevents errors."""

    def __init__(self, http: msgevents.HttpClient, base_url: str, client_id: str) -> None:
        self.http = http
        self.root = f"{base_url.rstrip('/')}/rest/{client_id}"
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT)
        self.refused: set[str] = set()  # what a 403 kept from the look-ups (warned once each)
        self.too_many_links: set[str] = set()  # mailings whose links the API would not list (400)

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
            snippet = excerpt(response.text, 200)
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

    def unsubscribes(
        self, window: msgevents.Window, page_size: int, media_types: Sequence[str] = (GLOBAL,)
    ) -> Iterator[list[msgevents.Record]]:
        """Unsubscribes created in ``[since, until)`` of each media type, newest first, one list per page.

        One list per media type: :data:`GLOBAL` is the list without ``mediaType``
        (the API's default), ``EMAIL``, ``SMS``… are asked for by name. Pages with
        ``offset`` over ``sort=created&direction=DESC`` and stops at the first entry
        older than ``window.since`` or at a short page. Entries newer than
        ``window.until`` are skipped. An entry whose ``created`` cannot be read is
        yielded as is: the mapping quarantines it.
        """
        for media_type in media_types:
            yield from self._unsubscribes_of(window, page_size, media_type)

    def _unsubscribes_of(
        self, window: msgevents.Window, page_size: int, media_type: str
    ) -> Iterator[list[msgevents.Record]]:
        label = "" if media_type == GLOBAL else f" mediaType={media_type}"
        for offset, elements in offset_pages(
            lambda offset, limit: self._unsubscribe_elements(offset, limit, media_type), page_size
        ):
            page: list[msgevents.Record] = []
            older = False
            for index, element in enumerate(elements):
                source = f"GET /unsubscribes{label} offset={offset + index}"
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
            if older:
                return

    def _unsubscribe_elements(self, offset: int, limit: int, media_type: str) -> list[Any]:
        """One page of ``/unsubscribes`` of ``media_type``, newest first."""
        params: dict[str, Any] = {"offset": offset, "limit": limit, "sort": "created", "direction": "DESC"}
        if media_type != GLOBAL:
            params["mediaType"] = media_type
        body = self.get_json("/unsubscribes", params)
        elements = body.get("elements") if isinstance(body, dict) else None
        if not isinstance(elements, list):
            raise msgevents.ProviderUnavailableError(
                "Optimizely REST /unsubscribes answered without an 'elements' list"
            )
        return elements

    # -- mailing lists and tracking links ---------------------------------------------------

    def mailing_list(self, kind: str, offset: int, limit: int) -> list[Any]:
        """One page of ``/smartcampaigns``, ``/transactionalmail`` or ``/confirmations``, newest first.

        ``resultView=DETAILED`` (with the message nodes), sorted by id. A 404 (a client
        without that kind) or a 403 (an API user not allowed to read it: logged as a
        warning, once) is an empty list.
        """
        params = {
            "offset": offset,
            "limit": limit,
            "resultView": "DETAILED",
            "sort": "id",
            "direction": "DESC",
        }
        path = f"/{kind}"
        response = self.get(path, params, forbidden_ok=True)
        if response.status_code == 403:
            self._refused(_NAMES[kind], path)
            return []
        if response.status_code == 404:
            return []
        body = self._json(path, response)
        elements = body.get("elements") if isinstance(body, dict) else None
        if not isinstance(elements, list):
            raise msgevents.ProviderUnavailableError(
                f"Optimizely REST {path} answered without an 'elements' list"
            )
        return elements

    def message_nodes(self, kind: str, owner: str) -> list[Any]:
        """The message nodes of one list element that came without them.

        ``GET /smartcampaigns/{id}/messages`` for a Smart Campaign, ``GET /{kind}/{id}``
        (its ``message``) for a transactional or confirmation mail; 403/404 → none.
        """
        path = f"/smartcampaigns/{owner}/messages" if kind == "smartcampaigns" else f"/{kind}/{owner}"
        response = self.get(path, forbidden_ok=True)
        if response.status_code in (403, 404):
            return []
        body = self._json(path, response)
        if isinstance(body, dict):
            body = [body["message"]] if isinstance(body.get("message"), dict) else body.get("messages")
        return body if isinstance(body, list) else []

    def tracking_links(self, kind: str, owner: str, mailing_id: str) -> dict[str, str] | None:
        """Link id → URL of mailing ``mailing_id`` of ``owner`` (a ``kind`` element); ``None`` if unknown.

        403: the API user may not read links (one warning); 400: per the OpenAPI, the
        mailing has more than :data:`MAX_LINKS` links, which Optimizely does not list
        (counted in :attr:`too_many_links`); 404/409: not this client's.
        """
        path = _LINK_PATHS[kind].format(owner=owner, mailing=mailing_id)
        response = self.get(path, forbidden_ok=True)
        if response.status_code == 403:
            self._refused("tracking links", path)
            return None
        if response.status_code == 400:
            if mailing_id not in self.too_many_links:
                log.warning(
                    "Optimizely refused the tracking links of mailing %s (HTTP 400): %s",
                    mailing_id,
                    _TOO_MANY,
                )
            self.too_many_links.add(mailing_id)
            return None
        if response.status_code in (404, 409):
            return None
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

    def _refused(self, what: str, path: str) -> None:
        if what not in self.refused:
            self.refused.add(what)
            log.warning("Optimizely refused GET %s (HTTP 403): %s", path, _refusal(what))

    def warnings(self) -> list[str]:
        """This run's look-up problems, once each, for the run's summary."""
        found = [
            f"Optimizely answered HTTP 403 for {what}: {_refusal(what)}" for what in sorted(self.refused)
        ]
        if self.too_many_links:
            mailings = ", ".join(sorted(self.too_many_links))
            found.append(
                f"Optimizely refused the tracking links of mailing {mailings} (HTTP 400): {_TOO_MANY}"
            )
        return found


def _refusal(what: str) -> str:
    if what == "tracking links":
        return "the API user may not read tracking links, so clicks without a URL are delivered without one"
    return f"the API user may not read {what}, so click URLs of their mailings cannot be looked up"


def _created(element: dict[str, Any]) -> Any:
    try:
        return parse_iso8601(element.get("created"))  # type: ignore[arg-type]
    except TimestampError:
        return None
