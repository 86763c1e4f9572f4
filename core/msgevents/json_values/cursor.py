"""The text being read: a window of the stream, a cursor into it, line numbers and digit runs.

:class:`TextCursor` keeps the part of the stream not yet consumed (plus what a value being
re-read needs), where the next character is, which line that is and where the line began,
so that every value gets an exact location. :class:`DigitRuns` remembers where 19 or more
digits stand in a row: orjson turns integers beyond 64 bits into floats without a word, so
a value that may hold one is parsed by the standard decoder instead.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from typing import Any

import orjson

from msgevents.errors import InputFileError

CHUNK = 1 << 16
WHITESPACE = " \t\r\n"
#: 19 digits in a row: perhaps an integer beyond 64 bits, which orjson turns into a float, silently
LONG_RUN = 19
_LONG_DIGITS = re.compile(r"[0-9]{19}")
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
_ZEROS = b"0" * LONG_RUN
#: A JSON string token; in a valid JSON text every ``"`` outside a string opens one.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
#: Far beyond any offset: "no digit run ahead".
NOWHERE = 1 << 62


def long_number_in(text: str) -> bool:
    """Does the valid JSON ``text`` hold a number of 19 or more digits (outside its strings)?"""
    return _LONG_DIGITS.search(_STRING.sub("", text)) is not None


def exact_loads(data: bytes | str) -> Any:
    """One JSON text, parsed by orjson unless a number of 19 or more digits stands outside its
    strings (then by the standard decoder, so a big integer stays exact); ValueError if invalid."""
    value = orjson.loads(data)
    raw = data if isinstance(data, bytes) else data.encode("utf-8")
    if raw.translate(_DIGITS_AS_ZERO).find(_ZEROS) < 0:
        return value
    text = raw.decode("utf-8")
    return _DECODER.decode(text) if long_number_in(text) else value


def _reject_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


class DigitRuns:
    """Where the text read so far has 19 or more ASCII digits in a row (absolute offsets).

    Found once per chunk read, at the speed of ``bytes.translate`` and ``find`` (a regular
    expression over every value cost more than parsing it).
    """

    def __init__(self) -> None:
        self.starts: list[int] = []

    def add(self, buf: str, new: int, base: int) -> None:
        """Record the runs in ``buf[new:]``, just appended (``base``: the offset of ``buf[0]``);
        the 18 characters before it are scanned again, for a run going on across the seam."""
        start = max(0, new - LONG_RUN + 1)
        text = buf[start:]
        data = text.encode("utf-8")  # ASCII digits are the same bytes in UTF-8, and no others
        ascii = len(data) == len(text)
        zeros = data.translate(_DIGITS_AS_ZERO)
        found = zeros.find(_ZEROS)
        at_byte = at_char = 0
        while found >= 0:
            if not ascii:  # a byte offset is not a character offset: count the characters before
                at_char += len(data[at_byte:found].decode("utf-8"))
                at_byte = found
            self.starts.append(base + start + (found if ascii else at_char))
            end = found + LONG_RUN
            while end < len(zeros) and zeros[end] == 48:  # to the end of this run
                end += 1
            found = zeros.find(_ZEROS, end)

    def next_from(self, offset: int) -> int:
        """Where the first run at or after ``offset`` starts (absolute); :data:`NOWHERE` if none."""
        starts = self.starts
        index = bisect_left(starts, offset)
        return starts[index] if index < len(starts) else NOWHERE

    def within(self, start: int, end: int) -> bool:
        """Does a run start in ``[start, end)`` (absolute offsets)?"""
        return bool(self.starts) and self.next_from(start) < end

    def drop_before(self, offset: int) -> None:
        del self.starts[: bisect_left(self.starts, offset)]


class TextCursor:
    """A buffer over the stream; ``pos`` is the next unread character of ``buf``.

    ``base`` is how many characters were dropped from the buffer's start (absolute offset =
    ``base + index``); ``line`` is the number of the line starting at ``line_start`` (a buffer
    index, negative once that line's start was dropped).
    """

    def __init__(self, stream: Any, name: str) -> None:
        self.stream = stream
        self.name = name
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.line = 1
        self.line_start = 0
        self.concatenated = False  # a value ended on the current line: it is no JSON Lines line
        self.base = 0
        self.multiline = False  # a value spanned lines (pretty-printed): a broken one cannot be skipped
        self.runs = DigitRuns()

    def fill(self) -> bool:
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

    def skip_whitespace(self) -> bool:
        """Move past whitespace (counting lines); False at the end of the input."""
        while True:
            buf, pos, end = self.buf, self.pos, len(self.buf)
            while pos < end and buf[pos] in WHITESPACE:
                if buf[pos] == "\n":
                    self.line += 1
                    self.line_start = pos + 1
                    self.concatenated = False
                pos += 1
            self.pos = pos
            if pos < end:
                return True
            if not self.fill():
                return False

    def advance(self, end: int) -> None:
        """Consume up to ``end``, counting the newlines inside (a pretty-printed value)."""
        newlines = self.buf.count("\n", self.pos, end)
        if newlines:
            self.multiline = True
            self.line += newlines
            self.line_start = self.buf.rindex("\n", self.pos, end) + 1
        self.pos = end

    def next_line(self, pos: int) -> None:
        """Consume up to ``pos``, the start of a line following the current one."""
        self.pos = self.line_start = pos

    def location(self) -> str:
        column = self.pos - self.line_start + 1
        return f"{self.name}:{self.line}" if column == 1 else f"{self.name}:{self.line}:{column}"

    def where(self) -> str:
        return f"line {self.line}, column {self.pos - self.line_start + 1}"

    def fail(self, reason: str) -> InputFileError:
        return InputFileError(f"input file {self.name!r} {reason}", self.name)

    def decode_one(self) -> Any:
        """The value at ``pos`` (standard decoder, refilling as needed); JSONDecodeError if invalid."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self._maybe_incomplete(exc) and self.fill():
                    continue
                raise
            except ValueError as exc:  # NaN / Infinity
                raise json.JSONDecodeError(str(exc), self.buf, self.pos) from None
            except RecursionError:
                raise json.JSONDecodeError("nested too deeply", self.buf, self.pos) from None
            if end > len(self.buf) - 16 and self.fill():  # a number may go on in the next chunk
                continue
            self.advance(end)
            return value

    def _maybe_incomplete(self, exc: json.JSONDecodeError) -> bool:
        if self.eof:
            return False
        if exc.msg.startswith("Unterminated string"):
            return "\n" not in self.buf[exc.pos :]  # a JSON string holds no raw line break
        return exc.pos >= len(self.buf) - 16
