"""The general scanner: every layout and every rule for what is broken.

:class:`JsonScanner` reads JSON Lines, one top-level array (element by element), values
glued together and pretty-printed values, tells a bad line (quarantined as an
:class:`InvalidJson` item) from a broken file (:class:`~msgevents.errors.InputFileError`),
and decides where reading may go on after a bad line. The usual cases, whole JSON Lines
lines and glued objects, it hands to :mod:`msgevents.json_values.bulk` in bulk.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from msgevents.errors import InputFileError
from msgevents.json_values.bulk import take_glued, take_lines
from msgevents.json_values.cursor import WHITESPACE, TextCursor

__all__ = ["InvalidJson", "JsonScanner"]

#: Leading lines that are not JSON before a file counts as "not JSON at all".
MAX_LEADING_ERRORS = 10
#: How much of a bad line an :class:`InvalidJson` item keeps.
SAMPLE = 2000
EXTRA = "Extra data after a JSON value"
#: What the decoder stopped at when the input ends inside a value: nothing, or the start of a
#: literal, a number (``-``, ``1.``, ``1e``) or a ``\uXXXX`` escape.
_CUT_SHORT = re.compile(r"(?:t(?:ru?)?|f(?:a(?:ls?)?)?|n(?:ul?)?|-|[.eE][+-]?|u[0-9a-fA-F]{0,3})?\s*")


class InvalidJson(NamedTuple):
    """A line that is not JSON inside an otherwise readable file: quarantine it with ``reason``."""

    text: str
    reason: str


class JsonScanner(TextCursor):
    """The JSON values of a text stream, with their locations (see :func:`iter_json_values`)."""

    def __init__(self, stream: Any, name: str) -> None:
        super().__init__(stream, name)
        self.skipped = ""  # where the last bad line was skipped, until a value proves the resync right

    def _decode_one_then_line_goes_on(self) -> Any:
        """A value that the rest of its line does not contradict: followed by a line break, the
        end, or the next value (``{`` / ``[``, as glued values are). ``1;a`` is a bad line,
        not the number 1 and junk."""
        start, line, line_start = self.base + self.pos, self.line, self.base + self.line_start
        value = self.decode_one()
        after = self.pos
        while after < len(self.buf) and self.buf[after] in " \t\r":
            after += 1
        if after < len(self.buf) and self.buf[after] not in "\n{[":
            junk_at = after
            self.pos, self.line, self.line_start = start - self.base, line, line_start - self.base
            raise json.JSONDecodeError(EXTRA, self.buf, junk_at)
        return value

    def values(self) -> Iterator[tuple[Any, str]]:
        if not self.skip_whitespace():
            return
        if self.buf[self.pos] == "[":
            yield from self._array()
        else:
            yield from self._sequence()

    def _array(self) -> Iterator[tuple[Any, str]]:
        index = 0
        while self.skip_whitespace():
            if self.buf[self.pos] != "[":
                raise self.fail(f"has text after its JSON array at {self.where()}")
            self.pos += 1
            first = True
            while True:
                if not self.skip_whitespace():
                    raise self.fail(f"ends inside its JSON array (truncated?) after element {index}")
                char = self.buf[self.pos]
                if char == "]":
                    self.pos += 1
                    break
                if not first:
                    if char != ",":
                        raise self.fail(f"is not a JSON array: expected ',' or ']' at {self.where()}")
                    self.pos += 1
                    if not self.skip_whitespace():
                        raise self.fail(f"ends inside its JSON array (truncated?) after element {index}")
                try:
                    value = self.decode_one()
                except json.JSONDecodeError as exc:
                    raise self.fail(f"has an element that is not JSON at {self.where()}: {exc.msg}") from None
                yield value, f"{self.name}[{index}]"
                index += 1
                first = False

    def _sequence(self) -> Iterator[tuple[Any, str]]:
        good = 0
        leading: list[tuple[InvalidJson, str]] = []
        while self.skip_whitespace():
            if not leading:
                taken = self._in_bulk()
                if taken:
                    good += len(taken)
                    yield from taken
                    continue
            location = self.location()
            at_line_start = self.pos == self.line_start
            line = self.line
            try:
                value = self._decode_one_then_line_goes_on()
            except json.JSONDecodeError as exc:
                bad = self._bad_line(exc, at_line_start, json_lines=good > 0 and not self.multiline)
                self.skipped = location
                if good:
                    yield bad, location
                    continue
                leading.append((bad, location))
                if len(leading) > MAX_LEADING_ERRORS or not self.skip_whitespace():
                    raise self._not_json(leading[0]) from None
                continue
            self.concatenated = True
            if self.skipped:
                self._check_resync(location, one_line=at_line_start and self.line == line)
            if leading:
                yield from leading
                leading = []
            good += 1
            yield value, location
        if leading:
            raise self._not_json(leading[0])

    def _in_bulk(self) -> list[tuple[Any, str]]:
        """Whole lines from a line's start (each proves a resynchronisation right), or objects
        glued to the value before them; ``[]`` when the value at hand needs the general way."""
        if self.pos == self.line_start:
            taken = take_lines(self)
            if taken:
                self.skipped = ""
            return taken
        if self.concatenated and not self.skipped:
            return take_glued(self)
        return []

    def _check_resync(self, location: str, one_line: bool) -> None:
        """After a skipped bad line only a JSON Lines value (one whole line) proves the reader is
        between top-level values again; anything else may be the inside of the broken value."""
        if not one_line:
            raise self.fail(
                f"cannot be read past the broken JSON at {self.skipped}: the value at {location} "
                "may be part of it (a pretty-printed value damaged or cut off?)"
            )
        self.skipped = ""

    def _first_token_after(self, newline: int) -> int:
        """Where the next non-blank line's text starts."""
        pos = newline
        while pos < len(self.buf) and self.buf[pos] in WHITESPACE:
            pos += 1
        return pos

    def _not_json(self, first: tuple[InvalidJson, str]) -> InputFileError:
        bad, location = first
        return self.fail(f"is not JSON ({location}: {bad.reason.removeprefix('not JSON: ')})")

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
            raise self.fail(f"ends inside a JSON value (truncated?) at {self.where()}: {exc.msg}")
        newline = self.buf.find("\n", self.pos, exc.pos)
        if newline >= 0 and not (json_lines and self._first_token_after(newline) == exc.pos):
            raise self.fail(f"has a broken JSON value at {self.where()} ({exc.msg}): cannot be read past it")
        reason = f"not JSON: {exc.msg} at {self.where()}"
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
            if not self.fill():
                if not at_line_start:  # values glued together without line breaks: no way back in
                    raise self.fail(f"cannot be read past {reason.removeprefix('not JSON: ')}")
                break
            start = self.pos
        return InvalidJson("".join(sample).rstrip("\r"), reason)
