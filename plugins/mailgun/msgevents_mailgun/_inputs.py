"""A thin stand-in for ``msgevents.inputs`` until the core's input module is on main.

Same names and shapes (``open_input``, ``iter_json_values``, ``InvalidJson``,
``InputFileError``); JSON Lines line by line, a top-level array or a single
pretty-printed object read whole. Deleted once the core module lands.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

import orjson

from msgevents.errors import ConfigError, IncompleteError

__all__ = ["InputFileError", "InvalidJson", "iter_json_values", "open_input"]


class InputFileError(IncompleteError):
    """An input file cannot be read to its end."""


class InvalidJson(NamedTuple):
    text: str
    reason: str


def open_input(path: Path) -> IO[str]:
    try:
        raw: IO[bytes] = gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")  # noqa: SIM115
    except OSError as exc:
        raise ConfigError(f"cannot open input file {str(path)!r}: {exc.strerror or exc}") from None
    return io.TextIOWrapper(raw, encoding="utf-8-sig")


def iter_json_values(stream: Any, name: str) -> Iterator[tuple[Any, str]]:
    try:
        text = stream.read()
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        raise InputFileError(f"input file {name!r} cannot be read to its end: {exc}") from None
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            values = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            raise InputFileError(f"input file {name!r} is not JSON: {exc}") from None
        for index, value in enumerate(values):
            yield value, f"{name}[{index}]"
        return
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield orjson.loads(line), f"{name}:{number}"
        except orjson.JSONDecodeError as exc:
            if number == 1 or not any(lines[: number - 1]):
                try:
                    yield orjson.loads(text), f"{name}:{number}"
                    return
                except orjson.JSONDecodeError:
                    pass
            yield InvalidJson(line[:2000], str(exc)), f"{name}:{number}"
