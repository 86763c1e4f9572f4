"""Talking to Mailgun over HTTP: the Events API, and the server clock.

An *endpoint* turns a time window into pages of native events. Today there is
one, :class:`EventsEndpoint` (``GET /v3/{domain}/events``); Mailgun's newer
account-level Logs API (``POST /v1/analytics/logs``) would be a second class
with the same ``pages(window)`` method, registered in :data:`ENDPOINTS` under
its stream name, with the mapping unchanged (its items carry the same event
fields). Everything here raises msgevents errors: 401/403 → ``AuthError``
(exit 3), an unknown domain → ``ConfigError`` (exit 2), a broken answer →
``ProviderUnavailableError`` (exit 4); 429 and 5xx are retried by
:class:`msgevents.HttpClient`, honouring ``Retry-After``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson
import requests

import msgevents
from msgevents.redact import excerpt, redact
from msgevents.timestamps import UTC

__all__ = ["ENDPOINTS", "Endpoint", "EventsEndpoint", "MailgunApi", "server_time"]


def server_time(response: requests.Response) -> datetime | None:
    """The ``Date`` header of a response as an aware UTC datetime; ``None`` when absent or bad."""
    header = response.headers.get("Date")
    if not header:
        return None
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)


class MailgunApi:
    """HTTP Basic ``api:<key>`` requests under ``base_url`` for one sending ``domain``."""

    def __init__(self, http: msgevents.HttpClient, base_url: str, domain: str, settings_prefix: str) -> None:
        self.http = http
        self.base_url = base_url
        self.domain = domain
        self.prefix = settings_prefix
        self._origin = _origin(base_url)

    def get(self, url: str, params: dict[str, Any] | None = None) -> requests.Response:
        """GET ``url`` (under the base URL's origin only: the key is never sent elsewhere)."""
        if _origin(url) != self._origin:
            raise msgevents.ProviderUnavailableError(
                f"Mailgun answered with a paging URL on another host ({_origin(url)!r}, expected "
                f"{self._origin!r}); not following it with the API key"
            )
        response = self.http.request("GET", url, params=params)
        status = response.status_code
        if status in (401, 403):
            raise msgevents.AuthError(
                f"Mailgun refused the API key (HTTP {status}): check {self.prefix}API_KEY "
                f"(a private API key) and {self.prefix}BASE_URL (EU domains: https://api.eu.mailgun.net)"
            )
        if status == 404:
            raise msgevents.ConfigError(
                f"Mailgun does not know the domain {self.domain!r} at {self.base_url} (HTTP 404): "
                f"check {self.prefix}DOMAIN and {self.prefix}BASE_URL (EU domains: https://api.eu.mailgun.net)"
            )
        if status != 200:
            raise msgevents.ProviderUnavailableError(
                f"Mailgun GET {_path(url)} answered HTTP {status}: {_snippet(response)}"
            )
        return response

    def json(self, response: requests.Response) -> dict[str, Any]:
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise msgevents.ProviderUnavailableError(
                f"Mailgun GET {_path(response.url)} answered with a body that is not JSON ({exc}): "
                f"{_snippet(response)}"
            ) from None
        if not isinstance(body, dict):
            raise msgevents.ProviderUnavailableError(
                f"Mailgun GET {_path(response.url)} answered a JSON {type(body).__name__}, not an object"
            )
        return body


class Endpoint(Protocol):
    """Pages of native events of one time window; one endpoint per stream."""

    def pages(self, since: datetime, until: datetime) -> Iterator[list[dict[str, Any]]]: ...

    def probe(self) -> requests.Response: ...


class EventsEndpoint:
    """``GET {base}/v3/{domain}/events?begin&end&ascending=yes&limit``, then ``paging.next``.

    Mailgun's paging URLs are opaque cursors; the walk ends at the first page without
    items (Mailgun always answers a ``next`` URL, with an empty page at the end).
    """

    def __init__(self, api: MailgunApi, limit: int = 300) -> None:
        self.api = api
        self.limit = limit
        self.url = f"{api.base_url}/v3/{api.domain}/events"

    def pages(self, since: datetime, until: datetime) -> Iterator[list[dict[str, Any]]]:
        params: dict[str, Any] | None = {
            "begin": str(math.floor(since.timestamp())),
            "end": str(math.ceil(until.timestamp())),
            "ascending": "yes",
            "limit": str(self.limit),
        }
        url = self.url
        seen: set[str] = set()
        while True:
            body = self.api.json(self.api.get(url, params))
            items = body.get("items")
            if not isinstance(items, list):
                raise msgevents.ProviderUnavailableError(
                    f"Mailgun events page of {_path(url)} has no items list (keys: {sorted(body)[:8]})"
                )
            if not items:
                return
            yield items
            paging = body.get("paging")
            following = paging.get("next") if isinstance(paging, dict) else None
            if not isinstance(following, str) or not following:
                return  # no cursor: nothing more to read
            if following in seen or following == url:
                raise msgevents.ProviderUnavailableError(
                    "Mailgun repeated a paging URL with items on the page: stopping instead of looping"
                )
            seen.add(url)
            url, params = following, None

    def probe(self) -> requests.Response:
        """One cheap authenticated call: a one-item page of the last minute."""
        return self.api.get(self.url, {"limit": "1", "ascending": "no"})


#: Stream name → endpoint class. A Logs API endpoint is one more entry.
ENDPOINTS: dict[str, type[EventsEndpoint]] = {"events": EventsEndpoint}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}".lower()


def _path(url: str) -> str:
    return redact(urlsplit(url).path)


def _snippet(response: requests.Response) -> str:
    # masked before it is cut: a key cut in half would no longer be found
    text = response.content.decode("utf-8", errors="replace")
    return excerpt(" ".join(text.split()), 300) or "(empty body)"
