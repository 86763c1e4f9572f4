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
from msgevents import EventType, InputFileError
from msgevents.inputs import InvalidJson, iter_json_values, open_input
from msgevents_ses.mapping import SesMapper
from msgevents_ses.settings import SesSettings

__all__ = ["BATCH_SIZE", "SesProvider"]

BATCH_SIZE = 1000
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
        batch: list[msgevents.Record] = []
        with open_input(path) as stream:
            try:
                for value, location in iter_json_values(stream, str(path)):
                    batch.append(_record(value, location))
                    if len(batch) >= BATCH_SIZE:
                        yield batch
                        batch = []
            except InputFileError:
                if batch:
                    yield batch  # what was read before the fault is delivered
                raise
        if batch:
            yield batch

    def map_record(self, record: msgevents.Record) -> list[msgevents.Event] | msgevents.NotModelled:
        """Pure: one record → one event per affected recipient, or NotModelled."""
        return self._mapper(record.data)


def _record(value: object, location: str) -> msgevents.Record:
    if isinstance(value, dict):
        return msgevents.Record(STREAM, value, location)
    if isinstance(value, InvalidJson):
        return msgevents.Record(STREAM, {"line": value.text}, location, f"not JSON: {value.reason}")
    problem = f"a JSON {type(value).__name__}, not an SES record (a JSON object)"
    return msgevents.Record(STREAM, {"value": value}, location, problem)
