"""The JSON values of an input text: JSON Lines, one top-level array, values glued together.

:func:`iter_json_values` streams them from any text stream with ``read``
(:func:`msgevents.inputs.open_input` gives one): JSON Lines, one top-level array
(element by element), or values concatenated without separators as AWS Firehose
writes them (and pretty-printed values one after another). Memory is bounded by
the largest single value, not the file. A line of a JSON Lines file that is not
JSON comes back as an :class:`InvalidJson` item (the provider yields it as a
record with ``error``, so it is quarantined); input that is not JSON at all, is
cut off inside a value or cannot be resynchronised raises
:class:`~msgevents.errors.InputFileError`.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any, NamedTuple

import orjson

from msgevents.errors import InputFileError

__all__ = ["InvalidJson", "iter_json_values"]

CHUNK = 1 << 16
#: Leading lines that are not JSON before a file counts as "not JSON at all".
MAX_LEADING_ERRORS = 10
#: How much of a bad line an :class:`InvalidJson` item keeps.
SAMPLE = 2000
_WHITESPACE = " \t\r\n"
#: 19 digits in a row: perhaps an integer beyond 64 bits, which orjson turns into a float, silently
LONG_RUN = 19
_LONG_DIGITS = re.compile(r"[0-9]{19}").finditer
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
_ZEROS = b"0" * LONG_RUN
EXTRA = "Extra data after a JSON value"
#: What the decoder stopped at when the input ends inside a value: nothing, or the start of a
#: literal, a number (``-``, ``1.``, ``1e``) or a ``\uXXXX`` escape.
_CUT_SHORT = re.compile(r"(?:t(?:ru?)?|f(?:a(?:ls?)?)?|n(?:ul?)?|-|[.eE][+-]?|u[0-9a-fA-F]{0,3})?\s*")


class InvalidJson(NamedTuple):
    """A line that is not JSON inside an otherwise readable file: quarantine it with ``reason``."""

    text: str
    reason: str


def iter_json_values(stream: Any, name: str) -> Iterator[tuple[Any, str]]:
    """Yield ``(value, location)`` for every JSON value of ``stream`` (a text stream with ``read``).

    ``location`` is ``name:LINE`` for a value starting a line, ``name:LINE:COLUMN`` for a
    value after another on the same line, ``name[INDEX]`` for an element of a top-level
    array. ``value`` is an :class:`InvalidJson` for a line that is not JSON.
    """
    return _JsonScanner(stream, name).values()


def _reject_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


class _DigitRuns:
    """Where the text read so far has 19 or more ASCII digits in a row (absolute offsets).

    orjson (the fast path) turns integers beyond 64 bits into floats without a word, so a
    value holding such a run (most are harmless digits inside strings) takes the standard
    decoder. Found once per chunk read, at the speed of ``bytes.translate`` and ``find``
    (a regular expression over every value cost more than parsing it).
    """

    def __init__(self) -> None:
        self.starts: list[int] = []

    def add(self, buf: str, new: int, base: int) -> None:
        """Record the runs in ``buf[new:]``, just appended (``base``: the offset of ``buf[0]``);
        the 18 characters before it are scanned again, for a run going on across the seam."""
        start = max(0, new - LONG_RUN + 1)
        text = buf[start:]
        offset = base + start
        if not text.isascii():  # offsets in UTF-8 bytes would not be offsets in the text
            self.starts.extend(offset + m.start() for m in _LONG_DIGITS(text))
            return
        zeros = text.encode("ascii").translate(_DIGITS_AS_ZERO)
        found = zeros.find(_ZEROS)
        while found >= 0:
            self.starts.append(offset + found)
            end = found + LONG_RUN
            while end < len(zeros) and zeros[end] == 48:  # to the end of this run
                end += 1
            found = zeros.find(_ZEROS, end)

    def within(self, start: int, end: int) -> bool:
        """Does a run start in ``[start, end)`` (absolute offsets)?"""
        starts = self.starts
        if not starts:
            return False
        index = bisect_left(starts, start)
        return index < len(starts) and starts[index] < end

    def drop_before(self, offset: int) -> None:
        del self.starts[: bisect_left(self.starts, offset)]


class _JsonScanner:
    """A buffer over the stream; ``pos`` is the next unread character."""

    def __init__(self, stream: Any, name: str) -> None:
        self.stream = stream
        self.name = name
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.line = 1  # line number of self.line_start
        self.line_start = 0  # buffer index where the current line starts (may be negative)
        self.concatenated = False  # a value ended on the current line: no JSON Lines fast path
        self.base = 0  # how many characters were dropped from the buffer's start
        self.multiline = False  # a value spanned lines (pretty-printed): a broken one cannot be skipped
        self.skipped = ""  # where the last bad line was skipped, until a value proves the resync right
        self.runs = _DigitRuns()

    # -- buffer ------------------------------------------------------------------------

    def _fill(self) -> bool:
        """Read more (at least as much as is buffered, so re-parsing a big value stays linear)."""
        if self.eof:
            return False
        text = self.stream.read(max(CHUNK, len(self.buf) - self.pos))
        if not text:
            self.eof = True
            return False
        if self.pos > CHUNK:  # drop what was consumed (only with new text: callers then re-read)
            self.base += self.pos
            self.line_start -= self.pos
            self.buf = self.buf[self.pos :]
            self.pos = 0
            self.runs.drop_before(self.base)
        new = len(self.buf)
        self.buf += text
        self.runs.add(self.buf, new, self.base)
        return True

    def _skip_whitespace(self) -> bool:
        """Move past whitespace (counting lines); False at the end of the input."""
        while True:
            buf, pos, end = self.buf, self.pos, len(self.buf)
            while pos < end and buf[pos] in _WHITESPACE:
                if buf[pos] == "\n":
                    self.line += 1
                    self.line_start = pos + 1
                    self.concatenated = False
                pos += 1
            self.pos = pos
            if pos < end:
                return True
            if not self._fill():
                return False

    def _advance(self, end: int) -> None:
        """Consume up to ``end``, counting the newlines inside (a pretty-printed value)."""
        newlines = self.buf.count("\n", self.pos, end)
        if newlines:
            self.multiline = True
            self.line += newlines
            self.line_start = self.buf.rindex("\n", self.pos, end) + 1
        self.pos = end

    def _location(self) -> str:
        column = self.pos - self.line_start + 1
        return f"{self.name}:{self.line}" if column == 1 else f"{self.name}:{self.line}:{column}"

    def _where(self) -> str:
        return f"line {self.line}, column {self.pos - self.line_start + 1}"

    def _fail(self, reason: str) -> InputFileError:
        return InputFileError(f"input file {self.name!r} {reason}", self.name)

    # -- values ------------------------------------------------------------------------

    def _decode_one(self) -> Any:
        """The value at ``pos`` (stdlib decoder, refilling as needed); JSONDecodeError if invalid."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self._maybe_incomplete(exc) and self._fill():
                    continue
                raise
            except ValueError as exc:  # NaN / Infinity
                raise json.JSONDecodeError(str(exc), self.buf, self.pos) from None
            except RecursionError:
                raise json.JSONDecodeError("nested too deeply", self.buf, self.pos) from None
            if end > len(self.buf) - 16 and self._fill():  # a number may go on in the next chunk
                continue
            self._advance(end)
            return value

    def _decode_one_then_line_goes_on(self) -> Any:
        """A value that the rest of its line does not contradict: followed by a line break, the
        end, or the next value (``{`` / ``[``, as glued values are). ``1;a`` is a bad line,
        not the number 1 and junk."""
        start, line, line_start = self.base + self.pos, self.line, self.base + self.line_start
        value = self._decode_one()
        after = self.pos
        while after < len(self.buf) and self.buf[after] in " \t\r":
            after += 1
        if after < len(self.buf) and self.buf[after] not in "\n{[":
            junk_at = after
            self.pos, self.line, self.line_start = start - self.base, line, line_start - self.base
            raise json.JSONDecodeError(EXTRA, self.buf, junk_at)
        return value

    def _maybe_incomplete(self, exc: json.JSONDecodeError) -> bool:
        if self.eof:
            return False
        if exc.msg.startswith("Unterminated string"):
            return "\n" not in self.buf[exc.pos :]  # a JSON string holds no raw line break
        return exc.pos >= len(self.buf) - 16

    def _fast_line(self) -> tuple[bool, Any]:
        """JSON Lines fast path: the whole line at ``pos`` parsed by orjson, if it is one value."""
        if self.concatenated or self.pos != self.line_start:
            return False, None
        newline = self.buf.find("\n", self.pos)
        if newline < 0:
            return False, None
        if self.runs.within(self.base + self.pos, self.base + newline):
            return False, None
        try:
            value = orjson.loads(self.buf[self.pos : newline])
        except orjson.JSONDecodeError:
            return False, None
        self.pos = newline + 1
        self.line += 1
        self.line_start = self.pos
        return True, value

    def _fast_glued(self) -> tuple[bool, Any]:
        """Glued values (AWS Firehose: ``{…}{…}``) fast path: the object at ``pos`` up to the
        next ``}{``, parsed by orjson, if that is one value on one line. A valid JSON text
        cannot be a proper prefix of another, so a cut that parses is the value's end; a
        ``}{`` inside a string gives a cut that does not parse, left to the standard decoder."""
        buf, pos = self.buf, self.pos
        if buf[pos] != "{":
            return False, None
        cut = buf.find("}{", pos) + 1
        if not cut or buf.find("\n", pos, cut) >= 0 or self.runs.within(self.base + pos, self.base + cut):
            return False, None
        try:
            value = orjson.loads(buf[pos:cut])
        except orjson.JSONDecodeError:
            return False, None
        self.pos = cut
        return True, value

    def values(self) -> Iterator[tuple[Any, str]]:
        if not self._skip_whitespace():
            return
        if self.buf[self.pos] == "[":
            yield from self._array()
        else:
            yield from self._sequence()

    def _array(self) -> Iterator[tuple[Any, str]]:
        index = 0
        while self._skip_whitespace():
            if self.buf[self.pos] != "[":
                raise self._fail(f"has text after its JSON array at {self._where()}")
            self.pos += 1
            first = True
            while True:
                if not self._skip_whitespace():
                    raise self._fail(f"ends inside its JSON array (truncated?) after element {index}")
                char = self.buf[self.pos]
                if char == "]":
                    self.pos += 1
                    break
                if not first:
                    if char != ",":
                        raise self._fail(f"is not a JSON array: expected ',' or ']' at {self._where()}")
                    self.pos += 1
                    if not self._skip_whitespace():
                        raise self._fail(f"ends inside its JSON array (truncated?) after element {index}")
                try:
                    value = self._decode_one()
                except json.JSONDecodeError as exc:
                    raise self._fail(
                        f"has an element that is not JSON at {self._where()}: {exc.msg}"
                    ) from None
                yield value, f"{self.name}[{index}]"
                index += 1
                first = False

    def _sequence(self) -> Iterator[tuple[Any, str]]:
        good = 0
        leading: list[tuple[InvalidJson, str]] = []
        while self._skip_whitespace():
            location = self._location()
            at_line_start = self.pos == self.line_start
            line = self.line
            done, value = self._fast_line()
            if not done and self.concatenated:
                done, value = self._fast_glued()
            if not done:
                try:
                    value = self._decode_one_then_line_goes_on()
                except json.JSONDecodeError as exc:
                    bad = self._bad_line(exc, at_line_start, json_lines=good > 0 and not self.multiline)
                    self.skipped = location
                    if good:
                        yield bad, location
                        continue
                    leading.append((bad, location))
                    if len(leading) > MAX_LEADING_ERRORS or not self._skip_whitespace():
                        raise self._not_json(leading[0]) from None
                    continue
                self.concatenated = True
            if self.skipped:
                self._check_resync(location, one_line=at_line_start and (done or self.line == line))
            if leading:
                yield from leading
                leading = []
            good += 1
            yield value, location
        if leading:
            raise self._not_json(leading[0])

    def _check_resync(self, location: str, one_line: bool) -> None:
        """After a skipped bad line only a JSON Lines value (one whole line) proves the reader is
        between top-level values again; anything else may be the inside of the broken value."""
        if not one_line:
            raise self._fail(
                f"cannot be read past the broken JSON at {self.skipped}: the value at {location} "
                "may be part of it (a pretty-printed value damaged or cut off?)"
            )
        self.skipped = ""

    def _first_token_after(self, newline: int) -> int:
        """Where the next non-blank line's text starts."""
        pos = newline
        while pos < len(self.buf) and self.buf[pos] in _WHITESPACE:
            pos += 1
        return pos

    def _not_json(self, first: tuple[InvalidJson, str]) -> InputFileError:
        bad, location = first
        return self._fail(f"is not JSON ({location}: {bad.reason.removeprefix('not JSON: ')})")

    def _bad_line(self, exc: json.JSONDecodeError, at_line_start: bool, json_lines: bool) -> InvalidJson:
        """Skip to the next line; the skipped text as an InvalidJson, or InputFileError.

        A value that goes on past its line before it breaks is a pretty-printed value damaged or
        cut off, and the lines after its first are its inside: never resynchronise there. The
        one exception is a JSON Lines file (``json_lines``: every value so far had a line of its
        own) whose bad line merely opens a value and the decoder stopped at the very first token
        of the next line — nothing shows that line to belong to the bad one.
        """
        cut = exc.msg.startswith("Unterminated string") and "\n" not in self.buf[exc.pos :]
        at_end = self.eof and exc.msg != EXTRA and _CUT_SHORT.fullmatch(self.buf, exc.pos) is not None
        if cut or at_end:
            raise self._fail(f"ends inside a JSON value (truncated?) at {self._where()}: {exc.msg}")
        newline = self.buf.find("\n", self.pos, exc.pos)
        if newline >= 0 and not (json_lines and self._first_token_after(newline) == exc.pos):
            raise self._fail(
                f"has a broken JSON value at {self._where()} ({exc.msg}): cannot be read past it"
            )
        reason = f"not JSON: {exc.msg} at {self._where()}"
        start = self.pos
        sample: list[str] = []
        kept = 0
        while True:
            newline = self.buf.find("\n", start)
            stop = newline if newline >= 0 else len(self.buf)
            if kept < SAMPLE:
                sample.append(self.buf[start : min(stop, start + SAMPLE - kept)])
                kept += stop - start
            if newline >= 0:
                self.pos = newline
                break
            self.pos = start = len(self.buf)
            if not self._fill():
                if not at_line_start:  # values glued together without line breaks: no way back in
                    raise self._fail(f"cannot be read past {reason.removeprefix('not JSON: ')}")
                break
            start = self.pos
        return InvalidJson("".join(sample).rstrip("\r"), reason)
