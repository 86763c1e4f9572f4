"""Reading ``--input`` files: plain or gzipped text, and the JSON values in it.

:func:`open_input` opens a file as text (gunzipped when its name ends with
``.gz``, UTF-8, a byte order mark dropped). Whatever keeps it from being read
to its end (a truncated or corrupt gzip stream, bytes that are not UTF-8, a
read error) raises :class:`~msgevents.errors.InputFileError` naming the file,
the line and the reason, *after* the lines before the fault were handed out:
a provider yields what it read, then lets the error end that file.

:func:`iter_json_values` (from :mod:`msgevents.json_values`, re-exported here)
streams the JSON values of such a text: JSON Lines,
one top-level array (element by element), or values concatenated without
separators as AWS Firehose writes them (and pretty-printed values one after
another). Memory is bounded by the largest single value, not the file.
A line of a JSON Lines file that is not JSON comes back as an
:class:`InvalidJson` item (the provider yields it as a record with ``error``,
so it is quarantined); input that is not JSON at all, is cut off inside a value
or cannot be resynchronised raises :class:`~msgevents.errors.InputFileError`.

:func:`json_record_batches` puts the two together for a provider whose files
hold JSON: batches of records, the batches read before a fault yielded before
the error; :func:`object_records` is its usual way from a value to records.
"""

from __future__ import annotations

import codecs
import gzip
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from msgevents.errors import ConfigError, InputFileError
from msgevents.json_values import InvalidJson, iter_json_values
from msgevents.objectstore import ObjectInput
from msgevents.values import Record

__all__ = [
    "BATCH_SIZE",
    "InputText",
    "InvalidJson",
    "iter_json_values",
    "json_record_batches",
    "object_records",
    "open_input",
]

#: Records per batch a JSON input file is handed to the pipeline in.
BATCH_SIZE = 1000

CHUNK = 1 << 16


def open_input(path: Path | ObjectInput) -> InputText:
    """``path`` as a text stream (see the module docstring); ConfigError when it cannot be opened.

    ``path`` is a local file or an object in storage (:class:`~msgevents.objectstore.ObjectInput`,
    streamed as it is read); messages name it by ``str(path)``, the URL of an object. An
    object that cannot be opened (changed or gone since it was listed) is an InputFileError.
    """
    try:
        raw: IO[bytes] = path.open("rb")
    except OSError as exc:
        if isinstance(path, Path):
            raise ConfigError(f"cannot open input file {str(path)!r}: {exc.strerror or exc}") from None
        raise InputFileError(f"cannot read input {str(path)!r}: {exc}", str(path)) from None
    if path.name.lower().endswith(".gz"):
        raw = _Gunzipped(raw)
    return InputText(raw, str(path))


class _Gunzipped(gzip.GzipFile):
    """The gzip stream of ``raw``, closing ``raw`` with it (as ``gzip.open`` does for a file it opened)."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__(fileobj=raw, mode="rb")
        self._owned = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._owned.close()


class InputText:
    """UTF-8 text of a binary stream, read by lines or chunks, with faults as InputFileError.

    ``line`` is the number of lines handed out so far (by :meth:`readline` and
    iteration); messages name the file, and the line or byte offset of the fault.
    """

    def __init__(self, raw: IO[bytes], name: str) -> None:
        self._raw = raw
        self.name = name
        self.line = 0
        self._offset = 0  # bytes decoded so far
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._started = False

    # -- reading -------------------------------------------------------------------------

    def readline(self) -> str:
        """The next line with its line ending; ``""`` at the end."""
        data = self._read(self._raw.readline)
        text = self._decode(data, final=not data)
        if text:
            self.line += 1
        return text

    def read(self, size: int = CHUNK) -> str:
        """Up to about ``size`` characters; ``""`` at the end."""
        while True:
            data = self._read(lambda: self._raw.read(size))
            text = self._decode(data, final=not data)
            if text or not data:
                return text

    def __iter__(self) -> Iterator[str]:
        """The remaining lines, read in chunks (far faster than :meth:`readline` per line)."""
        rest = b""
        while True:
            data = self._read(lambda: self._raw.read(CHUNK))
            if not data:
                if rest:
                    yield from self._split(rest)
                return
            data = rest + data
            cut = data.rfind(b"\n") + 1
            rest = data[cut:]
            if cut:
                yield from self._split(data[:cut])

    def _split(self, block: bytes) -> Iterator[str]:
        """The lines of ``block`` (whole lines, the last perhaps unterminated), counted; at bytes
        that are not UTF-8, the lines before them and then InputFileError."""
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError as exc:
            good = block.rfind(b"\n", 0, exc.start) + 1
            if good:
                yield from self._split(block[:good])
            raise self._not_utf8(block[exc.start : exc.start + 1], self._offset + exc.start - good) from None
        self._offset += len(block)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        lines = text.split("\n")
        last = lines.pop()
        for line in lines:
            self.line += 1
            yield line + "\n"
        if last:
            self.line += 1
            yield last

    def _read(self, call: Any) -> bytes:
        try:
            return call()
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            where = f"after line {self.line}" if self.line else "at its start"
            reason = str(exc) or type(exc).__name__
            raise InputFileError(
                f"input file {self.name!r} is corrupt or truncated {where}: {reason}", self.name
            ) from None
        except OSError as exc:
            raise InputFileError(
                f"cannot read input file {self.name!r} after line {self.line}: {exc.strerror or exc}",
                self.name,
            ) from None

    def _decode(self, data: bytes, final: bool) -> str:
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            raise self._not_utf8(exc.object[exc.start : exc.start + 1], self._offset + exc.start) from None
        self._offset += len(data)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        return text

    def _not_utf8(self, byte: bytes, offset: int) -> InputFileError:
        return InputFileError(
            f"input file {self.name!r} is not UTF-8 text: byte 0x{byte.hex()} at offset {offset} "
            f"(line {self.line + 1})",
            self.name,
        )

    # -- context manager ---------------------------------------------------------------

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> InputText:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def object_records(stream: str, what: str) -> Callable[[Any, str], list[Record]]:
    """The usual ``records_of`` for :func:`json_record_batches`: a JSON object is one record of
    ``stream``; a line that is not JSON, or a value that is not an object (``what`` names the
    object expected, e.g. ``"a status callback"``), is a record with ``error`` (quarantined)."""

    def records_of(value: Any, location: str) -> list[Record]:
        if isinstance(value, dict):
            return [Record(stream, value, location)]
        if isinstance(value, InvalidJson):
            return [Record(stream, {"line": value.text}, location, f"not JSON: {value.reason}")]
        problem = f"a JSON {type(value).__name__}, not {what} (a JSON object)"
        return [Record(stream, {"value": value}, location, problem)]

    return records_of


def json_record_batches(
    path: Path | ObjectInput,
    records_of: Callable[[Any, str], Iterable[Record]],
    *,
    name: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> Iterator[list[Record]]:
    """Batches of the records in the JSON values of an input file (see :func:`iter_json_values`).

    ``records_of(value, location)`` turns one value into its records (:func:`object_records`,
    or a provider's own for envelopes holding several). ``name`` is how locations name the file
    (default: the path as given). When the file cannot be read to its end, the records read
    before the fault are yielded first, then :class:`~msgevents.errors.InputFileError` ends it.
    """
    batch: list[Record] = []
    with open_input(path) as text:
        try:
            for value, location in iter_json_values(text, str(path) if name is None else name):
                batch.extend(records_of(value, location))
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
        except InputFileError:
            if batch:
                yield batch  # what was read before the fault is delivered
            raise
    if batch:
        yield batch
