"""The ``twilio`` provider: SMS status callbacks of Twilio Programmable Messaging.

``--input`` reads status-callback dumps: JSON Lines (or a JSON array), one
object per callback holding its form parameters and ``received_at``, or
``received_at`` and the raw form-encoded ``body``; plain or gzipped. Mapping
is :mod:`msgevents_twilio.mapping`; the ``To`` number becomes a CrossEngage
user id through the core's identity step.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import msgevents
from msgevents import EventType
from msgevents.inputs import BATCH_SIZE, json_record_batches, object_records
from msgevents_twilio.mapping import TwilioMapper
from msgevents_twilio.settings import TwilioSettings
from msgevents_twilio.webhooks import parse_request, verify_request

__all__ = ["BATCH_SIZE", "TwilioProvider"]
STREAM = "callbacks"


class TwilioProvider(msgevents.Provider):
    """Twilio Programmable Messaging: SMS status callbacks (received live, or dump files)."""

    name = "twilio"
    title = "Twilio Programmable Messaging (SMS status callbacks)"
    supported_events = frozenset(
        {EventType.SENT, EventType.DELIVERED, EventType.SOFT_BOUNCED, EventType.HARD_BOUNCED}
    )
    Settings = TwilioSettings
    streams = ()  # pulling the Messages resource is a later addition: --input only
    input_help = (
        "status-callback dumps: JSON Lines (or a JSON array), one object per callback with its "
        "form parameters (MessageSid, MessageStatus, To, ErrorCode, RawDlrDoneDate…) and "
        "received_at (ISO 8601 with offset, or epoch seconds), or with received_at and the raw "
        "form-encoded body; .gz accepted"
    )
    # Twilio echoes no customer field: the To number goes through the identity file only
    identity_source: ClassVar[str] = ""

    settings: TwilioSettings

    def __init__(self, settings: msgevents.ProviderSettings) -> None:
        super().__init__(settings)
        self._mapper = TwilioMapper(self.settings.hard_codes, self.account)

    def read_input(self, path: Path) -> Iterator[list[msgevents.Record]]:
        """Batches of the dump's callbacks: a value that is not a JSON object, or a line that
        is not JSON, is quarantined; a file cut off or not JSON at all raises InputFileError
        after the batches read before the fault."""
        return json_record_batches(path, _records_of)

    def verify_webhook(self, request: msgevents.WebhookRequest) -> None:
        """``X-Twilio-Signature`` is Twilio's over the URL and the form, keyed with ``…_AUTH_TOKEN``."""
        self.settings.require("auth_token")
        assert self.settings.auth_token is not None
        verify_request(request, self.settings.auth_token.get_secret_value())

    def parse_webhook(self, request: msgevents.WebhookRequest) -> Sequence[msgevents.Record]:
        """The callback as the record of a dump line with ``received_at`` and the raw ``body``."""
        return parse_request(request, _records_of)

    def map_record(self, record: msgevents.Record) -> list[msgevents.Event] | msgevents.NotModelled:
        """Pure: one callback → one event, or NotModelled (queued, accepted, sending…)."""
        return self._mapper(record.data)


_records_of = object_records(STREAM, "a status callback")
