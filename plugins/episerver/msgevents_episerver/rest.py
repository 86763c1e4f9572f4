"""The Optimizely Campaign REST API: unsubscribes and tracking links.

``{base}/rest/{clientId}/…`` with HTTP Basic auth. 401/403 is an
authentication refusal (never retried); 429 and 5xx are retried by
:class:`msgevents.HttpClient`, honouring ``Retry-After``. Optimizely allows
at most 10 simultaneous requests per client: a semaphore caps this client at
that, whatever the caller does with threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import requests

import msgevents
from msgevents.redact import redact
from msgevents.timestamps import TimestampError, parse_iso8601

__all__ = ["MAX_CONCURRENT", "LinkResolver", "RestClient"]

#: Optimizely answers 429 beyond 10 simultaneous requests per client.
MAX_CONCURRENT = 10


class RestClient:
    """GET JSON from ``{base}/rest/{clientId}``; errors become msgevents errors."""

    def __init__(self, http: msgevents.HttpClient, base_url: str, client_id: str) -> None:
        self.http = http
        self.root = f"{base_url.rstrip('/')}/rest/{client_id}"
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT)

    def get(self, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        """GET ``path`` under the client root; 401/403 → AuthError."""
        with self._slots:
            response = self.http.request(
                "GET", self.root + path, params=params, headers={"Accept": "application/json"}
            )
        if response.status_code in (401, 403):
            raise msgevents.AuthError(
                f"Optimizely REST refused the credentials (HTTP {response.status_code} on "
                f"{path.split('?')[0]}); check MSGEVENTS_EPISERVER_CLIENT_ID, _USERNAME and _PASSWORD"
            )
        return response

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET and decode JSON; any non-2xx status is a provider error naming it."""
        response = self.get(path, params)
        if not response.ok:
            snippet = redact(response.text[:200].strip())
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

    # -- tracking links -------------------------------------------------------------------

    def tracking_links(self, mailing_id: str) -> dict[str, str] | None:
        """Link id → URL of a mailing, or ``None`` when Optimizely does not know the mailing.

        The closed-loop rows carry a mailing id but no Smart Campaign id, so the
        Smart Campaign path is asked with the mailing id for both (as §7 uses
        the mailing id for ``campaign_id``); a 404 there falls back to the
        transactional-mail path, where the mailing id is the path id.
        """
        paths = (
            f"/smartcampaigns/{mailing_id}/messages/{mailing_id}/tracking/links",
            f"/transactionalmail/{mailing_id}/message/tracking/links",
        )
        for path in paths:
            response = self.get(path)
            if response.status_code in (400, 404, 409):
                continue  # not this kind of mailing (or not this client's)
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
        return None


def _created(element: dict[str, Any]) -> Any:
    try:
        return parse_iso8601(element.get("created"))  # type: ignore[arg-type]
    except TimestampError:
        return None


class LinkResolver:
    """Fills ``link_url`` of click records from the tracking links, cached per mailing."""

    def __init__(self, rest: RestClient) -> None:
        self.rest = rest
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
            self.cache[mailing_id] = self.rest.tracking_links(mailing_id)
        links = self.cache[mailing_id]
        return links.get(link_id) if links else None
