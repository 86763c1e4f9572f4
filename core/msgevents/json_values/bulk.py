"""The usual cases in bulk: whole JSON Lines lines, and objects glued together on one line.

Both take as many values as the buffer holds, each parsed by orjson, and stop (leaving the
cursor before it) at the first one that needs a closer look: a line that is not one JSON
value, a value after blanks on its line, a number of 19 or more digits (an integer orjson
would turn into a float), a value cut off by the end of the buffer. The general scanner
(:mod:`msgevents.json_values.scanner`) reads that one, with every rule for bad lines, and
then hands back to these.
"""

from __future__ import annotations

from typing import Any

import orjson

from msgevents.json_values.cursor import TextCursor, long_number_in

__all__ = ["take_glued", "take_lines"]


def take_lines(cur: TextCursor) -> list[tuple[Any, str]]:
    """The values of the whole lines from the cursor (at the start of a line), as ``(value,
    "name:LINE")``; blank lines are passed over. The line the cursor stops at goes on in the
    next chunk when no line break follows it: one more chunk is read first."""
    buf, pos = cur.buf, cur.pos
    if buf.find("\n", pos) < 0 and cur.fill():
        buf, pos = cur.buf, cur.pos
    stop = len(buf) if cur.eof else buf.rfind("\n", pos)
    if stop < pos:
        return []
    name, runs, base = cur.name, cur.runs, cur.base
    start = base + pos  # absolute offset of the line at hand
    next_run = runs.next_from(start)
    number = cur.line
    values: list[tuple[Any, str]] = []
    for line in buf[pos:stop].split("\n"):
        end = start + len(line)
        if not line or line[0] in " \t\r":
            if line.strip(" \t\r"):
                break  # a value after blanks: "name:LINE:COLUMN", the general way
        else:
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                break
            if next_run < end:
                if long_number_in(line):
                    break
                next_run = runs.next_from(end)
            values.append((value, f"{name}:{number}"))
        number += 1
        start = end + 1
    cur.line = number
    cur.pos = cur.line_start = min(start - base, len(buf))
    return values


def take_glued(cur: TextCursor) -> list[tuple[Any, str]]:
    """The objects glued to the value before them (AWS Firehose: ``{…}{…}``), as ``(value,
    "name:LINE:COLUMN")``: each cut at the next ``}{`` on its line and parsed by orjson. A
    valid JSON text is never a proper prefix of another, so a cut that parses is the value's
    end; a ``}{`` inside a string gives a cut that does not parse (the general way)."""
    buf, pos, base, runs = cur.buf, cur.pos, cur.base, cur.runs
    limit = buf.find("\n", pos)
    if limit < 0:
        limit = len(buf)
    next_run = runs.next_from(base + pos)
    prefix = f"{cur.name}:{cur.line}:"
    values: list[tuple[Any, str]] = []
    while buf.startswith("{", pos):
        cut = buf.find("}{", pos, limit) + 1
        if not cut:
            cur.pos = pos
            if values or limit < len(buf) or not cur.fill():  # hand out what was read first
                break
            buf, pos, base = cur.buf, cur.pos, cur.base  # the line goes on in the next chunk
            limit = buf.find("\n", pos)
            if limit < 0:
                limit = len(buf)
            next_run = runs.next_from(base + pos)
            continue
        text = buf[pos:cut]
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            break
        if next_run < base + cut:
            if long_number_in(text):
                break
            next_run = runs.next_from(base + cut)
        values.append((value, f"{prefix}{pos - cur.line_start + 1}"))
        pos = cut
    cur.pos = pos
    return values
