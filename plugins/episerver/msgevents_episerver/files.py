"""Closed-loop export files (``--input``): CSV, ``;`` or ``,``, optionally gzipped.

A file's stream comes from its name prefix (``opens_20241104.csv``,
``clicks-2024-11.csv.gz``); its first line is a header naming the columns
(``mailing_id;recipient_list_id;recipient_id;timestamp``…). A file without a
header is read with the stream's ``MSGEVENTS_EPISERVER_COLUMNS_*`` layout.
Rows are streamed in batches; a row that cannot be read (wrong number of
fields, undecodable bytes) is yielded with ``error`` set so the core
quarantines it, and reading goes on. Values (timestamps, ids) are checked by
the mapping.
"""

from __future__ import annotations

import csv
import gzip
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import msgevents
from msgevents_episerver.settings import COLUMN_NAMES, REQUIRED_COLUMNS, STREAMS, EpiserverSettings

__all__ = ["BATCH_SIZE", "normalise_header", "read_export", "stream_of"]

BATCH_SIZE = 1000
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
    with _open(path) as raw:
        lines = _Lines(raw, path)
        try:
            first = next(lines)
        except StopIteration:
            return
        except _TruncatedError as exc:
            raise msgevents.ConfigError(f"cannot read input file {str(path)!r}: {exc}") from None
        delimiter = _delimiter(first)
        cells = next(csv.reader([first], delimiter=delimiter), [])
        header = [normalise_header(cell) for cell in cells]
        if any(name in COLUMN_NAMES for name in header):  # data cells never name a column
            lines.take_errors()
            reader = csv.reader(lines, delimiter=delimiter)
        else:  # no header line: the configured layout, and line 1 is data
            header = list(settings.columns(stream))
            lines.count = 0
            reader = csv.reader(_again(first, lines), delimiter=delimiter)
        missing = [c for c in REQUIRED_COLUMNS[stream] if c not in header]
        if missing:
            raise msgevents.ConfigError(
                f"input file {str(path)!r} has no column(s) {', '.join(missing)} "
                f"(its header: {', '.join(header)})"
            )
        yield from _records(reader, lines, header, stream, path.name, batch_size)


def _open(path: Path) -> BinaryIO:
    """The file's bytes, gunzipped when its name ends with .gz; ConfigError naming it."""
    try:
        if path.name.lower().endswith(".gz"):
            return gzip.open(path, "rb")
        return path.open("rb")
    except OSError as exc:
        raise msgevents.ConfigError(f"cannot open input file {str(path)!r}: {exc.strerror or exc}") from None


def _records(
    reader: Iterator[list[str]],
    lines: _Lines,
    header: list[str],
    stream: str,
    name: str,
    batch_size: int,
) -> Iterator[list[msgevents.Record]]:
    width = len(header)
    Record = msgevents.Record
    batch: list[msgevents.Record] = []
    while True:
        source = f"{name}:{lines.count + 1}"
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            batch.append(Record(stream, {}, source, f"unreadable CSV ({exc}) {lines.take_errors()}"))
            continue
        except _TruncatedError as exc:
            batch.append(Record(stream, {}, source, str(exc)))
            break
        bad = lines.take_errors()
        if bad:
            batch.append(Record(stream, {"fields": row}, source, bad))
        elif len(row) == width:
            batch.append(Record(stream, dict(zip(header, row, strict=True)), source))
        elif not row or (len(row) == 1 and not row[0].strip()):
            continue  # a blank line
        else:
            problem = f"{len(row)} fields where the header has {width} ({', '.join(header)})"
            batch.append(Record(stream, {"fields": row}, source, problem))
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


class _TruncatedError(Exception):
    """The compressed stream ends early or is corrupt: what follows cannot be read."""


class _Lines:
    """Decoded lines of a binary file, counted; undecodable bytes are noted, not fatal."""

    def __init__(self, raw: Iterable[bytes], path: Path) -> None:
        self._raw = iter(raw)
        self._path = path
        self.count = 0
        self._errors: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        try:
            data = next(self._raw)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            if self.count == 0:
                raise msgevents.ConfigError(f"cannot read input file {str(self._path)!r}: {exc}") from None
            raise _TruncatedError(
                f"the file is corrupt or truncated after line {self.count}: {exc}"
            ) from None
        self.count += 1
        if self.count == 1 and data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = data[exc.start : exc.start + 1].hex()
            self._errors.append(f"line {self.count} is not UTF-8 (byte 0x{bad} at column {exc.start + 1})")
            return data.decode("utf-8", errors="replace")

    def take_errors(self) -> str:
        """The decoding problems since the last call, joined ("" when none)."""
        if not self._errors:
            return ""
        errors, self._errors = self._errors, []
        return "; ".join(errors)


def _again(first: str, lines: _Lines) -> Iterator[str]:
    """``first`` (line 1, already read) and then the rest of ``lines``."""
    lines.count = 1
    yield first
    yield from lines
