"""The ``ses`` provider: Amazon SES event publishing, read from files.

SES offers no API to pull events from; they reach S3 through Firehose or an
HTTPS endpoint through SNS. ``--input`` reads those records: Firehose objects
(JSON values one after another, with or without newlines), JSON Lines dumps of
SNS notifications or of SES records, a JSON array of them; gzipped or not.
Mapping is :mod:`msgevents_ses.mapping`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import msgevents
from msgevents import EventType
from msgevents.inputs import BATCH_SIZE, json_record_batches, object_records
from msgevents_ses.mapping import SesMapper
from msgevents_ses.settings import SesSettings

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

    def read_input(self, path: Path) -> Iterator[list[msgevents.Record]]:
        """Batches of the file's records: a value that is not a JSON object, or a line of a
        JSON Lines file that is not JSON, is quarantined; a file cut off or not JSON at all
        raises InputFileError after the batches read before the fault."""
        return json_record_batches(path, _records_of)

    def map_record(self, record: msgevents.Record) -> list[msgevents.Event] | msgevents.NotModelled:
        """Pure: one record → one event per affected recipient, or NotModelled."""
        return self._mapper(record.data)


_records_of = object_records(STREAM, "an SES record")
