"""Closed-loop export files (``--input``): CSV, ``;`` or ``,``, optionally gzipped.

A file's stream comes from its name prefix (``opens_20241104.csv``,
``clicks-2024-11.csv.gz``); its first line is a header naming the columns
(``mailing_id;recipient_list_id;recipient_id;timestamp``…). A file without a
header is read with the stream's ``MSGEVENTS_EPISERVER_COLUMNS_*`` layout.
Rows are streamed in batches; a row that cannot be read (wrong number of
fields) is yielded with ``error`` set so the core quarantines it, and reading
goes on. Values (timestamps, ids) are checked by the mapping.

A file that cannot be read to its end (a truncated gzip, bytes that are not
UTF-8) or is not such an export at all (a header none of whose columns is
known, a required column missing, no row readable: a wrong delimiter) raises
:class:`msgevents.InputFileError` after yielding the rows read before the
fault: the core delivers those and reports the file, its rest is not
quarantined row by row.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import msgevents
from msgevents.inputs import InputText, open_input
from msgevents_episerver.settings import COLUMN_NAMES, REQUIRED_COLUMNS, STREAMS, EpiserverSettings

__all__ = ["BATCH_SIZE", "normalise_header", "read_export", "stream_of"]

BATCH_SIZE = 1000
#: Unreadable rows at the start of a file before it counts as not an export at all.
MAX_LEADING_ERRORS = 10
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
#: Header spellings of our column names seen in other exports.
_ALIASES = {
    "url": "link_url",
    "created": "timestamp",
    "mailing": "mailing_id",
    "recipient": "recipient_id",
    "email": "recipient_id",
    "recipient_list": "recipient_list_id",
}


def stream_of(path: Path) -> str:
    """The stream named by the file name's prefix; ConfigError when there is none."""
    name = path.name.lower()
    for stream in STREAMS:
        if name.startswith(stream) and name[len(stream) : len(stream) + 1] in ("_", "-", "."):
            return stream
    raise msgevents.ConfigError(
        f"cannot tell which stream {str(path)!r} holds: an Optimizely export file name starts "
        f"with one of {', '.join(STREAMS)} followed by _ - or . (e.g. opens_20241104.csv)"
    )


def normalise_header(cell: str) -> str:
    """``mailingId`` / ``Mailing ID`` / ``mailing-id`` → ``mailing_id``."""
    name = _CAMEL.sub(r"_\1", cell.strip().lstrip("\ufeff")).lower()
    name = re.sub(r"[\s\-.]+", "_", name).strip("_")
    return _ALIASES.get(name, name)


def _delimiter(first_line: str) -> str:
    return ";" if first_line.count(";") > first_line.count(",") else ","


def read_export(
    path: Path, settings: EpiserverSettings, batch_size: int = BATCH_SIZE
) -> Iterator[list[msgevents.Record]]:
    """Yield batches of records of the export file ``path`` (see the module docstring)."""
    stream = stream_of(path)
    with open_input(path) as lines:
        first = lines.readline()
        if not first:
            return
        delimiter = _delimiter(first)
        try:
            cells = next(csv.reader([first], delimiter=delimiter), [])
        except csv.Error:  # not CSV (a lone carriage return): no header; as a data row it is quarantined
            cells = []
        header = [normalise_header(cell) for cell in cells]
        if any(name in COLUMN_NAMES for name in header):  # data cells never name a column
            reader = csv.reader(lines, delimiter=delimiter)
        elif not any(char.isdigit() for char in first):  # every data row has ids and a timestamp
            raise _not_an_export(
                path,
                f"none of the columns of its header {first.strip()!r} is known "
                f"(known: {', '.join(sorted(COLUMN_NAMES))}; delimiters: ; or ,)",
            )
        else:  # no header line: the configured layout, and line 1 is data
            header = list(settings.columns(stream))
            lines.line = 0
            reader = csv.reader(_again(first, lines), delimiter=delimiter)
        missing = [c for c in REQUIRED_COLUMNS[stream] if c not in header]
        if missing:
            raise _not_an_export(
                path, f"it has no column(s) {', '.join(missing)} (its header: {', '.join(header)})"
            )
        yield from _records(reader, lines, header, stream, path, batch_size)


def _not_an_export(path: Path, reason: str) -> msgevents.InputFileError:
    return msgevents.InputFileError(
        f"input file {str(path)!r} is not an Optimizely export: {reason}", str(path)
    )


def _records(
    reader: Iterator[list[str]],
    lines: InputText,
    header: list[str],
    stream: str,
    path: Path,
    batch_size: int,
) -> Iterator[list[msgevents.Record]]:
    width = len(header)
    name = path.name
    Record = msgevents.Record
    batch: list[msgevents.Record] = []
    readable = False  # a row with the header's fields was read: the file is an export
    while True:
        source = f"{name}:{lines.line + 1}"
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            batch.append(Record(stream, {}, source, f"unreadable CSV ({exc})"))
            continue
        except msgevents.InputFileError:
            if readable and batch:
                yield batch  # the rows before the fault are delivered; the core reports the file
            raise
        if len(row) == width:
            readable = True
            batch.append(Record(stream, dict(zip(header, row, strict=True)), source))
        elif not row or (len(row) == 1 and not row[0].strip()):
            continue  # a blank line
        else:
            problem = f"{len(row)} fields where the header has {width} ({', '.join(header)})"
            batch.append(Record(stream, {"fields": row}, source, problem))
            if not readable and len(batch) > MAX_LEADING_ERRORS:
                raise _unreadable(path, batch)
        if readable and len(batch) >= batch_size:
            yield batch
            batch = []
    if batch and not readable:
        raise _unreadable(path, batch)
    if batch:
        yield batch


def _unreadable(path: Path, bad: list[msgevents.Record]) -> msgevents.InputFileError:
    first = bad[0]
    return _not_an_export(
        path,
        f"no row of the first {len(bad)} can be read (wrong delimiter?); {first.source}: {first.error}",
    )


def _again(first: str, lines: InputText) -> Iterator[str]:
    """``first`` (line 1, already read) and then the rest of ``lines``."""
    lines.line = 1
    yield first
    yield from lines
