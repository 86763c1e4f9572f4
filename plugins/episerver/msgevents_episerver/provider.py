"""The ``episerver`` provider (alias ``optimizely``): Optimizely Campaign closed-loop data.

Live runs pull ``recipients``, ``opens``, ``clicks`` and ``responses`` from the
SOAP ClosedLoopWebservice (windows in server milliseconds, ``startRow``
paging) and ``unsubscribes`` from REST; ``--input`` reads closed-loop export
CSVs. Clicks without a URL get it from the REST tracking links while pulling,
and with ``CAMPAIGN_ID=smart_campaign`` every record gets its mailing's Smart
Campaign id the same way, so :meth:`EpiserverProvider.map_record` stays pure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import msgevents
from msgevents import EventType
from msgevents.timestamps import parse_epoch_millis, to_epoch_millis
from msgevents_episerver.files import read_export, stream_of
from msgevents_episerver.links import KINDS, LinkResolver, MailingDirectory
from msgevents_episerver.mapping import Mapper
from msgevents_episerver.paging import offset_pages
from msgevents_episerver.rest import RestClient
from msgevents_episerver.settings import RETENTION, STREAMS, EpiserverSettings
from msgevents_episerver.soap import SoapClient

__all__ = ["EXPORT_METHODS", "EpiserverProvider"]

#: The ClosedLoopWebservice method of each SOAP stream.
EXPORT_METHODS = {
    "recipients": "getRecipients",
    "opens": "getOpens",
    "clicks": "getClicks",
    "responses": "getResponses",
}


class EpiserverProvider(msgevents.Provider):
    """Optimizely Campaign (Episerver): closed-loop SOAP, REST unsubscribes, export files.

    ``sleep`` (retry waits) and ``clock`` (session age, monotonic seconds) are
    injectable for tests; the core constructs the provider with settings only.
    """

    name = "episerver"
    title = "Optimizely Campaign (Episerver Campaign)"
    aliases = ("optimizely",)
    supported_events = frozenset(
        {
            EventType.SENT,
            EventType.VIEWED,
            EventType.CLICKED,
            EventType.UNSUBSCRIBED,
            EventType.SOFT_BOUNCED,
            EventType.HARD_BOUNCED,
        }
    )
    Settings = EpiserverSettings
    streams = STREAMS
    settle = timedelta(0)
    restatement = timedelta(hours=2)
    retention = RETENTION
    input_help = (
        "Optimizely closed-loop export CSV files (.csv or .csv.gz) named after their stream: "
        "recipients_*.csv, opens_*.csv, clicks_*.csv, responses_*.csv, unsubscribes_*.csv; "
        "first line a header naming the columns (mailing_id, recipient_list_id, recipient_id, "
        "timestamp, link_id, link_url, category), delimiter ; or ,"
    )
    identity_source = "recipient_id (a customer id, or an e-mail address: MSGEVENTS_EPISERVER_IDENTITY)"

    settings: EpiserverSettings

    def __init__(
        self,
        settings: msgevents.ProviderSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(settings)
        self._sleep = sleep
        self._clock = clock
        self._soap: SoapClient | None = None
        self._rest: RestClient | None = None
        self._links: LinkResolver | None = None
        self._directories: dict[str, MailingDirectory] = {}
        self._offline_urlless = 0  # clicks of --input files read without looking their link up
        self._warnings: list[str] = []  # of clients closed already
        self._mapper = Mapper(self.settings, self.account)

    @property
    def account(self) -> str:
        """The Optimizely client id (also for --input runs, so event ids match); else ""."""
        return self.settings.client_id or ""

    # -- clients (created on first use: --input runs need no credentials) -------------------

    def _soap_client(self) -> SoapClient:
        if self._soap is None:
            self.settings.require_soap()
            user, password = self.settings.soap_credentials()
            http = self.http_client("episerver-soap", sleep=self._sleep)
            self._soap = SoapClient(
                http, self.settings.base_url, self.account, user, password, clock=self._clock
            )
        return self._soap

    def _rest_client(self) -> RestClient:
        if self._rest is None:
            self.settings.require_rest()
            http = self.http_client(
                "episerver-rest", auth=self.settings.rest_credentials(), sleep=self._sleep
            )
            self._rest = RestClient(http, self.settings.base_url, self.account)
        return self._rest

    # -- pulling ------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The server clock (``getCurrentTime``)."""
        return parse_epoch_millis(self._soap_client().current_time_ms())

    def pull(self, stream: str, window: msgevents.Window) -> Iterator[Sequence[msgevents.Record]]:
        """Pages of ``stream`` records in ``window`` (server clock, half-open)."""
        if stream == "unsubscribes":
            rest = self._rest_client()
            for page in rest.unsubscribes(window, self.settings.page_size, self.settings.media_types()):
                yield self._with_campaigns(page, "mailingId")
            return
        method = EXPORT_METHODS.get(stream)
        if method is None:
            raise msgevents.ConfigError(f"unknown episerver stream {stream!r}; streams: {', '.join(STREAMS)}")
        yield from self._pull_rows(stream, method, window)

    def _pull_rows(
        self, stream: str, method: str, window: msgevents.Window
    ) -> Iterator[list[msgevents.Record]]:
        soap = self._soap_client()
        columns = self.settings.columns(stream)
        width = len(columns)
        page_size = self.settings.page_size
        since, until = to_epoch_millis(window.since), to_epoch_millis(window.until)
        for start, rows in offset_pages(
            lambda offset, limit: soap.export_rows(method, since, until, offset, limit), page_size
        ):
            page = []
            for offset, cells in enumerate(rows):
                source = f"{method} row {start + offset}"
                if len(cells) == width:
                    page.append(msgevents.Record(stream, dict(zip(columns, cells, strict=True)), source))
                else:
                    problem = (
                        f"{len(cells)} cells where MSGEVENTS_EPISERVER_COLUMNS_{stream.upper()} "
                        f"names {width} ({','.join(columns)})"
                    )
                    page.append(msgevents.Record(stream, {"cells": cells}, source, problem))
            if stream == "clicks" and page:
                page = self._link_resolver().fill(page)
            if page:
                yield self._with_campaigns(page, "mailing_id")

    def _directory(self, kind: str) -> MailingDirectory:
        if kind not in self._directories:
            self._directories[kind] = MailingDirectory(self._rest_client(), kind)
        return self._directories[kind]

    def _link_resolver(self) -> LinkResolver:
        if self._links is None:
            self._links = LinkResolver(self._rest_client(), [self._directory(kind) for kind in KINDS])
        return self._links

    def _with_campaigns(self, page: list[msgevents.Record], mailing_key: str) -> list[msgevents.Record]:
        """``page`` with each record's Smart Campaign id when ``CAMPAIGN_ID=smart_campaign``."""
        if self.settings.campaign_id != "smart_campaign":
            return page
        return self._directory("smartcampaigns").fill(page, mailing_key)

    def check(self) -> str:
        """SOAP login + getCurrentTime, then one REST unsubscribes request."""
        self.settings.require_soap()
        self.settings.require_rest()
        server_time = self.now()
        self._rest_client().get_json(
            "/unsubscribes", {"offset": 0, "limit": 1, "sort": "created", "direction": "DESC"}
        )
        return (
            "SOAP login and getCurrentTime worked (server time "
            f"{server_time.isoformat().replace('+00:00', 'Z')}); "
            "REST GET /unsubscribes accepted the API user"
        )

    def run_warnings(self) -> list[str]:
        """Clicks left without url (with the count), and what kept the look-ups from working."""
        found = list(self._warnings)
        if self._links is not None and (summary := self._links.summary()):
            found.append(summary)
        if self._rest is not None:
            found.extend(self._rest.warnings())
        if self._offline_urlless:
            found.append(
                f"{self._offline_urlless} click(s) read from --input files have an empty link_url and go out "
                "without url: their links are looked up only with MSGEVENTS_EPISERVER_CLIENT_ID, _USERNAME "
                "and _PASSWORD set and MSGEVENTS_EPISERVER_FILE_LINK_LOOKUP=auto"
            )
        return found

    def close(self) -> None:
        """SOAP logout and close both HTTP sessions."""
        self._warnings = self.run_warnings()
        self._offline_urlless = 0
        if self._soap is not None:
            self._soap.logout()
            self._soap.http.close()
            self._soap = None
        if self._rest is not None:
            self._rest.http.close()
            self._rest = None
        self._links = None
        self._directories = {}

    # -- files and mapping --------------------------------------------------------------------

    def read_input(self, path: Path) -> Iterator[Sequence[msgevents.Record]]:
        """Batches of an export file's rows; see :mod:`msgevents_episerver.files`.

        The file name and existence are checked at once (ConfigError naming the file).
        Clicks with an empty ``link_url`` get their URL from the REST tracking links when
        the API user is configured, as in a pull, so both paths give the same event ids;
        ``CAMPAIGN_ID=smart_campaign`` needs the API user here too.
        """
        if isinstance(path, str):
            path = Path(path)  # else a Path, or an object in storage (msgevents.objectstore)
        stream = stream_of(path)
        if not path.is_file():
            raise msgevents.ConfigError(f"input file {str(path)!r} does not exist or is not a file")
        if self.settings.campaign_id == "smart_campaign" and not self.settings.has_rest_credentials():
            try:
                self.settings.require_rest()
            except msgevents.ConfigError as exc:
                raise msgevents.ConfigError(
                    f"{exc}: MSGEVENTS_EPISERVER_CAMPAIGN_ID=smart_campaign looks the Smart Campaigns "
                    "up through the REST API, also for --input files"
                ) from None
        links = stream == "clicks" and self._looks_up_file_links()
        return (self._enriched_batch(batch, links) for batch in read_export(path, self.settings))

    def _enriched_batch(self, batch: list[msgevents.Record], links: bool) -> list[msgevents.Record]:
        if links:
            batch = self._link_resolver().fill(batch)
        elif batch and batch[0].stream == "clicks":
            self._offline_urlless += sum(
                1 for r in batch if r.error is None and not (r.data.get("link_url") or "").strip()
            )
        return self._with_campaigns(batch, "mailing_id")

    def _looks_up_file_links(self) -> bool:
        """Whether empty ``link_url`` cells of click files are resolved (``FILE_LINK_LOOKUP``)."""
        return self.settings.file_link_lookup == "auto" and self.settings.has_rest_credentials()

    def map_record(self, record: msgevents.Record) -> list[msgevents.Event] | msgevents.NotModelled:
        """Pure: one record → one event, or NotModelled (autoresponder responses…)."""
        return self._mapper(record)
