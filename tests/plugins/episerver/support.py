"""Plain helpers shared by the Episerver tests (no fixtures here)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import msgevents

from .emulator import DAY_MS, HOUR_MS

__all__ = ["DAY_MS", "HOUR_MS", "at", "cells_of", "pull_all", "soap_params", "window"]


def at(ms: int) -> datetime:
    """An aware UTC datetime from epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, UTC)


def window(since_ms: int, until_ms: int) -> msgevents.Window:
    """A window from epoch milliseconds."""
    return msgevents.Window(
        datetime.fromtimestamp(since_ms / 1000, UTC), datetime.fromtimestamp(until_ms / 1000, UTC)
    )


def pull_all(provider: Any, stream: str, win: msgevents.Window) -> tuple[list[Any], list[int]]:
    """Every record of a pull, and the size of each page it came in."""
    records: list[Any] = []
    sizes: list[int] = []
    for page in provider.pull(stream, win):
        sizes.append(len(page))
        records.extend(page)
    return records, sizes


def cells_of(record: msgevents.Record, columns: tuple[str, ...]) -> tuple[str | None, ...]:
    """A record's cells in column order, empty → None (as the emulator's nil)."""
    return tuple(record.data[c] or None for c in columns)


def soap_params(request: Any) -> list[str]:
    """The positional parameters ``in0, in1, …`` of a recorded SOAP request."""
    envelope = ET.fromstring(request.body)
    call = next(iter(next(iter(envelope))))
    return [param.text or "" for param in call]
