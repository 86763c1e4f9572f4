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

The parts: :mod:`~msgevents.json_values.cursor` (the buffer over the stream, line
numbers, where long digit runs are), :mod:`~msgevents.json_values.bulk` (whole JSON
Lines lines and glued objects, many at a time, by orjson) and
:mod:`~msgevents.json_values.scanner` (every layout and every rule for bad input,
with the standard decoder, for whatever the bulk readers leave to it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from msgevents.json_values.cursor import exact_loads
from msgevents.json_values.scanner import InvalidJson, JsonScanner

__all__ = ["InvalidJson", "exact_loads", "iter_json_values"]


def iter_json_values(stream: Any, name: str) -> Iterator[tuple[Any, str]]:
    """Yield ``(value, location)`` for every JSON value of ``stream`` (a text stream with ``read``).

    ``location`` is ``name:LINE`` for a value starting a line, ``name:LINE:COLUMN`` for a
    value after another on the same line, ``name[INDEX]`` for an element of a top-level
    array. ``value`` is an :class:`InvalidJson` for a line that is not JSON.
    """
    return JsonScanner(stream, name).values()
