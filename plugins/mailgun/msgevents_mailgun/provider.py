"""The Mailgun provider: declarations, windows, pulling, files and mapping wired together."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import msgevents
from msgevents import EventType, NotModelled, Record, Window
from msgevents.timestamps import UTC
from msgevents_mailgun.api import ENDPOINTS, EventsEndpoint, MailgunApi, server_time
from msgevents_mailgun.files import read_events
from msgevents_mailgun.mapping import Mapper
from msgevents_mailgun.settings import MailgunSettings
from msgevents_mailgun.webhooks import parse_body, verify_body

__all__ = ["MailgunProvider"]


class MailgunProvider(msgevents.Provider):
    """Mailgun: the Events API (``events`` stream) and files of Events API items or webhook bodies."""

    name = "mailgun"
    title = "Mailgun"
    supported_events = frozenset(EventType)
    Settings = MailgunSettings
    streams = ("events",)
    #: Mailgun's polling advice: events reach storage out of order; trust only what is 30 min old.
    settle = timedelta(minutes=30)
    restatement = timedelta(minutes=30)
    input_help = (
        "JSON Lines or JSON arrays of Mailgun Events API items, saved Events API pages, or webhook "
        "bodies ({'signature': …, 'event-data': {…}}); .gz accepted"
    )
    identity_source: ClassVar[str] = "user-variables[MSGEVENTS_MAILGUN_USER_ID_VARIABLE] (default user_id)"

    settings: MailgunSettings

    def __init__(
        self,
        settings: msgevents.ProviderSettings,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(settings)
        self._sleep = sleep
        self._clock = clock or (lambda: datetime.now(UTC))
        self._api: MailgunApi | None = None
        self._endpoints: dict[str, Any] = {}
        self._mapper = Mapper(self.name, self.account, self.settings.user_id_variable)

    @property
    def account(self) -> str:
        return self.settings.domain or ""

    # -- the API -------------------------------------------------------------------------------

    def _connect(self) -> MailgunApi:
        if self._api is None:
            self.settings.require("domain", "api_key")
            assert self.settings.api_key is not None
            assert self.settings.domain is not None
            kwargs: dict[str, Any] = {"auth": ("api", self.settings.api_key.get_secret_value())}
            if self._sleep is not None:
                kwargs["sleep"] = self._sleep
            http = self.http_client("mailgun", **kwargs)
            prefix = self.Settings.env_name("")
            self._api = MailgunApi(http, self.settings.base_url, self.settings.domain, prefix)
        return self._api

    def _endpoint(self, stream: str) -> EventsEndpoint:
        endpoint = self._endpoints.get(stream)
        if endpoint is None:
            try:
                endpoint_class = ENDPOINTS[stream]
            except KeyError:
                raise msgevents.ConfigError(f"mailgun has no stream {stream!r}") from None
            endpoint = self._endpoints[stream] = endpoint_class(self._connect(), self.settings.page_limit)
        return endpoint

    def now(self) -> datetime:
        """Mailgun's clock: the ``Date`` header of one cheap call (a wrong local clock cannot
        move the window); the local clock when the header is missing."""
        response = self._endpoint(self.streams[0]).probe()
        return server_time(response) or self._clock()

    def pull(self, stream: str, window: Window) -> Iterator[Sequence[Record]]:
        endpoint = self._endpoint(stream)
        until = window.until.timestamp()
        source = f"GET /v3/{self.settings.domain}/events"
        for number, items in enumerate(endpoint.pages(window.since, window.until), start=1):
            page = [
                Record(stream, item, f"{source} page {number}")
                if isinstance(item, dict)
                else Record(stream, {"value": item}, f"{source} page {number}", error="item is not an object")
                for item in items
                if not _after(item, until)
            ]
            if page:
                yield page

    def check(self) -> str:
        response = self._endpoint(self.streams[0]).probe()
        clock = server_time(response)
        shown = f"; Mailgun's clock {clock.isoformat()}" if clock else ""
        return f"Mailgun Events API of {self.settings.domain} answered with this API key{shown}"

    def read_input(self, path: Path) -> Iterator[Sequence[Record]]:
        return read_events(Path(path) if isinstance(path, str) else path)  # a Path, or an s3:// object

    def close(self) -> None:
        if self._api is not None:
            self._api.http.close()
            self._api = None
            self._endpoints.clear()

    # -- webhooks (msgevents serve) -------------------------------------------------------------

    def verify_webhook(self, request: msgevents.WebhookRequest) -> None:
        """The body's ``signature`` is Mailgun's HMAC-SHA256 with ``…_WEBHOOK_SIGNING_KEY``."""
        self.settings.require("webhook_signing_key")
        assert self.settings.webhook_signing_key is not None
        key = self.settings.webhook_signing_key.get_secret_value()
        verify_body(request, key, self.settings.webhook_max_age)

    def parse_webhook(self, request: msgevents.WebhookRequest) -> Sequence[Record]:
        """The body's ``event-data``: the record a file of webhook bodies gives."""
        return parse_body(request)

    # -- mapping -------------------------------------------------------------------------------

    def map_record(self, record: Record) -> Sequence[msgevents.Event] | NotModelled:
        return self._mapper(record.data)


def _after(item: Any, until: float) -> bool:
    """True for an item at or after ``until`` (Mailgun's ``end`` is whole seconds)."""
    if not isinstance(item, dict):
        return False
    stamp = item.get("timestamp")
    return isinstance(stamp, int | float) and not isinstance(stamp, bool) and stamp >= until
