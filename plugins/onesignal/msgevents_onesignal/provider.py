"""The ``onesignal`` provider: OneSignal Event Streams (push, e-mail and SMS message events).

OneSignal pushes: an Event Stream POSTs one JSON body per event to
``msgevents serve`` (``POST /webhooks/onesignal``, authenticated by a shared
secret header, :mod:`msgevents_onesignal.webhook`). Dumps of the same bodies are
read with ``--input``: JSON Lines, a JSON array or concatenated JSON values, plain
or gzipped. Mapping is :mod:`msgevents_onesignal.mapping`; OneSignal has no API
to pull these events from (its message-history export is a CSV by e-mail link,
within 7 days, paid plans only), so there are no streams to pull.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import msgevents
from msgevents import EventType
from msgevents.inputs import json_record_batches
from msgevents_onesignal.mapping import OneSignalMapper
from msgevents_onesignal.settings import OneSignalSettings
from msgevents_onesignal.webhook import STREAM, parse_body, records_of, verify

__all__ = ["STREAM", "OneSignalProvider"]


class OneSignalProvider(msgevents.Provider):
    """OneSignal Event Streams: webhooks to ``msgevents serve``, or dumps of their bodies."""

    name = "onesignal"
    title = "OneSignal (Event Streams: push, e-mail, SMS)"
    supported_events = frozenset(EventType)
    Settings = OneSignalSettings
    streams = ()  # nothing to pull: Event Streams push to msgevents serve, or --input dumps
    input_help = (
        "dumps of Event Streams bodies: JSON Lines (or a JSON array), one rendered body per event, "
        "keyed by OneSignal's Liquid names (event.kind, event.id, event.datetime or event.timestamp, "
        "event.external_id, message.id…; flat, grouped or nested), or stored requests with the raw "
        "body as text under 'body' (their headers are dropped); .gz accepted"
    )
    identity_source: ClassVar[str] = "event.external_id"

    settings: OneSignalSettings

    def __init__(self, settings: msgevents.ProviderSettings) -> None:
        super().__init__(settings)
        self._mapper = OneSignalMapper(self.settings.hard_reasons, self.account)

    def read_input(self, path: Path) -> Iterator[list[msgevents.Record]]:
        """Batches of the dump's bodies: a line that is not JSON, or a value that is not an
        object, is quarantined; a file cut off or not JSON at all raises InputFileError after
        the batches read before the fault."""
        return json_record_batches(path, records_of)

    def verify_webhook(self, request: msgevents.WebhookRequest) -> None:
        """The configured header must hold ``MSGEVENTS_ONESIGNAL_WEBHOOK_TOKEN`` (constant-time)."""
        verify(self.settings, request)

    def parse_webhook(self, request: msgevents.WebhookRequest) -> Sequence[msgevents.Record]:
        """Pure: the body's one event (or array of events) as the records a dump gives."""
        return parse_body(request.body)

    def map_record(self, record: msgevents.Record) -> list[msgevents.Event] | msgevents.NotModelled:
        """Pure: one body → one event, or NotModelled (in-app, Live Activity, suppressed…)."""
        return self._mapper(record.data)
