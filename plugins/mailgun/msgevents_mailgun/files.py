"""Reading Mailgun events from files (``--input``): dumps of the Events API and webhook bodies.

Accepted, plain or gzipped (``.gz``), streamed in bounded memory:

- JSON Lines of Events API items (one event object per line);
- a JSON array of them (a saved ``items`` array), read element by element;
- saved Events API pages (``{"items": [...], "paging": {...}}``), one per line or concatenated;
- webhook bodies (``{"signature": {...}, "event-data": {...}}``), one per line or
  concatenated: the ``event-data`` is the event, the ``signature`` is dropped (it never
  reaches quarantine files or logs).

A line that is not JSON, or a value that is not an object, becomes a record with an
error (quarantined); a file that cannot be read to its end ends with
:class:`~msgevents.errors.InputFileError` after the records read before the fault.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from msgevents import Record
from msgevents.inputs import InvalidJson, json_record_batches

__all__ = ["BATCH", "STREAM", "read_events", "records_of"]

STREAM = "events"
BATCH = 1000


def records_of(value: Any, location: str) -> list[Record]:
    """The records in one JSON value of an input file."""
    if isinstance(value, InvalidJson):
        return [Record(STREAM, {"line": value.text}, location, error=f"not JSON: {value.reason}")]
    if not isinstance(value, dict):
        return [
            Record(
                STREAM,
                {"value": value},
                location,
                error=f"a JSON {type(value).__name__} where a Mailgun event or webhook body was expected",
            )
        ]
    if "event" not in value:
        items = value.get("items")
        if isinstance(items, list):  # a saved Events API page
            return [
                record
                for i, item in enumerate(items)
                for record in records_of(item, f"{location} items[{i}]")
            ]
        if "event-data" in value:  # a webhook body: the signature stays behind (even beside a null)
            data = value["event-data"]
            if isinstance(data, dict):
                return [Record(STREAM, data, location)]
            return [
                Record(
                    STREAM,
                    {"event-data": data},
                    location,
                    error=f"webhook body: event-data is a JSON {type(data).__name__}, not an object",
                )
            ]
    return [Record(STREAM, value, location)]


def read_events(path: Path) -> Iterator[list[Record]]:
    """Batches of records from ``path``; see the module docstring."""
    return json_record_batches(path, records_of, name=path.name, batch_size=BATCH)
