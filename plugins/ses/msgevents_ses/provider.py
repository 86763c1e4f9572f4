"""The ``ses`` provider: Amazon SES event publishing, read from files.

SES offers no API to pull events from; they reach S3 through Firehose or an
HTTPS endpoint through SNS. ``--input`` reads those records: Firehose objects
(JSON values one after another, with or without newlines), JSON Lines dumps of
SNS notifications or of SES records, a JSON array of them; gzipped or not.
Mapping is :mod:`msgevents_ses.mapping`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import ClassVar

import msgevents
from msgevents import EventType
from msgevents.http import RetryPolicy
from msgevents.inputs import BATCH_SIZE, json_record_batches, object_records
from msgevents.timestamps import UTC
from msgevents_ses.mapping import SesMapper
from msgevents_ses.settings import SesSettings
from msgevents_ses.sns import HostAllowlist
from msgevents_ses.webhooks import SnsReceiver, parse_message

__all__ = ["BATCH_SIZE", "SesProvider"]
STREAM = "events"


class SesProvider(msgevents.Provider):
    """Amazon SES event publishing (Firehose/S3 objects, SNS notifications, feedback notifications)."""

    name = "ses"
    title = "Amazon SES (event publishing)"
    supported_events = frozenset(EventType)
    Settings = SesSettings
    streams = ()  # no pull API: --input only
    input_help = (
        "SES event-publishing records (Firehose objects from S3: JSON values one after another, "
        "newline-separated or not), SNS notifications whose Message is an SES event, or SES "
        "feedback notifications (notificationType); JSON Lines or a JSON array; .gz accepted"
    )
    identity_source: ClassVar[str] = "mail.tags[user_id] (tag named by MSGEVENTS_SES_USER_ID_TAG)"

    settings: SesSettings

    def __init__(self, settings: msgevents.ProviderSettings) -> None:
        super().__init__(settings)
        self._mapper = SesMapper(self.settings.user_id_tag, self.settings.campaign_id_tag, self.account)
        self._sns: SnsReceiver | None = None

    def read_input(self, path: Path) -> Iterator[list[msgevents.Record]]:
        """Batches of the file's records: a value that is not a JSON object, or a line of a
        JSON Lines file that is not JSON, is quarantined; a file cut off or not JSON at all
        raises InputFileError after the batches read before the fault."""
        return json_record_batches(path, _records_of)

    # -- SNS messages received by msgevents serve ------------------------------------------

    def _receiver(self) -> SnsReceiver:
        if self._sns is None:
            # a webhook request waits on these calls: two attempts, short timeouts
            http = self.http_client("ses-sns", retry=RetryPolicy(attempts=2), timeout=(5.0, 10.0))
            settings = self.settings
            self._sns = SnsReceiver(
                http,
                HostAllowlist(settings.sns_certificate_hosts),
                settings.topic_arns,
                settings.webhook_max_age,
                lambda: datetime.now(UTC),
            )
        return self._sns

    def verify_webhook(self, request: msgevents.WebhookRequest) -> None:
        """The SNS signature, against the certificate from an allowed host; confirms subscriptions."""
        self._receiver().verify(request)

    def parse_webhook(self, request: msgevents.WebhookRequest) -> Sequence[msgevents.Record]:
        """A Notification → the record of its envelope (as from a file); confirmations → none."""
        return parse_message(request, _records_of)

    def close(self) -> None:
        if self._sns is not None:
            self._sns.http.close()
            self._sns = None

    def map_record(self, record: msgevents.Record) -> list[msgevents.Event] | msgevents.NotModelled:
        """Pure: one record → one event per affected recipient, or NotModelled."""
        return self._mapper(record.data)


_records_of = object_records(STREAM, "an SES record")
