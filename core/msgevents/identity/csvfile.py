"""The identity lookup file on disk: a CSV file (plain or ``.gz``) whose header row
names ``user_id`` and ``email`` and/or ``phone``. Opening it, finding its columns,
and turning read failures into a :class:`~msgevents.errors.ConfigError` that names
the setting and the file."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from msgevents.errors import ConfigError

__all__ = ["check_header", "header_columns", "open_binary", "open_text", "read_errors"]


def open_binary(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def open_text(path: Path) -> IO[str]:
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", newline="")


def header_columns(header: list[str] | None, path: Path, setting: str) -> dict[str, int]:
    """The index of each of ``user_id``, ``email``, ``phone`` found in ``header``; raises
    :class:`ConfigError` unless ``user_id`` and at least one address column are there."""
    names = [cell.strip().lower() for cell in header or []]
    found = {name: names.index(name) for name in ("user_id", "email", "phone") if name in names}
    if "user_id" not in found or len(found) < 2:
        raise ConfigError(
            f"{setting}: identity file {str(path)!r} needs a header row naming user_id and "
            f"email and/or phone (e.g. 'email,user_id' or 'phone,user_id'); found {header or 'nothing'!r}"
        )
    return found


@contextmanager
def read_errors(path: Path, setting: str) -> Iterator[None]:
    """Turn a failure to read ``path`` as a CSV file into :class:`ConfigError` naming ``setting``."""
    try:
        yield
    except OSError as exc:
        raise ConfigError(
            f"{setting}: cannot read identity file {str(path)!r}: {exc.strerror or exc}"
        ) from None
    except (UnicodeDecodeError, EOFError, csv.Error) as exc:
        raise ConfigError(
            f"{setting}: identity file {str(path)!r} is not a readable CSV file: {exc}"
        ) from None


def check_header(path: Path, setting: str) -> None:
    """Raise :class:`ConfigError` when ``path`` cannot be read or has no usable header row.
    Cheap: reads the first line."""
    with read_errors(path, setting), open_text(path) as handle:
        header_columns(next(csv.reader(handle), None), path, setting)
